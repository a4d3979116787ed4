"""The incident log's event types and deterministic event ids, apart from the payloads (shared/events.py, which
re-exports them): reading events by id (a redelivery) needs these alone, not a payload model."""

import hashlib
from enum import StrEnum

DEAD_LETTER_STREAM = "dead-letter"


class EventType(StrEnum):
    ALERT_RECEIVED = "alert.received"
    ALERT_REJECTED = "alert.rejected"
    INCIDENT_OPENED = "incident.opened"
    INCIDENT_RESOLVED = "incident.resolved"
    INCIDENT_ACKNOWLEDGED = "incident.acknowledged"  # carried by shared/feedback_events.py
    ROUND_STARTED = "round.started"
    FINDING_RECORDED = "finding.recorded"
    SPECIALIST_COMPLETED = "specialist.completed"
    SPECIALIST_FAILED = "specialist.failed"
    COST_RECORDED = "cost.recorded"
    REPORT_PUBLISHED = "report.published"
    REPORT_STEP_DONE = "report.step_done"
    REPORT_CHECKED = "report.checked"
    REMEDIATION_PROPOSED = "remediation.proposed"
    APPROVAL_DECIDED = "approval.decided"
    REMEDIATION_HANDED_OFF = "remediation.handed_off"
    REMEDIATION_EXECUTED = "remediation.executed"
    REMEDIATION_PENDING = "remediation.pending"  # carried by shared/outcome_events.py
    REMEDIATION_FAILED = "remediation.failed"
    REMEDIATION_VERIFIED = "remediation.verified"  # carried by shared/outcome_events.py
    NOTIFICATION_SENT = "notification.sent"
    NOTIFICATION_FAILED = "notification.failed"
    FEEDBACK_CAUSE = "feedback.cause"  # carried by shared/feedback_events.py
    FEEDBACK_ACTION = "feedback.action"
    HINT_ADDED = "hint.added"  # carried by shared/steering_events.py
    QUESTION_ANSWERED = "question.answered"
    NOTIFICATION_SKIPPED = "notification.skipped"  # the trigger policy said not to tell the channel
    CHAT_THREAD_OPENED = "chat.thread_opened"  # the rest are carried by shared/chat_events.py
    HANDOFF_REQUESTED, HANDOFF_SENT, HANDOFF_FAILED = "handoff.requested", "handoff.sent", "handoff.failed"


def stable_id(*parts: object, length: int = 24) -> str:
    """A deterministic id from the parts that identify one step."""
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8"))
    return h.hexdigest()[:length]


def event_id(incident_id: str, type_: EventType, key: tuple[object, ...]) -> str:
    """The id of the event that the step (type, key) of an incident writes: the same step always yields the same id."""
    return stable_id(incident_id, str(type_), *key)
