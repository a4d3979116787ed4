"""An incident's state: the fold of its events. Never stored on its own; the list-view summary is a projection.

`fold(events)` rebuilds the state from any subset of events in any order of concurrent writers (causal phase
first, then time, then id). `IncidentState.apply(event)` folds one more event into a state already built, so the
incident log need not reload after it appends. Both go through the same `_apply`.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any, Literal

from shared import events as ev
from shared.events import (
    AlertReceived,
    ApprovalDecided,
    CostRecorded,
    FindingRecorded,
    IncidentOpened,
    NotificationRecorded,
    RemediationExecuted,
    RemediationFailed,
    RemediationHandedOff,
    RemediationProposed,
    RemediationVerified,
    ReportPublished,
    ReportStepDone,
    RoundStarted,
    RoundWindow,
    SpecialistCompleted,
    SpecialistFailed,
    payload_of,
)
from shared.models import Alert, Event, Finding, Proposal, ReadCounts, Report

IncidentStatus = Literal["unknown", "open", "resolved"]


@dataclass
class RoundState:
    number: int
    specialists: list[str]
    deadline: float
    window: RoundWindow
    completed: dict[str, list[str]] = field(default_factory=dict)  # specialist -> finding ids
    failed: dict[str, str] = field(default_factory=dict)  # specialist -> error
    notes: dict[str, list[str]] = field(default_factory=dict)  # specialist -> sampling notes
    costs: dict[str, ReadCounts] = field(default_factory=dict)  # specialist -> what its run read (cost ledger)
    report: Report | None = None
    opened_by: str = ""  # the delivery that started the round (its redelivery may re-send missing tasks)
    focus: list[str] = field(default_factory=list)  # a targeted round: the services whose hypotheses it checks
    steps_done: set[str] = field(default_factory=set)  # after-report steps recorded as finished
    fresh: bool = False  # a new investigation of a long-open incident (its report reads only its own rounds)

    @property
    def reported(self) -> set[str]:
        return set(self.completed) | set(self.failed)

    @property
    def missing(self) -> list[str]:
        return [s for s in self.specialists if s not in self.reported]


@dataclass
class Execution:
    """What became of an approved proposal: executed or failed, and the recovery verdict when checked."""

    status: Literal["executed", "failed"]
    outcome: str
    at: float
    approved_by: str = ""
    verification: str = ""


@dataclass
class Notification:
    status: Literal["sent", "failed"]
    channel: str
    detail: str


@dataclass
class IncidentState:
    incident_id: str
    status: IncidentStatus = "unknown"
    group_key: str = ""
    opened_at: float | None = None
    resolved_at: float | None = None
    first_alert: Alert | None = None
    alerts: dict[str, str] = field(default_factory=dict)  # monitoring incident id -> open|closed
    alert_count: int = 0
    rounds: dict[int, RoundState] = field(default_factory=dict)
    findings: dict[str, Finding] = field(default_factory=dict)
    event_count: int = 0
    last_event_at: float = 0.0
    event_ids: set[str] = field(default_factory=set)
    proposals: dict[str, Proposal] = field(default_factory=dict)
    decisions: dict[str, ApprovalDecided] = field(default_factory=dict)  # proposal id -> the first decision
    handed_off: set[str] = field(default_factory=set)  # approved proposals handed to the executor
    executions: dict[str, Execution] = field(default_factory=dict)  # proposal id -> outcome
    notifications: list[Notification] = field(default_factory=list)
    timeline: list[tuple[float, str, str, str]] = field(default_factory=list)  # (at, type, actor, summary)

    @property
    def latest_report(self) -> Report | None:
        for n in sorted(self.rounds, reverse=True):
            if self.rounds[n].report is not None:
                return self.rounds[n].report
        return None

    @property
    def report_round(self) -> RoundState | None:
        """The round whose report is the latest one."""
        for n in sorted(self.rounds, reverse=True):
            if self.rounds[n].report is not None:
                return self.rounds[n]
        return None

    @property
    def awaiting_hand_off(self) -> list[str]:
        """Approved proposals not yet handed to the executor nor run."""
        return sorted(p for p, d in self.decisions.items()
                      if d.decision == "approve" and p not in self.handed_off and p not in self.executions)

    def investigation(self, number: int) -> list[RoundState]:
        """The rounds of the investigation round `number` belongs to: from its first (round 1 or the last fresh
        round at or before it) up to it."""
        first = max(n for n, r in self.rounds.items() if n <= number and (n == 1 or r.fresh))
        return [self.rounds[n] for n in sorted(self.rounds) if first <= n <= number]

    @property
    def current_round(self) -> RoundState | None:
        return self.rounds[max(self.rounds)] if self.rounds else None

    def apply(self, event: Event) -> None:
        """Fold one more event in (an event already folded is ignored)."""
        if event.event_id in self.event_ids:
            return
        self.event_ids.add(event.event_id)
        self.event_count += 1
        self.last_event_at = max(self.last_event_at, event.at)
        payload = payload_of(event)
        _apply(self, event, payload)
        bisect.insort(self.timeline, (event.at, event.type, event.actor, _summary(event, payload)))

    def summary(self) -> dict[str, Any]:
        """The list-view projection of this state."""
        alert = self.first_alert
        report = self.latest_report
        top = report.causes[0] if report and report.causes else None
        return {
            "incident_id": self.incident_id,
            "status": self.status,
            "policy": alert.policy_name if alert else "",
            "service": alert.service if alert else "",
            "severity": alert.severity if alert else "",
            "opened_at": self.opened_at,
            "resolved_at": self.resolved_at,
            "alerts": self.alert_count,
            "report": report is not None,
            "partial": bool(report and report.partial),
            "top_cause": f"{top.service}: {top.title}" if top else "",
            "events": self.event_count,
            "proposals": len(self.proposals),
            "pending_approvals": sum(1 for p in self.proposals if p not in self.decisions),
            "report_steps_done": sorted(self.report_round.steps_done) if self.report_round else [],
            "awaiting_hand_off": len(self.awaiting_hand_off),
            "updated_at": self.last_event_at,
        }


def fold(events: list[Event]) -> IncidentState:
    """Rebuild an incident's state from its events (any subset, any order of concurrent writers)."""
    if not events:
        raise ValueError("cannot fold an empty event list")
    # Causal phase first, then time: a fold never depends on clocks agreeing across writers.
    ordered = sorted(events, key=lambda e: (_PHASE.get(e.type, 9), e.at, e.event_id))
    state = IncidentState(incident_id=ordered[0].incident_id)
    for e in ordered:
        state.apply(e)
    return state


