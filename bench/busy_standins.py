"""Stand-ins of Cloud Logging, Cloud Trace and Cloud Monitoring on a simulated clock, for the busy-project bench
(bench/busy_project.py): each serves a telemetry bundle with the API's documented page limits, page tokens and
per-project read quota (a call past the quota answers 429), and every call advances the clock by a per-call
latency instead of sleeping.

Quotas (per project, rolling 60 s):
- Cloud Logging entries.list: 60 read requests a minute; pageSize above 1000 is refused
  (https://cloud.google.com/logging/quotas, "Read requests").
- Cloud Trace ListTraces: 300 read quota units per 60 s, a ListTraces call consuming 25, so 12 calls a minute; at
  most 100 traces a call in the COMPLETE view (https://cloud.google.com/trace/docs/quotas).
- Cloud Monitoring timeSeries.list: 6,000 time-series queries a minute (https://cloud.google.com/monitoring/quotas);
  at most 100,000 points a page (monitoring_v3 ListTimeSeriesRequest.page_size).

Latencies are not documented by Google: the values below are assumed typical figures for a page of that size from
a function in the same region (entries.list 0.4 s plus 0.4 ms an entry returned; ListTraces 0.5 s plus 5 ms a
trace; ListTimeSeries 0.3 s a page; a 429 answers in 0.05 s). They are parameters, not measurements.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.telemetry.bundle import from_rfc3339

LOGGING_READS_PER_MINUTE = 60
LIST_TRACES_PER_MINUTE = 12
TIME_SERIES_QUERIES_PER_MINUTE = 6000
LOGGING_PAGE_MAX = 1000
TRACES_PAGE_MAX = 100
POINTS_PAGE_MAX = 100_000
THROTTLED_S = 0.05
GAUGE_NUMBER_ALIGNERS = ("ALIGN_NONE", "ALIGN_MEAN", "ALIGN_MIN", "ALIGN_MAX", "ALIGN_INTERPOLATE", "ALIGN_NEXT_OLDER")


@dataclass(frozen=True)
class Latency:
    logging_s: float = 0.4
    logging_per_entry_s: float = 0.0004
    trace_s: float = 0.5
    trace_per_trace_s: float = 0.005
    monitoring_s: float = 0.3


class VirtualClock:
    """Simulated seconds: `sleep` and every stand-in call advance it; nothing waits for real.

    `together(jobs)` runs jobs at once (a discrete-event simulation on threads): each has its own timeline from
    now, and only the job whose timeline is earliest runs, until it sleeps; so the jobs meet the quotas and the
    store in the order their simulated calls happen, one at a time."""

    def __init__(self, start: float = 0.0):
        self.now = start  # the timeline outside `together`
        self._cond = threading.Condition()
        self._times: dict[int, float] = {}  # job -> its timeline, while jobs run together
        self._local = threading.local()

    def __call__(self) -> float:
        key = getattr(self._local, "key", None)
        return self._times[key] if key is not None else self.now

    def sleep(self, seconds: float) -> None:
        key = getattr(self._local, "key", None)
        with self._cond:
            if key is None:
                self.now += max(0.0, seconds)
                return
            self._times[key] += max(0.0, seconds)
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._turn(key))

    def _turn(self, key: int) -> bool:
        return min(self._times, key=lambda k: (self._times[k], k)) == key

    def together(self, jobs: list[Callable[[], None]]) -> list[float]:
        """Run `jobs` at once from now; returns when each ended (the clock then stands at the last end)."""
        ends = [self.now] * len(jobs)
        with self._cond:
            self._times = {i: self.now for i in range(len(jobs))}

        def run(i: int) -> None:
            self._local.key = i
            with self._cond:
                self._cond.wait_for(lambda: self._turn(i))
            try:
                jobs[i]()
            finally:
                with self._cond:
                    ends[i] = self._times.pop(i)
                    self._cond.notify_all()
                self._local.key = None

        threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(jobs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.now = max(ends, default=self.now)
        return ends


@dataclass
class Tally:
    """API calls and 429s, per specialist (`current`: the one running on this thread)."""

    local: threading.local = field(default_factory=threading.local)
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    throttled: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def current(self) -> str:
        return str(getattr(self.local, "name", ""))

    @current.setter
    def current(self, name: str) -> None:
        self.local.name = name


class RollingQuota:
    """`rate` calls per rolling `per` seconds on `clock`: the server's side of a per-project quota."""

    def __init__(self, rate: int, clock: VirtualClock, per: float = 60.0):
        self.rate, self.clock, self.per = rate, clock, per
        self._calls: deque[float] = deque()

    def admit(self) -> bool:
        now = self.clock()
        while self._calls and self._calls[0] <= now - self.per:
            self._calls.popleft()
        if len(self._calls) >= self.rate:
            return False
        self._calls.append(now)
        return True


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    if path.exists():
        with path.open() as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


