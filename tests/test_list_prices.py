"""The cost ledger's default list prices mean what the pricing pages say (sources beside each in shared/config.py):
the estimate of a known amount of each billed unit, at the configured defaults, and zero for what is not billed."""

from __future__ import annotations

import pytest

from shared.config import Settings
from shared.cost_ledger import TIB, Prices, cost_of


def estimate(bytes_billed: int = 0, series: int = 0, tokens_in: int = 0, tokens_out: int = 0, log_entries: int = 0,
             spans: int = 0, api_calls: int = 0) -> dict[str, float]:
    """The ledger's breakdown for these counts at the configured default prices."""
    from shared.models import ReadCounts

    s = Settings()
    prices = Prices(s.price_bq_tib, s.price_monitoring_million_series, s.price_llm_1k_tokens_in,
                    s.price_llm_1k_tokens_out)
    counts = ReadCounts(bytes_billed=bytes_billed, billed_series=series, series=series, log_entries=log_entries,
                        spans=spans, api_calls=api_calls)
    cost = cost_of({(1, "logs"): counts}, {"tokens_in": tokens_in, "tokens_out": tokens_out}, prices)
    return {**cost.breakdown_usd, "total": cost.estimate_usd}


def test_one_tib_billed_by_bigquery_is_the_on_demand_list_price() -> None:
    assert Settings().price_bq_tib == 6.25  # https://cloud.google.com/bigquery/pricing, free tier not deducted
    assert estimate(bytes_billed=TIB)["bigquery"] == pytest.approx(6.25)
    capped = estimate(bytes_billed=10 * 2**30)["bigquery"]  # one query at the default cap of 10 GiB
    assert capped == pytest.approx(6.25 * 10 / 1024, abs=1e-6)


def test_a_million_monitoring_series_returned_is_fifty_cents() -> None:
    assert estimate(series=1_000_000)["monitoring"] == pytest.approx(0.50)  # per series returned, not per call


def test_gemini_flash_tokens_in_and_out() -> None:
    assert estimate(tokens_in=1_000_000)["llm"] == pytest.approx(0.30)
    assert estimate(tokens_out=1_000_000)["llm"] == pytest.approx(2.50)  # thinking tokens are billed as output


def test_log_and_trace_reads_cost_nothing() -> None:
    """Cloud Logging and Cloud Trace bill ingestion, not reads: entries, spans and their API calls are counted in
    the ledger but add nothing to the estimate."""
    free = estimate(log_entries=20_000, spans=20_000, api_calls=100)
    assert free["total"] == 0.0 and set(free) == {"bigquery", "monitoring", "llm", "total"}


def test_the_ledgers_own_defaults_are_the_configured_ones() -> None:
    s = Settings()
    assert Prices().as_dict() == {"bq_tib": s.price_bq_tib, "monitoring_million_series":
                                        s.price_monitoring_million_series, "llm_1k_tokens_in":
                                        s.price_llm_1k_tokens_in, "llm_1k_tokens_out": s.price_llm_1k_tokens_out}
