"""GCP telemetry adapters: the requests they build and how they parse real-format responses. Every client is
the real one: Cloud Trace and Cloud Logging over REST against a local HTTP stand-in, Cloud Monitoring over gRPC
against a local gRPC stand-in of MetricService. The stand-ins answer as the APIs do:

- ListTimeSeries (monitoring_v3 `ListTimeSeriesRequest`) refuses, with INVALID_ARGUMENT, an aligner that does not
  fit the metric's kind and value type (per the Aggregation.Aligner docs), applies the interval ((start, end]) and
  the service filter, and pages by token: `page_size` counts points in the FULL view, "if page_size is empty or
  more than 100,000 results, the effective page_size is 100,000" (a negative one is refused), a page boundary may
  split a series, and a page token is valid only for the request that issued it.
- ListTraces (Cloud Trace v1 `projects.traces.list`, https://cloud.google.com/trace/docs/quotas) answers at most 100
  traces a call in the COMPLETE view (1,000 in MINIMAL and ROOTSPAN; a pageSize <= 0 lets it choose; it "may return
  fewer traces than the requested page size"), sorts by `orderBy` (trace_id, name, duration or start of the root
  span, `desc` appended; anything else is a 400), pages by a token valid only for its query, and spends 25 of 300
  read quota units per 60 s a call: the 13th ListTraces of a minute is a 429 RESOURCE_EXHAUSTED."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.telemetry.bundle import from_rfc3339, to_rfc3339
from shared.telemetry.cloud_logging import CloudLoggingLogReader, TokenBucket
from shared.telemetry.gcp import (
    LIST_TRACES_PER_MINUTE,
    METRIC_KINDS,
    SERIES_PAGE_MAX,
    TRACE_PAGE_MAX,
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


def _split_top(text: str, sep: str) -> list[str]:
    """`text` split on `sep` outside parentheses and string literals."""
    parts, depth, quoted, start, i = [], 0, False, 0, 0
    while i < len(text):
        c = text[i]
        if quoted:
            i += 2 if c == "\\" else 1
            quoted = quoted and c != '"'
            continue
        if c == '"':
            quoted = True
        elif c in "()":
            depth += 1 if c == "(" else -1
        elif depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            start = i = i + len(sep)
            continue
        i += 1
    return [*parts, text[start:]]


def _unwrap(text: str) -> str:
    """`text` without one pair of parentheses around all of it."""
    if not (text.startswith("(") and text.endswith(")")):
        return text
    depth, quoted, i, inner = 0, False, 0, text[1:-1]
    while i < len(inner):
        c = inner[i]
        if quoted:
            i += 2 if c == "\\" else 1
            quoted = quoted and c != '"'
            continue
        quoted = c == '"'
        depth += {"(": 1, ")": -1}.get(c, 0)
        if depth < 0:  # "(a) OR (b)": the first parenthesis closes before the end
            return text
        i += 1
    return inner


def resource_alternatives(text: str) -> list[list[Callable[[dict[str, str]], bool]]]:
    """The filter's resource clause as ListTimeSeries reads it: alternatives joined by OR, each one comparison
    `resource.labels.L = "v"` (or `= starts_with("v")`, a prefix) or a parenthesized AND of them; [] when the filter
    names no resource label. A term it cannot read is an error, as the API's INVALID_ARGUMENT would be."""
    clauses = [_unwrap(c) for c in _split_top(text, " AND ") if "resource.labels." in c]
    if not clauses:
        return []
    term = re.compile(r'resource\.labels\.(\w+) = (?:starts_with\(' + STRING + r'\)|' + STRING + r')$')
    groups = []
    for alternative in _split_top(clauses[0], " OR "):
        tests = []
        for part in _split_top(_unwrap(alternative), " AND "):
            m = term.match(part)
            assert m, f"the stand-in cannot read the filter term {part!r}"
            label, prefix, exact = m.group(1), m.group(2), m.group(3)
            value = unquote(prefix if prefix is not None else exact)
            if prefix is not None:
                tests.append(lambda ls, k=label, v=value: ls.get(k, "").startswith(v))
            else:
                tests.append(lambda ls, k=label, v=value: ls.get(k) == v)
        groups.append(tests)
    return groups


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
        self.pages = 0  # ListTimeSeries pages answered

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
        wanted = resource_alternatives(request.filter)
        start, end = request.interval.start_time.timestamp(), request.interval.end_time.timestamp()
        out = []
        for ts in self.series.get(metric_type, []):
            labels = dict(ts.resource.labels)
            if wanted and not any(all(test(labels) for test in group) for group in wanted):
                continue
            points = [p for p in ts.points if start < p.interval.end_time.timestamp() <= end]  # reads: (start, end]
            if points:
                out.append(monitoring_v3.TimeSeries(metric=ts.metric, resource=ts.resource, metadata=ts.metadata,
                                                    unit=ts.unit, points=points))
        if request.page_size < 0:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Field page_size had an invalid value: must be positive")
        size = request.page_size if 0 < request.page_size <= SERIES_PAGE_MAX else SERIES_PAGE_MAX  # points (FULL)
        query = repr((request.name, request.filter, request.interval, request.aggregation, request.view))
        offset = int(request.page_token.split("-")[0]) if request.page_token[:1].isdigit() else 0
        if request.page_token and request.page_token != page_token(query, offset):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Invalid page token.")
        flat = [(i, p) for i, ts in enumerate(out) for p in ts.points]
        page: list[Any] = []
        for i, point in flat[offset:offset + size]:  # a page boundary may split a series
            if not page or page[-1][0] != i:
                page.append((i, []))
            page[-1][1].append(point)
        self.pages += 1
        return monitoring_v3.ListTimeSeriesResponse(
            time_series=[monitoring_v3.TimeSeries(metric=out[i].metric, resource=out[i].resource,
                                                  metadata=out[i].metadata, unit=out[i].unit, points=points)
                         for i, points in page],
            next_page_token=page_token(query, offset + size) if offset + size < len(flat) else "")


