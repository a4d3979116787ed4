"""The meter: a TelemetrySource decorator that delegates every read and counts what it cost, refusing reads once
the investigation's budget is spent (the ledger, the budget and the prices: shared/cost_ledger.py).

The composition root wraps the incident's source once per specialist run (functions/runtime.py `metered`); the
specialist handler records the counts as a `cost.recorded` event. Counted per read: the read itself, the records
it returned and, where the adapter can tell (`ReadResult.cost`, a log counter's `last_cost`), the API requests it
sent, the bytes a query billed and the time series a billed read returned. A refused read is an empty ReadResult,
sampled, whose note names the cap, so the specialist stops and says so; a refused pre-aggregation raises
BudgetReached (the log analyst then reads lines, within their own cap).

With a `pool` (shared/budget_pool.py: the investigation's budget held in the store) the caps are counted across
every specialist run of the investigation, concurrent ones included: a read first takes one API call and, for log
reads under a log-entry cap, the entries it may return (at most what is left: the adapter is asked for no more,
shared/read_limit.py), then records what it really cost and hands back what it did not use. Every further request
of a read (the next page, a descriptor look-up, a query's result pages) is paid for before it is sent
(shared/read_limit.py `call_refused`): a reader stops paging when the API-call budget is spent and its note names
the cap, which the counts then carry (the report names it and is partial), pooled or not.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from shared.budget_pool import BudgetPool
from shared.cost_ledger import Budget, BudgetReached
from shared.models import ReadCounts
from shared.ports import Claims, LogPatternCounter, SloReader, TelemetrySource
from shared.read_deadline import deadline_passed
from shared.read_limit import call_payer, record_limit
from shared.telemetry.bounds import MAX_RECORDS

if TYPE_CHECKING:  # the records are imported where a read happens
    from shared.telemetry_records import (
        ChangeEvent,
        Dependency,
        LogRecord,
        LogStream,
        LogVariants,
        MetricSeries,
        PatternCount,
        ReadCost,
        ReadResult,
        SloStatus,
        Span,
        Window,
    )

T = TypeVar("T")
POOLED = ("api_calls", "log_entries", "bytes_billed")  # the counters a budget caps


class MeteredSource:
    """A TelemetrySource that delegates to `inner`, counts every read into `counts` and refuses reads once
    `spent` + `counts` reach a cap of `budget`. Thread-safe (a specialist may read from several threads)."""

    def __init__(self, inner: TelemetrySource, budget: Budget | None = None, spent: ReadCounts | None = None,
                 pool: BudgetPool | None = None):
        self.inner = inner
        self.budget = budget or Budget()
        self.spent = spent or ReadCounts()
        self.pool = pool
        self._counts = ReadCounts()
        self._lock = threading.Lock()
        counter = inner.log_counter  # the port's optional capability, metered when the source has it
        self.log_counter: LogPatternCounter | None = _MeteredCounter(self, counter) if counter is not None else None
        slos: SloReader | None = getattr(inner, "slo_reader", None)  # optional too: SLO burn where the source has it
        self.slo_reader: SloReader | None = _MeteredSlos(self, slos) if slos is not None else None
        # the optional stream of every log line of a window (a bundle's): counted as it is consumed
        self.log_stream: Callable[[Window], LogStream | None] | None = (
            self._log_stream if getattr(inner, "log_stream", None) is not None else None)
        # ... and by variant (a bundle's): counted once read
        self.log_variants: Callable[..., LogVariants[Any] | None] | None = (
            self._log_variants if getattr(inner, "log_variants", None) is not None else None)

    def share_budget(self, claims: Claims, key: str) -> None:
        """The caps counted across every run sharing `key`: the investigation's one budget in the store."""
        self.pool = BudgetPool(claims, key, self.budget)

    @property
    def counts(self) -> ReadCounts:
        with self._lock:
            return self._counts.model_copy()

    def refusal(self, kind: str) -> str:
        """The cap reached that stops a read of `kind`, when one is (then the read is refused and counted as
        such), else ""."""
        pool = self.pool
        shared = None if pool is None else ReadCounts(**{c: pool.used(c) for c in POOLED})
        with self._lock:
            cap = self.budget.reached(shared if shared is not None else self.spent.plus(self._counts), kind)
            if cap:
                self._counts.refused += 1
                self._counts.cap = self._counts.cap or cap
            return cap

    def call_cap(self, sent: int) -> str:
        """One more API call for a read that has sent `sent` without taking them from a pool: "" when the budget
        pays for it (taken from the pool when there is one), else the API-call cap, described."""
        pool, cap = self.pool, self.budget.api_calls
        if pool is not None:
            return "" if pool.take("api_calls", 1) else self.budget.reached(ReadCounts(api_calls=cap), "api_calls")
        with self._lock:
            used = self.spent.api_calls + self._counts.api_calls + sent
        return self.budget.reached(ReadCounts(api_calls=used), "api_calls") if cap > 0 and used >= cap else ""

    def capped(self, cap: str) -> None:
        """A read stopped by `cap` short of what it would have read: the counts name it (the report is partial)."""
        with self._lock:
            self._counts.cap = self._counts.cap or cap

    def add(self, field: str, items: int, cost: ReadCost, took_calls: int = 0) -> None:
        if self.pool is not None:
            self.pool.add("api_calls", cost.api_calls - took_calls)
            self.pool.add("bytes_billed", cost.bytes_billed)
        with self._lock:
            c = self._counts
            c.reads += 1
            c.api_calls += cost.api_calls
            c.bytes_billed += cost.bytes_billed
            c.billed_series += cost.billed_series
            setattr(c, field, getattr(c, field) + items)

    def _read(self, what: str, field: str, read: Callable[[Window, list[str] | None], ReadResult[T]],
              window: Window, services: list[str] | None) -> ReadResult[T]:
        late = deadline_passed()
        if late:
            from shared.telemetry_records import ReadResult

            with self._lock:
                self._counts.refused += 1
            return ReadResult([], sampled=True, note=f"{what}: not read, {late}")
        cap = self.refusal(field)
        if cap:
            from shared.telemetry_records import ReadResult

            return ReadResult([], sampled=True, note=f"{what}: not read, the investigation's read budget is spent "
                                                       f"({cap})")
        if self.pool is None:
            payer = CallPayer(self)
            with call_payer(payer):
                result = read(window, services)
            self.add(field, len(result.items), result.cost)
            return payer.settled(what, result)
        return self._pooled(what, field, read, window, services, self.pool)

    def _pooled(self, what: str, field: str, read: Callable[[Window, list[str] | None], ReadResult[T]],
                window: Window, services: list[str] | None, pool: BudgetPool) -> ReadResult[T]:
        """A read within the investigation's shared budget: take, read at most what was taken, settle."""
        calls = pool.take("api_calls", 1)
        entries = pool.take("log_entries", MAX_RECORDS) if field == "log_entries" and pool.cap(field) else None
        if calls == 0 or entries == 0:
            pool.add("api_calls", -calls)
            pool.add("log_entries", -(entries or 0))
            cap = self.refusal(field) or self.budget.reached(
                ReadCounts(api_calls=self.budget.api_calls, log_entries=self.budget.log_entries), field)
            from shared.telemetry_records import ReadResult

            return ReadResult([], sampled=True, note=f"{what}: not read, the investigation's read budget is spent "
                                                       f"({cap})")
        payer = CallPayer(self, prepaid=calls)
        try:
            with record_limit(entries), call_payer(payer):
                result = read(window, services)
        except BaseException:
            pool.add("api_calls", -payer.unsent)
            pool.add("log_entries", -(entries or 0))
            raise
        if entries is not None:
            pool.add("log_entries", len(result.items) - entries)
            if len(result.items) >= entries and pool.used("log_entries") >= pool.cap("log_entries"):
                from shared.telemetry_records import ReadResult

                cap = self.budget.reached(ReadCounts(log_entries=pool.cap("log_entries")), field)
                with self._lock:
                    self._counts.cap = self._counts.cap or cap
                note = f"{what}: {len(result.items)} entries, bounded by the investigation's read budget ({cap})"
                result = ReadResult(result.items, True, "; ".join(n for n in (result.note, note) if n), result.cost)
        self.add(field, len(result.items), result.cost, took_calls=payer.taken)
        return payer.settled(what, result)

    def logs(self, window: Window, services: list[str] | None = None) -> ReadResult[LogRecord]:
        return self._read("logs", "log_entries", self.inner.logs, window, services)

    def _log_stream(self, window: Window) -> LogStream | None:
        """The inner source's stream of every line of the window, counted line by line; None when a deadline
        or a cap stops reads (the analyst then reads a sample, which says so)."""
        if deadline_passed() or self.refusal("log_entries"):
            return None
        from shared.telemetry_records import LogStream, ReadCost

        inner: LogStream = self.inner.log_stream(window)  # type: ignore[attr-defined]

        def counted() -> Iterator[LogRecord]:
            n = 0
            for n, line in enumerate(inner.lines, 1):  # noqa: B007 - the count is what is kept
                yield line
            self.add("log_entries", n, ReadCost())

        return LogStream(counted(), inner.note)

    def _log_variants(self, window: Window, identity: Callable[[LogRecord], Any], traces: int = 0,
                      blind: Callable[[LogRecord], bool] | None = None) -> LogVariants[Any] | None:
        """The inner source's lines of the window by variant, counted; None when a deadline or a cap stops
        reads."""
        if deadline_passed() or self.refusal("log_entries"):
            return None
        from shared.telemetry_records import SKIPPED, ReadCost

        read: LogVariants[Any] = self.inner.log_variants(window, identity, traces, blind)  # type: ignore[attr-defined]
        self.add("log_entries", len(read.lines) - read.lines.count(SKIPPED), ReadCost())  # as the stream counts
        return read

    def spans(self, window: Window, services: list[str] | None = None) -> ReadResult[Span]:
        return self._read("traces", "spans", self.inner.spans, window, services)

    def metrics(self, window: Window, services: list[str] | None = None) -> ReadResult[MetricSeries]:
        return self._read("metrics", "series", self.inner.metrics, window, services)

    def changes(self, window: Window, services: list[str] | None = None) -> ReadResult[ChangeEvent]:
        return self._read("changes", "changes", self.inner.changes, window, services)

    def dependencies(self) -> ReadResult[Dependency]:
        """The declared graph is configuration, not a billed read: passed through uncounted."""
        return self.inner.dependencies()

    def describe(self) -> dict[str, str]:
        return self.inner.describe()


