"""The recovery loop on the Firestore emulator: the events, the claims and the summaries the sweep reads are
Firestore's; the bus is in-process. A recovered action shows as "worked" on the next similar incident; one that
did not recover re-opens the investigation; a second sweep changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from demo.generator import generate
from functions.local import triage
from shared.telemetry.bundle import BundleSource
from tests.test_recovery_loop import CHECK_S, Channel, act, resolve, scenario_for, state_of, sweep_at

pytestmark = pytest.mark.emulator


def test_the_recovery_loop_on_firestore(firestore_emulator: object, project_id: str, tmp_path: Path) -> None:
    from shared.store.firestore import FirestoreEventStore

    store = FirestoreEventStore(project_id)
    fixed = scenario_for(tmp_path, "fixed", 0, fixed=True)
    first = triage(fixed.alert_path.read_bytes(), BundleSource(fixed.bundle_dir), store=store)
    pid, at = act(store, first)
    channel = Channel()
    assert sweep_at(store, fixed, at + CHECK_S + 60, channel)["recovery_checked"] == [f"{first.incident_id}/{pid}: "
                                                                                       "recovered"]
    assert sweep_at(store, fixed, at + CHECK_S + 360, channel)["recovery_checked"] == []
    assert len([t for t in channel.sent if "Recovery check" in t]) == 1
    resolve(store, fixed, fixed.onset + 3600)
    nxt = generate("bad_deploy", tmp_path / "next", seed=1)
    again = triage(nxt.alert_path.read_bytes(), BundleSource(nxt.bundle_dir), store=store)
    assert again.report.similar and again.report.similar[0].incident_id == first.incident_id
    assert again.report.similar[0].worked is True
    resolve(store, nxt, nxt.onset + 3600)

    stuck = scenario_for(tmp_path, "stuck", 2, fixed=False)
    third = triage(stuck.alert_path.read_bytes(), BundleSource(stuck.bundle_dir), store=store)
    pid, at = act(store, third)
    rounds = len(state_of(store, third.incident_id).rounds)
    assert sweep_at(store, stuck, at + CHECK_S + 60)["recovery_checked"] == [f"{third.incident_id}/{pid}: "
                                                                             "not_recovered"]
    state = state_of(store, third.incident_id)
    assert len(state.rounds) == rounds + 1 and state.rounds[max(state.rounds)].fresh
    assert sweep_at(store, stuck, at + CHECK_S + 400)["recovery_checked"] == []
    assert len(state_of(store, third.incident_id).rounds) == rounds + 1
