"""Telemetry from Google Cloud behind the `TelemetrySource` port: Cloud Logging (logs, and audit logs as
changes), Cloud Trace (v1 ListTraces, COMPLETE view: cloud_trace.py), Cloud Monitoring (ListTimeSeries with an
aligner that fits each metric's kind and value type).

Every read pages by token within the bounds the bundle folder reads within (`bounds.py`: `MAX_RECORDS` records,
`MAX_PAGES` requests, whole traces kept) and a time budget, and says when it stopped early; every read returns only
records of its window (start inclusive, end exclusive) and of the asked services, oldest first, whatever the API
handed over. Clients are
imported lazily and can be injected (tests, custom credentials); every call carries a timeout so a missing
network fails fast instead of retrying DNS.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from shared.ports import LogPatternCounter, SloReader
from shared.read_deadline import time_left
from shared.read_limit import call_refused
from shared.telemetry.bounds import MAX_PAGES, MAX_RECORDS
from shared.telemetry.bundle import classify_method, from_rfc3339
from shared.telemetry.cloud_logging import (
    CloudLoggingLogReader,
    build_filter,
    quote,
)
from shared.telemetry.cloud_trace import (
    INSTANCE_LABELS as INSTANCE_LABELS,
)
from shared.telemetry.cloud_trace import (
    LIST_TRACES_PER_MINUTE as LIST_TRACES_PER_MINUTE,
)
from shared.telemetry.cloud_trace import (
    SERVICE_LABELS as SERVICE_LABELS,
)
from shared.telemetry.cloud_trace import (
    TRACE_PAGE_MAX as TRACE_PAGE_MAX,
)
from shared.telemetry.cloud_trace import (
    CloudTraceReader as CloudTraceReader,
)
from shared.telemetry.cloud_trace import _dt, _ts
from shared.telemetry.cloud_trace import span_hex as span_hex
from shared.telemetry.cloud_trace import trace_quota as trace_quota
from shared.telemetry.cloud_trace import trace_span as trace_span

if TYPE_CHECKING:
    from shared.telemetry.service_health import OutsideCauses
from shared.telemetry_records import (
    ChangeEvent,
    Dependency,
    LogRecord,
    MetricSeries,
    ReadCost,
    ReadResult,
    Span,
    Window,
)
from shared.workloads import audit_service, gke_service, monitoring_scope, split_gke

# Kind and value type of the metrics Auto SRE reads by default (functions/runtime.py GCP_METRICS), from Google's
# metric lists; any other metric's are asked of its descriptor (projects.metricDescriptors.get) once.
METRIC_KINDS: dict[str, tuple[str, str]] = {
    "run.googleapis.com/request_latencies": ("DELTA", "DISTRIBUTION"),
    "run.googleapis.com/request_count": ("DELTA", "INT64"),
    "run.googleapis.com/container/cpu/utilizations": ("DELTA", "DISTRIBUTION"),
    "run.googleapis.com/container/memory/utilizations": ("DELTA", "DISTRIBUTION"),
    "kubernetes.io/container/cpu/limit_utilization": ("GAUGE", "DOUBLE"),
    "kubernetes.io/container/memory/limit_utilization": ("GAUGE", "DOUBLE"),
    "kubernetes.io/container/restart_count": ("CUMULATIVE", "INT64"),
}
NUMERIC = ("INT64", "DOUBLE")
DISTRIBUTION_QUANTILE = 0.99  # what a distribution's point becomes when the API cannot take the percentile


def choose_aligner(kind: str, value_type: str) -> str:
    """The per-series aligner for a metric of this kind and value type (monitoring_v3 Aggregation.Aligner: the
    percentiles fit GAUGE and DELTA distributions, ALIGN_RATE CUMULATIVE and DELTA numbers, ALIGN_MEAN GAUGE
    numbers). A CUMULATIVE distribution fits no percentile aligner: it is aligned to DELTA and its 99th
    percentile taken here from the buckets. Raises ValueError for a kind or type that makes no number."""
    if value_type == "DISTRIBUTION" and kind in ("GAUGE", "DELTA"):
        return "ALIGN_PERCENTILE_99"
    if value_type == "DISTRIBUTION" and kind == "CUMULATIVE":
        return "ALIGN_DELTA"
    if value_type in NUMERIC and kind in ("CUMULATIVE", "DELTA"):
        return "ALIGN_RATE"
    if value_type in NUMERIC and kind == "GAUGE":
        return "ALIGN_MEAN"
    if value_type == "BOOL" and kind == "GAUGE":
        return "ALIGN_FRACTION_TRUE"
    raise ValueError(f"no numeric aligner for kind {kind or '?'} and value type {value_type or '?'}")


def distribution_quantile(dist: Any, q: float) -> float | None:
    """The q-quantile of a monitoring Distribution, interpolated inside its bucket (the mean without buckets)."""
    count = int(dist.count or 0)
    counts = [int(c) for c in dist.bucket_counts]
    if count <= 0:
        return None
    if not counts or sum(counts) <= 0:
        return float(dist.mean)
    options = dist.bucket_options
    raw = type(options).pb(options) if hasattr(type(options), "pb") else options  # proto-plus or protobuf
    which = raw.WhichOneof("options") if hasattr(raw, "WhichOneof") else None

    def bound(i: int) -> float:  # the lower bound of bucket i (bucket 0 is the underflow bucket)
        if which == "linear_buckets":
            return float(options.linear_buckets.offset + options.linear_buckets.width * (i - 1))
        if which == "exponential_buckets":
            e = options.exponential_buckets
            return float(e.scale * e.growth_factor ** (i - 1))
        if which == "explicit_buckets":
            bounds = list(options.explicit_buckets.bounds)
            return float(bounds[min(max(i - 1, 0), len(bounds) - 1)]) if bounds else float(dist.mean)
        return float(dist.mean)

    target, seen = q * sum(counts), 0
    for i, c in enumerate(counts):
        if c and seen + c >= target:
            if i == 0:
                return bound(1)
            if i == len(counts) - 1:
                return bound(i)
            return bound(i) + (bound(i + 1) - bound(i)) * (target - seen) / c
        seen += c
    return bound(len(counts) - 1)


def point_value(value: Any) -> float | None:
    """A TypedValue as a number: doubles and integers as they are, a Boolean as 0/1, a distribution by its
    99th percentile; None for a string or an empty value."""
    pb = type(value).pb(value) if hasattr(type(value), "pb") else None
    which = pb.WhichOneof("value") if pb is not None else None
    if which == "double_value":
        return float(value.double_value)
    if which == "int64_value":
        return float(value.int64_value)
    if which == "bool_value":
        return 1.0 if value.bool_value else 0.0
    if which == "distribution_value":
        return distribution_quantile(value.distribution_value, DISTRIBUTION_QUANTILE)
    return None


def _enum_name(value: Any, enum: Any) -> str:
    return str(value.name) if hasattr(value, "name") else str(enum.Name(int(value)))


# ListTimeSeries pageSize: "If page_size is empty or more than 100,000 results, the effective page_size is 100,000
# results. If view is set to FULL, this is the maximum number of Points returned." (monitoring_v3 types)
SERIES_PAGE_MAX = 100_000


class CloudMonitoringReader:
    """ListTimeSeries per metric type, aligned per minute with an aligner that fits the metric's kind and value
    type; resource labels give the service and instance. Pages (`page_size` points each, FULL view) are followed by
    token until `max_series` series over all metrics (`bounds.MAX_RECORDS`, the bundle's bound) or `max_pages`
    requests; a series split over pages is joined again. A metric that fails is a note, not a failed read; 429 and
    503 are retried; the whole read has one time budget."""

    def __init__(self, project: str, metric_types: list[str], client: Any = None, max_series: int = MAX_RECORDS,
                 max_pages: int = MAX_PAGES, page_size: int = SERIES_PAGE_MAX, timeout_s: float = 30.0,
                 budget_s: float = 90.0, retry_initial_s: float = 0.5,
                 kinds: dict[str, tuple[str, str]] | None = None, clock: Callable[[], float] = time.monotonic):
        if not 1 <= page_size <= SERIES_PAGE_MAX:
            raise ValueError(f"page_size must be 1..{SERIES_PAGE_MAX} points (ListTimeSeries), not {page_size}")
        if max_series < 1 or max_pages < 1:
            raise ValueError("max_series and max_pages must be positive")
        self.max_pages, self.page_size = max_pages, page_size
        if client is None:
            from google.cloud import monitoring_v3

            client = monitoring_v3.MetricServiceClient()
        self.project, self.metric_types, self.client = project, metric_types, client
        self.max_series, self.timeout_s, self.budget_s = max_series, timeout_s, budget_s
        self.retry_initial_s, self.clock = retry_initial_s, clock
        self.kinds: dict[str, tuple[str, str]] = dict(METRIC_KINDS if kinds is None else kinds)

    def _retry(self, remaining: float) -> Any:
        from google.api_core.exceptions import ResourceExhausted, ServiceUnavailable
        from google.api_core.retry import Retry, if_exception_type

        return Retry(predicate=if_exception_type(ResourceExhausted, ServiceUnavailable), initial=self.retry_initial_s,
                     maximum=max(self.retry_initial_s, 8.0), multiplier=2.0, timeout=remaining)

    def kind_of(self, metric_type: str, deadline: float) -> tuple[str, str]:
        """(kind, value type): from the table, else from the metric's descriptor (asked once per reader)."""
        if metric_type not in self.kinds:
            from google.api import metric_pb2

            remaining = max(deadline - self.clock(), 0.001)
            d = self.client.get_metric_descriptor(
                name=f"projects/{self.project}/metricDescriptors/{metric_type}", retry=self._retry(remaining),
                timeout=min(self.timeout_s, remaining))
            self.kinds[metric_type] = (_enum_name(d.metric_kind, metric_pb2.MetricDescriptor.MetricKind),
                                       _enum_name(d.value_type, metric_pb2.MetricDescriptor.ValueType))
        return self.kinds[metric_type]

    def request(self, metric_type: str, window: Window, services: list[str] | None,
                aligner: str = "ALIGN_MEAN") -> Any:
        from google.cloud import monitoring_v3

        text = f"metric.type = {quote(metric_type)}"
        if services:
            label = "container_name" if metric_type.startswith("kubernetes.io/container/") else "service_name"
            text += " AND (" + " OR ".join(monitoring_scope(s, label, quote) for s in services) + ")"
        return monitoring_v3.ListTimeSeriesRequest(
            name=f"projects/{self.project}", filter=text,
            # reads take (start, end]: a millisecond earlier keeps a point at the window's start
            interval=monitoring_v3.TimeInterval(start_time=_dt(window.start - 0.001), end_time=_dt(window.end)),
            aggregation=monitoring_v3.Aggregation(
                alignment_period={"seconds": 60},
                per_series_aligner=getattr(monitoring_v3.Aggregation.Aligner, aligner)),
            view=monitoring_v3.ListTimeSeriesRequest.TimeSeriesView.FULL, page_size=self.page_size)

    def metrics(self, window: Window, services: list[str] | None = None) -> ReadResult[MetricSeries]:
        if services is not None and not services:
            return ReadResult([], note="metrics: no services asked for")
        deadline = self.clock() + time_left(self.budget_s)  # or the run's shared deadline
        out: list[MetricSeries] = []
        where: dict[tuple[Any, ...], int] = {}  # a series' identity -> its place in `out` (pages may split it)
        notes: list[str] = []
        calls = 0  # ListTimeSeries pages and descriptor look-ups sent

        def cut(index: int, why: str) -> ReadResult[MetricSeries]:
            unread = "".join(f"; not read: {m}" for m in self.metric_types[index + 1:])
            return ReadResult(out, True, "; ".join([*notes, f"metrics: {why}, in {self.metric_types[index]}{unread}"]),
                              ReadCost(api_calls=calls, billed_series=len(out)))

        for index, metric_type in enumerate(self.metric_types):
            remaining = deadline - self.clock()
            if remaining <= 0:
                notes.append(f"metrics: time budget of {self.budget_s:g} s spent; not read: "
                             + ", ".join(self.metric_types[index:]))
                break
            unpaid = "" if metric_type in self.kinds else call_refused()  # a descriptor look-up, then the list
            unpaid = unpaid or call_refused()
            if unpaid:
                notes.append(f"metrics: the investigation's read budget is spent ({unpaid}); not read: "
                             + ", ".join(self.metric_types[index:]))
                break
            try:
                calls += int(metric_type not in self.kinds)
                kind, value_type = self.kind_of(metric_type, deadline)
                aligner = choose_aligner(kind, value_type)
                remaining = max(deadline - self.clock(), 0.001)
                pager = self.client.list_time_series(request=self.request(metric_type, window, services, aligner),
                                                     retry=self._retry(remaining),
                                                     timeout=min(self.timeout_s, remaining))
                for page in getattr(pager, "pages", [pager]):  # each page one request, followed by its token
                    calls += 1
                    for ts in page.time_series:
                        series = self._series(metric_type, ts, aligner, window)
                        if series is None or (services is not None and series.service not in services):
                            continue
                        key = (metric_type, tuple(sorted(dict(ts.resource.labels).items())), series.labels)
                        if key in where:  # the rest of a series a page boundary split
                            seen = out[where[key]]
                            out[where[key]] = replace(seen, points=tuple(sorted({*seen.points, *series.points})))
                            continue
                        if len(out) >= self.max_series:
                            return cut(index, f"{len(out)} of at least {len(out) + 1} series kept (limit: "
                                              f"{self.max_series} series per read)")
                        where[key] = len(out)
                        out.append(series)
                    if calls >= self.max_pages and page.next_page_token:
                        return cut(index, f"stopped after {calls} requests (limit: {self.max_pages} per read)")
                    if page.next_page_token and (unpaid := call_refused()):  # the next page is one more request
                        return cut(index, f"stopped after {calls} requests, the investigation's read budget is "
                                          f"spent ({unpaid})")
            except Exception as exc:  # one metric failing (a bad aligner, permissions, quota) costs that metric only
                message = str(getattr(exc, "message", "") or exc).replace("\n", " ")[:300]
                notes.append(f"metrics: {metric_type} not read ({type(exc).__name__}: {message})")
        return ReadResult(out, bool(notes), "; ".join(notes), ReadCost(api_calls=calls, billed_series=len(out)))

    @staticmethod
    def _series(metric_type: str, ts: Any, aligner: str, window: Window) -> MetricSeries | None:
        labels = dict(ts.resource.labels)
        system = getattr(getattr(ts, "metadata", None), "system_labels", None)  # a protobuf Struct
        key = "top_level_controller_name"  # the workload Monitoring names for GKE series
        controller = str(system[key]) if system is not None and key in system else ""
        service = (gke_service(labels, controller) or labels.get("service_name") or labels.get("container_name")
                   or labels.get("function_name") or "")
        instance = labels.get("pod_name") or labels.get("instance_id") or labels.get("revision_name") or ""
        points = []
        for p in ts.points:
            t, v = _ts(p.interval.end_time), point_value(p.value)
            if v is not None and math.isfinite(v) and window.contains(t):
                points.append((t, v))
        if not points:
            return None
        unit = str(ts.unit or "")
        if aligner == "ALIGN_RATE":
            unit = f"{unit}/s" if unit not in ("", "1") else "1/s"
        return MetricSeries(metric_type, service, tuple(sorted(points)), instance, unit,
                            tuple(sorted(dict(ts.metric.labels).items())))


def audit_filter(window: Window, services: list[str] | None = None) -> str:
    """Admin-activity audit logs of the window that change services; a GKE workload's are its cluster's audit logs
    of objects in its namespace (the reader keeps the workload's own)."""
    plain = [s for s in services or [] if split_gke(s) is None]
    base = build_filter(window, plain or None).replace('NOT logName:"cloudaudit.googleapis.com"',
                                                       'logName:"cloudaudit.googleapis.com%2Factivity"')
    gke = [g for s in services or [] if (g := split_gke(s)) is not None]
    if gke:
        scopes = [f"(resource.type = \"k8s_cluster\" AND resource.labels.cluster_name = {quote(c)} AND "
                  f"protoPayload.resourceName:{quote(f'namespaces/{ns}/')})" for c, ns, _ in gke]
        if plain:  # the plain services' clause is the filter's last: GKE workloads are alternatives to it
            head, _, clause = base.rpartition(" AND (")
            base = f"{head} AND ({clause[:-1]} OR {' OR '.join(scopes)})"
        else:
            base += " AND (" + " OR ".join(scopes) + ")"
    return base + (' AND protoPayload.methodName:("Service" OR "Revision" OR "Deployment" OR "StatefulSet" OR '
                   '"DaemonSet" OR "Scale" OR "Update")')


def decode_audit(entry: dict[str, Any]) -> ChangeEvent:
    """An audit-log LogEntry (JSON) as a change: who called which method on what, when."""
    labels = (entry.get("resource") or {}).get("labels") or {}
    proto = entry.get("protoPayload") or {}
    service = (audit_service(str(labels.get("cluster_name") or ""), str(proto.get("resourceName") or ""))
               or next((str(labels[k]) for k in ("service_name", "container_name", "function_name")
                        if labels.get(k)), ""))
    method = str(proto.get("methodName") or "")
    actor = str((proto.get("authenticationInfo") or {}).get("principalEmail") or "")
    return ChangeEvent(from_rfc3339(entry.get("timestamp") or entry["receiveTimestamp"]), service,
                       classify_method(method), f"{method} on {proto.get('resourceName') or service}", actor,
                       (("methodName", method),))


class GcpTelemetrySource:
    """The TelemetrySource for a project: each signal from its own API (any reader may be None: then empty)."""

    def __init__(self, project: str, logs: CloudLoggingLogReader | None = None,
                 traces: CloudTraceReader | None = None, metrics: CloudMonitoringReader | None = None,
                 log_aggregator: LogPatternCounter | None = None, graph: list[Dependency] | None = None,
                 outside: OutsideCauses | None = None, slos: SloReader | None = None):
        self.project, self._logs, self._traces, self._metrics = project, logs, traces, metrics
        self._outside = outside  # Google Cloud's incidents touching where the services run (Service Health)
        self.slo_reader = slos  # the SLOs of services (Cloud Monitoring's service monitoring API)
        # Cloud Trace shows only traced calls: a declared graph (AUTOSRE_SERVICE_GRAPH) adds managed dependencies
        self._graph = sorted(set(graph or ()), key=lambda d: (d.caller, d.callee))
        # With BigQuery / Log Analytics configured, the log analyst asks for counts, not lines.
        self.log_counter: LogPatternCounter | None = log_aggregator

    def describe(self) -> dict[str, str]:
        return {"source": "gcp", "project": self.project}

    def dependencies(self) -> ReadResult[Dependency]:
        return ReadResult(list(self._graph))

    def logs(self, window: Window, services: list[str] | None = None) -> ReadResult[LogRecord]:
        """Read by plan (shared/telemetry/log_plan.py): every WARNING-and-above entry, a sample of the rest."""
        if self._logs is None:
            return ReadResult([], note="no log reader")
        from shared.telemetry.log_plan import read_by_plan

        return read_by_plan(self._logs, window, services)

    def spans(self, window: Window, services: list[str] | None = None) -> ReadResult[Span]:
        return self._traces.spans(window, services) if self._traces else ReadResult([], note="no trace reader")

    def metrics(self, window: Window, services: list[str] | None = None) -> ReadResult[MetricSeries]:
        return self._metrics.metrics(window, services) if self._metrics else ReadResult([], note="no metric reader")

    def changes(self, window: Window, services: list[str] | None = None) -> ReadResult[ChangeEvent]:
        """Admin-activity audit logs of the window, through the log reader (its bounds, quota and retries)."""
        if self._logs is None:
            return ReadResult([], note="no log reader for audit logs")
        if services is not None and not services:
            return ReadResult([], note="changes: no services asked for")
        read = self._logs.read_entries(audit_filter(window, services), decode_audit, "changes")
        items = sorted((c for c in read.items if window.contains(c.timestamp)
                        and (services is None or c.service in services)), key=lambda c: c.timestamp)
        if self._outside is None:
            return ReadResult(items, read.sampled, read.note, read.cost)
        more = self._outside.changes(window, services)
        cost = ReadCost(read.cost.api_calls + more.cost.api_calls, read.cost.bytes_billed, read.cost.billed_series)
        return ReadResult(items + more.items, read.sampled or more.sampled,
                          "; ".join(n for n in (read.note, more.note) if n), cost)
