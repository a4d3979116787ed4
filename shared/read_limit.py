"""The records a read may return, set by the meter from what is left of the investigation's budget (core: the
meter sets it, the telemetry adapters read it), so a cap of 100 log entries never fetches 6,000 to keep 100.

Like the read deadline (shared/read_deadline.py) it is a context variable: a read on another thread must run in
a copy of the context (contextvars.copy_context)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_LIMIT: ContextVar[int | None] = ContextVar("autosre_read_limit", default=None)


@contextmanager
def record_limit(records: int | None) -> Iterator[None]:
    """Reads inside the block return at most `records` records (None: no limit but the adapter's own)."""
    token = _LIMIT.set(records)
    try:
        yield
    finally:
        _LIMIT.reset(token)


def records_allowed(bound: int) -> int:
    """The records a read may return: the adapter's own `bound`, or the budget's limit when that is less."""
    limit = _LIMIT.get()
    return bound if limit is None else max(0, min(bound, limit))
