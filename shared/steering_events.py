"""What responders add to an investigation while it runs (shared/events.py maps their types here):
a hint that steers the ranking (a suspected service, a change, an alert whose symptoms are noise), and a follow-up
question with the answer it got. Each is one person's word, recorded under their identity; the same word again is
the same event."""

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from shared.core_models import Event
from shared.event_base import EventPayload

if TYPE_CHECKING:
    from shared.incident_state import IncidentState

HINT_ADDED = "hint.added"
QUESTION_ANSWERED = "question.answered"

HintKind = Literal["service", "change", "noise"]


class Hint(EventPayload):
    """A responder's hint: `service` is suspected ("service"), a change is suspected (`text` names it, `service`
    optionally where), or the alerts on `service` are noise ("noise"). A hint weighs on the ranking; it is never
    evidence (agents/reporting/steering.py)."""

    event_types = (HINT_ADDED,)
    phase = 9
    postmortem_label = "hint"
    kind: HintKind
    service: str = Field("", max_length=200)
    text: str = Field("", max_length=500)
    by: str

    def summary_line(self) -> str:
        what = {"service": "suspects the service", "change": "suspects a change", "noise": "calls noise the alerts on"}
        return f"{self.by} {what[self.kind]} {' '.join(x for x in (self.service, self.text) if x)}"[:300]

    def apply(self, state: "IncidentState", event: Event) -> None:
        state.hints.append(self)


class Answered(EventPayload):
    """A follow-up question and its answer: built from the findings, written by a model and kept because every
    sentence cites a finding, or refused (the reason says why)."""

    event_types = (QUESTION_ANSWERED,)
    phase = 9
    postmortem_label = "question"
    question: str = Field(max_length=1000)
    intent: str = ""  # what the question was understood as ("why", "why_not", "changes", "evidence", ...)
    answer: str = ""
    cited: list[str] = Field(default_factory=list)  # finding ids
    source: Literal["findings", "llm", "refused", "none"]
    refused: str = ""  # why a model's answer was not shown
    by: str

    def summary_line(self) -> str:
        return f"{self.by} asked: {self.question}"[:300]

    def apply(self, state: "IncidentState", event: Event) -> None:
        state.questions.append(self)


PAYLOAD_MODELS: tuple[type[EventPayload], ...] = (Hint, Answered)
