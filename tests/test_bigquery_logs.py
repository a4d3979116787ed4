"""BigQuery pre-aggregation: parameterised SQL only, strict table names, rows to PatternCounts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared.telemetry.bigquery_logs import BigQueryLogAggregator, pattern_count_query
from shared.telemetry.models import Window

pytest.importorskip("google.cloud.bigquery")


class FakeJob:
    def __init__(self, rows: list[dict[str, Any]]):
        self.rows = rows

    def result(self, timeout: float) -> list[dict[str, Any]]:
        return self.rows


class FakeClient:
    def __init__(self, rows: list[dict[str, Any]]):
        self.rows, self.calls = rows, []

    def query(self, sql: str, job_config: Any) -> FakeJob:
        self.calls.append((sql, job_config))
        return FakeJob(self.rows)


def row(i: int) -> dict[str, Any]:
    return {"template": f"charge failed for order <*> ({i})", "service": "payment", "bucket": "incident",
            "count": 10 - i, "first_seen": datetime(2026, 1, 15, 9, 58, tzinfo=UTC), "exemplar": "charge failed 42",
            "severity_rank": 5}


def test_query_uses_parameters_only_and_converts_rows() -> None:
    client = FakeClient([row(0), row(1)])
    agg = BigQueryLogAggregator("my-project.logs_ds._AllLogs", client=client, max_rows=5)
    evil = "payment'; DROP TABLE x; --"
    counts, capped = agg.log_pattern_counts(Window(1000.0, 4600.0), Window(4600.0, 5800.0), [evil])
    assert not capped and [c.count for c in counts] == [10, 9] and counts[0].first_seen == 1768471080.0
    sql, config = client.calls[0]
    assert evil not in sql and "DROP TABLE" not in sql
    for name in ("@baseline_start", "@incident_start", "@incident_end", "@services", "@max_rows"):
        assert name in sql
    params = {p.name: p for p in config.query_parameters}
    assert params["services"].values == [evil] and params["services"].array_type == "STRING"
    assert params["incident_start"].type_ == "TIMESTAMP" and params["max_rows"].value == 6


def test_row_cap_is_reported() -> None:
    counts, capped = BigQueryLogAggregator("my-project.ds.t", client=FakeClient([row(i) for i in range(4)]),
                                           max_rows=3).log_pattern_counts(Window(0, 1), Window(1, 2))
    assert capped and len(counts) == 3


@pytest.mark.parametrize("table", ["ds.t", "my-project.ds.t`; DROP", "My-Project.ds.t", "p.ds.t OR 1=1"])
def test_bad_table_names_are_refused(table: str) -> None:
    with pytest.raises(ValueError, match="not a BigQuery table"):
        pattern_count_query(table)
