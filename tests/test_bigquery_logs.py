"""BigQuery pre-aggregation: parameterised SQL only, strict table names, rows to PatternCounts."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.telemetry.bigquery_logs import (
    DEFAULT_MAX_BYTES_BILLED,
    NORMALIZERS,
    PARAMETERS,
    PLACEHOLDER,
    BigQueryLogAggregator,
    PatternCount,
    pattern_count_query,
)
from shared.telemetry_records import Window

pytest.importorskip("google.cloud.bigquery")

TABLE = "my-project.logs_ds._AllLogs"
BASELINE, INCIDENT = Window(1_768_467_000.0, 1_768_470_600.0), Window(1_768_470_600.0, 1_768_471_800.0)
EVIL = "payment'; DROP TABLE x; --"


class FakeJob:
    def __init__(self, rows: list[dict[str, Any]]):
        self.rows = rows
        self.timeouts: list[float] = []

    def result(self, timeout: float) -> list[dict[str, Any]]:
        self.timeouts.append(timeout)
        return self.rows


class FakeClient:
    """Records each query and its job config; answers with `rows`. Like the API, it refuses a job whose
    maximumBytesBilled is not an int64 (QueryJobConfig sends `str(value)`: None travels as "None", a 400)."""

    def __init__(self, rows: list[dict[str, Any]]):
        self.rows = rows
        self.calls: list[tuple[str, Any, float]] = []
        self.jobs: list[FakeJob] = []

    def query(self, sql: str, job_config: Any, timeout: float) -> FakeJob:
        from google.api_core.exceptions import BadRequest

        self.calls.append((sql, job_config, timeout))
        cap = job_config.to_api_repr().get("query", {}).get("maximumBytesBilled")
        if cap is not None and not re.fullmatch(r"-?[0-9]+", str(cap)):
            raise BadRequest(f"Invalid value at 'job.configuration.query.maximum_bytes_billed' (TYPE_INT64), "
                             f"\"{cap}\"")
        self.jobs.append(FakeJob(self.rows))
        return self.jobs[-1]


def row(i: int, bucket: str = "incident") -> dict[str, Any]:
    return {"template": f"charge failed for order <*> ({i})", "service": "payment", "bucket": bucket,
            "count": 10 - i, "first_seen": datetime(2026, 1, 15, 9, 58, tzinfo=UTC), "exemplar": "charge failed 42",
            "worst_severity": 5}


def test_values_travel_only_as_typed_parameters() -> None:
    client = FakeClient([])
    BigQueryLogAggregator(TABLE, client=client, max_rows=5, timeout_s=60).log_pattern_counts(
        BASELINE, INCIDENT, [EVIL, "checkout"])
    (sql, config, timeout), = client.calls
    assert sql == pattern_count_query(TABLE) and f"FROM `{TABLE}`" in sql
    assert set(re.findall(r"@(\w+)", sql)) == set(PARAMETERS)
    for value in (EVIL, "DROP", "checkout", "2026", str(int(BASELINE.start))):
        assert value not in sql
    params = {p.name: p for p in config.query_parameters}
    assert set(params) == set(PARAMETERS)
    times = {name: params[name].value for name in PARAMETERS[:4]}
    assert {params[name].type_ for name in times} == {"TIMESTAMP"}
    assert times == {"baseline_start": datetime(2026, 1, 15, 8, 50, tzinfo=UTC),
                     "baseline_end": datetime(2026, 1, 15, 9, 50, tzinfo=UTC),
                     "incident_start": datetime(2026, 1, 15, 9, 50, tzinfo=UTC),
                     "incident_end": datetime(2026, 1, 15, 10, 10, tzinfo=UTC)}
    assert (params["services"].array_type, params["services"].values) == ("STRING", [EVIL, "checkout"])
    assert (params["max_rows"].type_, params["max_rows"].value) == ("INT64", 6)  # one past the cap tells of a cut
    assert int(config.job_timeout_ms) == 60_000 and timeout == 60 and client.jobs[0].timeouts == [60]


def test_every_service_is_an_empty_array_and_no_service_is_no_query() -> None:
    client = FakeClient([])
    aggregator = BigQueryLogAggregator(TABLE, client=client, max_bytes_billed=10**9)
    aggregator.log_pattern_counts(BASELINE, INCIDENT)
    config = client.calls[0][1]
    assert {p.name: p for p in config.query_parameters}["services"].values == []
    assert config.maximum_bytes_billed == 10**9
    assert aggregator.log_pattern_counts(BASELINE, INCIDENT, []) == ([], False) and len(client.calls) == 1


def test_rows_become_pattern_counts_and_the_cap_is_reported() -> None:
    counts, capped = BigQueryLogAggregator(TABLE, client=FakeClient([row(0), row(1, "baseline")]),
                                           max_rows=5).log_pattern_counts(BASELINE, INCIDENT)
    assert not capped and counts == [
        PatternCount("charge failed for order <*> (0)", "payment", "incident", 10, 1_768_471_080.0,
                     "charge failed 42", 5),
        PatternCount("charge failed for order <*> (1)", "payment", "baseline", 9, 1_768_471_080.0,
                     "charge failed 42", 5)]
    assert counts[0].severity == "ERROR"
    counts, capped = BigQueryLogAggregator(TABLE, client=FakeClient([row(i) for i in range(4)]),
                                           max_rows=3).log_pattern_counts(BASELINE, INCIDENT)
    assert capped and len(counts) == 3


def test_a_baseline_overlapping_the_incident_is_refused() -> None:
    client = FakeClient([])
    with pytest.raises(ValueError, match="must end before"):
        BigQueryLogAggregator(TABLE, client=client).log_pattern_counts(Window(0, 100), Window(50, 200))
    assert client.calls == []


def test_the_templates_normalise_ids_and_numbers() -> None:
    def template(message: str) -> str:
        for pattern in NORMALIZERS:  # RE2 and Python agree on these
            message = re.sub(pattern, PLACEHOLDER, message)
        return message

    sql = pattern_count_query(TABLE)
    assert all(f"r'{p}'" in sql for p in NORMALIZERS)
    assert template("order 42 for 9f86d081-884c-4d63-a5b4-3e5d2c6a1f00 failed at 0x7ffd12 on pod-7 (deadbeef1)") \
        == "order <*> for <*> failed at <*> on pod-<*> (<*>)"
    assert template("user alice logged in from 10.0.0.12") == "user alice logged in from <*>.<*>.<*>.<*>"


@pytest.mark.parametrize("table", ["my-project.ds.t", "my-project.logs_ds._AllLogs", "abcdef.d1.events-2026"])
def test_good_table_names_are_accepted(table: str) -> None:
    assert f"`{table}`" in pattern_count_query(table)


@pytest.mark.parametrize("table", ["ds.t", "my-project.ds.t`; DROP", "My-Project.ds.t", "p.ds.t OR 1=1",
                                   "my-project.ds.t\n", "my-project.ds.t$20260115", "my-project-.ds.t",
                                   "my-project.ds.t.x", "my-project.d s.t", "my-project..t", "`my-project.ds.t`"])
def test_bad_table_names_are_refused(table: str) -> None:
    with pytest.raises(ValueError, match="not a BigQuery table"):
        pattern_count_query(table)
    with pytest.raises(ValueError, match="not a BigQuery table"):
        BigQueryLogAggregator(table, client=FakeClient([]))


def test_every_query_carries_an_integer_bytes_cap() -> None:
    """maximum_bytes_billed=None was sent as "None" and every query was refused; now a real cap always travels."""
    client = FakeClient([row(0)])
    counts, _ = BigQueryLogAggregator(TABLE, client=client).log_pattern_counts(BASELINE, INCIDENT)
    assert len(counts) == 1
    config = client.calls[0][1]
    assert config.to_api_repr()["query"]["maximumBytesBilled"] == str(10 * 2**30) == str(DEFAULT_MAX_BYTES_BILLED)
    for bad in (None, 0, -1, 1.5, "10", True):
        with pytest.raises(ValueError, match="max_bytes_billed"):
            BigQueryLogAggregator(TABLE, client=client, max_bytes_billed=bad)  # type: ignore[arg-type]


def test_the_stand_in_refuses_a_cap_of_none_as_the_api_does() -> None:
    from google.api_core.exceptions import BadRequest
    from google.cloud import bigquery

    with pytest.raises(BadRequest, match=r'TYPE_INT64.*"None"'):
        FakeClient([]).query("SELECT 1", bigquery.QueryJobConfig(maximum_bytes_billed=None), 1.0)


def test_the_configured_cap_reaches_the_aggregator(monkeypatch: pytest.MonkeyPatch) -> None:
    from functions import runtime
    from shared import config
    from shared.incident_state import IncidentState
    from shared.telemetry import bigquery_logs, cloud_logging, gcp

    assert config.Settings().log_analytics_max_bytes == 10 * 2**30
    settings = config.Settings.from_env({"AUTOSRE_TELEMETRY": "gcp", "AUTOSRE_PROJECT": "my-project",
                                         "AUTOSRE_LOG_ANALYTICS_TABLE": TABLE,
                                         "AUTOSRE_LOG_ANALYTICS_MAX_BYTES": "5000000000"})
    assert settings.log_analytics_max_bytes == 5_000_000_000
    for module, name in ((cloud_logging, "CloudLoggingLogReader"), (gcp, "CloudTraceReader"),
                         (gcp, "CloudMonitoringReader")):
        monkeypatch.setattr(module, name, lambda *args, **kwargs: None)  # no credentials here
    real = bigquery_logs.BigQueryLogAggregator

    def aggregator(table: str, **kwargs: Any) -> BigQueryLogAggregator:
        return real(table, client=FakeClient([]), **kwargs)

    monkeypatch.setattr(bigquery_logs, "BigQueryLogAggregator", aggregator)
    source = runtime.make_telemetry(settings)(IncidentState(incident_id="i"))  # the deployment's project
    counter = source.log_counter
    assert isinstance(counter, real) and counter.max_bytes_billed == 5_000_000_000
    counter.log_pattern_counts(BASELINE, INCIDENT)
    assert counter.client.calls[0][1].to_api_repr()["query"]["maximumBytesBilled"] == "5000000000"


def test_the_logs_specialist_reads_lines_when_the_query_fails() -> None:
    from google.cloud import bigquery

    from agents.context import AnalysisContext
    from agents.specialists.logs import analysis as logs
    from shared.telemetry.memory import MemorySource
    from shared.telemetry_records import LogRecord

    class Refusing(BigQueryLogAggregator):
        def job_config(self, baseline: Window, incident: Window, services: list[str] | None = None) -> Any:
            return bigquery.QueryJobConfig(maximum_bytes_billed=None)  # what the old default sent

    lines = [LogRecord(BASELINE.start + i * 30, "payment", f"charged order {i}") for i in range(120)]
    lines += [LogRecord(INCIDENT.start + i * 10, "payment", f"connection refused to db-{i % 3}", "ERROR")
              for i in range(60)]
    client = FakeClient([])
    source = MemorySource(lines, log_counter=Refusing(TABLE, client=client))
    ctx = AnalysisContext("inc", "payment", "m", INCIDENT.start + 300, INCIDENT, BASELINE)
    result = logs.analyse(source, ctx)
    assert len(client.calls) == 1
    assert any(n.startswith("logs: pre-aggregated counts failed (BadRequest: 400 Invalid value at") and
               n.endswith("read the lines instead") for n in result.notes)
    new = [f for f in result.findings if f.kind == "log.new_pattern"]
    assert new and new[0].service == "payment" and new[0].query["mode"] == "lines"


class PagedResult:
    """A query result as google-cloud-bigquery's RowIterator hands it over: `pages` (google.api_core.page_iterator:
    a generator of pages, each one jobs.getQueryResults request by page token, refused once iteration started)."""

    def __init__(self, rows: list[dict[str, Any]], page_rows: int):
        self.rows, self.page_rows, self.fetched = rows, page_rows, 0
        self.next_page_token: str | None = None

    @property
    def pages(self) -> Any:
        if self.fetched:
            raise ValueError("Iterator has already started", self)
        for start in range(0, len(self.rows), self.page_rows):
            self.fetched += 1
            self.next_page_token = f"t{start + self.page_rows}" if start + self.page_rows < len(self.rows) else None
            yield self.rows[start:start + self.page_rows]


def test_result_pages_are_followed_until_the_row_bound() -> None:
    from shared.telemetry.bounds import MAX_RECORDS

    class Client(FakeClient):
        def query(self, sql: str, job_config: Any, timeout: float) -> Any:
            super().query(sql, job_config, timeout)
            job = type("Job", (), {"total_bytes_billed": 2**30})()
            job.result = lambda timeout: result
            return job

    result = PagedResult([row(i % 10) for i in range(12)], page_rows=4)
    aggregator = BigQueryLogAggregator(TABLE, client=Client([]), max_rows=5)
    counts, capped = aggregator.log_pattern_counts(BASELINE, INCIDENT)
    assert capped and len(counts) == 5 and result.fetched == 2  # 8 rows read: past the bound, no third page
    assert aggregator.last_cost.api_calls == 3 and aggregator.last_cost.bytes_billed == 2**30  # the job, 2 pages
    result = PagedResult([row(i % 10) for i in range(12)], page_rows=4)
    counts, capped = BigQueryLogAggregator(TABLE, client=Client([]), max_rows=20).log_pattern_counts(BASELINE,
                                                                                                    INCIDENT)
    assert not capped and len(counts) == 12 and result.fetched == 3
    assert BigQueryLogAggregator(TABLE, client=Client([])).max_rows == MAX_RECORDS


def test_no_query_or_result_page_the_investigations_api_call_budget_cannot_pay_for() -> None:
    from shared.cost_ledger import BudgetReached
    from shared.read_limit import call_payer

    class Client(FakeClient):
        def query(self, sql: str, job_config: Any, timeout: float) -> Any:
            super().query(sql, job_config, timeout)
            job = type("Job", (), {"total_bytes_billed": 2**30})()
            job.result = lambda timeout: result
            return job

    def payer(calls: int) -> Any:
        paid: list[int] = []

        def pay() -> str:
            paid.append(1)
            return "" if len(paid) <= calls else f"API calls: {calls} of a budget of {calls}"
        return pay

    result = PagedResult([row(i % 10) for i in range(12)], page_rows=4)
    aggregator = BigQueryLogAggregator(TABLE, client=Client([]), max_rows=20)
    with call_payer(payer(2)):  # the job and one page of its result
        counts, capped = aggregator.log_pattern_counts(BASELINE, INCIDENT)
    assert capped and len(counts) == 4 and result.fetched == 1 and aggregator.last_cost.api_calls == 2
    client = Client([])
    with call_payer(payer(0)), pytest.raises(BudgetReached, match="API calls"):
        BigQueryLogAggregator(TABLE, client=client).log_pattern_counts(BASELINE, INCIDENT)
    assert client.calls == []
