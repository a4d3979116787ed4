"""What the incident's channels were told (shared/events.py maps their types here): each notification's outcome;
where the incident's chat thread is, so every later update edits its first message and replies in it; and what each
hand-off to another service (PagerDuty, Jira) asked and was answered, under whose name."""

from typing import TYPE_CHECKING, Literal

from shared.core_models import Event
from shared.event_base import EventPayload
from shared.event_types import EventType
from shared.incident_parts import Notification

if TYPE_CHECKING:
    from shared.incident_state import IncidentState

CHAT_THREAD_OPENED = "chat.thread_opened"
HANDOFF_REQUESTED = "handoff.requested"
HANDOFF_SENT = "handoff.sent"
HANDOFF_FAILED = "handoff.failed"


class ThreadOpened(EventPayload):
    """The incident's thread in a channel that has threads: its first message, edited as the incident moves."""

    event_types = (CHAT_THREAD_OPENED,)
    phase = 9
    channel: str  # the notifier's kind ("slack-api")
    conversation: str  # the channel's id
    ts: str  # the first message's id: the thread's

    def summary_line(self) -> str:
        return f"{self.channel} thread {self.conversation}/{self.ts}"

    def apply(self, state: "IncidentState", event: Event) -> None:
        if state.chat_thread is None:  # the first one written stands
            state.chat_thread = self


class HandOffRecorded(EventPayload):
    """One step of a hand-off: asked for (by whom), sent (the service's reference) or failed (why)."""

    event_types = (HANDOFF_REQUESTED, HANDOFF_SENT, HANDOFF_FAILED)
    phase = 9
    postmortem_label = "hand-off"
    integration: str  # "pagerduty" | "jira"
    by: str  # the verified identity who asked, or "autosre" for an automatic hand-off
    dedup_key: str
    detail: str = ""
    reference: str = ""  # PagerDuty's dedup key, Jira's issue key
    link: str = ""
    action: Literal["hand_off", "resolve"] = "hand_off"  # resolve: the incident resolved, so is what was handed

    def summary_line(self) -> str:
        said = f"{self.integration}: {self.detail or 'asked by ' + self.by}"
        return (said + (f" ({self.reference})" if self.reference else ""))[:300]

    def apply(self, state: "IncidentState", event: Event) -> None:
        status: Literal["requested", "sent", "failed"] = (
            "sent" if event.type == HANDOFF_SENT else "failed" if event.type == HANDOFF_FAILED else "requested")
        current = state.handoffs.get(self.integration)
        if self.action == "resolve":
            if status == "sent" and current is not None:
                state.handoffs[self.integration] = ("resolved", current[1])
            return
        if current is not None and (current[0] in ("sent", "resolved")
                                    or (status == "requested" and current[0] == "failed")):
            return  # a hand-off once sent stays sent; an outcome is not hidden by a request folded after it
        state.handoffs[self.integration] = (status, self)


class NotificationRecorded(EventPayload):
    """The outcome of one notification (sent, failed or skipped by the trigger policy, by the event's type)."""

    event_types = (EventType.NOTIFICATION_SENT, EventType.NOTIFICATION_FAILED, EventType.NOTIFICATION_SKIPPED)
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
            "sent" if event.type == EventType.NOTIFICATION_SENT
            else "failed" if event.type == EventType.NOTIFICATION_FAILED else "skipped")
        state.notifications.append(Notification(status, self.channel, self.detail))


PAYLOAD_MODELS: tuple[type[EventPayload], ...] = (ThreadOpened, HandOffRecorded, NotificationRecorded)
