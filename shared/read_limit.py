"""The records a read may return and the API requests it may send, set by the meter from what is left of the
investigation's budget (core: the meter sets them, the telemetry adapters read them), so a cap of 100 log entries
never fetches 6,000 to keep 100 and a cap of N API calls never sends more than N requests, however many pages.

Like the read deadline (shared/read_deadline.py) it is a context variable: a read on another thread must run in
a copy of the context (contextvars.copy_context)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_LIMIT: ContextVar[int | None] = ContextVar("autosre_read_limit", default=None)
_PAY: ContextVar[Callable[[], str] | None] = ContextVar("autosre_call_payer", default=None)


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


@contextmanager
def call_payer(pay: Callable[[], str] | None) -> Iterator[None]:
    """Each API request of a read inside the block is first paid for by `pay`: "" when the budget pays for one
    more call (taken from it), else the cap that refuses it, described (None: every request is paid for)."""
    token = _PAY.set(pay)
    try:
        yield
    finally:
        _PAY.reset(token)


def call_refused() -> str:
    """Before each API request (every page included): "" when the investigation's budget pays for it, one call
    then being spent, else the cap that refuses it; the reader then sends no request and says so in its note."""
    pay = _PAY.get()
    return "" if pay is None else pay()
