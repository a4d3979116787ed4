"""Run work on several threads released at the same instant, as redeliveries and concurrent functions race.

A thread that raises fails the test with its exception, and a thread that never finishes (a barrier that one dead
thread will never fill, a deadlock) fails it after `timeout_s` instead of hanging the run: the threads are daemons,
so a stuck one cannot keep the interpreter (and CI) from exiting either.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def together(works: Sequence[Callable[[], T]], timeout_s: float = 120.0) -> list[T]:
    """Each work on its own thread, all released together; every result in the order given."""
    n = len(works)
    barrier = threading.Barrier(n)
    results: list[T | None] = [None] * n
    done = [False] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=timeout_s)
            results[i] = works[i]()
            done[i] = True
        except BaseException as exc:  # reported below: a thread's exception must fail the test
            errors.append(exc)
            barrier.abort()  # the others stop waiting for a thread that will never arrive

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout_s)
    stuck = [t.name for t in threads if t.is_alive()]
    real = [e for e in errors if not isinstance(e, threading.BrokenBarrierError)]
    if real:
        raise real[0]
    assert not stuck, f"threads still running after {timeout_s}s: {stuck}"
    assert not errors, errors
    return [r for r, ok in zip(results, done, strict=True) if ok]  # type: ignore[misc]


def n_times(n: int, work: Callable[[int], T], timeout_s: float = 120.0) -> list[T]:
    """work(0..n-1) on n threads released together; every result, in thread order."""
    return together([lambda i=i: work(i) for i in range(n)], timeout_s)  # type: ignore[misc]