class _MeteredCounter:
    """The inner source's log counter, counted (rows; a query job and its bytes billed when it says them)."""

    def __init__(self, meter: MeteredSource, inner: LogPatternCounter):
        self.meter, self.inner = meter, inner

    def log_pattern_counts(self, baseline: Window, incident: Window, services: list[str] | None = None
                           ) -> tuple[list[PatternCount], bool]:
        late = deadline_passed()
        if late:
            raise BudgetReached(late)
        cap = self.meter.refusal("pattern_rows")
        if cap:
            raise BudgetReached(f"the investigation's read budget is spent ({cap})")
        payer = CallPayer(self.meter)
        try:
            with call_payer(payer):
                rows, capped = self.inner.log_pattern_counts(baseline, incident, services)
        except Exception:  # a failed job may still have billed
            self.meter.add("pattern_rows", 0, _cost_of(self.inner), took_calls=self._took(payer))
            if payer.refused:
                self.meter.capped(payer.refused)
            raise
        self.meter.add("pattern_rows", len(rows), _cost_of(self.inner), took_calls=self._took(payer))
        if payer.refused:
            self.meter.capped(payer.refused)
        return rows, capped

    def _took(self, payer: CallPayer) -> int:
        return payer.taken if self.meter.pool is not None else 0


class _MeteredSlos:
    """The inner source's SLO reader, counted (as series: each SLO's burn rates and budget are time series)."""

    def __init__(self, meter: MeteredSource, inner: SloReader):
        self.meter, self.inner = meter, inner

    def slo_status(self, at: float, services: list[str]) -> ReadResult[SloStatus]:
        from shared.telemetry_records import ReadResult

        late = deadline_passed() or (f"the investigation's read budget is spent ({cap})"
                                     if (cap := self.meter.refusal("series")) else "")
        if late:
            return ReadResult([], sampled=True, note=f"SLOs: not read, {late}")
        payer = CallPayer(self.meter)
        with call_payer(payer):
            result = self.inner.slo_status(at, services)
        self.meter.add("series", len(result.items), result.cost,
                       took_calls=payer.taken if self.meter.pool is not None else 0)
        return payer.settled("SLOs", result)


