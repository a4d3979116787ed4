"""The incident's opening and closing (shared/events.py maps their types here): the alerts that open it, join it or
are rejected, the rounds of investigation it starts, and its resolution. What intake writes, apart from the later
families, so an intake imports these payloads alone."""

from typing import TYPE_CHECKING

from pydantic import ConfigDict, Field

from shared.core_models import Alert, Event
from shared.event_base import EventPayload, StrictModel
from shared.event_types import EventType
from shared.incident_parts import RoundState

if TYPE_CHECKING:
    from shared.incident_state import IncidentState


class RoundWindow(StrictModel):
    """The windows a round reads: the incident window around the alert's start and the baseline before it."""

    model_config = ConfigDict(frozen=True)
    onset: float
    start: float
    end: float
    baseline_start: float
    baseline_end: float


class IncidentOpened(EventPayload):
    event_types = (EventType.INCIDENT_OPENED,)
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
    event_types = (EventType.ALERT_RECEIVED,)
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

    event_types = (EventType.ALERT_REJECTED,)
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
    event_types = (EventType.INCIDENT_RESOLVED,)
    phase = 10
    postmortem_label = "resolved"
    by_alert: str = ""

    def apply(self, state: "IncidentState", event: Event) -> None:
        state.status = "resolved"
        state.resolved_at = event.at


class RoundStarted(EventPayload):
    event_types = (EventType.ROUND_STARTED,)
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


PAYLOAD_MODELS: tuple[type[EventPayload], ...] = (AlertReceived, AlertRejected, IncidentOpened, IncidentResolved,
                                                  RoundStarted)
