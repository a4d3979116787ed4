"""The incident log's vocabulary: event types, one typed payload per type, deterministic event ids.

An event's `data` is its payload serialised; `payload_of(event)` reads it back as the typed model, so no reader
indexes a dict by string key. Event ids are derived from the step that writes them, so a retried or redelivered
step produces the same id and the append is a no-op. The state an incident is in is the fold of its events
(shared/incident_state.py); only shared/incident_log.py reads and writes an incident's events.
"""

from __future__ import annotations

import hashlib
import time
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.models import Alert, Event, Finding, Proposal, ReadCounts, Report

DEAD_LETTER_STREAM = "dead-letter"


class EventType(StrEnum):
    ALERT_RECEIVED = "alert.received"
    ALERT_REJECTED = "alert.rejected"
    INCIDENT_OPENED = "incident.opened"
    INCIDENT_RESOLVED = "incident.resolved"
    ROUND_STARTED = "round.started"
    FINDING_RECORDED = "finding.recorded"
    SPECIALIST_COMPLETED = "specialist.completed"
    SPECIALIST_FAILED = "specialist.failed"
    COST_RECORDED = "cost.recorded"
    REPORT_PUBLISHED = "report.published"
    REPORT_STEP_DONE = "report.step_done"
    REMEDIATION_PROPOSED = "remediation.proposed"
    APPROVAL_DECIDED = "approval.decided"
    REMEDIATION_HANDED_OFF = "remediation.handed_off"
    REMEDIATION_EXECUTED = "remediation.executed"
    REMEDIATION_FAILED = "remediation.failed"
    REMEDIATION_VERIFIED = "remediation.verified"
    NOTIFICATION_SENT = "notification.sent"
    NOTIFICATION_FAILED = "notification.failed"


# Module-level names for the types, so callers write `ev.REPORT_PUBLISHED`.
ALERT_RECEIVED = EventType.ALERT_RECEIVED
ALERT_REJECTED = EventType.ALERT_REJECTED
INCIDENT_OPENED = EventType.INCIDENT_OPENED
INCIDENT_RESOLVED = EventType.INCIDENT_RESOLVED
ROUND_STARTED = EventType.ROUND_STARTED
FINDING_RECORDED = EventType.FINDING_RECORDED
SPECIALIST_COMPLETED = EventType.SPECIALIST_COMPLETED
SPECIALIST_FAILED = EventType.SPECIALIST_FAILED
COST_RECORDED = EventType.COST_RECORDED
REPORT_PUBLISHED = EventType.REPORT_PUBLISHED
REPORT_STEP_DONE = EventType.REPORT_STEP_DONE
REMEDIATION_PROPOSED = EventType.REMEDIATION_PROPOSED
APPROVAL_DECIDED = EventType.APPROVAL_DECIDED
REMEDIATION_HANDED_OFF = EventType.REMEDIATION_HANDED_OFF
REMEDIATION_EXECUTED = EventType.REMEDIATION_EXECUTED
REMEDIATION_FAILED = EventType.REMEDIATION_FAILED
REMEDIATION_VERIFIED = EventType.REMEDIATION_VERIFIED
NOTIFICATION_SENT = EventType.NOTIFICATION_SENT
NOTIFICATION_FAILED = EventType.NOTIFICATION_FAILED


class RoundWindow(BaseModel):
    """The windows a round reads: the incident window around the alert's start and the baseline before it."""

    model_config = ConfigDict(extra="forbid", defer_build=True, frozen=True)
    onset: float
    start: float
    end: float
    baseline_start: float
    baseline_end: float


