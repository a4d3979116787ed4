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
"""

from __future__ import annotations

MAX_RECORDS = 20_000
MAX_PAGES = 100


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