def page_token(query: str, offset: int) -> str:
    """An opaque page token, bound to the query that issued it."""
    return f"{offset}-{hashlib.sha256(query.encode()).hexdigest()[:16]}"


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


ORDER_BY = re.compile(r"(trace_id|name|duration|start)( desc)?")


class TraceApi:
    """ListTraces (v1 REST) over recorded traces, as the API answers (see the module's docstring): a trace is listed
    when one of its spans overlaps the asked interval (the API hands over whole traces, some of whose spans start
    outside it). `errors` (HTTP statuses) are answered first, one per call; `clock` counts the read quota."""

    def __init__(self, clock: Any = time.monotonic, units_per_minute: int = 300) -> None:
        self.traces: list[dict[str, Any]] = []
        self.requests: list[dict[str, list[str]]] = []
        self.errors: list[int] = []
        self.before: Any = lambda n: None  # called with the request number before it is answered
        self.clock, self.units_per_minute = clock, units_per_minute
        self.spent: list[float] = []  # when each admitted ListTraces was (25 units each)
        self.refused = 0

    def __call__(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        query = parse_qs(urlsplit(path).query)
        self.requests.append(query)
        self.before(len(self.requests))
        now = self.clock()
        self.spent = [t for t in self.spent if t > now - 60.0]
        if (len(self.spent) + 1) * 25 > self.units_per_minute:
            self.refused += 1
            return 429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": (
                "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute' of service "
                "'cloudtrace.googleapis.com'.")}}
        self.spent.append(now)
        if self.errors:
            code = self.errors.pop(0)
            return code, {"error": {"code": code, "message": "injected"}}
        order = (query.get("orderBy") or [""])[0]
        if order and not ORDER_BY.fullmatch(order):
            return 400, {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": f"Invalid orderBy: {order}"}}
        low, high = from_rfc3339(query["startTime"][0]), from_rfc3339(query["endTime"][0])
        listed = [t for t in self.traces if any(from_rfc3339(s["startTime"]) <= high and
                                                from_rfc3339(s["endTime"]) >= low for s in t["spans"])]
        if order:
            field, desc = ORDER_BY.fullmatch(order).groups()  # type: ignore[union-attr]
            listed.sort(key=lambda t: root_key(t, field), reverse=bool(desc))
        view = (query.get("view") or ["MINIMAL"])[0]
        most = TRACE_PAGE_MAX if view in ("COMPLETE", "3") else 1000
        asked = int((query.get("pageSize") or ["0"])[0])
        size = asked if 0 < asked <= most else most
        key = repr((query.get("startTime"), query.get("endTime"), query.get("view"), order, query.get("filter")))
        token = (query.get("pageToken") or [""])[0]
        offset = int(token.split("-")[0]) if token[:1].isdigit() else 0
        if token and token != page_token(key, offset):
            return 400, {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "Invalid page token."}}
        reply: dict[str, Any] = {"traces": listed[offset:offset + size]}
        if offset + size < len(listed):
            reply["nextPageToken"] = page_token(key, offset + size)
        return 200, reply


