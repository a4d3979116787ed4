"""The incident log's vocabulary: event types, which module carries each type's payload, deterministic event ids.

Each payload owns its meaning: its causal `phase` in a fold, its `summary_line()` for the timeline, its
`postmortem_label` (the postmortem's timeline lists the events that have one) and `apply(state, event)`, how it
changes the folded `IncidentState` (shared/incident_state.py). The payloads live in families, one module each, and
`FAMILIES` is the one map of which family carries which types; the registry (event type -> model) is derived from
the families' own lists, each family imported the first time one of its types is read or written. So a function
imports the payloads of the events it touches, not all of them: an intake, the incident's opening alone. A new event
type is a new `EventType`, a payload class in a family (its `PAYLOAD_MODELS`) and the type under that family here.

An event's `data` is its payload serialised; `payload_of(event)` reads it back as the typed model, so no reader
indexes a dict by string key. Event ids are derived from the step that writes them, so a retried or redelivered
step produces the same id and the append is a no-op. Only shared/incident_log.py reads and writes an incident's
events. Payload schemas are built on first use (`defer_build`): importing a family builds none of them. The
annotations are evaluated as the classes are made (no `from __future__ import annotations`): pydantic would
otherwise compile each string again for every subclass, which a cold start pays for.
"""

import importlib
import time
from collections.abc import Iterable

from shared.core_models import Event
from shared.event_base import EventPayload as EventPayload  # the base every payload extends
from shared.event_base import StrictModel as StrictModel
from shared.event_types import DEAD_LETTER_STREAM as DEAD_LETTER_STREAM
from shared.event_types import EventType as EventType
from shared.event_types import event_id as event_id
from shared.event_types import stable_id as stable_id

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


# The one map of which family (a module with its `PAYLOAD_MODELS`) carries which event types.
FAMILIES: dict[str, tuple[str, ...]] = {
    "shared.lifecycle_events": (INCIDENT_OPENED, ALERT_RECEIVED, ALERT_REJECTED, INCIDENT_RESOLVED, ROUND_STARTED),
    "shared.analysis_events": (FINDING_RECORDED, SPECIALIST_COMPLETED, SPECIALIST_FAILED, COST_RECORDED,
                               REPORT_PUBLISHED, REPORT_STEP_DONE, REPORT_CHECKED),
    "shared.remediation_events": (REMEDIATION_PROPOSED, APPROVAL_DECIDED, REMEDIATION_HANDED_OFF,
                                  REMEDIATION_EXECUTED, REMEDIATION_FAILED),
    "shared.outcome_events": (REMEDIATION_PENDING, REMEDIATION_VERIFIED),
    "shared.feedback_events": (CAUSE_FEEDBACK, ACTION_FEEDBACK, INCIDENT_ACKNOWLEDGED),
    "shared.steering_events": (HINT_ADDED, QUESTION_ANSWERED),
    "shared.chat_events": (NOTIFICATION_SENT, NOTIFICATION_FAILED, EventType.NOTIFICATION_SKIPPED,
                           EventType.CHAT_THREAD_OPENED, EventType.HANDOFF_REQUESTED, EventType.HANDOFF_SENT,
                           EventType.HANDOFF_FAILED),
}
_FAMILY_OF = {type_: family for family, types in FAMILIES.items() for type_ in types}


def registry(models: Iterable[type[EventPayload]]) -> dict[str, type[EventPayload]]:
    """Event type -> the payload model that carries it. A model without its types or phase, or a type claimed
    by two models, is an error when its family is imported, not at the first event of that type."""
    out: dict[str, type[EventPayload]] = {}
    for model in models:
        if not getattr(model, "event_types", ()) or not isinstance(getattr(model, "phase", None), int):
            raise TypeError(f"{model.__name__} must set event_types and phase")
        for type_ in model.event_types:
            if type_ in out:
                raise TypeError(f"{type_} is carried by both {out[type_].__name__} and {model.__name__}")
            out[type_] = model
    return out


def family_models(family: str) -> tuple[type[EventPayload], ...]:
    """The payload models of one family, imported now; its models must carry exactly the types `FAMILIES` gives it."""
    models: tuple[type[EventPayload], ...] = importlib.import_module(family).PAYLOAD_MODELS
    carried = registry(models)
    if set(carried) != set(FAMILIES[family]):
        raise TypeError(f"{family} carries {sorted(carried)}, FAMILIES says {sorted(FAMILIES[family])}")
    return models


def all_payload_models() -> tuple[type[EventPayload], ...]:
    """Every family's payload models (each family imported)."""
    return tuple(model for family in FAMILIES for model in family_models(family))


PAYLOADS: dict[str, type[EventPayload]] = {}  # the registry of the families imported so far


def model_of(type_: str) -> type[EventPayload]:
    """The payload model registered for an event type, its family imported on first use (ValueError for a type no
    family carries)."""
    model = PAYLOADS.get(type_)
    if model is None:
        if type_ not in _FAMILY_OF:
            raise ValueError(f"{type_!r} is not a registered event type")
        PAYLOADS.update(registry(family_models(_FAMILY_OF[type_])))
        model = PAYLOADS[type_]
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
