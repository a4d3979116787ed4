"""The investigation cost ledger (shared/cost_ledger.py; the meter: shared/telemetry/metered.py): every read is
counted and recorded once per round and specialist, the report carries the totals and an estimate at list prices,
and a budget stops reads and makes the report partial, naming the cap."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

from agents.context import AnalysisContext, SpecialistResult
from demo.generator import generate
from functions.pipeline import Pipeline
from functions.report_text import render_report
from functions.runtime import embedded
from functions.web_report import report_page
from shared import events as ev
from shared import topics
from shared.analysis_events import CostRecorded
from shared.bus.inprocess import InProcessBus
from shared.config import Settings
from shared.cost_ledger import Budget, Prices
from shared.events import payload_of
from shared.incident_state import IncidentState, fold
from shared.models import Finding, ReadCounts
from shared.ports import TelemetrySource
from shared.store.sqlite import SqliteEventStore
from shared.telemetry.bundle import BundleSource
from shared.telemetry.cloud_logging import CloudLoggingLogReader
from shared.telemetry.memory import MemorySource
from shared.telemetry.metered import MeteredSource
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

COUNTED = ("log_entries", "spans", "series", "changes", "pattern_rows")


class Spy:
    """Counts what the inner source handed over, independently of the meter."""

    def __init__(self, inner: TelemetrySource):
        self.inner = inner
        self.log_counter = inner.log_counter
        self.items: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()

    def _count(self, name: str, result: ReadResult[Any]) -> ReadResult[Any]:
        self.calls[name] += 1
        self.items[name] += len(result.items)
        return result

    def logs(self, window: Window, services: list[str] | None = None) -> ReadResult[LogRecord]:
        return self._count("logs", self.inner.logs(window, services))

    def spans(self, window: Window, services: list[str] | None = None) -> ReadResult[Span]:
        return self._count("spans", self.inner.spans(window, services))

    def metrics(self, window: Window, services: list[str] | None = None) -> ReadResult[MetricSeries]:
        return self._count("metrics", self.inner.metrics(window, services))

    def changes(self, window: Window, services: list[str] | None = None) -> ReadResult[ChangeEvent]:
        return self._count("changes", self.inner.changes(window, services))

    def dependencies(self) -> ReadResult[Dependency]:  # configuration, not a billed read: the meter counts none
        return self.inner.dependencies()

    def describe(self) -> dict[str, str]:
        return self.inner.describe()


def demo(tmp_path: Path, budget: Budget | None = None) -> tuple[Pipeline, InProcessBus, Spy, IncidentState]:
    s = generate("bad_deploy", tmp_path, seed=2)
    spy = Spy(BundleSource(s.bundle_dir))
    budget = budget or Budget()
    settings = Settings(budget_api_calls=budget.api_calls, budget_log_entries=budget.log_entries,
                        budget_bytes_billed=budget.bytes_billed)
    pipeline, bus = embedded(SqliteEventStore(str(tmp_path / "events.db")), spy, settings=settings)
    bus.publish(topics.ALERTS, s.alert_path.read_bytes())
    bus.drain()
    (summary,) = pipeline.store.summaries()
    return pipeline, bus, spy, fold(pipeline.store.load(summary["incident_id"]))


def cost_events(pipeline: Pipeline, incident_id: str) -> list[CostRecorded]:
    out = []
    for e in pipeline.store.load(incident_id):
        if e.type == ev.COST_RECORDED:
            payload = payload_of(e)
            assert isinstance(payload, CostRecorded)
            out.append(payload)
    return out


def test_a_demo_incidents_reads_are_recorded_and_add_up(tmp_path: Path) -> None:
    pipeline, _bus, spy, state = demo(tmp_path)
    report = state.latest_report
    assert report is not None and report.cost is not None and not report.partial
    recorded = cost_events(pipeline, state.incident_id)
    assert {(c.round, c.specialist) for c in recorded} == {(n, s) for n, r in state.rounds.items()
                                                           for s in r.specialists}
    cost = report.cost
    total = ReadCounts()
    for counts in cost.specialists.values():
        total = total.plus(counts)
    assert total == cost.total
    # the ledger agrees with what the source really handed over, read by read
    assert cost.total.reads == sum(spy.calls.values())
    assert cost.total.log_entries == spy.items["logs"] and cost.total.spans == spy.items["spans"]
    assert cost.total.series == spy.items["metrics"] and cost.total.changes == spy.items["changes"]
    assert cost.total.log_entries > 0 and cost.total.spans > 0 and cost.total.series > 0
    assert cost.total.refused == 0 and not cost.cap
    assert cost.total.api_calls == 0 and cost.estimate_usd == 0.0  # a bundle folder costs no API call
    text = render_report(state, report)
    assert "\nCOST\n" in text and f"{cost.total.log_entries} log entries" in text
    assert f"Cost: {cost.total.reads} reads" in report_page(state, {})
    assert report.model_dump(mode="json")["cost"]["total"]["log_entries"] == cost.total.log_entries


def test_a_log_entry_budget_stops_reads_and_the_report_says_partial_naming_the_cap(tmp_path: Path) -> None:
    _pipeline, _bus, spy, state = demo(tmp_path, Budget(log_entries=50))
    report = state.latest_report
    assert report is not None and report.cost is not None
    assert report.partial and "AUTOSRE_BUDGET_LOG_ENTRIES" in report.summary and "log entries" in report.summary
    assert report.cost.cap.startswith("log entries") and report.cost.total.refused > 0
    # refused reads never reached the source: the spy saw fewer reads than the specialists asked for
    assert sum(spy.calls.values()) == report.cost.total.reads
    assert report.cost.total.reads + report.cost.total.refused > report.cost.total.reads
    unlimited = demo(tmp_path / "free")[2]
    assert sum(spy.calls.values()) < sum(unlimited.calls.values())
    assert len(state.rounds) == 1  # a spent budget gets no second look
    assert "budget reached" in render_report(state, report)


def test_a_refused_read_is_empty_sampled_and_names_the_cap() -> None:
    lines = [LogRecord(float(t), "payment", f"line {t}") for t in range(10)]
    meter = MeteredSource(MemorySource(records=lines), Budget(log_entries=5))
    window = Window(0.0, 100.0)
    assert len(meter.logs(window).items) == 10  # a read under the cap runs whole
    refused = meter.logs(window)
    assert refused.items == [] and refused.sampled and "AUTOSRE_BUDGET_LOG_ENTRIES" in refused.note
    assert meter.counts.log_entries == 10 and meter.counts.refused == 1 and meter.counts.reads == 1
    spent = MeteredSource(MemorySource(records=lines), Budget(log_entries=5), spent=ReadCounts(log_entries=7))
    assert spent.logs(window).items == [] and spent.counts.cap  # what others read counts against the budget


class BilledCounter:
    """A log counter that bills like a BigQuery job (`last_cost`)."""

    last_cost = ReadCost(api_calls=1, bytes_billed=2 * 2**40)

    def log_pattern_counts(self, baseline: Window, incident: Window, services: list[str] | None = None
                           ) -> tuple[list[PatternCount], bool]:
        return [PatternCount("boom <*>", "payment", "incident", 3, incident.start, "boom 1", 5)], False


class BilledMetrics(MemorySource):
    """Memory that bills its series the way Cloud Monitoring does."""

    def metrics(self, window: Window, services: list[str] | None = None) -> ReadResult[MetricSeries]:
        read = super().metrics(window, services)
        return ReadResult(read.items, cost=ReadCost(api_calls=0, billed_series=len(read.items)))


def counting_specialist(name: str) -> Any:
    def analyse(source: TelemetrySource, ctx: AnalysisContext) -> SpecialistResult:
        if name == "logs" and source.log_counter is not None:
            source.log_counter.log_pattern_counts(ctx.baseline, ctx.incident)
        if name == "metrics":
            source.metrics(ctx.incident)
        return SpecialistResult(findings=[Finding(specialist=name, kind="log.new_pattern", service="payment",
                                                  title=f"{name} saw payment", score=0.9)], notes=[])
    return analyse


class Writer:
    last_usage = {"tokens_in": 2000, "tokens_out": 400}

    def __call__(self, prompt: str, max_output_tokens: int) -> str:
        return "Payment broke first."


def test_prices_give_the_estimate(tmp_path: Path) -> None:
    from tests.test_pipeline import ALERT, alert_bytes

    series = [MetricSeries("m", "payment", ((float(ALERT["incident"]["started_at"]) + 1, 1.0),))  # type: ignore[index]
              for _ in range(4)]
    source = BilledMetrics(series=series, log_counter=BilledCounter())
    pipeline, bus = embedded(SqliteEventStore(), source)
    for name in pipeline.specialists:
        pipeline._loaded[name] = counting_specialist(name)
    pipeline.max_rounds = 1
    pipeline.writer = Writer()
    pipeline.prices = Prices(bq_tib=5.0, monitoring_million_series=250_000.0, llm_1k_tokens_in=0.5,
                             llm_1k_tokens_out=1.0)
    bus.publish(topics.ALERTS, alert_bytes())
    bus.drain()
    (summary,) = pipeline.store.summaries()
    report = fold(pipeline.store.load(summary["incident_id"])).latest_report
    assert report is not None and report.cost is not None
    cost = report.cost
    assert cost.total.bytes_billed == 2 * 2**40 and cost.total.api_calls == 1 and cost.total.pattern_rows == 1
    assert cost.total.series == 4 and cost.total.billed_series == 4
    assert cost.llm_tokens_in == 2000 and cost.llm_tokens_out == 400
    assert cost.breakdown_usd == {"bigquery": 10.0, "monitoring": 1.0, "llm": 1.4}
    assert cost.estimate_usd == 12.4 and cost.prices["bq_tib"] == 5.0


def test_redelivery_does_not_double_the_ledger(tmp_path: Path) -> None:
    pipeline, bus, _spy, state = demo(tmp_path)
    before = cost_events(pipeline, state.incident_id)
    report = state.latest_report
    replay = list(bus.published) * 3
    random.Random(3).shuffle(replay)
    for m in replay:
        bus.deliver(m)
    bus.drain()
    after = fold(pipeline.store.load(state.incident_id))
    assert cost_events(pipeline, state.incident_id) == before
    assert after.latest_report == report


def test_settings_carry_the_budget_and_the_prices() -> None:
    settings = Settings.from_env({"AUTOSRE_BUDGET_LOG_ENTRIES": "1000", "AUTOSRE_PRICE_BQ_TIB": "7.5"})
    from functions.runtime import assemble, budget_of

    pipeline, _bus = embedded(SqliteEventStore(), MemorySource())
    assert budget_of(Settings()) == Budget() and pipeline.prices == Prices()  # defaults: no cap, list prices
    assert Prices().as_dict() == {"bq_tib": Settings().price_bq_tib,
                                  "monitoring_million_series": Settings().price_monitoring_million_series,
                                  "llm_1k_tokens_in": Settings().price_llm_1k_tokens_in,
                                  "llm_1k_tokens_out": Settings().price_llm_1k_tokens_out}
    built = assemble(SqliteEventStore(), InProcessBus(), lambda state: MemorySource(), settings)
    assert budget_of(settings).log_entries == 1000 and built.prices.bq_tib == 7.5
    meter = built.telemetry(IncidentState(incident_id="i"), ReadCounts(log_entries=1000))
    assert "AUTOSRE_BUDGET_LOG_ENTRIES" in meter.logs(Window(0.0, 1.0)).note  # the root meters with it


class Connection:
    def __init__(self, pages: list[list[dict[str, Any]]]):
        self.pages = pages

    def api_request(self, method: str, path: str, data: dict[str, Any], timeout: float) -> dict[str, Any]:
        index = int(data.get("pageToken") or 0)
        reply: dict[str, Any] = {"entries": self.pages[index]}
        if index + 1 < len(self.pages):
            reply["nextPageToken"] = str(index + 1)
        return reply


def test_cloud_logging_reads_say_how_many_pages_they_took() -> None:
    def entry(i: int) -> dict[str, Any]:
        return {"timestamp": f"2026-01-15T09:40:{i:02d}Z", "textPayload": f"line {i}",
                "resource": {"type": "k8s_container", "labels": {"container_name": "payment"}}}

    client = type("Client", (), {"_connection": Connection([[entry(1), entry(2)], [entry(3)], []])})()
    reader = CloudLoggingLogReader("p", client=client, page_size=2)
    read = reader.logs(Window(1_768_470_000.0, 1_768_480_000.0))
    assert len(read.items) == 3 and read.cost == ReadCost(api_calls=3)


def test_gemini_reports_its_tokens_in_and_out() -> None:
    from shared.llm.gemini import GeminiWriter
    from tests.http_stub import serve

    def reply(method: str, path: str, body: Any) -> tuple[int, Any]:
        return 200, {"candidates": [{"content": {"role": "model", "parts": [{"text": "ok [f-1]."}]},
                                     "finishReason": "STOP"}],
                     "usageMetadata": {"promptTokenCount": 120, "candidatesTokenCount": 40, "thoughtsTokenCount": 9}}

    with serve(reply) as stub:
        writer = GeminiWriter("test-key", "gemini-test", base_url=stub.url)
        assert writer.last_usage == {}
        writer("why did it break?", 800)
    assert writer.last_usage == {"tokens_in": 120, "tokens_out": 49}  # thinking is billed as output


def test_a_bigquery_job_says_the_bytes_it_billed() -> None:
    import pytest

    pytest.importorskip("google.cloud.bigquery")
    from shared.telemetry.bigquery_logs import BigQueryLogAggregator

    class Job:
        total_bytes_billed = 3 * 2**30

        def result(self, timeout: float) -> list[dict[str, Any]]:
            return []

    client = type("Client", (), {"query": lambda self, sql, job_config, timeout: Job()})()
    aggregator = BigQueryLogAggregator("my-project.logs_ds._AllLogs", client=client)
    meter = MeteredSource(MemorySource(log_counter=aggregator), Budget(bytes_billed=2 * 2**30))
    assert meter.log_counter is not None
    meter.log_counter.log_pattern_counts(Window(0.0, 10.0), Window(10.0, 20.0))
    assert meter.counts.bytes_billed == 3 * 2**30 and meter.counts.api_calls == 1
    with pytest.raises(RuntimeError, match="AUTOSRE_BUDGET_BYTES_BILLED"):  # past the cap: refused
        meter.log_counter.log_pattern_counts(Window(0.0, 10.0), Window(10.0, 20.0))


def test_the_new_settings_are_documented() -> None:
    doc = (Path(__file__).parent.parent / "docs" / "configuration.md").read_text()
    for name in Settings.model_fields:
        if name.startswith(("budget_", "price_")):
            assert f"`AUTOSRE_{name.upper()}`" in doc