class Served:
    """What the APIs hold for the project: a bundle's logs, audit logs, spans and series, read once."""

    def __init__(self, bundle: Path, clock: VirtualClock, tally: Tally, latency: Latency = Latency()):
        self.clock, self.tally, self.latency = clock, tally, latency
        self.entries = [*_lines(bundle / "logs.jsonl"), *_lines(bundle / "changes.jsonl")]
        for e in self.entries:
            e["_t"] = from_rfc3339(e.get("timestamp") or e["receiveTimestamp"])
        traces: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for s in _lines(bundle / "spans.jsonl"):
            traces[s["name"].split("/traces/")[1].split("/")[0]].append(s)
        self.traces = sorted(((min(from_rfc3339(s["startTime"]) for s in spans), tid, spans)
                              for tid, spans in traces.items()), reverse=True)  # newest first
        self.series = list(_lines(bundle / "metrics.jsonl"))

    def call(self, quota: RollingQuota, latency_s: float) -> bool:
        """One API call: its latency on the clock, or a quick 429 past the quota (False)."""
        self.tally.calls[self.tally.current] += 1
        if not quota.admit():
            self.tally.throttled[self.tally.current] += 1
            self.clock.sleep(THROTTLED_S)
            return False
        self.clock.sleep(latency_s)
        return True


class _Connection:
    def __init__(self, api: LoggingStandIn):
        self.api = api

    def api_request(self, method: str, path: str, data: dict[str, Any], timeout: float) -> dict[str, Any]:
        return self.api.entries_list(method, path, data, timeout)