_PHASE: dict[str, int] = {
    ev.INCIDENT_OPENED: 0, ev.ALERT_RECEIVED: 1, ev.ROUND_STARTED: 2, ev.FINDING_RECORDED: 3, ev.SPECIALIST_FAILED: 4,
    ev.SPECIALIST_COMPLETED: 4, ev.COST_RECORDED: 4, ev.REPORT_PUBLISHED: 5, ev.REMEDIATION_PROPOSED: 6,
    ev.REPORT_STEP_DONE: 7, ev.APPROVAL_DECIDED: 7, ev.REMEDIATION_HANDED_OFF: 8, ev.REMEDIATION_EXECUTED: 8,
    ev.REMEDIATION_FAILED: 8,
    ev.REMEDIATION_VERIFIED: 9, ev.NOTIFICATION_SENT: 9, ev.NOTIFICATION_FAILED: 9, ev.INCIDENT_RESOLVED: 10,
}


def _summary(e: Event, p: object) -> str:
    if isinstance(p, (AlertReceived, IncidentOpened)):
        return p.alert.summary[:200]
    if isinstance(p, SpecialistCompleted):
        return f"{p.specialist}: {len(p.finding_ids)} findings"
    if isinstance(p, SpecialistFailed):
        return f"{p.specialist}: {p.error[:200]}"
    if isinstance(p, CostRecorded):
        c = p.counts
        return (f"{p.specialist}: {c.reads} reads, {c.api_calls} API calls, {c.log_entries} log entries, {c.spans} "
                f"spans, {c.series} series, {c.bytes_billed} bytes billed"
                + (f"; cap reached: {c.cap}" if c.cap else ""))
    if isinstance(p, RoundStarted):
        focus = f"; a closer look at {', '.join(p.focus)}" if p.focus else ""
        why = f" ({p.reason})" if p.reason else ""
        return f"round {p.round}: {', '.join(p.specialists)}{focus}{why}"[:300]
    if isinstance(p, ReportPublished):
        return p.report.headline
    if isinstance(p, RemediationProposed):
        return p.proposal.preview[:200]
    if isinstance(p, ApprovalDecided):
        return f"{p.decision} by {p.approver}"
    if isinstance(p, ReportStepDone):
        return f"round {p.round}: {p.step} done"
    if isinstance(p, RemediationHandedOff):
        return f"{p.proposal_id} handed to the executor"
    if isinstance(p, (RemediationExecuted, RemediationFailed)):
        return p.outcome[:200]
    if isinstance(p, RemediationVerified):
        return p.verdict[:200]
    if isinstance(p, NotificationRecorded):
        return f"{p.channel}: {p.detail}"[:200]
    return ""


