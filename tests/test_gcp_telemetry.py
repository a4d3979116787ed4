"""GCP telemetry adapters: the requests they build and how they parse real-format responses. Cloud Trace and
Cloud Logging run their real REST clients against a local stand-in; Cloud Monitoring (gRPC only in this
client) gets a stand-in client returning the real protobuf types."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.telemetry.cloud_logging import CloudLoggingLogReader
from shared.telemetry.gcp import CloudMonitoringReader, CloudTraceReader, GcpTelemetrySource, audit_filter
from shared.telemetry_records import Window
from tests.http_stub import serve

trace_v1 = pytest.importorskip("google.cloud.trace_v1")
monitoring_v3 = pytest.importorskip("google.cloud.monitoring_v3")
WINDOW = Window(1_768_470_000.0, 1_768_470_600.0)


@pytest.fixture()
def api() -> Iterator[tuple[str, list[tuple[str, str, Any]], dict[str, Any]]]:
    seen: list[tuple[str, str, Any]] = []
    replies: dict[str, Any] = {}

    def reply(method: str, path: str, body: Any) -> tuple[int, Any]:
        seen.append((method, path, body))
        return 200, replies.get(urlsplit(path).path, {})

    with serve(reply) as stub:
        yield stub.url, seen, replies


def test_cloud_trace_request_and_parsing(api) -> None:  # type: ignore[no-untyped-def]
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials

    url, seen, replies = api
    replies["/v1/projects/p/traces"] = {"traces": [{"projectId": "p", "traceId": "t1", "spans": [
        {"spanId": "1", "name": "GET /checkout", "startTime": "2026-01-15T09:40:00Z", "endTime": "2026-01-15T09:40:01Z",
         "labels": {"service.name": "frontend", "/http/status_code": "500"}},
        {"spanId": "2", "parentSpanId": "1", "name": "Charge", "startTime": "2026-01-15T09:40:00.100Z",
         "endTime": "2026-01-15T09:40:00.900Z", "labels": {"service.name": "payment", "k8s.pod.name": "payment-0",
                                                           "/error/message": "NullPointerException"}}]}]}
    client = trace_v1.TraceServiceClient(transport="rest", credentials=AnonymousCredentials(),
                                         client_options=ClientOptions(api_endpoint=url))
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


def test_cloud_monitoring_request_and_parsing() -> None:
    calls: list[Any] = []
    series = monitoring_v3.TimeSeries(
        metric={"type": "run.googleapis.com/request_latencies", "labels": {"response_code_class": "5xx"}},
        resource={"type": "cloud_run_revision", "labels": {"service_name": "payment", "revision_name": "payment-7"}},
        unit="ms", points=[
            {"interval": {"end_time": {"seconds": 1_768_470_120}}, "value": {"double_value": 80.0}},
            {"interval": {"end_time": {"seconds": 1_768_470_060}}, "value": {"double_value": 20.0}}])

    class Client:
        def list_time_series(self, request: Any, timeout: float) -> list[Any]:
            calls.append(request)
            return [series]

    reader = CloudMonitoringReader("p", ["run.googleapis.com/request_latencies"], client=Client())
    (m,) = reader.metrics(WINDOW, ['pay"ment']).items
    assert m.service == "payment" and m.instance == "payment-7" and m.unit == "ms"
    assert m.points == ((1_768_470_060.0, 20.0), (1_768_470_120.0, 80.0))
    (request,) = calls
    assert request.name == "projects/p"
    assert request.filter == ('metric.type = "run.googleapis.com/request_latencies" AND '
                              '(resource.labels.service_name = "pay\\"ment")')
    assert request.aggregation.alignment_period.seconds == 60
    assert request.aggregation.per_series_aligner == monitoring_v3.Aggregation.Aligner.ALIGN_MEAN
    assert request.interval.start_time.timestamp() == WINDOW.start


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
    source = GcpTelemetrySource("p", logs=CloudLoggingLogReader("p", client=client))
    (change,) = source.changes(WINDOW, ["payment"]).items
    assert (change.service, change.kind, change.actor) == ("payment", "deploy", "ci@p.iam.gserviceaccount.com")
    (_, _, body) = seen[0]
    assert body["filter"] == audit_filter(WINDOW, ["payment"])
    assert 'logName:"cloudaudit.googleapis.com%2Factivity"' in body["filter"]
    assert source.spans(WINDOW).items == [] and source.describe() == {"source": "gcp", "project": "p"}
