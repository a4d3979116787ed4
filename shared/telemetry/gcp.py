"""Telemetry from Google Cloud behind the `TelemetrySource` port: Cloud Logging (logs, and audit logs as
changes), Cloud Trace (v1 ListTraces, COMPLETE view), Cloud Monitoring (ListTimeSeries with an aligner).

Every read is bounded and says when it stopped early. Clients are imported lazily and can be injected (tests,
custom credentials); every call carries a timeout so a missing network fails fast instead of retrying DNS.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.ports import LogPatternCounter
from shared.telemetry.bundle import classify_method
from shared.telemetry.cloud_logging import CloudLoggingLogReader, build_filter, quote, to_record
from shared.telemetry_records import ChangeEvent, LogRecord, MetricSeries, ReadResult, Span, Window

SERVICE_LABELS = ("service.name", "g.co/r/cloud_run_revision/service_name", "g.co/r/k8s_container/container_name",
                  "g.co/gae/app/module", "/component")
INSTANCE_LABELS = ("k8s.pod.name", "g.co/r/k8s_container/pod_name", "g.co/r/cloud_run_revision/revision_name",
                   "g.co/gae/app/version")


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def _ts(value: Any) -> float:
    return float(value.timestamp()) if hasattr(value, "timestamp") else float(value or 0)


def span_hex(span_id: object) -> str:
    """A Trace v1 span id (a decimal 64-bit integer) in the 16-hex-digit form log entries carry."""
    return f"{int(str(span_id)):016x}"


def trace_span(trace_id: str, s: Any) -> Span:
    labels = dict(s.labels)
    service = next((labels[k] for k in SERVICE_LABELS if labels.get(k)), "")
    instance = next((labels[k] for k in INSTANCE_LABELS if labels.get(k)), "")
    status = labels.get("/http/status_code", "")
    error = (status.isdigit() and int(status) >= 500) or bool(labels.get("/error/message") or labels.get("error"))
    # Trace v1 ids are 64-bit integers; log entries name spans by the 16-hex-digit form (as Trace v2 does), so
    # spans are keyed by that form and a log line's spanId finds its span.
    return Span(trace_id=trace_id, span_id=span_hex(s.span_id), parent_id=span_hex(s.parent_span_id) if
                int(s.parent_span_id or 0) else "", service=service, name=str(s.name), start=_ts(s.start_time),
                end=_ts(s.end_time), instance=instance, error=error,
                status_message=labels.get("/error/message", "")[:500])


class CloudTraceReader:
    def __init__(self, project: str, client: Any = None, page_size: int = 500, max_traces: int = 5000,
                 timeout_s: float = 30.0):
        if client is None:
            from google.cloud import trace_v1

            client = trace_v1.TraceServiceClient()
        self.project, self.client = project, client
        self.page_size, self.max_traces, self.timeout_s = page_size, max_traces, timeout_s

    def spans(self, window: Window, services: list[str] | None = None) -> ReadResult[Span]:
        from google.cloud import trace_v1

        request = trace_v1.ListTracesRequest(
            project_id=self.project, view=trace_v1.ListTracesRequest.ViewType.COMPLETE, page_size=self.page_size,
            start_time=_dt(window.start), end_time=_dt(window.end))
        spans: list[Span] = []
        for count, trace in enumerate(self.client.list_traces(request=request, timeout=self.timeout_s), 1):
            spans += [trace_span(trace.trace_id, s) for s in trace.spans]
            if count >= self.max_traces:
                return ReadResult(self._only(spans, services), True,
                                  f"traces: stopped after {count} traces (limit {self.max_traces})")
        return ReadResult(self._only(spans, services))

    @staticmethod
    def _only(spans: list[Span], services: list[str] | None) -> list[Span]:
        return spans if services is None else [s for s in spans if s.service in services]


class CloudMonitoringReader:
    """ListTimeSeries per metric type, aligned per minute; resource labels give the service and instance."""

    def __init__(self, project: str, metric_types: list[str], client: Any = None, max_series: int = 2000,
                 timeout_s: float = 30.0):
        if client is None:
            from google.cloud import monitoring_v3

            client = monitoring_v3.MetricServiceClient()
        self.project, self.metric_types, self.client = project, metric_types, client
        self.max_series, self.timeout_s = max_series, timeout_s

    def request(self, metric_type: str, window: Window, services: list[str] | None) -> Any:
        from google.cloud import monitoring_v3

        text = f"metric.type = {quote(metric_type)}"
        if services:
            text += " AND (" + " OR ".join(f"resource.labels.service_name = {quote(s)}" for s in services) + ")"
        return monitoring_v3.ListTimeSeriesRequest(
            name=f"projects/{self.project}", filter=text,
            interval=monitoring_v3.TimeInterval(start_time=_dt(window.start), end_time=_dt(window.end)),
            aggregation=monitoring_v3.Aggregation(
                alignment_period={"seconds": 60},
                per_series_aligner=monitoring_v3.Aggregation.Aligner.ALIGN_MEAN),
            view=monitoring_v3.ListTimeSeriesRequest.TimeSeriesView.FULL)

    def metrics(self, window: Window, services: list[str] | None = None) -> ReadResult[MetricSeries]:
        out: list[MetricSeries] = []
        for metric_type in self.metric_types:
            for ts in self.client.list_time_series(request=self.request(metric_type, window, services),
                                                   timeout=self.timeout_s):
                labels = dict(ts.resource.labels)
                service = labels.get("service_name") or labels.get("container_name") or \
                    labels.get("function_name") or ""
                instance = labels.get("pod_name") or labels.get("instance_id") or labels.get("revision_name") or ""
                points = sorted((_ts(p.interval.end_time), float(p.value.double_value or p.value.int64_value))
                                for p in ts.points)
                out.append(MetricSeries(metric_type, service, tuple(points), instance, str(ts.unit or ""),
                                        tuple(sorted(dict(ts.metric.labels).items()))))
                if len(out) >= self.max_series:
                    return ReadResult(out, True, f"metrics: stopped after {len(out)} series")
        return ReadResult(out)


def audit_filter(window: Window, services: list[str] | None = None) -> str:
    base = build_filter(window, services).replace('NOT logName:"cloudaudit.googleapis.com"',
                                                  'logName:"cloudaudit.googleapis.com%2Factivity"')
    return base + ' AND protoPayload.methodName:("Service" OR "Revision" OR "Deployment" OR "Scale" OR "Update")'


class GcpTelemetrySource:
    """The TelemetrySource for a project: each signal from its own API (any reader may be None: then empty)."""

    def __init__(self, project: str, logs: CloudLoggingLogReader | None = None,
                 traces: CloudTraceReader | None = None, metrics: CloudMonitoringReader | None = None,
                 log_aggregator: LogPatternCounter | None = None):
        self.project, self._logs, self._traces, self._metrics = project, logs, traces, metrics
        # With BigQuery / Log Analytics configured, the log analyst asks for counts, not lines.
        self.log_counter: LogPatternCounter | None = log_aggregator

    def describe(self) -> dict[str, str]:
        return {"source": "gcp", "project": self.project}

    def logs(self, window: Window, services: list[str] | None = None) -> ReadResult[LogRecord]:
        return self._logs.logs(window, services) if self._logs else ReadResult([], note="no log reader")

    def spans(self, window: Window, services: list[str] | None = None) -> ReadResult[Span]:
        return self._traces.spans(window, services) if self._traces else ReadResult([], note="no trace reader")

    def metrics(self, window: Window, services: list[str] | None = None) -> ReadResult[MetricSeries]:
        return self._metrics.metrics(window, services) if self._metrics else ReadResult([], note="no metric reader")

    def changes(self, window: Window, services: list[str] | None = None) -> ReadResult[ChangeEvent]:
        if self._logs is None:
            return ReadResult([], note="no log reader for audit logs")
        entries = self._logs.client.list_entries(
            resource_names=[f"projects/{self.project}"], filter_=audit_filter(window, services),
            order_by="timestamp asc", page_size=self._logs.page_size, max_results=self._logs.max_entries)
        out = []
        for entry in entries:
            record = to_record(entry)
            payload = getattr(entry, "payload", None) or {}
            method = str(payload.get("methodName", "")) if isinstance(payload, dict) else ""
            actor = str((payload.get("authenticationInfo") or {}).get("principalEmail", "")) \
                if isinstance(payload, dict) else ""
            out.append(ChangeEvent(record.timestamp, record.service, classify_method(method),
                                   f"{method} on {payload.get('resourceName', record.service)}" if isinstance(
                                       payload, dict) else method, actor, (("methodName", method),)))
        return ReadResult(out)
