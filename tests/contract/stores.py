"""Helpers of the store-capability suites: an event to store, and threads started at the same instant."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from shared.core_models import Event
from tests.concurrency import n_times

T = TypeVar("T")
THREADS = 8


def event(event_id: str, at: float = 1.0, incident: str = "inc-1", **data: Any) -> Event:
    return Event(incident_id=incident, event_id=event_id, type="t", at=at, actor="test", data=dict(data))


def together(n: int, work: Callable[[int], T]) -> list[T]:
    """Run work(0..n-1) on n threads released at the same instant; every result, in thread order."""
    return n_times(n, work)