def root_key(trace: dict[str, Any], field: str) -> Any:
    """What ListTraces sorts a trace by: its id, or its root span's name, duration or start."""
    root = next((s for s in trace["spans"] if not s.get("parentSpanId")), trace["spans"][0])
    start, end = from_rfc3339(root["startTime"]), from_rfc3339(root["endTime"])
    return {"trace_id": trace["traceId"], "name": root["name"], "duration": end - start, "start": start}[field]


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
    result = traces(client, page_size=50).spans(WINDOW)
    root, child = result.items
    assert (root.service, root.parent_id, root.error) == ("frontend", "", True)
    assert (child.service, child.parent_id, child.instance, child.error) == ("payment", "0000000000000001",
                                                                             "payment-0", True)
    assert child.span_id == "0000000000000002"  # the form a log entry's spanId takes, so lines find their span
    assert child.duration == pytest.approx(0.8)
    method, path, _ = seen[0]
    query = parse_qs(urlsplit(path).query)
    assert method == "GET" and query["view"] in (["COMPLETE"], ["3"]) and query["pageSize"] == ["50"]
    assert query["orderBy"] == ["start desc"]  # newest first: a cut read keeps the traces nearest the alert
    assert query["startTime"][0].startswith("2026-01-15T09:40:00")
    assert query["endTime"][0].startswith("2026-01-15T09:50")
    assert traces(client).spans(WINDOW, ["payment"]).items == [child]
    capped = traces(client, max_spans=1).spans(WINDOW)  # the trace's two spans are kept whole or left out
    assert capped.items == [] and capped.sampled
    assert capped.note.startswith("spans: 0 of at least 2 sampled by trace (whole traces kept), newest first (limit: "
                                  "1 spans per read)")


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
    (span,) = traces(trace_client(url)).spans(WINDOW).items
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
    assert len(read.items) == 2 and read.sampled
    assert read.note == f"metrics: 2 of at least 3 series kept (limit: 2 series per read), in {metric}"


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




def traces(client: Any, **kwargs: Any) -> CloudTraceReader:
    """A trace reader with a ListTraces quota bucket of its own, not the process's shared one."""
    kwargs.setdefault("quota", TokenBucket(rate=LIST_TRACES_PER_MINUTE))
    return CloudTraceReader("p", client=client, **kwargs)


def trace_of(i: int, spans: int = 2, at: float = 60.0) -> dict[str, Any]:
    """Trace i: `spans` spans of 'frontend', a root and its children, started `at` + i seconds into WINDOW."""
    start = WINDOW.start + at + i
    return {"projectId": "p", "traceId": f"{i:032x}", "spans": [
        {"spanId": str(j + 1), "name": f"op{j}", "startTime": to_rfc3339(start + j * 0.01),
         "endTime": to_rfc3339(start + 0.5), "labels": {"service.name": "frontend"},
         **({"parentSpanId": "1"} if j else {})} for j in range(spans)]}


