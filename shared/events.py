"""The incident log's vocabulary: event types, one typed payload per type, deterministic event ids.

Each payload owns its meaning: its causal `phase` in a fold, its `summary_line()` for the timeline, its
`postmortem_label` (the postmortem's timeline lists the events that have one) and `apply(state, event)`, how it
changes the folded `IncidentState` (shared/incident_state.py). `PAYLOAD_MODELS` is the one list of payloads; the
registry (`PAYLOADS`, event type -> model) is derived from it, so a new event type is a new `EventType`, a new
payload class and its entry in that list (a family of payloads may sit in a module of its own, as
shared/feedback_events.py and shared/outcome_events.py do).

An event's `data` is its payload serialised; `payload_of(event)` reads it back as the typed model, so no reader
indexes a dict by string key. Event ids are derived from the step that writes them, so a retried or redelivered
step produces the same id and the append is a no-op. Only shared/incident_log.py reads and writes an incident's
events. Payload schemas are built on first use (`defer_build`): importing this module builds none of them. The
annotations are evaluated as the classes are made (no `from __future__ import annotations`): pydantic would
otherwise compile each string again for every subclass, which a cold start pays for.
"""

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

from pydantic import ConfigDict, Field

from shared.chat_events import HandOffRecorded, ThreadOpened
from shared.event_base import EventPayload as EventPayload  # the base every payload extends
from shared.event_base import StrictModel as StrictModel
from shared.event_types import DEAD_LETTER_STREAM as DEAD_LETTER_STREAM
from shared.event_types import EventType as EventType
from shared.event_types import event_id as event_id
from shared.event_types import stable_id as stable_id
from shared.feedback_events import ActionFeedback, CauseFeedback, IncidentAcknowledged
from shared.incident_parts import Execution, Notification, RoundState
from shared.models import Alert, Event, Finding, Proposal, ReadCounts, Report
from shared.outcome_events import RemediationPending as RemediationPending
from shared.outcome_events import RemediationVerified as RemediationVerified
from shared.steering_events import Answered, Hint

if TYPE_CHECKING:
    from shared.incident_state import IncidentState

# Module-level names for the types, so callers write `ev.REPORT_PUBLISHED`.
ALERT_RECEIVED = EventType.ALERT_RECEIVED
ALERT_REJECTED = EventType.ALERT_REJECTED
INCIDENT_OPENED = EventType.INCIDENT_OPENED
INCIDENT_RESOLVED = EventType.INCIDENT_RESOLVED
INCIDENT_ACKNOWLEDGED = EventType.INCIDENT_ACKNOWLEDGED
ROUND_STARTED = EventType.ROUND_STARTED
FINDING_RECORDED = EventType.FINDING_RECORDED
SPECIALIST_COMPLETED = EventType.SPECIALIST_COMPLETED
SPECIALIST_FAILED = EventType.SPECIALIST_FAILED
COST_RECORDED = EventType.COST_RECORDED
REPORT_PUBLISHED = EventType.REPORT_PUBLISHED
REPORT_STEP_DONE = EventType.REPORT_STEP_DONE
REPORT_CHECKED = EventType.REPORT_CHECKED
REMEDIATION_PROPOSED = EventType.REMEDIATION_PROPOSED
APPROVAL_DECIDED = EventType.APPROVAL_DECIDED
REMEDIATION_HANDED_OFF = EventType.REMEDIATION_HANDED_OFF
REMEDIATION_EXECUTED = EventType.REMEDIATION_EXECUTED
REMEDIATION_PENDING = EventType.REMEDIATION_PENDING
REMEDIATION_FAILED = EventType.REMEDIATION_FAILED
REMEDIATION_VERIFIED = EventType.REMEDIATION_VERIFIED
NOTIFICATION_SENT = EventType.NOTIFICATION_SENT
NOTIFICATION_FAILED = EventType.NOTIFICATION_FAILED
CAUSE_FEEDBACK = EventType.FEEDBACK_CAUSE
ACTION_FEEDBACK = EventType.FEEDBACK_ACTION
HINT_ADDED, QUESTION_ANSWERED = EventType.HINT_ADDED, EventType.QUESTION_ANSWERED