class CallPayer:
    """The API calls one read may send, paid for request by request (shared/read_limit.py `call_payer`): first the
    `prepaid` ones taken before the read, then one more at a time from the meter's budget, until it refuses."""

    def __init__(self, meter: MeteredSource, prepaid: int = 0):
        self.meter, self.taken, self.sent, self.refused = meter, prepaid, 0, ""
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            if self.refused:
                return self.refused
            if self.sent < self.taken:
                self.sent += 1
                return ""
            cap = self.meter.call_cap(self.sent)
            if cap:
                self.refused = cap
                return cap
            self.sent += 1
            self.taken = self.taken + 1 if self.meter.pool is not None else self.sent
            return ""

    @property
    def unsent(self) -> int:
        """Calls taken from the pool and not sent (handed back when the read fails)."""
        return max(self.taken - self.sent, 0)

    def settled(self, what: str, result: ReadResult[T]) -> ReadResult[T]:
        """The read's result, its counts naming the cap that stopped it (and its note, if the reader's does not)."""
        if not self.refused:
            return result
        self.meter.capped(self.refused)
        if self.refused in result.note:
            return result
        from shared.telemetry_records import ReadResult

        note = f"{what}: stopped, the investigation's read budget is spent ({self.refused})"
        return ReadResult(result.items, True, "; ".join(n for n in (result.note, note) if n), result.cost)


def _cost_of(counter: object) -> ReadCost:
    from shared.telemetry_records import ReadCost

    cost = getattr(counter, "last_cost", None)
    return cost if isinstance(cost, ReadCost) else ReadCost()
