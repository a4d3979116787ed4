"""The one owner of reading and writing an incident's event log.

Every writer goes through `IncidentLog`: `with log.incident(incident_id) as incident:` loads and folds the
incident once, `incident.record(...)` appends an event with a deterministic id and folds it into the state in
memory (no reload), observers see every event written, and leaving the block projects the list-view summary
when anything was written. A redelivered step writes nothing (the ids already exist); an append lost to a
concurrent writer marks the state stale, and the next read of `incident.state` loads it again, so a winner's
version (say, the first approval decision) is what the caller sees.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from shared.event_types import DEAD_LETTER_STREAM, EventType, event_id
from shared.ports import EventLog, Summaries

if TYPE_CHECKING:  # the payloads and the fold are imported where an event is written or the log is folded: a
    # redelivery that reads its events by id needs neither
    from shared.core_models import Event
    from shared.events import EventPayload
    from shared.incident_state import IncidentState
    from shared.paging import ListFilter

log = logging.getLogger("autosre.incident_log")

Observer: TypeAlias = "Callable[[Event], None]"
Step = tuple[EventType, tuple[object, ...]]  # what an event records: its type and its key


class LogStore(EventLog, Summaries, Protocol):
    """What the incident log uses of a store: the incidents' events and their list-view summaries."""


class UnknownIncident(LookupError):
    """No event has been recorded for this incident id."""


class IncidentHandle:
    """One unit of work on one incident: its folded state and the appends made through it."""

    def __init__(self, owner: IncidentLog, incident_id: str):
        self._owner = owner
        self.incident_id = incident_id
        self._state: IncidentState | None = None
        self._loaded = False
        self.written = 0
        self._staged: list[Event] = []

    @property
    def exists(self) -> bool:
        return self._current() is not None

    @property
    def state(self) -> IncidentState:
        state = self._current()
        if state is None:
            raise UnknownIncident(f"no incident {self.incident_id}")
        return state

    def _current(self) -> IncidentState | None:
        if not self._loaded:
            self._state = self._owner._load(self.incident_id)
            self._loaded = True
        return self._state

    def refresh(self) -> IncidentState:
        """The state read again from the store (another writer may have appended since it was loaded)."""
        self._loaded = False
        return self.state

    def record(self, type_: EventType, key: tuple[object, ...], actor: str, payload: EventPayload) -> bool:
        """Append once (create-if-absent by the step's id); True when this call wrote it."""
        from shared.events import make_event

        event = make_event(self.incident_id, type_, key, actor, payload, at=self._owner.clock())
        written = self._owner._append(event)
        if written:
            self.written += 1
            self._fold_in(event)
        elif self._state is None or event.event_id not in self._state.event_ids:
            self._loaded = False  # another writer got there first: read its version on next use
        return written

    def stage(self, type_: EventType, key: tuple[object, ...], actor: str, payload: EventPayload) -> None:
        """Fold an event into the state now and write it with the other staged ones at `commit` (one write). An
        event the state already holds (a redelivery) is not staged again."""
        from shared.events import make_event

        event = make_event(self.incident_id, type_, key, actor, payload, at=self._owner.clock())
        state = self._current()
        if state is not None and event.event_id in state.event_ids:
            return
        self._fold_in(event)
        self._staged.append(event)

    def _fold_in(self, event: Event) -> None:
        """The event applied to the state held (the incident's first event starts it)."""
        from shared.incident_state import fold

        state = self._current()
        if state is None:
            self._state = fold([event])
        else:
            state.apply(event)

    def commit(self) -> None:
        """Write the staged events together, each create-if-absent. When another writer got to one of them
        first, the state is read again on next use, so its version is what the caller sees."""
        staged, self._staged = self._staged, []
        if not staged:
            return
        written = self._owner._append_all(staged)
        self.written += sum(written)
        if not all(written):
            self._loaded = False


@dataclass
class IncidentLog:
    store: LogStore
    clock: Callable[[], float] = time.time
    observers: list[Observer] = field(default_factory=list)
    loads: int = 0  # full-log loads since this log was built (a store query each on Firestore)

    def _load(self, incident_id: str) -> IncidentState | None:
        from shared.incident_state import fold

        self.loads += 1
        events = self.store.load(incident_id)
        return fold(events) if events else None

    def _append(self, event: Event) -> bool:
        written = self.store.append(event)
        if written:
            self._observed(event)
        return written

    def _append_all(self, events: list[Event]) -> list[bool]:
        written = self.store.append_all(events)
        for event in (e for e, wrote in zip(events, written, strict=True) if wrote):
            self._observed(event)
        return written

    def _observed(self, event: Event) -> None:
        for observe in self.observers:
            observe(event)

    @contextmanager
    def incident(self, incident_id: str) -> Iterator[IncidentHandle]:
        """A unit of work; the summary is projected on the way out when the block wrote anything."""
        handle = IncidentHandle(self, incident_id)
        try:
            yield handle
        finally:
            if handle.written:
                self.project(handle)

    def project(self, handle: IncidentHandle) -> None:
        state = handle._current()
        if state is not None:
            self.store.put_summary(handle.incident_id, state.summary())

    def recorded(self, incident_id: str, steps: Collection[Step]) -> set[Step]:
        """Which of these steps the incident's log holds: its events read by their ids, without a load or a fold."""
        ids = {event_id(incident_id, type_, key): (type_, key) for type_, key in steps}
        return {ids[found] for found in self.store.recorded(incident_id, list(ids))}

    def read_by_id(self, incident_id: str, steps: Collection[Step]) -> dict[Step, dict[str, Any]]:
        """The data of those of these steps' events the incident's log holds, read by their ids (no load, no fold,
        no payload model: the caller checks what it reads)."""
        ids = {event_id(incident_id, type_, key): (type_, key) for type_, key in steps}
        return {ids[found]: data for found, data in self.store.read_by_id(incident_id, list(ids)).items()}

    def read(self, incident_id: str) -> IncidentState | None:
        """The incident's state, or None when it has no events (one load)."""
        return self._load(incident_id)

    def record_rejection(self, key: tuple[object, ...], actor: str, payload: EventPayload) -> bool:
        """Append to the dead-letter stream (rejected input is kept, never folded into an incident)."""
        from shared.events import make_event

        return self._append(make_event(DEAD_LETTER_STREAM, EventType.ALERT_REJECTED, key, actor, payload,
                                       at=self.clock()))

    def summaries(self, status: str | None = None) -> list[dict[str, Any]]:
        """The list-view projections (only those with `status`, when given: a query, not a scan)."""
        return list(self.store.summaries(status))

    def summaries_page(self, limit: int = 100, cursor: str = "",
                       where: ListFilter | None = None) -> tuple[list[dict[str, Any]], str]:
        """One page of the list view, the most recently updated first, and the next page's cursor ("": the last);
        with `where`, only the incidents it matches. Raises ValueError for a cursor no page gave."""
        from shared.paging import narrowing  # the list view's filter: imported with the first page asked for

        active = narrowing(where)
        if active is None:
            return self.store.summaries_page(limit, cursor)
        return self.store.summaries_page(limit, cursor, active)