class RoundWindow(StrictModel):
    """The windows a round reads: the incident window around the alert's start and the baseline before it."""

    model_config = ConfigDict(frozen=True)
    onset: float
    start: float
    end: float
    baseline_start: float
    baseline_end: float


class IncidentOpened(EventPayload):
    event_types = (INCIDENT_OPENED,)
    phase = 0
    group_key: str = ""
    alert: Alert

    def summary_line(self) -> str:
        return self.alert.summary[:200]

    def apply(self, state: "IncidentState", event: Event) -> None:
        state.status = "open" if state.status != "resolved" else state.status
        state.group_key = self.group_key
        state.opened_at = event.at if state.opened_at is None else min(state.opened_at, event.at)
        state.first_alert = self.alert


class AlertReceived(EventPayload):
    event_types = (ALERT_RECEIVED,)
    phase = 1
    postmortem_label = "alert"
    alert: Alert

    def summary_line(self) -> str:
        return self.alert.summary[:200]

    def apply(self, state: "IncidentState", event: Event) -> None:
        state.alert_count += 1
        previous = state.alerts.get(self.alert.monitoring_incident_id)
        state.alerts[self.alert.monitoring_incident_id] = "closed" if previous == "closed" else self.alert.state
        if state.first_alert is None:
            state.first_alert = self.alert


class AlertRejected(EventPayload):
    """Input that is not an alert, kept in the dead-letter stream (never folded into an incident)."""

    event_types = (ALERT_REJECTED,)
    phase = 9
    reason: str
    error: str
    message_id: str = ""
    topic: str = ""
    size: int = 0
    sha256: str
    excerpt_b64: str = ""
    attributes: dict[str, str] = Field(default_factory=dict)


class IncidentResolved(EventPayload):
    event_types = (INCIDENT_RESOLVED,)
    phase = 10
    postmortem_label = "resolved"
    by_alert: str = ""

    def apply(self, state: "IncidentState", event: Event) -> None:
        state.status = "resolved"
        state.resolved_at = event.at


class RoundStarted(EventPayload):
    event_types = (ROUND_STARTED,)
    phase = 2
    postmortem_label = "investigation"
    round: int
    specialists: list[str]
    deadline: float
    window: RoundWindow
    focus: list[str] = Field(default_factory=list)
    opened_by: str = ""  # the delivery that started the round (only it, or its redelivery, fans out)
    reason: str = ""
    fresh: bool = False  # a new investigation: its report reads only its own rounds' findings

    def summary_line(self) -> str:
        focus = f"; a closer look at {', '.join(self.focus)}" if self.focus else ""
        why = f" ({self.reason})" if self.reason else ""
        return f"round {self.round}: {', '.join(self.specialists)}{focus}{why}"[:300]

    def apply(self, state: "IncidentState", event: Event) -> None:
        if self.round not in state.rounds:
            state.rounds[self.round] = RoundState(self.round, list(self.specialists), self.deadline, self.window,
                                                  opened_by=self.opened_by, focus=list(self.focus), fresh=self.fresh,
                                                  started_at=event.at)


class FindingRecorded(EventPayload):
    event_types = (FINDING_RECORDED,)
    phase = 3
    round: int
    finding: Finding

    def apply(self, state: "IncidentState", event: Event) -> None:
        state.findings[self.finding.finding_id] = self.finding


class SpecialistCompleted(EventPayload):
    event_types = (SPECIALIST_COMPLETED,)
    phase = 4
    postmortem_label = "findings"
    round: int
    specialist: str
    finding_ids: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)  # sampling and data-coverage notes
    seconds: float = 0.0

    def summary_line(self) -> str:
        return f"{self.specialist}: {len(self.finding_ids)} findings"

    def apply(self, state: "IncidentState", event: Event) -> None:
        rnd = state.rounds.get(self.round)
        if rnd is not None:  # a completion supersedes a failure
            rnd.completed[self.specialist] = list(self.finding_ids)
            rnd.notes[self.specialist] = list(self.notes)
            rnd.failed.pop(self.specialist, None)


class SpecialistFailed(EventPayload):
    event_types = (SPECIALIST_FAILED,)
    phase = 4
    postmortem_label = "findings"
    round: int
    specialist: str
    error: str

    def summary_line(self) -> str:
        return f"{self.specialist}: {self.error[:200]}"

    def apply(self, state: "IncidentState", event: Event) -> None:
        rnd = state.rounds.get(self.round)
        if rnd is not None and self.specialist not in rnd.completed:
            rnd.failed[self.specialist] = self.error


