"""GCP telemetry adapters: the requests they build and how they parse real-format responses. Every client is
the real one: Cloud Trace and Cloud Logging over REST against a local HTTP stand-in, Cloud Monitoring over gRPC
against a local gRPC stand-in of MetricService that answers as the API does: ListTimeSeries refuses, with
INVALID_ARGUMENT, an aligner that does not fit the metric's kind and value type (per the monitoring_v3
Aggregation.Aligner docs), applies the interval ((start, end]) and the service filter, and pages by token."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.telemetry.bundle import from_rfc3339
from shared.telemetry.cloud_logging import CloudLoggingLogReader, TokenBucket
from shared.telemetry.gcp import (
    METRIC_KINDS,
    CloudMonitoringReader,
    CloudTraceReader,
    GcpTelemetrySource,
    audit_filter,
    choose_aligner,
)
from shared.telemetry_records import Window
from tests.http_stub import serve

trace_v1 = pytest.importorskip("google.cloud.trace_v1")
monitoring_v3 = pytest.importorskip("google.cloud.monitoring_v3")
grpc = pytest.importorskip("grpc")
WINDOW = Window(1_768_470_000.0, 1_768_470_600.0)

NUMERIC = {"INT64", "DOUBLE"}
ALL_TYPES = NUMERIC | {"BOOL", "STRING", "DISTRIBUTION", "MONEY"}
GAUGE_DELTA = {"GAUGE", "DELTA"}
# Aggregation.Aligner (google/cloud/monitoring_v3/types/common.py): the kinds and value types each applies to.
ALIGNER_FITS: dict[str, tuple[set[str], set[str]]] = {
    "ALIGN_NONE": ({"GAUGE", "DELTA", "CUMULATIVE"}, ALL_TYPES),
    "ALIGN_DELTA": ({"CUMULATIVE", "DELTA"}, NUMERIC | {"DISTRIBUTION", "MONEY"}),
    "ALIGN_RATE": ({"CUMULATIVE", "DELTA"}, NUMERIC),
    "ALIGN_INTERPOLATE": ({"GAUGE"}, NUMERIC),
    "ALIGN_NEXT_OLDER": ({"GAUGE"}, ALL_TYPES),
    **{name: (GAUGE_DELTA, NUMERIC) for name in ("ALIGN_MIN", "ALIGN_MAX", "ALIGN_MEAN", "ALIGN_STDDEV",
                                                 "ALIGN_PERCENT_CHANGE")},
    "ALIGN_COUNT": (GAUGE_DELTA, NUMERIC | {"BOOL"}),
    "ALIGN_SUM": (GAUGE_DELTA, NUMERIC | {"DISTRIBUTION"}),
    **{name: ({"GAUGE"}, {"BOOL"}) for name in ("ALIGN_COUNT_TRUE", "ALIGN_COUNT_FALSE", "ALIGN_FRACTION_TRUE")},
    **{f"ALIGN_PERCENTILE_{p}": (GAUGE_DELTA, {"DISTRIBUTION"}) for p in ("99", "95", "50", "05")},
}
STRING = r'"((?:[^"\\]|\\.)*)"'


def unquote(value: str) -> str:
    return value.replace('\\"', '"').replace("\\\\", "\\")


class MonitoringApi:
    """MetricService's ListTimeSeries and GetMetricDescriptor over recorded series (values as the API answers
    them for the aligner that fits); `errors` are answered first, one per call."""

    def __init__(self) -> None:
        self.kinds: dict[str, tuple[str, str]] = {}  # metric type -> (kind, value type)
        self.series: dict[str, list[Any]] = {}  # metric type -> monitoring_v3.TimeSeries
        self.requests: list[Any] = []
        self.descriptor_requests: list[str] = []
        self.errors: list[Any] = []  # grpc.StatusCode
        self.delay = 0.0

    def _fail(self, context: Any) -> None:
        time.sleep(self.delay)
        if self.errors:
            code = self.errors.pop(0)
            context.abort(code, f"{code.name}: injected")

    def get_metric_descriptor(self, request: Any, context: Any) -> Any:
        from google.api import metric_pb2

        self.descriptor_requests.append(request.name)
        self._fail(context)
        metric_type = request.name.split("/metricDescriptors/", 1)[-1]
        if metric_type not in self.kinds:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Could not find descriptor for metric '{metric_type}'.")
        kind, value_type = self.kinds[metric_type]
        return metric_pb2.MetricDescriptor(
            name=request.name, type=metric_type, metric_kind=metric_pb2.MetricDescriptor.MetricKind.Value(kind),
            value_type=metric_pb2.MetricDescriptor.ValueType.Value(value_type))

    def list_time_series(self, request: Any, context: Any) -> Any:
        self.requests.append(request)
        self._fail(context)
        found = re.search(r"metric\.type = " + STRING, request.filter)
        metric_type = unquote(found.group(1)) if found else ""
        if metric_type not in self.kinds:
            return monitoring_v3.ListTimeSeriesResponse()
        kind, value_type = self.kinds[metric_type]
        aligner = monitoring_v3.Aggregation.Aligner(request.aggregation.per_series_aligner).name
        kinds, types = ALIGNER_FITS[aligner]
        if kind not in kinds or value_type not in types:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f'Field aggregation.perSeriesAligner had an invalid value of "{aligner}": The aligner '
                          f"cannot be applied to metrics with kind {kind} and value type {value_type}.")
        wanted = [(label, unquote(v)) for label, v in re.findall(r"resource\.labels\.(\w+) = " + STRING,
                                                                 request.filter)]
        start, end = request.interval.start_time.timestamp(), request.interval.end_time.timestamp()
        out = []
        for ts in self.series.get(metric_type, []):
            labels = dict(ts.resource.labels)
            if wanted and not any(labels.get(label) == v for label, v in wanted):
                continue
            points = [p for p in ts.points if start < p.interval.end_time.timestamp() <= end]  # reads: (start, end]
            if points:
                out.append(monitoring_v3.TimeSeries(metric=ts.metric, resource=ts.resource, unit=ts.unit,
                                                    points=points))
        offset, size = int(request.page_token or 0), request.page_size or 100_000
        return monitoring_v3.ListTimeSeriesResponse(
            time_series=out[offset:offset + size],
            next_page_token=str(offset + size) if offset + size < len(out) else "")


@contextmanager
def monitoring_stand_in() -> Iterator[tuple[str, list[MonitoringApi]]]:
    """A gRPC server for google.monitoring.v3.MetricService on a free port, answering with `current[0]`."""
    from google.api import metric_pb2

    current = [MonitoringApi()]
    handlers = {
        "ListTimeSeries": grpc.unary_unary_rpc_method_handler(
            lambda request, context: current[0].list_time_series(request, context),
            request_deserializer=monitoring_v3.ListTimeSeriesRequest.deserialize,
            response_serializer=monitoring_v3.ListTimeSeriesResponse.serialize),
        "GetMetricDescriptor": grpc.unary_unary_rpc_method_handler(
            lambda request, context: current[0].get_metric_descriptor(request, context),
            request_deserializer=monitoring_v3.GetMetricDescriptorRequest.deserialize,
            response_serializer=metric_pb2.MetricDescriptor.SerializeToString),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("google.monitoring.v3.MetricService",
                                                                          handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", current
    finally:
        server.stop(None)


@pytest.fixture(scope="module")
def monitoring_server() -> Iterator[tuple[str, list[MonitoringApi]]]:
    with monitoring_stand_in() as running:
        yield running


@pytest.fixture()
def monitoring(monitoring_server: tuple[str, list[MonitoringApi]]) -> tuple[Any, MonitoringApi]:
    """(the real MetricServiceClient over gRPC to the stand-in, the stand-in)."""
    address, current = monitoring_server
    current[0] = MonitoringApi()
    return monitoring_client(address), current[0]


def monitoring_client(address: str) -> Any:
    from google.cloud.monitoring_v3.services.metric_service.transports import MetricServiceGrpcTransport

    return monitoring_v3.MetricServiceClient(transport=MetricServiceGrpcTransport(
        channel=grpc.insecure_channel(address)))


def time_series(metric: str, service: str, instance: str, points: list[tuple[float, Any]], unit: str = "",
                labels: dict[str, str] | None = None, resource: str = "cloud_run_revision") -> Any:
    """A TimeSeries as ListTimeSeries returns it; a point's value is a float or a Distribution dict."""
    label = "pod_name" if resource == "k8s_container" else "revision_name"
    service_label = "container_name" if resource == "k8s_container" else "service_name"
    return monitoring_v3.TimeSeries(
        metric={"type": metric, "labels": labels or {}},
        resource={"type": resource, "labels": {service_label: service, label: instance}}, unit=unit,
        points=[{"interval": {"end_time": {"seconds": int(t), "nanos": round((t % 1) * 1e9)}},
                 "value": {"distribution_value": v} if isinstance(v, dict) else {"double_value": v}}
                for t, v in sorted(points, reverse=True)])  # newest first, as the API answers


