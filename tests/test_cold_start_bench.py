"""The cold-start bench's execute message is the one a deployment sends: an action a person approved through its
signed link, handed to the executor by the approval click, and run once by the dry run (bench/cold_start.py)."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest

from bench.cold_start import approved_actions, execute_env
from demo.generator import generate
from shared.ports import Message


@pytest.mark.emulator
def test_each_measured_execute_gets_an_approved_action_of_its_own_that_the_dry_run_runs(
        firestore_emulator: Any, pubsub_emulator: Any, project_id: str, tmp_path: Path) -> None:
    from functions.handlers.execute import on_action
    from functions.runtime import remediation_of
    from shared.config import Settings
    from shared.store.firestore import FirestoreEventStore

    scenario = generate("bad_deploy", tmp_path / "demo")
    env = execute_env({**os.environ, "AUTOSRE_STORE": "firestore", "AUTOSRE_BUS": "pubsub",
                       "AUTOSRE_TELEMETRY": f"bundle:{scenario.bundle_dir}", "AUTOSRE_APPROVAL_KEY": "k" * 40},
                      project_id)
    next_message, ran = approved_actions(2, env, scenario.alert_path.read_bytes())
    settings = Settings.from_env(env)
    assert settings.executor == "dry_run" and settings.approvers
    remediation = remediation_of(settings, FirestoreEventStore(project_id))
    incidents = set()
    for _ in range(2):  # the policy's hourly limit is 3 by default: the bench frees the slots before each
        data, attributes = next_message()
        with pytest.raises(RuntimeError, match="was not run by the dry run"):
            ran()  # handed over, not run yet
        outcome = on_action(remediation, Message(data=base64.b64decode(data)))
        assert outcome.startswith("DRY RUN (nothing changed)")
        ran()
        incidents.add(attributes[0])
    assert len(incidents) == 2  # a fresh incident and approval each