class CostRecorded(EventPayload):
    """What one specialist's run read (the cost ledger), recorded once per round and specialist, done or failed."""

    event_types = (COST_RECORDED,)
    phase = 4
    round: int
    specialist: str
    counts: ReadCounts

    def summary_line(self) -> str:
        c = self.counts
        return (f"{self.specialist}: {c.reads} reads, {c.api_calls} API calls, {c.log_entries} log entries, "
                f"{c.spans} spans, {c.series} series, {c.bytes_billed} bytes billed"
                + (f"; cap reached: {c.cap}" if c.cap else ""))

    def apply(self, state: "IncidentState", event: Event) -> None:
        rnd = state.rounds.get(self.round)
        if rnd is not None:
            rnd.costs.setdefault(self.specialist, self.counts)  # one per round and specialist: the first stands


class ReportPublished(EventPayload):
    event_types = (REPORT_PUBLISHED,)
    phase = 5
    postmortem_label = "report"
    report: Report

    def summary_line(self) -> str:
        return self.report.headline

    def apply(self, state: "IncidentState", event: Event) -> None:
        rnd = state.rounds.get(self.report.round)
        # A complete report supersedes a partial one; otherwise the first one written stands.
        if rnd is not None and (rnd.report is None or (rnd.report.partial and not self.report.partial)):
            rnd.report = self.report


class ReportStepDone(EventPayload):
    """A step after the report (proposals, notification) finished; until it is recorded it is re-driven."""

    event_types = (REPORT_STEP_DONE,)
    phase = 7
    round: int
    step: str

    def summary_line(self) -> str:
        return f"round {self.round}: {self.step} done"

    def apply(self, state: "IncidentState", event: Event) -> None:
        rnd = state.rounds.get(self.round)
        if rnd is not None:
            rnd.steps_done.add(self.step)


class ReportChecked(EventPayload):
    """What a triage found beside a round's report against the data it read (functions/local.py `check`): its
    warnings (no telemetry in a window, an alert with no start time, corrupt lines skipped), so every rendering of
    the report, the web page too, says them."""

    event_types = (REPORT_CHECKED,)
    phase = 7
    round: int
    warnings: list[str]
    no_data: bool = False  # no telemetry at all in the incident window: the report is partial

    def summary_line(self) -> str:
        return f"round {self.round}: {len(self.warnings)} warning(s)" + (" (no data)" if self.no_data else "")

    def apply(self, state: "IncidentState", event: Event) -> None:
        rnd = state.rounds.get(self.round)
        if rnd is not None:
            rnd.warnings, rnd.no_data = list(self.warnings), self.no_data


class RemediationProposed(EventPayload):
    event_types = (REMEDIATION_PROPOSED,)
    phase = 6
    postmortem_label = "proposal"
    proposal: Proposal

    def summary_line(self) -> str:
        return self.proposal.preview[:200]

    def apply(self, state: "IncidentState", event: Event) -> None:
        state.proposals.setdefault(self.proposal.proposal_id, self.proposal)


class ApprovalDecided(EventPayload):
    event_types = (APPROVAL_DECIDED,)
    phase = 7
    postmortem_label = "approval"
    proposal_id: str
    decision: Literal["approve", "deny"]
    approver: str
    token_id: str = ""

    def summary_line(self) -> str:
        return f"{self.decision} by {self.approver}"

    def apply(self, state: "IncidentState", event: Event) -> None:
        state.decisions.setdefault(self.proposal_id, self)  # the first decision stands


class RemediationHandedOff(EventPayload):
    """An approved proposal was handed to the executor (published on the actions topic, or run inline)."""

    event_types = (REMEDIATION_HANDED_OFF,)
    phase = 8
    proposal_id: str

    def summary_line(self) -> str:
        return f"{self.proposal_id} handed to the executor"

    def apply(self, state: "IncidentState", event: Event) -> None:
        state.handed_off.add(self.proposal_id)