class Clock:
    """Time shared by a stand-in and a reader: sleeping advances it at once."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_trace_read_past_its_time_budget_stops_and_says_so(api) -> None:  # type: ignore[no-untyped-def]
    url, _seen, replies = api
    clock = Clock()
    fake = TraceApi(clock=clock)
    replies["/v1/projects/p/traces"] = fake
    fake.traces = [trace_of(i, spans=1) for i in range(10)]
    fake.before = lambda n: clock.sleep(40.0)  # every page takes 40 s: the budget of 90 s is spent after 3
    result = traces(trace_client(url), page_size=2, budget_s=90.0, clock=clock, quota=TokenBucket(
        rate=LIST_TRACES_PER_MINUTE, clock=clock, sleep=clock.sleep)).spans(WINDOW)
    assert result.sampled and "(time budget of 90 s spent)" in result.note and len(result.items) == 6
    assert len(fake.requests) == 3 and result.cost.api_calls == 3
    assert [s.trace_id for s in result.items] == [f"{i:032x}" for i in range(4, 10)]  # the newest traces


def test_trace_pages_are_followed_by_token_up_to_the_span_bound_keeping_whole_traces(api) -> None:  # type: ignore[no-untyped-def]
    url, _seen, replies = api
    fake = TraceApi()
    replies["/v1/projects/p/traces"] = fake
    fake.traces = [trace_of(i, spans=3) for i in range(7)]  # 21 spans, 3 a trace
    whole = traces(trace_client(url), page_size=2).spans(WINDOW)
    assert len(whole.items) == 21 and not whole.sampled and whole.cost.api_calls == 4  # 2 + 2 + 2 + 1 traces
    assert [q["pageSize"] for q in fake.requests] == [["2"]] * 4
    fake.requests.clear()
    cut = traces(trace_client(url), page_size=2, max_spans=10).spans(WINDOW)  # 3 whole traces fit, a 4th does not
    assert len(cut.items) == 9 and cut.sampled and len(fake.requests) == 2
    assert cut.note.startswith("spans: 9 of at least 12 sampled by trace (whole traces kept), newest first")
    assert {s.trace_id for s in cut.items} == {f"{i:032x}" for i in (4, 5, 6)}  # the newest, each with all 3 spans
    with pytest.raises(ValueError, match=r"page_size must be 1\.\.100 "):  # the COMPLETE view's maximum
        CloudTraceReader("p", client=object(), page_size=500)


def test_list_traces_keep_to_the_projects_read_quota(api) -> None:  # type: ignore[no-untyped-def]
    """15 pages against 12 ListTraces a minute (300 units, 25 a call): the bucket paces them, none is refused."""
    url, _seen, replies = api
    clock = Clock()
    fake = TraceApi(clock=clock)
    replies["/v1/projects/p/traces"] = fake
    fake.traces = [trace_of(i, spans=1) for i in range(30)]
    quota = TokenBucket(rate=LIST_TRACES_PER_MINUTE, clock=clock, sleep=clock.sleep)
    read = traces(trace_client(url), page_size=2, budget_s=120.0, clock=clock, quota=quota).spans(WINDOW)
    assert len(read.items) == 30 and not read.sampled and fake.refused == 0 and len(fake.requests) == 15
    assert clock.now - 1000.0 == 60.0


def test_a_429_from_list_traces_is_retried_and_a_later_failure_keeps_what_was_read(api) -> None:  # type: ignore[no-untyped-def]
    url, _seen, replies = api
    fake = TraceApi()
    replies["/v1/projects/p/traces"] = fake
    fake.traces = [trace_of(i, spans=1) for i in range(4)]
    fake.errors = [429, 503]
    read = traces(trace_client(url), page_size=2, retry_initial_s=0.01).spans(WINDOW)
    assert len(read.items) == 4 and not read.sampled and len(fake.requests) == 4
    fake.requests.clear()
    fake.before = lambda n: fake.errors.append(403) if n == 2 else None
    partial = traces(trace_client(url), page_size=2, retry_initial_s=0.01).spans(WINDOW)
    assert len(partial.items) == 2 and partial.sampled and "(page 2 failed: Forbidden)" in partial.note
    fake.before = lambda n: fake.errors.append(403)
    with pytest.raises(Exception, match="injected"):  # the first page failing fails the read
        traces(trace_client(url)).spans(WINDOW)


def test_the_trace_stand_in_keeps_the_documented_limits() -> None:
    clock = Clock()
    fake = TraceApi(clock=clock)
    fake.traces = [trace_of(i, spans=1) for i in range(150)]
    base = f"/v1/projects/p/traces?startTime={to_rfc3339(WINDOW.start)}&endTime={to_rfc3339(WINDOW.end)}"
    status, reply = fake("GET", base + "&view=COMPLETE&pageSize=500", None)
    assert status == 200 and len(reply["traces"]) == 100  # at most 100 a call in the COMPLETE view
    assert len(fake("GET", base + "&view=MINIMAL&pageSize=500", None)[1]["traces"]) == 150
    assert fake("GET", base + "&orderBy=latency", None)[0] == 400
    newest = fake("GET", base + "&orderBy=start%20desc&pageSize=2", None)[1]
    assert [t["traceId"] for t in newest["traces"]] == [f"{149:032x}", f"{148:032x}"]
    assert fake("GET", base + "&pageSize=2&pageToken=" + newest["nextPageToken"], None)[0] == 400  # another query
    assert fake("GET", base + "&orderBy=start%20desc&pageSize=2&pageToken=2", None)[0] == 400  # not one it issued
    statuses = [fake("GET", base, None)[0] for _ in range(LIST_TRACES_PER_MINUTE)]
    assert statuses.count(429) == 6 and fake.refused == 6  # 12 ListTraces a minute, 6 spent above
    clock.sleep(60.0)
    assert fake("GET", base, None)[0] == 200


def test_monitoring_pages_count_points_and_a_split_series_is_joined(monitoring) -> None:  # type: ignore[no-untyped-def]
    client, fake = monitoring
    metric = "custom.googleapis.com/queue_depth"
    fake.kinds[metric] = ("GAUGE", "DOUBLE")
    fake.series[metric] = [time_series(metric, f"svc{i}", f"svc{i}-0", [(WINDOW.start + 60 * (k + 1), float(k))
                                                                         for k in range(5)]) for i in range(3)]
    read = CloudMonitoringReader("p", [metric], client=client, page_size=4).metrics(WINDOW)  # 15 points, 4 a page
    assert not read.sampled and fake.pages == 4 and read.cost.billed_series == 3
    assert read.cost.api_calls == 5  # 4 pages and the descriptor (a metric not in the table)
    assert [(m.service, len(m.points)) for m in read.items] == [("svc0", 5), ("svc1", 5), ("svc2", 5)]
    assert all(r.page_size == 4 for r in fake.requests) and fake.requests[1].page_token.startswith("4-")
    capped = CloudMonitoringReader("p", [metric], client=client, page_size=4, max_series=2).metrics(WINDOW)
    assert [m.service for m in capped.items] == ["svc0", "svc1"] and capped.sampled
    assert "metrics: 2 of at least 3 series kept (limit: 2 series per read)" in capped.note
    request = CloudMonitoringReader("p", [metric], client=client).request(metric, WINDOW, None, "ALIGN_MEAN")
    assert request.page_size == SERIES_PAGE_MAX
    from google.api_core.exceptions import InvalidArgument

    with pytest.raises(InvalidArgument, match="Invalid page token"):
        request.page_token = "4-0000"
        list(client.list_time_series(request=request, timeout=5))
    with pytest.raises(ValueError, match=r"page_size must be 1\.\.100000 "):
        CloudMonitoringReader("p", [metric], client=client, page_size=100_001)


def test_every_gcp_read_has_the_bundles_bounds() -> None:
    import inspect

    from shared.telemetry import bounds
    from shared.telemetry.bigquery_logs import BigQueryLogAggregator
    from shared.telemetry.bundle import DEFAULT_MAX_RECORDS

    assert bounds.MAX_RECORDS == DEFAULT_MAX_RECORDS == 20_000

    def default(f: Any, name: str) -> Any:
        return inspect.signature(f).parameters[name].default

    assert default(CloudLoggingLogReader, "max_entries") == default(CloudTraceReader, "max_spans") \
        == default(CloudMonitoringReader, "max_series") == default(BigQueryLogAggregator, "max_rows") \
        == bounds.MAX_RECORDS
    assert {default(c, "max_pages") for c in (CloudLoggingLogReader, CloudTraceReader, CloudMonitoringReader,
                                               BigQueryLogAggregator)} == {bounds.MAX_PAGES}