class IncidentOpened(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    group_key: str = ""
    alert: Alert


class AlertReceived(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    alert: Alert


class AlertRejected(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    reason: str
    error: str
    message_id: str = ""
    topic: str = ""
    size: int = 0
    sha256: str
    excerpt_b64: str = ""
    attributes: dict[str, str] = Field(default_factory=dict)


class IncidentResolved(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    by_alert: str = ""


class RoundStarted(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    round: int
    specialists: list[str]
    deadline: float
    window: RoundWindow
    focus: list[str] = Field(default_factory=list)
    opened_by: str = ""  # the delivery that started the round (only it, or its redelivery, fans out)
    reason: str = ""
    fresh: bool = False  # a new investigation: its report reads only its own rounds' findings


class FindingRecorded(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    round: int
    finding: Finding


class SpecialistCompleted(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    round: int
    specialist: str
    finding_ids: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)  # sampling and data-coverage notes
    seconds: float = 0.0


class SpecialistFailed(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    round: int
    specialist: str
    error: str


class CostRecorded(BaseModel):
    """What one specialist's run read (the cost ledger), recorded once per round and specialist, done or failed."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    round: int
    specialist: str
    counts: ReadCounts


class ReportPublished(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    report: Report


class ReportStepDone(BaseModel):
    """A step after the report (proposals, notification) finished; until it is recorded it is re-driven."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    round: int
    step: str


class RemediationProposed(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    proposal: Proposal


class ApprovalDecided(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    proposal_id: str
    decision: Literal["approve", "deny"]
    approver: str
    token_id: str = ""


class RemediationHandedOff(BaseModel):
    """An approved proposal was handed to the executor (published on the actions topic, or run inline)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    proposal_id: str


class RemediationExecuted(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    proposal_id: str
    outcome: str
    verification: str = ""
    approved_by: str = ""
    at: float


class RemediationFailed(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    proposal_id: str
    outcome: str
    at: float


class RemediationVerified(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    proposal_id: str
    verdict: str


class NotificationRecorded(BaseModel):
    """The outcome of one notification (sent or failed, by the event's type)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    channel: str
    detail: str = ""
    round: int = 1


EventPayload = (IncidentOpened | AlertReceived | AlertRejected | IncidentResolved | RoundStarted | FindingRecorded
                | SpecialistCompleted | SpecialistFailed | CostRecorded | ReportPublished | ReportStepDone
                | RemediationProposed | ApprovalDecided | RemediationHandedOff | RemediationExecuted | RemediationFailed
                | RemediationVerified
                | NotificationRecorded)

PAYLOADS: dict[EventType, type[BaseModel]] = {
    ALERT_RECEIVED: AlertReceived,
    ALERT_REJECTED: AlertRejected,
    INCIDENT_OPENED: IncidentOpened,
    INCIDENT_RESOLVED: IncidentResolved,
    ROUND_STARTED: RoundStarted,
    FINDING_RECORDED: FindingRecorded,
    SPECIALIST_COMPLETED: SpecialistCompleted,
    SPECIALIST_FAILED: SpecialistFailed,
    COST_RECORDED: CostRecorded,
    REPORT_PUBLISHED: ReportPublished,
    REPORT_STEP_DONE: ReportStepDone,
    REMEDIATION_PROPOSED: RemediationProposed,
    APPROVAL_DECIDED: ApprovalDecided,
    REMEDIATION_HANDED_OFF: RemediationHandedOff,
    REMEDIATION_EXECUTED: RemediationExecuted,
    REMEDIATION_FAILED: RemediationFailed,
    REMEDIATION_VERIFIED: RemediationVerified,
    NOTIFICATION_SENT: NotificationRecorded,
    NOTIFICATION_FAILED: NotificationRecorded,
}


def stable_id(*parts: object, length: int = 24) -> str:
    """A deterministic id from the parts that identify one step."""
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8"))
    return h.hexdigest()[:length]


def make_event(incident_id: str, type_: EventType, key: tuple[object, ...], actor: str, payload: BaseModel,
               at: float | None = None) -> Event:
    """An event whose id is derived from (incident, type, key): the same step always yields the same id.
    The payload must be the model registered for the type."""
    expected = PAYLOADS[EventType(type_)]
    if not isinstance(payload, expected):
        raise TypeError(f"{type_} takes a {expected.__name__} payload, not {type(payload).__name__}")
    return Event(
        incident_id=incident_id,
        event_id=stable_id(incident_id, str(type_), *key),
        type=str(type_),
        at=time.time() if at is None else at,
        actor=actor,
        data=payload.model_dump(mode="json"),
    )


def payload_of(event: Event) -> EventPayload:
    """The event's typed payload (raises for an unknown type or a body that does not fit it)."""
    model = PAYLOADS[EventType(event.type)]
    parsed: EventPayload = model.model_validate(event.data)  # type: ignore[assignment]
    return parsed