class TraceApi:
    """ListTraces (v1 REST) over recorded traces: a trace is listed when one of its spans overlaps the asked
    interval (the API hands over whole traces, some of whose spans start outside it); pages by token."""

    def __init__(self) -> None:
        self.traces: list[dict[str, Any]] = []
        self.requests: list[dict[str, list[str]]] = []

    def __call__(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        query = parse_qs(urlsplit(path).query)
        self.requests.append(query)
        low, high = from_rfc3339(query["startTime"][0]), from_rfc3339(query["endTime"][0])
        listed = [t for t in self.traces if any(from_rfc3339(s["startTime"]) <= high and
                                                from_rfc3339(s["endTime"]) >= low for s in t["spans"])]
        offset, size = int((query.get("pageToken") or ["0"])[0]), int((query.get("pageSize") or ["100"])[0])
        reply: dict[str, Any] = {"traces": listed[offset:offset + size]}
        if offset + size < len(listed):
            reply["nextPageToken"] = str(offset + size)
        return 200, reply


def trace_client(url: str) -> Any:
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials

    return trace_v1.TraceServiceClient(transport="rest", credentials=AnonymousCredentials(),
                                       client_options=ClientOptions(api_endpoint=url))


@pytest.fixture()
def api() -> Iterator[tuple[str, list[tuple[str, str, Any]], dict[str, Any]]]:
    seen: list[tuple[str, str, Any]] = []
    replies: dict[str, Any] = {}

    def reply(method: str, path: str, body: Any) -> tuple[int, Any]:
        seen.append((method, path, body))
        answer = replies.get(urlsplit(path).path, {})
        return answer(method, path, body) if callable(answer) else (200, answer)

    with serve(reply) as stub:
        yield stub.url, seen, replies


def test_cloud_trace_request_and_parsing(api) -> None:  # type: ignore[no-untyped-def]
    url, seen, replies = api
    replies["/v1/projects/p/traces"] = {"traces": [{"projectId": "p", "traceId": "t1", "spans": [
        {"spanId": "1", "name": "GET /checkout", "startTime": "2026-01-15T09:40:00Z", "endTime": "2026-01-15T09:40:01Z",
         "labels": {"service.name": "frontend", "/http/status_code": "500"}},
        {"spanId": "2", "parentSpanId": "1", "name": "Charge", "startTime": "2026-01-15T09:40:00.100Z",
         "endTime": "2026-01-15T09:40:00.900Z", "labels": {"service.name": "payment", "k8s.pod.name": "payment-0",
                                                           "/error/message": "NullPointerException"}}]}]}
    client = trace_client(url)
    result = CloudTraceReader("p", client=client, page_size=50).spans(WINDOW)
    root, child = result.items
    assert (root.service, root.parent_id, root.error) == ("frontend", "", True)
    assert (child.service, child.parent_id, child.instance, child.error) == ("payment", "0000000000000001",
                                                                             "payment-0", True)
    assert child.span_id == "0000000000000002"  # the form a log entry's spanId takes, so lines find their span
    assert child.duration == pytest.approx(0.8)
    method, path, _ = seen[0]
    query = parse_qs(urlsplit(path).query)
    assert method == "GET" and query["view"] in (["COMPLETE"], ["3"]) and query["pageSize"] == ["50"]
    assert query["startTime"][0].startswith("2026-01-15T09:40:00")
    assert query["endTime"][0].startswith("2026-01-15T09:50")
    assert CloudTraceReader("p", client=client).spans(WINDOW, ["payment"]).items == [child]
    capped = CloudTraceReader("p", client=client, max_traces=1).spans(WINDOW)
    assert capped.sampled and "limit 1" in capped.note


def test_spans_outside_the_window_of_a_listed_trace_are_dropped(api) -> None:  # type: ignore[no-untyped-def]
    """ListTraces hands over whole traces: a span that started before the window is not the window's."""
    url, _, replies = api
    fake = TraceApi()
    replies["/v1/projects/p/traces"] = fake
    fake.traces = [{"projectId": "p", "traceId": "t1", "spans": [
        {"spanId": "2", "parentSpanId": "1", "name": "late", "startTime": "2026-01-15T09:40:00.500Z",
         "endTime": "2026-01-15T09:40:01Z", "labels": {"service.name": "b"}},
        {"spanId": "1", "name": "early", "startTime": "2026-01-15T09:39:59Z", "endTime": "2026-01-15T09:40:02Z",
         "labels": {"service.name": "a"}}]}]
    (span,) = CloudTraceReader("p", client=trace_client(url)).spans(WINDOW).items
    assert span.name == "late"


def test_cloud_monitoring_request_and_parsing(monitoring) -> None:  # type: ignore[no-untyped-def]
    client, fake = monitoring
    metric = "run.googleapis.com/request_latencies"
    fake.kinds[metric] = ("DELTA", "DISTRIBUTION")
    fake.series[metric] = [time_series(metric, 'pay"ment', "payment-7", [(1_768_470_060, 20.0), (1_768_470_120, 80.0)],
                                       "ms", {"response_code_class": "5xx"})]
    reader = CloudMonitoringReader("p", [metric], client=client)
    read = reader.metrics(WINDOW, ['pay"ment'])
    assert not read.sampled and read.note == ""
    (m,) = read.items
    assert m.service == 'pay"ment' and m.instance == "payment-7" and m.unit == "ms"
    assert m.points == ((1_768_470_060.0, 20.0), (1_768_470_120.0, 80.0))
    assert m.labels == (("response_code_class", "5xx"),)
    (request,) = fake.requests
    assert request.name == "projects/p"
    assert request.filter == ('metric.type = "run.googleapis.com/request_latencies" AND '
                              '(resource.labels.service_name = "pay\\"ment")')
    assert request.aggregation.alignment_period.seconds == 60
    # DELTA DISTRIBUTION: ALIGN_MEAN is a 400 ("cannot be applied to metrics with kind DELTA and value type
    # DISTRIBUTION"); the 99th percentile is valid for GAUGE and DELTA distributions
    assert request.aggregation.per_series_aligner == monitoring_v3.Aggregation.Aligner.ALIGN_PERCENTILE_99
    assert request.interval.start_time.timestamp() == pytest.approx(WINDOW.start - 0.001)  # reads: (start, end]
    assert request.interval.end_time.timestamp() == WINDOW.end
    assert fake.descriptor_requests == []  # a metric of the table needs no descriptor


def test_the_stand_in_refuses_an_aligner_that_does_not_fit(monitoring) -> None:  # type: ignore[no-untyped-def]
    """The Monitoring stand-in is no yes-man: ALIGN_MEAN on a DELTA DISTRIBUTION is refused as the API does."""
    from google.api_core.exceptions import InvalidArgument

    client, fake = monitoring
    metric = "run.googleapis.com/request_latencies"
    fake.kinds[metric] = ("DELTA", "DISTRIBUTION")
    request = CloudMonitoringReader("p", [metric], client=client).request(metric, WINDOW, None, "ALIGN_MEAN")
    with pytest.raises(InvalidArgument, match="cannot be applied to metrics with kind DELTA and value type "
                                              "DISTRIBUTION"):
        list(client.list_time_series(request=request, timeout=5))


def test_every_default_metric_gets_an_aligner_that_fits_its_kind(monitoring) -> None:  # type: ignore[no-untyped-def]
    from functions.runtime import GCP_METRICS

    client, fake = monitoring
    assert set(GCP_METRICS) <= set(METRIC_KINDS)
    fake.kinds.update(METRIC_KINDS)
    for i, metric in enumerate(GCP_METRICS):
        resource = "k8s_container" if metric.startswith("kubernetes.io/") else "cloud_run_revision"
        fake.series[metric] = [time_series(metric, "payment", "payment-0", [(WINDOW.start + 60, float(i))],
                                           resource=resource)]
    read = CloudMonitoringReader("p", list(GCP_METRICS), client=client).metrics(WINDOW, ["payment"])
    assert not read.sampled and read.note == ""
    assert [m.metric for m in read.items] == list(GCP_METRICS) and {m.service for m in read.items} == {"payment"}
    aligners = {r.filter.split('"')[1]: monitoring_v3.Aggregation.Aligner(r.aggregation.per_series_aligner).name
                for r in fake.requests}
    assert aligners == {
        "run.googleapis.com/request_latencies": "ALIGN_PERCENTILE_99",
        "run.googleapis.com/request_count": "ALIGN_RATE",
        "run.googleapis.com/container/cpu/utilizations": "ALIGN_PERCENTILE_99",
        "run.googleapis.com/container/memory/utilizations": "ALIGN_PERCENTILE_99",
        "kubernetes.io/container/cpu/limit_utilization": "ALIGN_MEAN",
        "kubernetes.io/container/memory/limit_utilization": "ALIGN_MEAN",
        "kubernetes.io/container/restart_count": "ALIGN_RATE",
    }
    restarts = next(r for r in fake.requests if "restart_count" in r.filter)
    assert restarts.filter.endswith('(resource.labels.container_name = "payment")')  # GKE names it so
    assert fake.descriptor_requests == []


@pytest.mark.parametrize(("kind", "value_type", "aligner"), [
    ("DELTA", "DISTRIBUTION", "ALIGN_PERCENTILE_99"), ("GAUGE", "DISTRIBUTION", "ALIGN_PERCENTILE_99"),
    ("CUMULATIVE", "DISTRIBUTION", "ALIGN_DELTA"), ("CUMULATIVE", "INT64", "ALIGN_RATE"),
    ("DELTA", "INT64", "ALIGN_RATE"), ("CUMULATIVE", "DOUBLE", "ALIGN_RATE"), ("GAUGE", "DOUBLE", "ALIGN_MEAN"),
    ("GAUGE", "INT64", "ALIGN_MEAN"), ("GAUGE", "BOOL", "ALIGN_FRACTION_TRUE")])
def test_the_chosen_aligner_fits_by_the_documented_rules(kind: str, value_type: str, aligner: str) -> None:
    assert choose_aligner(kind, value_type) == aligner
    kinds, types = ALIGNER_FITS[aligner]
    assert kind in kinds and value_type in types


def test_another_metric_is_aligned_by_its_descriptor_and_its_distribution_read(monitoring) -> None:  # type: ignore[no-untyped-def]
    client, fake = monitoring
    metric = "prometheus.googleapis.com/http_request_duration_seconds/histogram"
    fake.kinds[metric] = ("CUMULATIVE", "DISTRIBUTION")
    # explicit bounds 0.1, 0.5, 1, 5: buckets (-inf,0.1) [0.1,0.5) [0.5,1) [1,5) [5,inf); 100 requests
    dist = {"count": 100, "mean": 0.6, "bucket_options": {"explicit_buckets": {"bounds": [0.1, 0.5, 1.0, 5.0]}},
            "bucket_counts": [10, 60, 20, 10, 0]}
    fake.series[metric] = [time_series(metric, "payment", "payment-0", [(WINDOW.start + 60, dist)], "s")]
    reader = CloudMonitoringReader("p", [metric], client=client)
    (m,) = reader.metrics(WINDOW).items
    (request,) = fake.requests
    assert monitoring_v3.Aggregation.Aligner(request.aggregation.per_series_aligner).name == "ALIGN_DELTA"
    (t, p99), = m.points
    assert t == WINDOW.start + 60 and p99 == pytest.approx(1.0 + 4.0 * 9 / 10)  # 99th of 100: 9 into [1, 5)
    reader.metrics(WINDOW)
    assert fake.descriptor_requests == [f"projects/p/metricDescriptors/{metric}"]  # asked once


def test_a_failing_metric_is_a_note_not_a_failed_read(monitoring) -> None:  # type: ignore[no-untyped-def]
    client, fake = monitoring
    good, unknown, denied = ("custom.googleapis.com/good", "custom.googleapis.com/missing",
                             "run.googleapis.com/request_count")
    fake.kinds.update({good: ("GAUGE", "DOUBLE"), denied: ("DELTA", "INT64")})
    fake.series[good] = [time_series(good, "payment", "payment-0", [(WINDOW.start + 60, 1.0)])]
    # kinds the caller got wrong: the stand-in refuses the aligner, and the read goes on
    reader = CloudMonitoringReader("p", [unknown, denied, good], client=client,
                                   kinds={denied: ("DELTA", "DISTRIBUTION")})
    read = reader.metrics(WINDOW)
    assert [m.metric for m in read.items] == [good] and read.sampled
    assert f"metrics: {unknown} not read (NotFound: Could not find descriptor" in read.note
    assert f"metrics: {denied} not read (InvalidArgument: Field aggregation.perSeriesAligner" in read.note


def test_429_and_503_are_retried_within_a_time_budget(monitoring) -> None:  # type: ignore[no-untyped-def]
    client, fake = monitoring
    metric = "kubernetes.io/container/cpu/limit_utilization"
    fake.kinds[metric] = METRIC_KINDS[metric]
    fake.series[metric] = [time_series(metric, "payment", "payment-0", [(WINDOW.start + 60, 0.5)],
                                       resource="k8s_container")]
    fake.errors = [grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE]
    read = CloudMonitoringReader("p", [metric], client=client, retry_initial_s=0.01).metrics(WINDOW)
    assert len(read.items) == 1 and not read.sampled and len(fake.requests) == 3
    fake.requests.clear()
    fake.errors = [grpc.StatusCode.RESOURCE_EXHAUSTED] * 1000
    fake.delay = 0.05
    started = time.monotonic()
    slow = CloudMonitoringReader("p", [metric, "run.googleapis.com/request_count"], client=client, budget_s=0.5,
                                 retry_initial_s=0.05).metrics(WINDOW)
    assert time.monotonic() - started < 1.5
    assert slow.items == [] and slow.sampled and f"metrics: {metric} not read (RetryError: Timeout" in slow.note
    assert "run.googleapis.com/request_count" in slow.note  # refused within what was left, or not asked at all


def test_a_metric_read_stops_at_max_series_and_says_so(monitoring) -> None:  # type: ignore[no-untyped-def]
    client, fake = monitoring
    metric = "custom.googleapis.com/queue_depth"
    fake.kinds[metric] = ("GAUGE", "INT64")
    fake.series[metric] = [time_series(metric, f"svc{i}", "", [(WINDOW.start + 60, 1.0)]) for i in range(3)]
    read = CloudMonitoringReader("p", [metric], client=client, max_series=2).metrics(WINDOW)
    assert len(read.items) == 2 and read.sampled and "stopped after 2 series (limit 2)" in read.note


def test_audit_logs_become_changes(api) -> None:  # type: ignore[no-untyped-def]
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import logging as cloud_logging

    url, seen, replies = api
    replies["/v2/entries:list"] = {"entries": [{
        "logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity", "timestamp": "2026-01-15T09:41:00Z",
        "insertId": "a1", "resource": {"type": "cloud_run_revision", "labels": {"service_name": "payment"}},
        "protoPayload": {"@type": "type.googleapis.com/google.cloud.audit.AuditLog",
                         "methodName": "google.cloud.run.v1.Services.ReplaceService",
                         "resourceName": "namespaces/p/services/payment",
                         "authenticationInfo": {"principalEmail": "ci@p.iam.gserviceaccount.com"}}}]}
    client = cloud_logging.Client(project="p", credentials=AnonymousCredentials(), _use_grpc=False,
                                  client_options={"api_endpoint": url})
    source = GcpTelemetrySource("p", logs=CloudLoggingLogReader("p", client=client, quota=TokenBucket()))
    (change,) = source.changes(WINDOW, ["payment"]).items
    assert (change.service, change.kind, change.actor) == ("payment", "deploy", "ci@p.iam.gserviceaccount.com")
    assert change.description == "google.cloud.run.v1.Services.ReplaceService on namespaces/p/services/payment"
    (_, _, body) = seen[0]
    assert body["filter"] == audit_filter(WINDOW, ["payment"]) and body["orderBy"] == "timestamp desc"
    assert 'logName:"cloudaudit.googleapis.com%2Factivity"' in body["filter"]
    assert source.spans(WINDOW).items == [] and source.describe() == {"source": "gcp", "project": "p"}




def test_a_trace_read_past_its_time_budget_stops_and_says_so(api) -> None:  # type: ignore[no-untyped-def]
    url, _seen, replies = api
    fake = TraceApi()
    replies["/v1/projects/p/traces"] = fake
    fake.traces = [{"projectId": "p", "traceId": f"t{i}", "spans": [
        {"spanId": "1", "name": "GET /", "startTime": "2026-01-15T09:41:00Z", "endTime": "2026-01-15T09:41:01Z",
         "labels": {"service.name": "frontend"}}]} for i in range(6)]
    ticks = iter(range(0, 1000, 30))  # every look at the clock is 30 s later: the budget is spent after 3 traces
    reader = CloudTraceReader("p", client=trace_client(url), page_size=2, budget_s=90.0,
                              clock=lambda: float(next(ticks)))
    result = reader.spans(WINDOW)
    assert result.sampled and "time budget" in result.note and len(result.items) == 3
