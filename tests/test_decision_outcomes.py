"""What an approval page says is what was recorded, and every action handed to the executor ends with an outcome
on the incident's timeline: a refusal by the rate limit is an event, an executor killed during the runner call is
followed by an outcome (executed or unknown) on redelivery, and a hand-off that hangs does not hold the page."""

from __future__ import annotations

import json
import threading
import time

import pytest

from functions.handlers.execute import on_action
from functions.remediation import Remediation, RemediationError
from shared import approvals
from shared.incident_state import fold
from shared.ports import Message
from shared.store.sqlite import SqliteEventStore
from tests.concurrency import together
from tests.test_action_limit import APPROVER, CountingRunner, approve, open_incident_with_proposal, remediation


def decide(r: Remediation, incident_id: str, proposal_id: str) -> tuple[bool, str]:
    """(the page says recorded, its text), as the web view's POST /approve renders it."""
    try:
        return True, r.decide_and_deliver(r.link_token(incident_id, proposal_id), "approve", APPROVER)
    except (approvals.TokenError, RemediationError) as exc:
        return False, str(exc)


def test_rate_limited_approvals_are_not_recorded_when_the_page_refuses(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "events.db")
    runner, store = CountingRunner(delay_s=0.05), SqliteEventStore(path)
    pairs = [open_incident_with_proposal(store, n) for n in range(6)]
    pages: dict[str, tuple[bool, str]] = {}

    def click(incident_id: str, proposal_id: str) -> None:
        pages[proposal_id] = decide(remediation(SqliteEventStore(path), 1, runner), incident_id, proposal_id)

    together([lambda pair=pair: click(*pair) for pair in pairs])  # type: ignore[misc]
    assert runner.calls == 1
    for incident_id, proposal_id in pairs:
        recorded = proposal_id in fold(store.load(incident_id)).decisions
        assert recorded == pages[proposal_id][0], (proposal_id, pages[proposal_id])
    assert sum(ok for ok, _ in pages.values()) == 1


def test_an_approval_at_the_expiry_instant_is_recorded_only_when_the_page_says_so() -> None:
    store = SqliteEventStore(":memory:")
    incident_id, proposal_id = open_incident_with_proposal(store, 1)
    r = remediation(store, 3, CountingRunner())
    token = r.link_token(incident_id, proposal_id)
    expiry = approvals.verify(r.key, token, 0.0).expires_at
    ticks = iter([expiry - 1e-6, *[expiry] * 50])  # the clock crosses the expiry during the click
    r.clock = lambda: next(ticks)
    try:
        page = True, r.decide_and_deliver(token, "approve", APPROVER)
    except (approvals.TokenError, RemediationError) as exc:
        page = False, str(exc)
    assert (proposal_id in fold(store.load(incident_id)).decisions) == page[0], page


def test_a_failed_inline_action_is_reported_as_recorded_not_refused() -> None:
    class Failing(CountingRunner):
        def run(self, proposal):  # type: ignore[no-untyped-def]
            raise ConnectionError("runbook endpoint unreachable")

    store = SqliteEventStore(":memory:")
    incident_id, proposal_id = open_incident_with_proposal(store, 1)
    ok, text = decide(remediation(store, 3, Failing()), incident_id, proposal_id)
    state = fold(store.load(incident_id))
    assert ok and "unreachable" in text
    assert state.decisions[proposal_id].decision == "approve" and state.executions[proposal_id].status == "failed"


def test_a_hanging_hand_off_answers_promptly_and_the_sweep_redrives_it() -> None:
    store = SqliteEventStore(":memory:")
    incident_id, proposal_id = open_incident_with_proposal(store, 1)
    r = remediation(store, 3, CountingRunner())
    release = threading.Event()
    r.hand_off = lambda incident, proposal: (release.wait(20), None)[1]
    started = time.monotonic()
    ok, text = decide(r, incident_id, proposal_id)
    elapsed = time.monotonic() - started
    release.set()
    assert ok and "retried" in text and elapsed < 8, (elapsed, text)
    assert fold(store.load(incident_id)).awaiting_hand_off == [proposal_id]
    r.hand_off = lambda incident, proposal: None
    assert r.redrive_hand_offs() == [proposal_id]


def message(incident_id: str, proposal_id: str) -> Message:
    return Message(json.dumps({"incident_id": incident_id, "proposal_id": proposal_id}).encode())


def test_a_rate_limit_refusal_in_execute_is_an_event() -> None:
    store, runner = SqliteEventStore(":memory:"), CountingRunner()
    r = remediation(store, 1, runner)
    pairs = [open_incident_with_proposal(store, n) for n in range(2)]
    for incident_id, proposal_id in pairs:
        approve(r, incident_id, proposal_id)
    outcomes = [on_action(r, message(*pair)) for pair in pairs]
    assert runner.calls == 1 and outcomes[0].startswith("ran")
    refused = fold(store.load(pairs[1][0])).executions[pairs[1][1]]
    assert refused.status == "failed" and "rate limit" in refused.outcome


class Killed(BaseException):
    """The instance stops mid-call (a SIGTERM, an out-of-memory kill): nothing after it runs."""


def test_an_executor_killed_during_the_runner_call_is_followed_by_an_outcome() -> None:
    class DiesAfterTheCall(CountingRunner):
        def run(self, proposal):  # type: ignore[no-untyped-def]
            super().run(proposal)  # the webhook was hit
            raise Killed()

    store, runner = SqliteEventStore(":memory:"), DiesAfterTheCall()
    incident_id, proposal_id = open_incident_with_proposal(store, 1)
    r = remediation(store, 3, runner, now=10_000.0)
    approve(r, incident_id, proposal_id)
    with pytest.raises(Killed):
        on_action(r, message(incident_id, proposal_id))
    with pytest.raises(RemediationError):  # soon after: the first run may still be under way, so retry later
        on_action(remediation(store, 3, runner, now=10_010.0), message(incident_id, proposal_id))
    assert proposal_id not in fold(store.load(incident_id)).executions
    later = remediation(store, 3, runner, now=10_000.0 + 3600)
    outcome = on_action(later, message(incident_id, proposal_id))
    execution = fold(store.load(incident_id)).executions[proposal_id]
    assert runner.calls == 1 and "unknown" in execution.outcome and "unknown" in outcome


def test_the_sweep_records_the_outcome_of_a_run_whose_redeliveries_ran_out() -> None:
    class DiesAfterTheCall(CountingRunner):
        def run(self, proposal):  # type: ignore[no-untyped-def]
            super().run(proposal)
            raise Killed()

    store, runner = SqliteEventStore(":memory:"), DiesAfterTheCall()
    incident_id, proposal_id = open_incident_with_proposal(store, 1)
    r = remediation(store, 3, runner, now=10_000.0)
    r.hand_off = lambda incident, proposal: None
    approve(r, incident_id, proposal_id)
    r.deliver(incident_id, proposal_id)  # handed off: the executor's delivery is then lost with its instance
    with pytest.raises(Killed):
        remediation(store, 3, runner, now=10_000.0).execute(incident_id, proposal_id)
    soon = remediation(store, 3, runner, now=10_060.0)
    assert soon.settle_stopped_runs() == []
    assert store.summaries()[0]["awaiting_outcome"] == 1
    later = remediation(store, 3, runner, now=10_000.0 + 3600)
    assert later.settle_stopped_runs() == [f"{incident_id}/{proposal_id}"]
    state = fold(store.load(incident_id))
    assert "unknown" in state.executions[proposal_id].outcome and runner.calls == 1
    assert store.summaries()[0]["awaiting_outcome"] == 0 and later.settle_stopped_runs() == []