def _apply(state: IncidentState, e: Event, p: object) -> None:
    if isinstance(p, IncidentOpened):
        state.status = "open" if state.status != "resolved" else state.status
        state.group_key = p.group_key
        state.opened_at = e.at if state.opened_at is None else min(state.opened_at, e.at)
        state.first_alert = p.alert
    elif isinstance(p, AlertReceived):
        state.alert_count += 1
        previous = state.alerts.get(p.alert.monitoring_incident_id)
        state.alerts[p.alert.monitoring_incident_id] = "closed" if previous == "closed" else p.alert.state
        if state.first_alert is None:
            state.first_alert = p.alert
    elif e.type == ev.INCIDENT_RESOLVED:
        state.status = "resolved"
        state.resolved_at = e.at
    elif isinstance(p, RoundStarted):
        if p.round not in state.rounds:
            state.rounds[p.round] = RoundState(p.round, list(p.specialists), p.deadline, p.window,
                                               opened_by=p.opened_by, focus=list(p.focus), fresh=p.fresh)
    elif isinstance(p, FindingRecorded):
        state.findings[p.finding.finding_id] = p.finding
    elif isinstance(p, SpecialistCompleted):
        rnd = state.rounds.get(p.round)
        if rnd is not None:
            rnd.completed[p.specialist] = list(p.finding_ids)
            rnd.notes[p.specialist] = list(p.notes)
            rnd.failed.pop(p.specialist, None)
    elif isinstance(p, SpecialistFailed):
        rnd = state.rounds.get(p.round)
        if rnd is not None and p.specialist not in rnd.completed:
            rnd.failed[p.specialist] = p.error
    elif isinstance(p, CostRecorded):
        rnd = state.rounds.get(p.round)
        if rnd is not None:
            rnd.costs.setdefault(p.specialist, p.counts)  # one per round and specialist: the first stands
    elif isinstance(p, RemediationProposed):
        state.proposals.setdefault(p.proposal.proposal_id, p.proposal)
    elif isinstance(p, ApprovalDecided):
        state.decisions.setdefault(p.proposal_id, p)  # the first decision stands
    elif isinstance(p, RemediationHandedOff):
        state.handed_off.add(p.proposal_id)
    elif isinstance(p, ReportStepDone):
        rnd = state.rounds.get(p.round)
        if rnd is not None:
            rnd.steps_done.add(p.step)
    elif isinstance(p, RemediationExecuted):
        state.executions.setdefault(p.proposal_id, Execution("executed", p.outcome, p.at, p.approved_by,
                                                             p.verification))
    elif isinstance(p, RemediationFailed):
        state.executions.setdefault(p.proposal_id, Execution("failed", p.outcome, p.at))
    elif isinstance(p, RemediationVerified):
        if p.proposal_id in state.executions:
            state.executions[p.proposal_id].verification = p.verdict
    elif isinstance(p, NotificationRecorded):
        state.notifications.append(Notification("sent" if e.type == ev.NOTIFICATION_SENT else "failed",
                                                p.channel, p.detail))
    elif isinstance(p, ReportPublished):
        rnd = state.rounds.get(p.report.round)
        # A complete report supersedes a partial one; otherwise the first one written stands.
        if rnd is not None and (rnd.report is None or (rnd.report.partial and not p.report.partial)):
            rnd.report = p.report
