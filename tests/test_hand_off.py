"""An approval whose hand-off to the executor fails (or whose process dies right after the decision) is not lost:
the decision stands, and the sweep hands the action over again until the hand-off is recorded."""

from __future__ import annotations

from shared.incident_state import fold
from shared.store.sqlite import SqliteEventStore
from tests.test_action_limit import APPROVER, CountingRunner, approve, open_incident_with_proposal, remediation


def test_a_failed_hand_off_is_retried_by_the_sweep_until_recorded() -> None:
    store = SqliteEventStore(":memory:")
    incident_id, proposal_id = open_incident_with_proposal(store, 1)
    published: list[tuple[str, str]] = []
    outage = [True]

    def publish(incident: str, proposal: str) -> None:
        if outage[0]:
            raise ConnectionError("pubsub unavailable")
        published.append((incident, proposal))

    r = remediation(store, 3, CountingRunner())
    r.hand_off = publish
    approve(r, incident_id, proposal_id)
    message = r.deliver(incident_id, proposal_id)
    assert "retried" in message and published == []
    state = fold(store.load(incident_id))
    assert state.decisions[proposal_id].approver == APPROVER and state.awaiting_hand_off == [proposal_id]
    assert store.summaries()[0]["awaiting_hand_off"] == 1
    assert r.redrive_hand_offs() == []  # still down: nothing recorded, nothing lost
    outage[0] = False
    assert r.redrive_hand_offs() == [proposal_id]
    assert published == [(incident_id, proposal_id)]
    assert fold(store.load(incident_id)).awaiting_hand_off == []
    assert r.redrive_hand_offs() == [] and len(published) == 1  # handed over once


def test_inline_delivery_runs_the_action_once() -> None:
    store, runner = SqliteEventStore(":memory:"), CountingRunner()
    incident_id, proposal_id = open_incident_with_proposal(store, 1)
    r = remediation(store, 3, runner)
    approve(r, incident_id, proposal_id)
    assert r.deliver(incident_id, proposal_id).startswith("ran restart")
    assert r.redrive_hand_offs() == [] and runner.calls == 1
