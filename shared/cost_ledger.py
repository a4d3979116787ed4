"""The investigation cost ledger: what an investigation's telemetry reads cost, the per-investigation read budget,
the list prices of the estimate, and the ledger's one-line summary.

Counted per read (by the meter, shared/telemetry/metered.py, which the composition root wraps around every
telemetry source): the read itself, the records it returned (log entries, spans, series, changes, pre-aggregated
rows) and, where the adapter can tell, the API requests it sent, the bytes a query billed and the time series a
billed read returned. Each specialist run records its counts as a `cost.recorded` event; the report's cost is
built from those events (agents/reporting/synthesis.py). The estimate prices only what a source says it billed: a bundle
folder's reads cost nothing.

The budget caps an investigation (every round and specialist of it: what the others already recorded is
`spent_before`). Once a cap is reached, the reads that spend it are refused (API calls: every read; log entries:
log reads; bytes billed: pre-aggregation queries). A cap stops the next read, not the one in flight, so a total
may end somewhat past its cap. A refusal is recorded (`ReadCounts.cap`) and makes the report partial.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, NamedTuple, Protocol, TypeAlias

from shared.config import (
    LIST_PRICE_BQ_TIB,
    LIST_PRICE_LLM_1K_TOKENS_IN,
    LIST_PRICE_LLM_1K_TOKENS_OUT,
    LIST_PRICE_MONITORING_MILLION_SERIES,
)
from shared.ports import Claims, TelemetrySource

if TYPE_CHECKING:  # the fold and the models are only named here: imported where a cost is counted
    from shared.incident_state import IncidentState
    from shared.models import Cost, ReadCounts

GIB = 2**30
TIB = 2**40
Ledger: TypeAlias = "Mapping[tuple[int, str], ReadCounts]"  # the recorded counts per (round, specialist)


class Budget(NamedTuple):
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


class BudgetReached(RuntimeError):
    """A read refused because the investigation's budget is spent."""


class Prices(NamedTuple):
    """Prices in USD of what the estimate counts; the defaults are the list prices of shared/config.py (their one
    definition, with their sources; AUTOSRE_PRICE_* sets them to your contract's)."""

    bq_tib: float = LIST_PRICE_BQ_TIB  # BigQuery on-demand queries, per TiB billed
    monitoring_million_series: float = LIST_PRICE_MONITORING_MILLION_SERIES  # Monitoring, per million series read
    llm_1k_tokens_in: float = LIST_PRICE_LLM_1K_TOKENS_IN  # LLM input tokens, per 1,000
    llm_1k_tokens_out: float = LIST_PRICE_LLM_1K_TOKENS_OUT  # LLM output tokens, thinking included, per 1,000

    def as_dict(self) -> dict[str, float]:
        return self._asdict()


class MeteredTelemetry(TelemetrySource, Protocol):
    """A telemetry source whose reads are counted (and refused past the budget): what a specialist reads from."""

    @property
    def counts(self) -> ReadCounts: ...

    def share_budget(self, claims: Claims, key: str) -> None:
        """Count the caps across every run that shares `key` (the investigation's one budget, held in `claims`:
        the store), concurrent runs included, not from this run's own reads alone."""


# What the composition root hands the specialist handler: the incident's telemetry, metered, given what the
# investigation already spent (functions/runtime.py `metered`).
MeteredTelemetryFactory: TypeAlias = "Callable[[IncidentState, ReadCounts], MeteredTelemetry]"


def investigation_counts(state: IncidentState, number: int) -> dict[tuple[int, str], ReadCounts]:
    """The recorded ledger of the investigation round `number` belongs to, per (round, specialist)."""
    return {(r.number, name): counts for r in state.investigation(number) for name, counts in r.costs.items()}


def spent_before(state: IncidentState, number: int, specialist: str) -> ReadCounts:
    """What the investigation read before this specialist's run of round `number` (its own earlier run excluded)."""
    from shared.models import ReadCounts

    total = ReadCounts()
    for key, counts in investigation_counts(state, number).items():
        if key != (number, specialist):
            total = total.plus(counts)
    return total


def cost_of(ledger: Ledger, llm: Mapping[str, object], prices: Prices) -> Cost:
    """The report's cost: the investigation's reads per specialist and in total, its LLM tokens, the estimate."""
    from shared.models import Cost, ReadCounts

    per: dict[str, ReadCounts] = {}
    for (_, name), counts in sorted(ledger.items()):
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
