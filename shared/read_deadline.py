"""The read deadline every read of one specialist run shares (core: the specialist handler sets it, the telemetry
adapters and the meter read it).

A specialist run's reads share one deadline (`read_deadline`, set by the specialist handler well inside the
function's timeout): each adapter's time budget is cut to what is left of it (`time_left`), and once it has passed
the meter refuses further reads with a note, so the specialist finishes with what it read and says so instead of
being killed by the function's timeout (and its task retried into the same wall). The deadline is a context
variable: a read on another thread must run in a copy of the context (contextvars.copy_context). Its clock is
`time.monotonic` unless the block names another (a simulated clock, on which the readers' quotas also wait).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Clock = Callable[[], float]
_DEADLINE: ContextVar[tuple[float, float, Clock] | None] = ContextVar("autosre_read_deadline", default=None)


@contextmanager
def read_deadline(seconds: float, clock: Clock = time.monotonic) -> Iterator[None]:
    """Every read inside the block shares one deadline, `seconds` from now on `clock`."""
    if seconds <= 0:
        raise ValueError("a read deadline is a positive number of seconds")
    token = _DEADLINE.set((clock() + seconds, seconds, clock))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def time_left(budget: float) -> float:
    """The seconds a read may spend: its own `budget`, or what is left of the shared deadline when that is less
    (0 once it has passed)."""
    shared = _DEADLINE.get()
    if shared is None:
        return budget
    return max(0.0, min(budget, shared[0] - shared[2]()))


def deadline_passed() -> str:
    """A note when the shared read deadline has passed ("" while reads may go on, or without one)."""
    shared = _DEADLINE.get()
    if shared is None or shared[2]() < shared[0]:
        return ""
    return f"the run's read deadline ({shared[1]:g} s, inside the function timeout) has passed"
