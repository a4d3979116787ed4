"""The base of every event payload (shared/events.py maps each type to its family): its config, its causal phase,
its timeline line and how it changes the folded state. Apart from the payloads, so that each family of payloads
(shared/lifecycle_events.py, ...) extends it without importing the registry that maps them."""

from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict

from shared.core_models import Event

if TYPE_CHECKING:
    from shared.incident_state import IncidentState


class StrictModel(BaseModel):
    """The config every model of the log shares: unknown fields are refused, the schema is built on first use."""

    model_config = ConfigDict(extra="forbid", defer_build=True)


class EventPayload(StrictModel):
    """An event's typed body and what the event means.

    A subclass sets `event_types` (the types that carry it), `phase` (the causal order of a fold: a lower phase
    is folded first, whatever the writers' clocks say) and, when the postmortem's timeline lists the event,
    `postmortem_label`; it overrides `summary_line()` (the timeline's text) and `apply()` (the change to the
    state) when it has one.
    """

    event_types: ClassVar[tuple[str, ...]]
    phase: ClassVar[int]
    postmortem_label: ClassVar[str] = ""  # "" leaves the event out of the postmortem's timeline

    def summary_line(self) -> str:
        return ""

    def apply(self, state: "IncidentState", event: Event) -> None:
        """Fold this event into `state` (called once per event id; `event` gives its time and type)."""
