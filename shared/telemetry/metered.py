"""The investigation cost ledger: a TelemetrySource that delegates every read and counts what it cost, and the
per-investigation read budget it enforces.

The pipeline wraps the source once per specialist run (functions/pipeline.py) and records the counts as a
`cost.recorded` event. Counted per read: the read itself, the records it returned (log entries, spans, series,
changes, pre-aggregated rows) and, where the adapter can tell (`ReadResult.cost`, a log counter's `last_cost`),
the API requests it sent, the bytes a query billed and the time series a billed read returned. The estimate
prices only what a source says it billed: a bundle folder's reads cost nothing.

The budget caps an investigation (every round and specialist of it: what the others already recorded is
`spent`). Once a cap is reached, the reads that spend it are refused (API calls: every read; log entries: log
reads; bytes billed: pre-aggregation queries): a refused read is an empty ReadResult, sampled, whose note names
the cap, so the specialist stops and says so; a refused pre-aggregation raises BudgetReached (the log analyst then
reads lines, within their own cap). A cap stops the next read, not the one in flight, so a total may end somewhat
past its cap. A refusal is recorded (`ReadCounts.cap`) and makes the report partial (agents/synthesis.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from shared.config import (
    LIST_PRICE_BQ_TIB,
    LIST_PRICE_LLM_1K_TOKENS_IN,
    LIST_PRICE_LLM_1K_TOKENS_OUT,
    LIST_PRICE_MONITORING_MILLION_SERIES,
)
from shared.models import Cost, ReadCounts
from shared.ports import LogPatternCounter, TelemetrySource

if TYPE_CHECKING:  # the records are imported where a read happens: the pipeline builds its budget and prices here
    from shared.incident_state import IncidentState
    from shared.telemetry_records import (
        ChangeEvent,
        Dependency,
        LogRecord,
        MetricSeries,
        PatternCount,
        ReadCost,
        ReadResult,
        Span,
        Window,
    )

T = TypeVar("T")
GIB = 2**30
TIB = 2**40


@dataclass(frozen=True)
class Budget:
    """Per-investigation caps; 0 is no cap. A cap stops the reads that spend it: API calls stop every read, log
    entries stop log reads, bytes billed stop pre-aggregation queries (the reads that bill bytes)."""

    api_calls: int = 0
    log_entries: int = 0
    bytes_billed: int = 0

    def reached(self, used: ReadCounts, kind: str) -> str:
        """The first cap `used` has reached that stops a read of `kind` (a ReadCounts field), described, or ""."""
        for cap, count, what, setting, stops in (
                (self.api_calls, used.api_calls, "API calls", "AUTOSRE_BUDGET_API_CALLS", kind),
                (self.log_entries, used.log_entries, "log entries", "AUTOSRE_BUDGET_LOG_ENTRIES", "log_entries"),
                (self.bytes_billed, used.bytes_billed, "bytes billed", "AUTOSRE_BUDGET_BYTES_BILLED", "pattern_rows")):
            if cap > 0 and count >= cap and stops == kind:
                return f"{what}: {count} of a budget of {cap} ({setting})"
        return ""


@dataclass(frozen=True)
class Prices:
    """Prices in USD of what the estimate counts; the defaults are the list prices of shared/config.py (their one
    definition, with their sources; AUTOSRE_PRICE_* sets them to your contract's)."""

    bq_tib: float = LIST_PRICE_BQ_TIB  # BigQuery on-demand queries, per TiB billed
    monitoring_million_series: float = LIST_PRICE_MONITORING_MILLION_SERIES  # Monitoring, per million series read
    llm_1k_tokens_in: float = LIST_PRICE_LLM_1K_TOKENS_IN  # LLM input tokens, per 1,000
    llm_1k_tokens_out: float = LIST_PRICE_LLM_1K_TOKENS_OUT  # LLM output tokens, thinking included, per 1,000

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


class BudgetReached(RuntimeError):
    """A read refused because the investigation's budget is spent."""


class MeteredSource:
    """A TelemetrySource that delegates to `inner`, counts every read into `counts` and refuses reads once
    `spent` + `counts` reach a cap of `budget`. Thread-safe (a specialist may read from several threads)."""

    def __init__(self, inner: TelemetrySource, budget: Budget | None = None, spent: ReadCounts | None = None):
        self.inner = inner
        self.budget = budget or Budget()
        self.spent = spent or ReadCounts()
        self._counts = ReadCounts()
        self._lock = threading.Lock()
        counter = inner.log_counter  # the port's optional capability, metered when the source has it
        self.log_counter: LogPatternCounter | None = _MeteredCounter(self, counter) if counter is not None else None

    @property
    def counts(self) -> ReadCounts:
        with self._lock:
            return self._counts.model_copy()

    def refusal(self, kind: str) -> str:
        """The cap reached that stops a read of `kind`, when one is (then the read is refused and counted as
        such), else ""."""
        with self._lock:
            cap = self.budget.reached(self.spent.plus(self._counts), kind)
            if cap:
                self._counts.refused += 1
                self._counts.cap = self._counts.cap or cap
            return cap

    def add(self, field: str, items: int, cost: ReadCost) -> None:
        with self._lock:
            c = self._counts
            c.reads += 1
            c.api_calls += cost.api_calls
            c.bytes_billed += cost.bytes_billed
            c.billed_series += cost.billed_series
            setattr(c, field, getattr(c, field) + items)

    def _read(self, what: str, field: str, read: Callable[[Window, list[str] | None], ReadResult[T]],
              window: Window, services: list[str] | None) -> ReadResult[T]:
        cap = self.refusal(field)
        if cap:
            from shared.telemetry_records import ReadResult

            return ReadResult([], sampled=True, note=f"{what}: not read, the investigation's read budget is spent "
                                                       f"({cap})")
        result = read(window, services)
        self.add(field, len(result.items), result.cost)
        return result

    def logs(self, window: Window, services: list[str] | None = None) -> ReadResult[LogRecord]:
        return self._read("logs", "log_entries", self.inner.logs, window, services)

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
        cap = self.meter.refusal("pattern_rows")
        if cap:
            raise BudgetReached(f"the investigation's read budget is spent ({cap})")
        try:
            rows, capped = self.inner.log_pattern_counts(baseline, incident, services)
        except Exception:
            self.meter.add("pattern_rows", 0, _cost_of(self.inner))  # a failed job may still have billed
            raise
        self.meter.add("pattern_rows", len(rows), _cost_of(self.inner))
        return rows, capped


def _cost_of(counter: object) -> ReadCost:
    from shared.telemetry_records import ReadCost

    cost = getattr(counter, "last_cost", None)
    return cost if isinstance(cost, ReadCost) else ReadCost()


def investigation_counts(state: IncidentState, number: int) -> dict[tuple[int, str], ReadCounts]:
    """The recorded ledger of the investigation round `number` belongs to, per (round, specialist)."""
    return {(r.number, name): counts for r in state.investigation(number) for name, counts in r.costs.items()}


def spent_before(state: IncidentState, number: int, specialist: str) -> ReadCounts:
    """What the investigation read before this specialist's run of round `number` (its own earlier run excluded)."""
    total = ReadCounts()
    for key, counts in investigation_counts(state, number).items():
        if key != (number, specialist):
            total = total.plus(counts)
    return total


def cost_of(state: IncidentState, number: int, llm: dict[str, Any], prices: Prices) -> Cost:
    """The report's cost: the investigation's reads per specialist and in total, its LLM tokens, the estimate."""
    per: dict[str, ReadCounts] = {}
    for (_, name), counts in sorted(investigation_counts(state, number).items()):
        per[name] = per.get(name, ReadCounts()).plus(counts)
    total = ReadCounts()
    for counts in per.values():
        total = total.plus(counts)
    tokens_in, tokens_out = _int(llm.get("tokens_in")), _int(llm.get("tokens_out"))
    breakdown = {
        "bigquery": total.bytes_billed / TIB * prices.bq_tib,
        "monitoring": total.billed_series / 1e6 * prices.monitoring_million_series,
        "llm": tokens_in / 1000 * prices.llm_1k_tokens_in + tokens_out / 1000 * prices.llm_1k_tokens_out,
    }
    return Cost(specialists=per, total=total, llm_tokens_in=tokens_in, llm_tokens_out=tokens_out,
                estimate_usd=round(sum(breakdown.values()), 6),
                breakdown_usd={k: round(v, 6) for k, v in breakdown.items()}, prices=prices.as_dict(), cap=total.cap)


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def summary_line(cost: Cost) -> str:
    """One line of the ledger (text report, web view), saying what the estimate counts."""
    t = cost.total
    line = (f"{t.text()}, {_bytes(t.bytes_billed)} billed, LLM tokens {cost.llm_tokens_in} in / "
            f"{cost.llm_tokens_out} out")
    line += f"; budget reached ({cost.cap}), {t.refused} reads refused" if cost.cap else ""
    return line + (f"; estimate ${cost.estimate_usd:.4f} at list prices, of BigQuery bytes billed, Monitoring series "
                   f"returned ({t.billed_series}) and LLM tokens (Logging and Trace reads are not billed)")


def _bytes(n: int) -> str:
    return f"{n / GIB:.2f} GiB" if n >= GIB // 10 else f"{n} B"
