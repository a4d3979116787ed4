"""Similar past incidents come from the same project as the incident (another project's cause is not this one's
to show), and the people who decided in them are shown masked."""

from __future__ import annotations

from agents.reporting.similarity import signature
from functions.memory import recall
from shared import events as ev
from shared.core_models import Alert
from shared.incident_log import IncidentLog
from shared.lifecycle_events import IncidentOpened
from shared.models import Finding, Proposal, RankedCause, Report
from shared.remediation_events import RemediationExecuted, RemediationProposed
from shared.store.sqlite import SqliteEventStore

FINDINGS = {"f1": Finding(finding_id="f1", specialist="change", kind="change.deploy", service="cart", title="deploy",
                          score=0.8)}
REPORT = Report(incident_id="now", headline="h", summary="s", finding_ids=["f1"],
                causes=[RankedCause(rank=1, service="cart", kind="change.deploy", title="t", score=0.9,
                                    confidence=0.9)])


def past(store: SqliteEventStore, incident_id: str, project: str) -> None:
    store.index_terms(incident_id, signature(REPORT, FINDINGS))
    proposal = Proposal(proposal_id="p1", action="restart", service="cart", preview="restart it")
    with IncidentLog(store).incident(incident_id) as incident:
        incident.record(ev.INCIDENT_OPENED, (), "t", IncidentOpened(
            group_key=incident_id, alert=Alert(monitoring_incident_id=incident_id, project_id=project)))
        incident.record(ev.REMEDIATION_PROPOSED, ("p1",), "t", RemediationProposed(proposal=proposal))
        incident.record(ev.REMEDIATION_EXECUTED, ("p1",), "t", RemediationExecuted(
            proposal_id="p1", outcome="ok", approved_by="alice.smith@example.com", at=1.0))


def test_similar_incidents_of_another_project_are_not_listed() -> None:
    store = SqliteEventStore(":memory:")
    past(store, "a-theirs", "other-project")
    past(store, "b-mine", "my-project")
    assert [s.incident_id for s in recall(store, REPORT, FINDINGS, project_id="my-project")] == ["b-mine"]


def test_approver_e_mails_are_masked_in_similar_incidents() -> None:
    store = SqliteEventStore(":memory:")
    past(store, "b-mine", "my-project")
    [similar] = recall(store, REPORT, FINDINGS, project_id="my-project")
    assert similar.actions and "approved by" in similar.actions[0]
    assert "alice.smith@example.com" not in similar.model_dump_json()
    assert "@example.com" in similar.actions[0]  # the domain says which team; the person is masked
