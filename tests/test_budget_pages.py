"""The investigation's API-call budget bounds every page a Google Cloud reader fetches, not only its first: with a
cap of N calls, a Cloud Trace or Cloud Monitoring read over many pages sends at most N requests (specialists
reading at once and sharing the one budget: at most N in all), stops paging when the budget is spent, and says so
in its note, naming the cap.

The stand-ins answer as the APIs do: ListTraces hands over at most 100 traces a call (COMPLETE view), pages by a
token valid only for the query that issued it and spends the project's 12 ListTraces a minute (the 13th is a 429);
ListTimeSeries counts `page_size` in points (FULL view), refuses an aligner that does not fit a GAUGE number and
pages by a token valid only for its request; each page is one request."""

from __future__ import annotations

import hashlib
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shared.budget_pool import BudgetPool
from shared.cost_ledger import Budget
from shared.store.sqlite import SqliteEventStore
from shared.telemetry.cloud_logging import TokenBucket
from shared.telemetry.gcp import LIST_TRACES_PER_MINUTE, TRACE_PAGE_MAX, CloudMonitoringReader, CloudTraceReader
from shared.telemetry.memory import MemorySource
from shared.telemetry.metered import MeteredSource
from shared.telemetry_records import Window
from tests.concurrency import together

trace_v1 = pytest.importorskip("google.cloud.trace_v1")
monitoring_v3 = pytest.importorskip("google.cloud.monitoring_v3")
WINDOW = Window(1_768_470_000.0, 1_768_470_600.0)
CPU = "kubernetes.io/container/cpu/limit_utilization"  # GAUGE, DOUBLE


class Clock:
    def __init__(self) -> None:
        self.now, self._lock = 1000.0, threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += max(seconds, 0.0)


def _token(query: str, offset: int) -> str:
    return f"{hashlib.sha256(query.encode()).hexdigest()[:12]}:{offset}"


def _offset(query: str, token: str) -> int:
    from google.api_core.exceptions import InvalidArgument

    if not token:
        return 0
    digest, _, offset = token.partition(":")
    if digest != _token(query, 0).partition(":")[0] or not offset.isdigit():
        raise InvalidArgument("page token not valid for this query")  # type: ignore[no-untyped-call]
    return int(offset)


class TraceApi:
    """ListTraces over `traces` one-span traces in the window, newest first."""

    def __init__(self, clock: Clock, traces: int = 500):
        self.clock, self.traces, self.calls = clock, traces, 0
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def list_traces(self, request: Any, retry: Any = None, timeout: float | None = None) -> Any:
        from google.api_core.exceptions import InvalidArgument, TooManyRequests

        query = f"{request.project_id}|{request.start_time}|{request.end_time}|{request.order_by}|{request.view}"
        offset = _offset(query, request.page_token)
        if request.page_size < 0:
            raise InvalidArgument("page_size")  # type: ignore[no-untyped-call]
        size = min(request.page_size or TRACE_PAGE_MAX, TRACE_PAGE_MAX)
        with self._lock:
            self.calls += 1
            while self._sent and self._sent[0] <= self.clock() - 60.0:
                self._sent.popleft()
            if len(self._sent) >= LIST_TRACES_PER_MINUTE:
                raise TooManyRequests("RESOURCE_EXHAUSTED: ListTraces quota")  # type: ignore[no-untyped-call]
            self._sent.append(self.clock())
        ids = range(offset, min(offset + size, self.traces))
        start = WINDOW.end - 1.0
        traces = [trace_v1.Trace(project_id=request.project_id, trace_id=f"{i:032x}", spans=[trace_v1.TraceSpan(
            span_id=i + 1, name="GET /", start_time=_dt(start - i * 0.5), end_time=_dt(start - i * 0.5 + 0.1),
            labels={"service.name": "api"})]) for i in ids]
        more = offset + size < self.traces
        return trace_v1.ListTracesResponse(traces=traces, next_page_token=_token(query, offset + size) if more else "")


def _dt(t: float) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t, UTC)


@dataclass
class _Page:
    time_series: list[Any]
    next_page_token: str


class _Pager:
    def __init__(self, api: MonitoringApi, request: Any):
        self.api, self.request = api, request

    @property
    def pages(self) -> Any:
        token = ""
        while True:
            page = self.api.page(self.request, token)
            yield page
            token = page.next_page_token
            if not token:
                return


