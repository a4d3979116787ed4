"""Helpers of the store-capability suites: an event to store, and threads started at the same instant."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from shared.models import Event

T = TypeVar("T")
THREADS = 8


def event(event_id: str, at: float = 1.0, incident: str = "inc-1", **data: Any) -> Event:
    return Event(incident_id=incident, event_id=event_id, type="t", at=at, actor="test", data=dict(data))


def together(n: int, work: Callable[[int], T]) -> list[T]:
    """Run work(0..n-1) on n threads released at the same instant; every result, in thread order."""
    barrier = threading.Barrier(n)
    results: list[T | None] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:  # reported below: a thread's exception must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return [r for r in results if r is not None]
