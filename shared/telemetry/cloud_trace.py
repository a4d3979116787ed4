"""Spans from Cloud Trace behind the `TelemetrySource` port: ListTraces (v1, COMPLETE view), page by page by token
within the bounds every read keeps (`bounds.py`), the project's ListTraces quota, a time budget and what is left of
the investigation's API-call budget (each page paid for before it is sent); a cut read says why."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from shared.read_deadline import time_left
from shared.read_limit import call_refused
from shared.telemetry.bounds import MAX_PAGES, MAX_RECORDS, sampled_by_trace
from shared.telemetry.cloud_logging import Quota, QuotaWaitExceeded, TokenBucket
from shared.telemetry_records import ReadCost, ReadResult, Span, Window
from shared.workloads import span_service

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
    service = span_service(labels) or next((labels[k] for k in SERVICE_LABELS if labels.get(k)), "")
    instance = next((labels[k] for k in INSTANCE_LABELS if labels.get(k)), "")
    status = labels.get("/http/status_code", "")
    error = (status.isdigit() and int(status) >= 500) or bool(labels.get("/error/message") or labels.get("error"))
    # Trace v1 ids are 64-bit integers; log entries name spans by the 16-hex-digit form (as Trace v2 does), so
    # spans are keyed by that form and a log line's spanId finds its span.
    return Span(trace_id=trace_id, span_id=span_hex(s.span_id), parent_id=span_hex(s.parent_span_id) if
                int(s.parent_span_id or 0) else "", service=service, name=str(s.name), start=_ts(s.start_time),
                end=_ts(s.end_time), instance=instance, error=error,
                status_message=labels.get("/error/message", "")[:500])


TRACE_PAGE_MAX = 100  # ListTraces, COMPLETE view: at most 100 traces a call (Cloud Trace quotas and limits)
# Cloud Trace's read quota: 300 units per 60 s per project, a ListTraces call spending 25 of them, so 12 calls a
# minute (https://cloud.google.com/trace/docs/quotas).
LIST_TRACES_PER_MINUTE = 12
_TRACE_QUOTAS: dict[str, TokenBucket] = {}
_TRACE_QUOTAS_LOCK = threading.Lock()


def trace_quota(project: str) -> TokenBucket:
    """The one ListTraces quota bucket of this process for `project` (every trace reader of it shares it)."""
    with _TRACE_QUOTAS_LOCK:
        return _TRACE_QUOTAS.setdefault(project, TokenBucket(rate=LIST_TRACES_PER_MINUTE))


class CloudTraceReader:
    """Spans through ListTraces (COMPLETE view, newest traces first), page by page by token until `max_spans` spans
    (`bounds.MAX_RECORDS`, the bundle's bound), `max_pages` requests or one time budget for the whole read (a
    function has a timeout), whichever comes first; a cut read says so. ListTraces hands over whole traces: a
    trace that would carry the read past `max_spans` is left out whole and the read stops there (whole traces kept,
    as the bundle keeps them). Each request waits for a token of the project's ListTraces quota (12 a minute;
    none in time for the first page: an empty read that says so, the specialist reporting without spans); a 429
    (RESOURCE_EXHAUSTED: other processes spent it) or 503 is retried with backoff within the budget."""

    def __init__(self, project: str, client: Any = None, page_size: int = TRACE_PAGE_MAX,
                 max_spans: int = MAX_RECORDS, max_pages: int = MAX_PAGES, timeout_s: float = 30.0,
                 budget_s: float = 90.0, clock: Callable[[], float] | None = None, quota: Quota | None = None,
                 retry_initial_s: float = 1.0):
        if not 1 <= page_size <= TRACE_PAGE_MAX:
            raise ValueError(f"page_size must be 1..{TRACE_PAGE_MAX} (ListTraces, COMPLETE view), not {page_size}")
        if max_spans < 1 or max_pages < 1 or timeout_s <= 0 or budget_s <= 0 or retry_initial_s <= 0:
            raise ValueError("max_spans, max_pages, timeout_s, budget_s and retry_initial_s must be positive")
        if client is None:
            from google.cloud import trace_v1

            client = trace_v1.TraceServiceClient()
        if quota is None:  # the process's bucket for the project, or one of its own on an injected clock
            quota = trace_quota(project) if clock is None else TokenBucket(rate=LIST_TRACES_PER_MINUTE, clock=clock)
        self.project, self.client, self.quota = project, client, quota
        self.clock = clock or quota.clock
        self.page_size, self.max_spans, self.max_pages = page_size, max_spans, max_pages
        self.timeout_s, self.budget_s, self.retry_initial_s = timeout_s, budget_s, retry_initial_s

    def _page(self, request: Any, deadline: float) -> Any:
        """One ListTraces response (the first page of the pager the client returns: its own page following is not
        used, the token is), after a quota token; 429 and 503 retried within what is left of the budget."""
        from google.api_core.exceptions import ServiceUnavailable, TooManyRequests
        from google.api_core.retry import Retry, if_exception_type

        if not self.quota.acquire(deadline):
            raise QuotaWaitExceeded(f"no ListTraces quota ({LIST_TRACES_PER_MINUTE}/min for project "
                                    f"{self.project}) within the time budget of {self.budget_s:g} s")
        remaining = max(deadline - self.clock(), 0.001)
        retry = Retry(predicate=if_exception_type(TooManyRequests, ServiceUnavailable),  # 429 (REST or gRPC), 503
                      initial=self.retry_initial_s, maximum=max(self.retry_initial_s, 32.0), multiplier=2.0,
                      timeout=remaining)
        pager = self.client.list_traces(request=request, retry=retry, timeout=min(self.timeout_s, remaining))
        return getattr(pager, "_response", pager)

    def spans(self, window: Window, services: list[str] | None = None) -> ReadResult[Span]:
        """Spans starting in the window: ListTraces hands over whole traces, whose spans may start outside it."""
        from google.cloud import trace_v1

        if services is not None and not services:
            return ReadResult([], note="traces: no services asked for")
        request = trace_v1.ListTracesRequest(
            project_id=self.project, view=trace_v1.ListTracesRequest.ViewType.COMPLETE, page_size=self.page_size,
            start_time=_dt(window.start), end_time=_dt(window.end), order_by="start desc")
        deadline = self.clock() + time_left(self.budget_s)  # or the run's shared deadline
        spans: list[Span] = []
        traces = 0

        def stopped(why: str, pages: int, note: str = "") -> ReadResult[Span]:
            head = note or f"spans: stopped after {len(spans)} spans of {traces} traces, newest first ({why})"
            return ReadResult(self._sorted(spans), True, f"{head}; earlier traces of the window are unread",
                              ReadCost(api_calls=pages))

        for page in range(1, self.max_pages + 1):
            if page > 1 and self.clock() >= deadline:
                return stopped(f"time budget of {self.budget_s:g} s spent", page - 1)
            unpaid = call_refused()  # no request the investigation's API-call budget cannot pay for
            if unpaid and page == 1:
                return ReadResult([], True, f"spans: none read, the investigation's read budget is spent ({unpaid})")
            if unpaid:
                return stopped(f"the investigation's read budget is spent: {unpaid}", page - 1)
            try:
                response = self._page(request, deadline)
            except Exception as exc:  # a later page failing or out of quota: keep what was read, say so
                if page == 1 and isinstance(exc, QuotaWaitExceeded):  # other readers spent the project's quota
                    return ReadResult([], True, f"spans: none read ({exc}); the window's traces are unread")
                if page == 1:
                    raise
                late = self.clock() >= deadline or isinstance(exc, QuotaWaitExceeded)
                why = (f"time budget of {self.budget_s:g} s spent" if late else
                       f"page {page} failed: {type(exc).__name__}")
                return stopped(why, page - 1)
            listed = [[s for s in (trace_span(t.trace_id, s) for s in t.spans)  # each trace's spans of the read
                       if window.contains(s.start) and (services is None or s.service in services)]
                      for t in response.traces]
            for index, kept in enumerate(listed):
                if len(spans) + len(kept) > self.max_spans:  # the whole trace is left out, and the read stops
                    seen = len(spans) + sum(map(len, listed[index:]))
                    return stopped("", page, sampled_by_trace("spans", len(spans), seen, exact=False)
                                   + f", newest first (limit: {self.max_spans} spans per read)")
                spans += kept
                traces += 1
            token = response.next_page_token
            if not token:
                return ReadResult(self._sorted(spans), cost=ReadCost(api_calls=page))
            request.page_token = token
        return stopped(f"limit: {self.max_pages} pages of {self.page_size} traces", self.max_pages)

    @staticmethod
    def _sorted(spans: list[Span]) -> list[Span]:
        return sorted(spans, key=lambda s: s.start)