class LoggingStandIn:
    """google-cloud-logging's Client as the reader uses it: `_connection.api_request` POST /entries:list."""

    def __init__(self, served: Served, parse: Callable[[str], Callable[[dict[str, Any]], bool]]):
        self.served, self.parse = served, parse
        self.quota = RollingQuota(LOGGING_READS_PER_MINUTE, served.clock)
        self._matches: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._connection = _Connection(self)

    def entries_list(self, method: str, path: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        from google.api_core.exceptions import BadRequest, GatewayTimeout, TooManyRequests

        if method != "POST" or path != "/entries:list" or not body.get("resourceNames"):
            raise BadRequest("entries.list: POST /entries:list with resourceNames")  # type: ignore[no-untyped-call]
        size = int(body.get("pageSize") or 50)
        if not 0 < size <= LOGGING_PAGE_MAX:
            raise BadRequest(f"pageSize {size}: at most {LOGGING_PAGE_MAX}")  # type: ignore[no-untyped-call]
        order = body.get("orderBy") or "timestamp asc"
        if order not in ("timestamp asc", "timestamp desc"):
            raise BadRequest(f"orderBy {order!r}")  # type: ignore[no-untyped-call]
        key = (str(body.get("filter") or ""), order)
        token = str(body.get("pageToken") or "")
        offset = 0
        if token:
            head, _, at = token.rpartition(":")
            if head != str(hash(key)) or not at.isdigit():
                raise BadRequest("invalid page token")  # type: ignore[no-untyped-call]
            offset = int(at)
        if key not in self._matches:
            keep = self.parse(key[0])
            self._matches[key] = sorted((e for e in self.served.entries if keep(e)), key=lambda e: e["_t"],
                                        reverse=order.endswith("desc"))
        page = self._matches[key][offset:offset + size]
        latency = self.served.latency.logging_s + self.served.latency.logging_per_entry_s * len(page)
        if latency > timeout:
            self.served.clock.sleep(timeout)
            raise GatewayTimeout("entries.list: deadline exceeded")  # type: ignore[no-untyped-call]
        if not self.served.call(self.quota, latency):
            raise TooManyRequests("RESOURCE_EXHAUSTED: read requests per minute per project")  # type: ignore[no-untyped-call]
        reply: dict[str, Any] = {"entries": [{k: v for k, v in e.items() if k != "_t"} for e in page]}
        if offset + size < len(self._matches[key]):
            reply["nextPageToken"] = f"{hash(key)}:{offset + size}"
        return reply


def _with_retry(served: Served, retry: Any, call: Callable[[], Any]) -> Any:
    """What a GAPIC client does with the `retry` it is given, on the simulated clock: retry the call while the
    predicate holds, backing off exponentially, until the retry's timeout."""
    from google.api_core.exceptions import RetryError

    began, delay = served.clock(), float(getattr(retry, "_initial", 1.0))
    while True:
        try:
            return call()
        except Exception as exc:
            predicate = getattr(retry, "_predicate", None)
            timeout = getattr(retry, "_timeout", None)
            if predicate is None or not predicate(exc):
                raise
            if timeout is not None and served.clock() + delay - began > timeout:
                raise RetryError(f"retry timeout of {timeout:g} s exceeded", exc) from exc  # type: ignore[no-untyped-call]
            served.clock.sleep(delay)
            delay = min(delay * float(getattr(retry, "_multiplier", 2.0)), float(getattr(retry, "_maximum", 60.0)))


class TraceStandIn:
    """trace_v1.TraceServiceClient.list_traces (COMPLETE view, `start desc`), whole traces by start time."""

    def __init__(self, served: Served):
        self.served = served
        self.quota = RollingQuota(LIST_TRACES_PER_MINUTE, served.clock)

    def list_traces(self, request: Any, retry: Any = None, timeout: float | None = None) -> Any:
        return _with_retry(self.served, retry, lambda: self._once(request))

    def _once(self, request: Any) -> Any:
        from google.api_core.exceptions import InvalidArgument, TooManyRequests
        from google.cloud import trace_v1

        if request.order_by not in ("", "trace_id", "name", "name desc", "start", "start desc", "duration",
                                    "duration desc"):
            raise InvalidArgument(f"order_by {request.order_by!r}")  # type: ignore[no-untyped-call]
        size = min(int(request.page_size or TRACES_PAGE_MAX), TRACES_PAGE_MAX)  # the server returns at most 100
        start, end = request.start_time.timestamp(), request.end_time.timestamp()
        offset = int(request.page_token or 0)
        listed = [t for t in self.served.traces if start <= t[0] < end]
        page = listed[offset:offset + size]
        if not self.served.call(self.quota, self.served.latency.trace_s
                                + self.served.latency.trace_per_trace_s * len(page)):
            raise TooManyRequests("RESOURCE_EXHAUSTED: ListTraces quota units per minute per project")  # type: ignore[no-untyped-call]
        traces = [trace_v1.Trace(project_id=request.project_id, trace_id=tid, spans=[_span(s) for s in spans])
                  for _, tid, spans in page]
        more = offset + size < len(listed)
        return trace_v1.ListTracesResponse(traces=traces, next_page_token=str(offset + size) if more else "")


def _span(s: dict[str, Any]) -> Any:
    from google.cloud import trace_v1

    attrs = {k: v["stringValue"]["value"] for k, v in (s.get("attributes") or {}).get("attributeMap", {}).items()
             if "stringValue" in v}
    status = s.get("status") or {}
    if int(status.get("code") or 0):
        attrs["/error/message"] = str(status.get("message") or "error")
    return trace_v1.TraceSpan(span_id=int(s["spanId"], 16), name=s["displayName"]["value"],
                              start_time=_dt(from_rfc3339(s["startTime"])), end_time=_dt(from_rfc3339(s["endTime"])),
                              parent_span_id=int(s["parentSpanId"], 16) if s.get("parentSpanId") else 0,
                              labels=attrs)


@dataclass
class _Page:
    time_series: list[Any]
    next_page_token: str


class _Pager:
    def __init__(self, pages: Iterator[_Page]):
        self.pages = pages


class MonitoringStandIn:
    """monitoring_v3.MetricServiceClient.list_time_series: a series of the filter's metric type and services, its
    points inside (start, end], paged by points; each page is one request (quota and latency). The bundle's series
    are GAUGE numbers a minute apart, so ALIGN_MEAN (or ALIGN_NONE) over 60 s serves their points as they are; an
    aligner that does not fit a GAUGE number is refused (INVALID_ARGUMENT), as the API refuses it."""

    def __init__(self, served: Served):
        self.served = served
        self.quota = RollingQuota(TIME_SERIES_QUERIES_PER_MINUTE, served.clock)

    def list_time_series(self, request: Any, retry: Any = None, timeout: float | None = None) -> Any:
        import re

        from google.api_core.exceptions import InvalidArgument
        from google.cloud import monitoring_v3

        aligner = monitoring_v3.Aggregation.Aligner(request.aggregation.per_series_aligner).name
        if aligner not in GAUGE_NUMBER_ALIGNERS:
            raise InvalidArgument(f"aligner {aligner} does not fit a GAUGE number")  # type: ignore[no-untyped-call]
        metric = re.search(r'metric\.type = "([^"]+)"', request.filter)
        services = set(re.findall(r'resource\.labels\.\w+ = "([^"]+)"', request.filter))
        start, end = request.interval.start_time.timestamp(), request.interval.end_time.timestamp()
        chosen = [s for s in self.served.series if metric and s["metric"]["type"] == metric.group(1)
                  and (not services or set(s["resource"]["labels"].values()) & services)]
        size = min(int(request.page_size or POINTS_PAGE_MAX), POINTS_PAGE_MAX)
        return _Pager(self._pages(chosen, start, end, size, retry))

    def _pages(self, chosen: list[dict[str, Any]], start: float, end: float, size: int, retry: Any) -> Iterator[_Page]:
        from google.api_core.exceptions import TooManyRequests
        from google.cloud import monitoring_v3

        out: list[Any] = []
        points = 0

        def page(token: str) -> _Page:
            def once() -> _Page:
                if not self.served.call(self.quota, self.served.latency.monitoring_s):
                    raise TooManyRequests("RESOURCE_EXHAUSTED: time series queries per minute per project")  # type: ignore[no-untyped-call]
                return _Page(list(out), token)
            return _with_retry(self.served, retry, once)  # type: ignore[no-any-return]

        for i, s in enumerate(chosen):
            kept = [p for p in s["points"] if start < from_rfc3339(p["interval"]["endTime"]) <= end]
            if not kept:
                continue
            if points + len(kept) > size and out:
                yield page(str(i))
                out, points = [], 0
            out.append(monitoring_v3.TimeSeries(
                metric={"type": s["metric"]["type"], "labels": s["metric"].get("labels") or {}},
                resource={"type": s["resource"]["type"], "labels": s["resource"]["labels"]},
                metric_kind=s["metricKind"], value_type=s["valueType"], unit=s.get("unit") or "",
                points=[{"interval": {"end_time": _dt(from_rfc3339(p["interval"]["endTime"]))},
                         "value": {"double_value": float(p["value"].get("doubleValue",
                                                                        p["value"].get("int64Value", 0)))}}
                        for p in kept]))
            points += len(kept)
        yield page("")