class MonitoringApi:
    """ListTimeSeries over `series` GAUGE DOUBLE series of one point each; `page_size` points a page."""

    def __init__(self, series: int = 500):
        self.series, self.calls = series, 0
        self._lock = threading.Lock()

    def list_time_series(self, request: Any, retry: Any = None, timeout: float | None = None) -> Any:
        from google.api_core.exceptions import InvalidArgument

        aligner = monitoring_v3.Aggregation.Aligner(request.aggregation.per_series_aligner).name
        if aligner not in ("ALIGN_MEAN", "ALIGN_NONE", "ALIGN_MIN", "ALIGN_MAX"):
            raise InvalidArgument(f"aligner {aligner} does not fit a GAUGE number")  # type: ignore[no-untyped-call]
        if request.page_size < 0:
            raise InvalidArgument("page_size")  # type: ignore[no-untyped-call]
        return _Pager(self, request)

    def page(self, request: Any, token: str) -> _Page:
        query = f"{request.name}|{request.filter}|{request.interval}|{request.page_size}"
        offset = _offset(query, token)
        size = request.page_size or 100_000
        with self._lock:
            self.calls += 1
        series = [monitoring_v3.TimeSeries(
            metric={"type": CPU}, resource={"type": "k8s_container", "labels": {"container_name": "api",
                                                                                "pod_name": f"api-{i}"}},
            metric_kind="GAUGE", value_type="DOUBLE",
            points=[{"interval": {"end_time": _dt(WINDOW.start + 60.0)}, "value": {"double_value": 0.5}}])
            for i in range(offset, min(offset + size, self.series))]
        more = offset + size < self.series
        return _Page(series, _token(query, offset + size) if more else "")


class Source(MemorySource):
    """A source whose spans and metrics are read through the Google Cloud readers."""

    def __init__(self, traces: CloudTraceReader, metrics: CloudMonitoringReader):
        super().__init__()
        self.traces, self.monitoring = traces, metrics

    def spans(self, window: Window, services: list[str] | None = None) -> Any:
        return self.traces.spans(window, services)

    def metrics(self, window: Window, services: list[str] | None = None) -> Any:
        return self.monitoring.metrics(window, services)


def _source(clock: Clock, trace_api: TraceApi, monitoring_api: MonitoringApi) -> Source:
    quota = TokenBucket(rate=LIST_TRACES_PER_MINUTE, clock=clock, sleep=clock.sleep)
    return Source(CloudTraceReader("p", client=trace_api, page_size=10, clock=clock, quota=quota, budget_s=3600.0),
                  CloudMonitoringReader("p", [CPU], client=monitoring_api, page_size=10, clock=clock))


@pytest.mark.parametrize("kind", ["spans", "metrics"])
def test_a_read_sends_no_more_requests_than_the_api_call_budget_pays_for(tmp_path: Path, kind: str) -> None:
    clock = Clock()
    traces, series = TraceApi(clock), MonitoringApi()
    budget = Budget(api_calls=3)
    meter = MeteredSource(_source(clock, traces, series), budget,
                          pool=BudgetPool(SqliteEventStore(str(tmp_path / "e.db")), "inc-1:1", budget))
    read = getattr(meter, kind)(WINDOW)
    assert traces.calls + series.calls == 3
    assert read.items and read.sampled and "AUTOSRE_BUDGET_API_CALLS" in read.note
    assert meter.counts.api_calls == 3 and "API calls" in meter.counts.cap
    again = getattr(meter, kind)(WINDOW)
    assert again.items == [] and traces.calls + series.calls == 3


def test_a_read_without_a_shared_budget_is_bounded_by_the_cap_too() -> None:
    clock = Clock()
    traces, series = TraceApi(clock), MonitoringApi()
    meter = MeteredSource(_source(clock, traces, series), Budget(api_calls=4))
    assert meter.spans(WINDOW).sampled and traces.calls == 4
    assert meter.metrics(WINDOW).items == [] and series.calls == 0


def test_concurrent_specialists_sharing_one_budget_send_at_most_the_cap_in_all(tmp_path: Path) -> None:
    clock = Clock()
    traces, series = TraceApi(clock), MonitoringApi()
    budget = Budget(api_calls=5)
    path = str(tmp_path / "e.db")
    notes: list[str] = []
    meters = [MeteredSource(_source(clock, traces, series), budget,
                            pool=BudgetPool(SqliteEventStore(path), "inc-1:1", budget)) for _ in range(4)]

    def specialist(meter: MeteredSource, kind: str) -> None:
        for _ in range(3):
            notes.append(getattr(meter, kind)(WINDOW).note)

    kinds = ("spans", "metrics", "spans", "metrics")
    together([lambda m=m, k=k: specialist(m, k) for m, k in zip(meters, kinds, strict=True)])  # type: ignore[misc]
    assert traces.calls + series.calls == 5
    assert all("AUTOSRE_BUDGET_API_CALLS" in n for n in notes), notes
