"""The read bounds of every TelemetrySource adapter, defined once: a read of the same kind stops at the same size
whichever adapter serves it (the bundle folder, Cloud Logging, Cloud Trace, Cloud Monitoring, BigQuery), and a read
a bound cuts says so the same way (`ReadResult.sampled`, and a note naming what was kept of how many).

- `MAX_RECORDS`: the records one read returns at most: log lines, spans, metric series, changes (audit log entries)
  and pre-aggregated pattern rows. Past it, logs and spans are sampled by trace: whole traces are kept or left, so
  a kept request keeps all its lines and spans (the bundle keeps the smallest trace-id hashes; an API read, which
  pages newest first, keeps the newest whole traces).
- `MAX_PAGES`: the requests one paginated API read may send (entries.list, ListTraces, ListTimeSeries and the
  pages of a BigQuery result), whatever they hold: an API may answer empty pages that name a next one.

Each API's own page size limit is its adapter's (entries.list 1,000 entries, ListTraces 100 traces in the COMPLETE
view, ListTimeSeries 100,000 points): pages are followed by token until a bound, or the read's time budget, stops
them.

A specialist run's reads also share one deadline (`read_deadline`, set by the specialist handler well inside the
function's timeout): each adapter's time budget is cut to what is left of it (`time_left`), and once it has passed
the meter refuses further reads with a note, so the specialist finishes with what it read and says so instead of
being killed by the function's timeout (and its task retried into the same wall). The deadline is a context
variable: a read on another thread must run in a copy of the context (contextvars.copy_context).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

MAX_RECORDS = 20_000
MAX_PAGES = 100

_DEADLINE: ContextVar[tuple[float, float] | None] = ContextVar("autosre_read_deadline", default=None)


@contextmanager
def read_deadline(seconds: float) -> Iterator[None]:
    """Every read inside the block shares one deadline, `seconds` from now."""
    if seconds <= 0:
        raise ValueError("a read deadline is a positive number of seconds")
    token = _DEADLINE.set((time.monotonic() + seconds, seconds))
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
    return max(0.0, min(budget, shared[0] - time.monotonic()))


def deadline_passed() -> str:
    """A note when the shared read deadline has passed ("" while reads may go on, or without one)."""
    shared = _DEADLINE.get()
    if shared is None or time.monotonic() < shared[0]:
        return ""
    return f"the run's read deadline ({shared[1]:g} s, inside the function timeout) has passed"


def sampled_by_trace(what: str, kept: int, seen: int, exact: bool = True) -> str:
    """The note of a read cut by `MAX_RECORDS` that kept whole traces: `kept` of the `seen` records of the read
    (`exact=False`: of at least `seen`, when the read stopped before the end of the window)."""
    of = f"{seen}" if exact else f"at least {seen}"
    return f"{what}: {kept} of {of} sampled by trace (whole traces kept)"


def trace_cut(what: str, kept: int, seen: int, whole: bool, bound: int) -> str:
    """The note of a read cut by `bound` that keeps whole traces (`whole`), or, when the first trace alone was over
    the bound, its first `bound` records."""
    if whole:
        return sampled_by_trace(what, kept, seen)
    return f"{what}: {kept} of {seen} kept, all of one trace cut at the bound ({bound} per read)"


def evenly_sampled(what: str, kept: int, seen: int, bound: int) -> str:
    """The note of a read of records that belong to no trace (metric series, changes) cut by `bound`."""
    return f"{what}: {kept} of {seen} evenly sampled (limit: {bound} per read)"
