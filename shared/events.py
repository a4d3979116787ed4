"""Event types, deterministic event ids, and `fold(events) -> IncidentState`.

An incident's state is never stored on its own: it is the fold of its events. Event ids are derived from the
step that writes them, so a retried or redelivered step produces the same id and the append is a no-op.
The fold is insensitive to order where two writers could race (sets keyed by ids; first report per round).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

from shared.models import Alert, Event, Finding, Proposal, Report

DEAD_LETTER_STREAM = "dead-letter"

ALERT_RECEIVED = "alert.received"
ALERT_REJECTED = "alert.rejected"
INCIDENT_OPENED = "incident.opened"
INCIDENT_RESOLVED = "incident.resolved"
ROUND_STARTED = "round.started"
FINDING_RECORDED = "finding.recorded"
SPECIALIST_COMPLETED = "specialist.completed"
SPECIALIST_FAILED = "specialist.failed"
REPORT_PUBLISHED = "report.published"
REMEDIATION_PROPOSED = "remediation.proposed"
APPROVAL_DECIDED = "approval.decided"
REMEDIATION_EXECUTED = "remediation.executed"
REMEDIATION_FAILED = "remediation.failed"
REMEDIATION_VERIFIED = "remediation.verified"
NOTIFICATION_SENT = "notification.sent"
NOTIFICATION_FAILED = "notification.failed"


def stable_id(*parts: object, length: int = 24) -> str:
    """A deterministic id from the parts that identify one step."""
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8"))
    return h.hexdigest()[:length]


def make_event(incident_id: str, type_: str, key: tuple[object, ...], actor: str, data: dict[str, Any],
               at: float | None = None) -> Event:
    """An event whose id is derived from (incident, type, key): the same step always yields the same id."""
    return Event(
        incident_id=incident_id,
        event_id=stable_id(incident_id, type_, *key),
        type=type_,
        at=time.time() if at is None else at,
        actor=actor,
        data=data,
    )


@dataclass
class RoundState:
    number: int
    specialists: list[str]
    deadline: float
    window: dict[str, float]
    completed: dict[str, list[str]] = field(default_factory=dict)  # specialist -> finding ids
    failed: dict[str, str] = field(default_factory=dict)  # specialist -> error
    notes: dict[str, list[str]] = field(default_factory=dict)  # specialist -> sampling notes
    report: Report | None = None
    opened_by: str = ""  # the delivery that started the round (its redelivery may re-send missing tasks)
    focus: list[str] = field(default_factory=list)  # a targeted round: the services whose hypotheses it checks

    @property
    def reported(self) -> set[str]:
        return set(self.completed) | set(self.failed)

    @property
    def missing(self) -> list[str]:
        return [s for s in self.specialists if s not in self.reported]


@dataclass
class IncidentState:
    incident_id: str
    status: str = "unknown"  # unknown | open | resolved
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
    proposals: dict[str, Proposal] = field(default_factory=dict)
    decisions: dict[str, dict[str, Any]] = field(default_factory=dict)  # proposal id -> the decision
    executions: dict[str, dict[str, Any]] = field(default_factory=dict)  # proposal id -> outcome
    notifications: list[dict[str, Any]] = field(default_factory=list)
    timeline: list[tuple[float, str, str, str]] = field(default_factory=list)  # (at, type, actor, summary)

    @property
    def latest_report(self) -> Report | None:
        for n in sorted(self.rounds, reverse=True):
            if self.rounds[n].report is not None:
                return self.rounds[n].report
        return None

    @property
    def current_round(self) -> RoundState | None:
        return self.rounds[max(self.rounds)] if self.rounds else None

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
            "executed_at": sorted(float(x.get("at", 0.0)) for x in self.executions.values()
                                  if x.get("status") == "executed"),
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
        state.event_count += 1
        state.last_event_at = max(state.last_event_at, e.at)
        _apply(state, e)
        state.timeline.append((e.at, e.type, e.actor, _summary(e)))
    state.timeline.sort()
    return state


_PHASE = {INCIDENT_OPENED: 0, ALERT_RECEIVED: 1, ROUND_STARTED: 2, FINDING_RECORDED: 3, SPECIALIST_FAILED: 4,
          SPECIALIST_COMPLETED: 4, REPORT_PUBLISHED: 5, REMEDIATION_PROPOSED: 6, APPROVAL_DECIDED: 7,
          REMEDIATION_EXECUTED: 8, REMEDIATION_FAILED: 8, REMEDIATION_VERIFIED: 9, NOTIFICATION_SENT: 9,
          NOTIFICATION_FAILED: 9, INCIDENT_RESOLVED: 10}


def _summary(e: Event) -> str:
    d = e.data
    if e.type in (ALERT_RECEIVED, INCIDENT_OPENED):
        return str(d.get("alert", {}).get("summary", ""))[:200]
    if e.type in (SPECIALIST_COMPLETED, SPECIALIST_FAILED):
        return f"{d.get('specialist')}: " + (f"{len(d.get('finding_ids', []))} findings" if e.type ==
                                               SPECIALIST_COMPLETED else str(d.get("error", ""))[:200])
    if e.type == ROUND_STARTED:
        focus = f"; a closer look at {', '.join(d['focus'])}" if d.get("focus") else ""
        why = f" ({d['reason']})" if d.get("reason") else ""
        return f"round {d.get('round')}: {', '.join(d.get('specialists', []))}{focus}{why}"[:300]
    if e.type == REPORT_PUBLISHED:
        return str(d.get("report", {}).get("headline", ""))
    if e.type == REMEDIATION_PROPOSED:
        return str(d.get("proposal", {}).get("preview", ""))[:200]
    if e.type == APPROVAL_DECIDED:
        return f"{d.get('decision')} by {d.get('approver')}"
    if e.type in (REMEDIATION_EXECUTED, REMEDIATION_FAILED):
        return str(d.get("outcome", ""))[:200]
    if e.type == REMEDIATION_VERIFIED:
        return str(d.get("verdict", ""))[:200]
    if e.type in (NOTIFICATION_SENT, NOTIFICATION_FAILED):
        return f"{d.get('channel', '')}: {d.get('detail', '')}"[:200]
    return ""


def _apply(state: IncidentState, e: Event) -> None:
    d = e.data
    if e.type == INCIDENT_OPENED:
        state.status = "open" if state.status != "resolved" else state.status
        state.group_key = d.get("group_key", "")
        state.opened_at = e.at if state.opened_at is None else min(state.opened_at, e.at)
        state.first_alert = Alert.model_validate(d["alert"])
    elif e.type == ALERT_RECEIVED:
        alert = Alert.model_validate(d["alert"])
        state.alert_count += 1
        previous = state.alerts.get(alert.monitoring_incident_id)
        state.alerts[alert.monitoring_incident_id] = "closed" if previous == "closed" else alert.state
        if state.first_alert is None:
            state.first_alert = alert
    elif e.type == INCIDENT_RESOLVED:
        state.status = "resolved"
        state.resolved_at = e.at
    elif e.type == ROUND_STARTED:
        n = int(d["round"])
        if n not in state.rounds:
            state.rounds[n] = RoundState(n, list(d["specialists"]), float(d["deadline"]), dict(d["window"]),
                                         opened_by=str(d.get("opened_by", "")), focus=list(d.get("focus", [])))
    elif e.type == FINDING_RECORDED:
        finding = Finding.model_validate(d["finding"])
        state.findings[finding.finding_id] = finding
    elif e.type == SPECIALIST_COMPLETED:
        rnd = state.rounds.get(int(d["round"]))
        if rnd is not None:
            rnd.completed[d["specialist"]] = list(d.get("finding_ids", []))
            rnd.notes[d["specialist"]] = list(d.get("notes", []))
            rnd.failed.pop(d["specialist"], None)
    elif e.type == SPECIALIST_FAILED:
        rnd = state.rounds.get(int(d["round"]))
        if rnd is not None and d["specialist"] not in rnd.completed:
            rnd.failed[d["specialist"]] = str(d.get("error", ""))
    elif e.type == REMEDIATION_PROPOSED:
        proposal = Proposal.model_validate(d["proposal"])
        state.proposals.setdefault(proposal.proposal_id, proposal)
    elif e.type == APPROVAL_DECIDED:
        state.decisions.setdefault(str(d["proposal_id"]), dict(d))  # the first decision stands
    elif e.type in (REMEDIATION_EXECUTED, REMEDIATION_FAILED):
        state.executions.setdefault(str(d["proposal_id"]), {**d, "status": e.type.split(".")[1]})
    elif e.type == REMEDIATION_VERIFIED:
        if str(d["proposal_id"]) in state.executions:
            state.executions[str(d["proposal_id"])]["verification"] = d["verdict"]
    elif e.type in (NOTIFICATION_SENT, NOTIFICATION_FAILED):
        state.notifications.append({**d, "status": e.type.split(".")[1]})
    elif e.type == REPORT_PUBLISHED:
        report = Report.model_validate(d["report"])
        rnd = state.rounds.get(report.round)
        # A complete report supersedes a partial one; otherwise the first one written stands.
        if rnd is not None and (rnd.report is None or (rnd.report.partial and not report.partial)):
            rnd.report = report