class RemediationExecuted(EventPayload):
    event_types = (REMEDIATION_EXECUTED,)
    phase = 8
    postmortem_label = "execution"
    proposal_id: str
    outcome: str
    verification: str = ""
    approved_by: str = ""
    at: float
    dry_run: bool = False  # the runner only recorded its plan

    def summary_line(self) -> str:
        return self.outcome[:200]

    def apply(self, state: "IncidentState", event: Event) -> None:
        state.executions.setdefault(self.proposal_id, Execution("executed", self.outcome, self.at, self.approved_by,
                                                                self.verification, self.dry_run))


class RemediationFailed(EventPayload):
    event_types = (REMEDIATION_FAILED,)
    phase = 8
    postmortem_label = "execution"
    proposal_id: str
    outcome: str
    at: float

    def summary_line(self) -> str:
        return self.outcome[:200]

    def apply(self, state: "IncidentState", event: Event) -> None:
        state.executions.setdefault(self.proposal_id, Execution("failed", self.outcome, self.at))


class NotificationRecorded(EventPayload):
    """The outcome of one notification (sent, failed or skipped by the trigger policy, by the event's type)."""

    event_types = (NOTIFICATION_SENT, NOTIFICATION_FAILED, EventType.NOTIFICATION_SKIPPED)
    phase = 9
    channel: str
    detail: str = ""
    round: int = 1
    about: str = ""  # "": the round's report; "recovery:<proposal id>": that action's recovery check

    def summary_line(self) -> str:
        return f"{self.channel}: {self.detail}"[:200]

    def apply(self, state: "IncidentState", event: Event) -> None:
        if self.about:
            state.notified.add(self.about)
        status: Literal["sent", "failed", "skipped"] = (
            "sent" if event.type == NOTIFICATION_SENT else "failed" if event.type == NOTIFICATION_FAILED else "skipped")
        state.notifications.append(Notification(status, self.channel, self.detail))


# The one list of payloads: the registry below is derived from it.
PAYLOAD_MODELS: tuple[type[EventPayload], ...] = (
    AlertReceived, AlertRejected, IncidentOpened, IncidentResolved, IncidentAcknowledged, RoundStarted, FindingRecorded,
    SpecialistCompleted, SpecialistFailed, CostRecorded, ReportPublished, ReportStepDone, RemediationProposed,
    ApprovalDecided, ReportChecked, RemediationHandedOff, RemediationExecuted, RemediationFailed, RemediationVerified,
    RemediationPending, NotificationRecorded, CauseFeedback, ActionFeedback, Hint, Answered, ThreadOpened,
    HandOffRecorded,
)


def registry(models: Iterable[type[EventPayload]]) -> dict[str, type[EventPayload]]:
    """Event type -> the payload model that carries it. A model without its types or phase, or a type claimed
    by two models, is an error at import, not at the first event of that type."""
    out: dict[str, type[EventPayload]] = {}
    for model in models:
        if not getattr(model, "event_types", ()) or not isinstance(getattr(model, "phase", None), int):
            raise TypeError(f"{model.__name__} must set event_types and phase")
        for type_ in model.event_types:
            if type_ in out:
                raise TypeError(f"{type_} is carried by both {out[type_].__name__} and {model.__name__}")
            out[type_] = model
    return out


PAYLOADS: dict[str, type[EventPayload]] = registry(PAYLOAD_MODELS)


def model_of(type_: str) -> type[EventPayload]:
    """The payload model registered for an event type (ValueError for a type nothing carries)."""
    model = PAYLOADS.get(type_)
    if model is None:
        raise ValueError(f"{type_!r} is not a registered event type")
    return model


def make_event(incident_id: str, type_: EventType, key: tuple[object, ...], actor: str, payload: EventPayload,
               at: float | None = None) -> Event:
    """An event whose id is derived from (incident, type, key): the same step always yields the same id.
    The payload must be the model registered for the type."""
    expected = model_of(type_)
    if not isinstance(payload, expected):
        raise TypeError(f"{type_} takes a {expected.__name__} payload, not {type(payload).__name__}")
    return Event(
        incident_id=incident_id,
        event_id=event_id(incident_id, type_, key),
        type=str(type_),
        at=time.time() if at is None else at,
        actor=actor,
        data=payload.model_dump(mode="json"),
    )


def payload_of(event: Event) -> EventPayload:
    """The event's typed payload (raises for an unknown type or a body that does not fit it)."""
    return model_of(event.type).model_validate(event.data)
