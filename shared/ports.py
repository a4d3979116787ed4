"""The small ports the functions depend on. Adapters live beside them (store_*, bus_*, telemetry/*)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.models import Event


class EventStore(Protocol):
    """Append-only events per incident, a create-if-absent key index, and the list-view projection.

    Contract (tests/contract/test_event_store.py, run against every adapter):
    - `append` writes an event only if no event with that (incident_id, event_id) exists; returns whether
      it wrote. Appends never overwrite.
    - `load` returns every event of an incident ordered by (at, event_id).
    - `claim(key, value)` stores value under key if the key is free and returns the value now stored
      (the winner's, under concurrency). `release(key, value)` frees the key only if it still holds value.
    - `put_summary` overwrites an incident's summary (a projection rebuilt from events); `summaries` lists them.
    """

    def append(self, event: Event) -> bool: ...

    def load(self, incident_id: str) -> list[Event]: ...

    def claim(self, key: str, value: str) -> str: ...

    def lookup(self, key: str) -> str | None: ...

    def release(self, key: str, value: str) -> bool: ...

    def put_summary(self, incident_id: str, summary: dict[str, Any]) -> None: ...

    def summaries(self) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Message:
    """A message as a handler sees it, whichever bus delivered it."""

    data: bytes
    attributes: dict[str, str] = field(default_factory=dict)
    message_id: str = ""
    topic: str = ""
    delivery_attempt: int = 1


Handler = Callable[[Message], object]


class Bus(Protocol):
    """Publishes messages to named topics. Subscriptions belong to the deployment, not the port."""

    def publish(self, topic: str, data: bytes, attributes: dict[str, str] | None = None) -> str: ...
