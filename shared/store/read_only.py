"""A store that reads and never writes: `autosre serve --store firestore` without an approver shows a deployment's
incidents and changes nothing in it. Every write raises `ReadOnly` instead of reaching the store."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from shared.core_models import Event
from shared.paging import ListFilter, narrowing
from shared.ports import EventStore


class ReadOnly(PermissionError):
    """A write reached a store opened read-only."""


class ReadOnlyStore:
    def __init__(self, store: EventStore, why: str):
        self._store = store
        self.why = why

    def _refuse(self, what: str) -> ReadOnly:
        return ReadOnly(f"not written ({what}): {self.why}")

    # EventLog
    def append(self, event: Event) -> bool:
        raise self._refuse(f"event {event.type} of {event.incident_id}")

    def append_all(self, events: list[Event]) -> list[bool]:
        if not events:
            return []
        raise self._refuse(f"events {', '.join(e.type for e in events)} of {events[0].incident_id}")

    def load(self, incident_id: str) -> list[Event]:
        return self._store.load(incident_id)

    def recorded(self, incident_id: str, event_ids: Collection[str]) -> set[str]:
        return self._store.recorded(incident_id, event_ids)

    def read_by_id(self, incident_id: str, event_ids: Collection[str]) -> dict[str, dict[str, Any]]:
        return self._store.read_by_id(incident_id, event_ids)

    # Claims
    def claim(self, key: str, value: str, expires_in_s: float = 0.0) -> str:
        raise self._refuse("a claim")

    def lookup(self, key: str) -> str | None:
        return self._store.lookup(key)

    def lookup_all(self, keys: Collection[str]) -> dict[str, str]:
        return self._store.lookup_all(keys)

    def release(self, key: str, value: str) -> bool:
        raise self._refuse("a release")

    # Summaries
    def put_summary(self, incident_id: str, summary: dict[str, Any]) -> None:
        raise self._refuse(f"the summary of {incident_id}")

    def summaries(self, status: str | None = None) -> list[dict[str, Any]]:
        return self._store.summaries(status)

    def summaries_page(self, limit: int, cursor: str = "",
                       where: ListFilter | None = None) -> tuple[list[dict[str, Any]], str]:
        active = narrowing(where)
        return self._store.summaries_page(limit, cursor, active) if active is not None else \
            self._store.summaries_page(limit, cursor)

    # TermIndex
    def index_terms(self, incident_id: str, terms: Collection[str]) -> None:
        raise self._refuse(f"the terms of {incident_id}")

    def incidents_with_terms(self, terms: Collection[str], limit: int) -> dict[str, int]:
        return self._store.incidents_with_terms(terms, limit)

    def indexed_terms(self, incident_ids: Collection[str]) -> dict[str, list[str]]:
        return self._store.indexed_terms(incident_ids)
