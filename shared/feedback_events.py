"""What responders say about an incident (shared/events.py maps their types here): that they are on
it, whether the named cause was the cause (and, when not, what was, when they know), and whether an action helped.
Each is one person's word, recorded under their verified identity; a later word of the same person supersedes their
earlier one (an acknowledgement excepted: the first one stands)."""

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from shared.core_models import Event
from shared.event_base import EventPayload

if TYPE_CHECKING:
    from shared.incident_state import IncidentState

FEEDBACK_CAUSE = "feedback.cause"
FEEDBACK_ACTION = "feedback.action"
INCIDENT_ACKNOWLEDGED = "incident.acknowledged"


class CauseFeedback(EventPayload):
    """A responder confirms or rejects the report's named cause (its top cause when they answered)."""

    event_types = (FEEDBACK_CAUSE,)
    phase = 9
    postmortem_label = "cause feedback"
    round: int
    cause_service: str
    cause_kind: str = ""
    cause_title: str = ""
    verdict: Literal["confirmed", "rejected"]
    true_service: str = Field("", max_length=200)  # rejected: the service that was the cause, when known
    true_cause: str = Field("", max_length=500)  # rejected: what the cause was, in their words
    by: str

    def summary_line(self) -> str:
        said = f"{self.by} {self.verdict} the cause {self.cause_service}"
        if self.verdict == "rejected" and (self.true_service or self.true_cause):
            said += f"; the cause was {': '.join(x for x in (self.true_service, self.true_cause) if x)}"
        return said[:300]

    def apply(self, state: "IncidentState", event: Event) -> None:
        state.cause_feedback.pop(self.by, None)  # re-inserted: the dict is ordered by when each person last spoke
        state.cause_feedback[self.by] = self


class ActionFeedback(EventPayload):
    """A responder says whether an action helped."""

    event_types = (FEEDBACK_ACTION,)
    phase = 9
    postmortem_label = "action feedback"
    proposal_id: str
    helpful: bool
    note: str = Field("", max_length=500)
    by: str

    def summary_line(self) -> str:
        return (f"{self.by}: {self.proposal_id} {'helped' if self.helpful else 'did not help'}"
                + (f" ({self.note})" if self.note else ""))[:300]

    def apply(self, state: "IncidentState", event: Event) -> None:
        state.action_feedback.setdefault(self.proposal_id, {})[self.by] = self


class IncidentAcknowledged(EventPayload):
    """A person said "I'm on it": `by` is their verified identity (the same one an approval records). Keyed by
    it, so saying it again records nothing new; the first time stands."""

    event_types = (INCIDENT_ACKNOWLEDGED,)
    phase = 7
    postmortem_label = "acknowledged"
    by: str = Field(min_length=3, max_length=320)

    def summary_line(self) -> str:
        return f"{self.by} is on it"

    def apply(self, state: "IncidentState", event: Event) -> None:
        state.acknowledged.setdefault(self.by, event.at)


PAYLOAD_MODELS: tuple[type[EventPayload], ...] = (CauseFeedback, ActionFeedback, IncidentAcknowledged)
