"""Going live (executor=cloud_run) with the deploy guide's own policy, which allows runbook_webhook: without a runbook
webhook URL that one action is unavailable and says why; the web view, the other actions and the execute function
keep working (before, start-up raised NoExecutor: every page answered 500 and `execute` was retried to the dead
letter)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder

from shared.models import Proposal

POLICY = '{"allow": {"checkout": ["rollback_cloud_run"], "*": ["runbook_webhook"]}, "max_actions_per_hour": 3}'


@pytest.fixture()
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    import functions.main as main

    for name, value in {"STORE": "sqlite", "SQLITE_PATH": str(tmp_path / "events.db"), "APPROVAL_KEY": "k" * 40,
                        "APPROVERS": "you@example.com", "POLICY": POLICY, "EXECUTOR": "cloud_run",
                        "PROJECT": "p", "REGION": "us-central1"}.items():
        monkeypatch.setenv(f"AUTOSRE_{name}", value)
    monkeypatch.delenv("AUTOSRE_RUNBOOK_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("AUTOSRE_TELEMETRY", raising=False)
    for cached in ("_pipeline", "_store", "_remediation", "_web"):
        monkeypatch.setattr(main, cached, None)
    return main


def proposal(action: str, service: str) -> Proposal:
    return Proposal(proposal_id="p-1", action=action, service=service, params={}, preview="x")


def test_the_web_view_answers_when_an_allowed_action_has_no_executor(live: Any) -> None:
    request = EnvironBuilder(path="/", base_url="https://sre.example.com").get_request()
    assert live.web(request).status_code == 200


def test_only_the_action_without_an_executor_is_unavailable(live: Any) -> None:
    remediation = live.remediation()
    assert remediation.unavailable == {"runbook_webhook": "no runbook_webhook executor is configured"}
    refused = remediation.policy_decision(proposal("runbook_webhook", "checkout"))
    assert not refused.allowed and "runbook_webhook is unavailable" in refused.reason
    assert remediation.policy_decision(proposal("rollback_cloud_run", "checkout")).allowed
    assert not remediation.policy_decision(proposal("rollback_cloud_run", "search")).allowed  # the policy still rules


def test_with_the_runbook_url_every_allowed_action_is_available(live: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOSRE_RUNBOOK_WEBHOOK_URL", "https://runbooks.example.com/hook")
    remediation = live.remediation()
    assert remediation.unavailable == {}
    assert remediation.policy_decision(proposal("runbook_webhook", "checkout")).allowed


def test_an_unreadable_policy_costs_approvals_only(live: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOSRE_POLICY", "{not json")
    request = EnvironBuilder(path="/", base_url="https://sre.example.com").get_request()
    assert live.web(request).status_code == 200  # the reports stay readable
    body, status = live.sweep(None)
    assert status == 200 and json.loads(body) == {"partial_reports": [], "handed_off": [], "outcomes_recorded": [],
                                                  "outcome_unknown": [], "recovery_checked": [], "chat_told": []}
