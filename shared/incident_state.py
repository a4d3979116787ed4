"""An incident's state: the fold of its events. Never stored on its own; the list-view summary is a projection.

`fold(events)` rebuilds the state from any subset of events in any order of concurrent writers (causal phase
first, then time, then id). `IncidentState.apply(event)` folds one more event into a state already built, so the
incident log need not reload after it appends. What an event changes, its phase and its timeline line are its
payload's (shared/events.py); this module only orders the events and keeps what every event changes alike.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from shared.events import model_of, payload_of, stable_id
from shared.incident_parts import Execution, Notification, RoundState

if TYPE_CHECKING:  # the payloads' families are imported as their events are folded (shared/events.py)
    from shared.chat_events import HandOffRecorded, ThreadOpened
    from shared.core_models import Alert, Event
    from shared.feedback_events import ActionFeedback, CauseFeedback
    from shared.models import Finding, Proposal, Report
    from shared.outcome_events import RemediationPending, RemediationVerified
    from shared.remediation_events import ApprovalDecided
    from shared.steering_events import Answered, Hint

__all__ = ["Execution", "IncidentState", "IncidentStatus", "Notification", "RoundState", "fold"]

IncidentStatus = Literal["unknown", "open", "resolved"]


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
    verified: dict[str, RemediationVerified] = field(default_factory=dict)  # proposal id -> its recovery check
    notified: set[str] = field(default_factory=set)  # what besides reports the channel was told of ("recovery:<id>")
    cause_feedback: dict[str, CauseFeedback] = field(default_factory=dict)  # who -> their word, latest last
    action_feedback: dict[str, dict[str, ActionFeedback]] = field(default_factory=dict)  # proposal -> who -> word
    pending_outcomes: dict[str, RemediationPending] = field(default_factory=dict)  # started, outcome not yet known
    hints: list[Hint] = field(default_factory=list)  # responders' hints, as recorded
    questions: list[Answered] = field(default_factory=list)  # follow-up questions and their answers
    notifications: list[Notification] = field(default_factory=list)
    acknowledged: dict[str, float] = field(default_factory=dict)  # who said "I'm on it" -> when they first did
    chat_thread: ThreadOpened | None = None  # the incident's thread, in a channel that has threads
    handoffs: dict[str, tuple[str, HandOffRecorded]] = field(default_factory=dict)  # integration -> (status, last)
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
                      if d.decision == "approve" and p not in self.handed_off and p not in self.executions
                      and p not in self.pending_outcomes)

    @property
    def outcome_pending(self) -> list[RemediationPending]:
        """Actions started whose outcome is not recorded yet (the sweep reads their operations)."""
        return [p for pid, p in sorted(self.pending_outcomes.items()) if pid not in self.executions]

    @property
    def awaiting_outcome(self) -> list[str]:
        """Proposals handed to the executor with no outcome recorded yet, nor a pending one (an operation the sweep
        reads)."""
        return sorted(p for p in self.handed_off if p not in self.executions and p not in self.pending_outcomes)

    @property
    def executed_actions(self) -> list[tuple[str, Execution, Proposal]]:
        """The actions that ran (executed, dry runs included), with their proposals, in proposal id order."""
        return [(pid, e, self.proposals[pid]) for pid, e in sorted(self.executions.items())
                if e.status == "executed" and pid in self.proposals]

    @property
    def awaiting_recovery_check(self) -> dict[str, float]:
        """Executed proposals whose recovery is not checked yet -> when they ran."""
        return {pid: e.at for pid, e in sorted(self.executions.items())
                if e.status == "executed" and pid not in self.verified}

    @property
    def cause_verdict(self) -> CauseFeedback | None:
        """The latest word on the named cause (None: nobody said)."""
        return next(reversed(self.cause_feedback.values()), None)

    @property
    def reopen_due(self) -> list[str]:
        """Actions whose check said not recovered and whose re-opened round is not recorded (an open incident)."""
        opened = {r.opened_by for r in self.rounds.values()}
        return sorted(p for p, v in self.verified.items() if self.status == "open" and v.result == "not_recovered"
                      and stable_id(self.incident_id, "recovery", p) not in opened)

    @property
    def chat_due(self) -> list[str]:
        """What the incident's chat thread has not been told of besides its reports (those are after-report steps):
        who said they are on it, each decision, execution and recovery check, and the resolution, in that order."""
        keys = ([f"acknowledged:{who}" for who in sorted(self.acknowledged, key=lambda w: (self.acknowledged[w], w))]
                + [f"approval:{p}" for p in sorted(self.decisions)]
                + [f"execution:{p}" for p in sorted(self.executions)]
                + [f"recovery:{p}" for p in sorted(self.verified)]
                + (["resolved"] if self.status == "resolved" else []))
        return [k for k in keys if k not in self.notified]

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
        payload.apply(self, event)
        bisect.insort(self.timeline, (event.at, event.type, event.actor, payload.summary_line()))

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
            "alert_started_at": alert.started_at if alert else None,
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
            "awaiting_outcome": len(self.awaiting_outcome),
            "recovery_check_due": min(self.awaiting_recovery_check.values(), default=None),  # the first action's time
            "recovery_unnotified": sorted(p for p in self.verified if f"recovery:{p}" not in self.notified),
            "recovery_reopen_due": len(self.reopen_due),
            "cause_feedback": self.cause_verdict.verdict if self.cause_verdict else "",
            "acknowledged_by": sorted(self.acknowledged, key=lambda who: (self.acknowledged[who], who)),
            "outcome_pending": len(self.outcome_pending),
            "chat_pending": len(self.chat_due),
            "updated_at": self.last_event_at,
        }


def fold(events: list[Event]) -> IncidentState:
    """Rebuild an incident's state from its events (any subset, any order of concurrent writers)."""
    if not events:
        raise ValueError("cannot fold an empty event list")
    # Causal phase first, then time: a fold never depends on clocks agreeing across writers.
    ordered = sorted(events, key=lambda e: (model_of(e.type).phase, e.at, e.event_id))
    state = IncidentState(incident_id=ordered[0].incident_id)
    for e in ordered:
        state.apply(e)
    return state

