"""Log lines from Cloud Logging (entries.list): a filter built safely, paginated, bounded, sampling said.

At fleet scale a function must not pull millions of lines: a read follows page tokens until `max_entries` entries
(`bounds.MAX_RECORDS`, the bundle's bound), `max_pages` requests (`bounds.MAX_PAGES`) or `timeout_s` seconds,
whichever comes first, and the result says so (`ReadResult.sampled`). For pattern statistics over whole fleets,
pre-aggregate in BigQuery / Log Analytics instead (`bigquery_logs.py`).

A window is read newest first (`timestamp desc`), so when a bound cuts a busy project's read the lines kept are
the ones nearest the alert, not the window's quiet start; the result is handed back oldest first. A read cut by
`max_entries` keeps whole traces as the bundle does: the lines of a trace that also has lines past the cut (in the
page that crossed it) are left out with them, and the note says "N of at least M sampled by trace".

entries.list allows 60 requests a minute per project. Every read of a process takes a token from one bucket per
project (`project_quota`) before each request; a 429 (RESOURCE_EXHAUSTED: other processes spent the quota) is
retried with exponential backoff, a bounded number of times within the read's time budget.

The pages are requested through the client's own authorised JSON connection (the same call google-cloud-logging's
`list_entries` makes) rather than its entry generator: the generator hides the page token, follows empty pages
without end (entries.list may answer a page with no entries and a token) and takes no timeout. Entries arrive as
LogEntry JSON and are converted exactly as the telemetry bundle's are (`bundle.decode_log`).
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from shared.read_deadline import time_left
from shared.read_limit import call_refused, records_allowed
from shared.telemetry.bounds import MAX_PAGES, MAX_RECORDS, sampled_by_trace
from shared.telemetry.bundle import decode_log, to_rfc3339
from shared.telemetry_records import LogRecord, ReadCost, ReadResult, Window
from shared.workloads import split_gke

SERVICE_LABELS = ("service_name", "container_name", "function_name")
# The monitored-resource types whose logs name a service, and the label that carries the name (Cloud Logging's
# monitored resource list): a filter scoped this way is served from the resource's index, not a project-wide scan.
SERVICE_RESOURCES = (("cloud_run_revision", "service_name"), ("k8s_container", "container_name"),
                     ("cloud_function", "function_name"))
SEVERITIES = ("DEFAULT", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT", "EMERGENCY")
INSTANCE_LABELS = ("pod_name", "instance_id", "revision_name")
EXCLUDE_AUDIT_LOGS = 'NOT logName:"cloudaudit.googleapis.com"'
MAX_FILTER_CHARS = 20_000  # the API refuses longer filters
MAX_PAGE_SIZE = 1000  # entries.list pageSize: "If the value is negative or exceeds 1000, the request is rejected."
READS_PER_MINUTE = 60  # entries.list requests per minute per project (Cloud Logging's read quota)
T = TypeVar("T")


def quote(value: str) -> str:
    """A string literal of the Logging query language; control characters are refused, not escaped."""
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise ValueError(f"control character in filter value {value[:40]!r}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def service_scopes(service: str) -> list[str]:
    """The resource-scoped filters that select one service's logs: a GKE workload ("cluster/namespace/workload")
    by its cluster, namespace and its pods' names (shared/workloads.py), any other name by the label of each
    resource type that carries it."""
    gke = split_gke(service)
    if gke is not None:
        cluster, namespace, workload = gke
        pods = "^" + re.escape(workload) + "(-|$)"  # the workload's generated pod names (RE2)
        return [f"(resource.type = \"k8s_container\" AND resource.labels.cluster_name = {quote(cluster)} AND "
                f"resource.labels.namespace_name = {quote(namespace)} AND resource.labels.pod_name =~ {quote(pods)})"]
    return [f"(resource.type = {quote(rtype)} AND resource.labels.{label} = {quote(service)})"
            for rtype, label in SERVICE_RESOURCES]


def build_filter(window: Window, services: list[str] | None = None, severity: str = "") -> str:
    """Application logs of the window (start inclusive, end exclusive), of any of `services` when given, each
    scoped to the resource type that carries its name (SERVICE_RESOURCES), and of `severity` when given
    (">= WARNING", "< WARNING")."""
    parts = [f"timestamp >= {quote(to_rfc3339(window.start))}", f"timestamp < {quote(to_rfc3339(window.end))}",
             EXCLUDE_AUDIT_LOGS]
    if severity:
        op, _, level = severity.partition(" ")
        if op not in (">=", "<", ">", "<=", "=") or level not in SEVERITIES:
            raise ValueError(f"not a severity comparison: {severity!r}")
        parts.append(f"severity {op} {level}")
    if services:
        parts.append("(" + " OR ".join(alt for s in services for alt in service_scopes(s)) + ")")
    text = " AND ".join(parts)
    if len(text) > MAX_FILTER_CHARS:
        raise ValueError(f"log filter of {len(text)} characters (API limit {MAX_FILTER_CHARS}): ask for fewer services")
    return text


def _decode(entry: dict[str, Any]) -> LogRecord:
    if "timestamp" not in entry and "receiveTimestamp" in entry:
        entry = {**entry, "timestamp": entry["receiveTimestamp"]}
    return decode_log(entry)


class QuotaWaitExceeded(RuntimeError):
    """No read-quota token could be had within the read's time budget."""


class Quota(Protocol):
    """A read quota: `acquire(deadline)` takes a request's allowance, waiting while the wait ends by `deadline` on
    the quota's own `clock`. TokenBucket counts one process; shared/quota.py StoreQuota every instance."""

    clock: Callable[[], float]
    sleep: Callable[[float], None]

    def acquire(self, deadline: float) -> bool: ...


class TokenBucket:
    """`rate` requests per `per` seconds: a bucket of `rate` tokens where each token spent comes back `per` seconds
    later, so no rolling minute ever holds more than `rate` requests (a bucket refilling a token a second on top of
    a full burst would let through nearly twice the quota). Thread-safe; the clock and sleep are injectable so
    tests run minutes of quota in no time."""

    def __init__(self, rate: int = READS_PER_MINUTE, per: float = 60.0,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        if rate < 1 or per <= 0:
            raise ValueError("rate and per must be positive")
        self.rate, self.per, self.clock, self.sleep = rate, per, clock, sleep
        self._spent: deque[float] = deque()  # when each token out was spent, oldest first
        self._lock = threading.Lock()

    def acquire(self, deadline: float) -> bool:
        """Take a token, waiting for one while the wait ends by `deadline` (on this bucket's clock)."""
        while True:
            with self._lock:
                now = self.clock()
                while self._spent and self._spent[0] <= now - self.per:
                    self._spent.popleft()
                if len(self._spent) < self.rate:
                    self._spent.append(now)
                    return True
                wait = self._spent[0] + self.per - now
            if now + wait > deadline:
                return False
            self.sleep(wait)


_QUOTAS: dict[str, TokenBucket] = {}
_QUOTAS_LOCK = threading.Lock()


def project_quota(project: str) -> TokenBucket:
    """The one read-quota bucket of this process for `project` (every reader of the project shares it)."""
    with _QUOTAS_LOCK:
        return _QUOTAS.setdefault(project, TokenBucket())


class CloudLoggingLogReader:
    """Reads application logs for a window, newest first; the client is google-cloud-logging's `Client`."""

    def __init__(self, project: str, client: Any = None, page_size: int = MAX_PAGE_SIZE,
                 max_entries: int = MAX_RECORDS, max_pages: int = MAX_PAGES, timeout_s: float = 120.0,
                 quota: Quota | None = None, max_attempts: int = 7, backoff_s: float = 1.0,
                 max_backoff_s: float = 32.0):
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}, not {page_size}")
        if max_entries < 1 or max_pages < 1 or timeout_s <= 0 or max_attempts < 1 or backoff_s <= 0:
            raise ValueError("max_entries, max_pages, timeout_s, max_attempts and backoff_s must be positive")
        if client is None:
            from google.cloud import logging as cloud_logging

            client = cloud_logging.Client(project=project)  # type: ignore[no-untyped-call]
        self.project, self.client = project, client
        self.page_size, self.max_entries, self.max_pages, self.timeout_s = page_size, max_entries, max_pages, timeout_s
        self.quota = quota if quota is not None else project_quota(project)
        self.max_attempts, self.backoff_s, self.max_backoff_s = max_attempts, backoff_s, max_backoff_s

    def _page(self, body: dict[str, Any], deadline: float) -> dict[str, Any]:
        """One entries.list call after a quota token; transient errors (429, 5xx, connection) are retried with
        exponential backoff (1, 2, 4 ... 32 s: seven tries outlast the minute the quota counts), at most
        `max_attempts` tries and never past the time budget."""
        from google.api_core.retry import if_transient_error

        clock, delay = self.quota.clock, self.backoff_s
        for attempt in range(1, self.max_attempts + 1):
            if not self.quota.acquire(deadline):
                raise QuotaWaitExceeded(f"no entries.list quota ({READS_PER_MINUTE}/min for project "
                                        f"{self.project}) within the time budget of {self.timeout_s:g} s")
            try:
                reply = self.client._connection.api_request(
                    method="POST", path="/entries:list", data=body, timeout=max(deadline - clock(), 0.001))
                return reply if isinstance(reply, dict) else {}
            except Exception as exc:
                if not if_transient_error(exc) or attempt == self.max_attempts or clock() + delay >= deadline:
                    raise
                self.quota.sleep(delay)
                delay = min(delay * 2, self.max_backoff_s)
        raise AssertionError("unreachable")  # pragma: no cover

    def logs(self, window: Window, services: list[str] | None = None, severity: str = "",
             max_entries: int | None = None) -> ReadResult[LogRecord]:
        """Entries of the window (of `services` when given; an empty list asks for none; of `severity`, e.g.
        ">= WARNING", when given), oldest first; when a bound cuts the read (`max_entries`, default the reader's),
        the newest entries are the ones kept. shared/telemetry/log_plan.py reads a busy window by plan with it."""
        if services is not None and not services:
            return ReadResult([], note="logs: no services asked for")
        read = self.read_entries(build_filter(window, services, severity), _decode, "logs", max_entries=max_entries)
        items = sorted((r for r in read.items if window.contains(r.timestamp)
                        and (services is None or r.service in services)), key=lambda r: r.timestamp)
        return ReadResult(items, read.sampled, read.note, read.cost)

    def read_entries(self, filter_: str, decode: Callable[[dict[str, Any]], T], what: str,
                     time_of: Callable[[T], float] | None = None, max_entries: int | None = None) -> ReadResult[T]:
        """Entries matching `filter_`, newest first, decoded; bounded by entries (`max_entries`, default the
        reader's), pages and time, said so."""
        limit = self.max_entries if max_entries is None else max_entries
        when: Callable[[T], float] = time_of or (lambda item: float(getattr(item, "timestamp", 0.0)))
        max_entries = records_allowed(limit)  # or what is left of the investigation's budget
        body: dict[str, Any] = {"resourceNames": [f"projects/{self.project}"], "filter": filter_,
                                "orderBy": "timestamp desc", "pageSize": max(1, min(self.page_size, max_entries))}
        budget = time_left(self.timeout_s)  # its own budget, or what is left of the run's shared deadline
        deadline = self.quota.clock() + budget
        items: list[T] = []

        def stopped(why: str, pages: int) -> ReadResult[T]:  # pages: entries.list pages answered (API calls)
            reached = f"; read back to {to_rfc3339(min(map(when, items)))}" if items else ""
            return ReadResult(items, True, f"{what}: stopped after {len(items)} entries, newest first ({why})"
                                           f"{reached}; earlier entries of the window are unread",
                              ReadCost(api_calls=pages))

        for page in range(1, self.max_pages + 1):
            out_of_time = f"time budget: {budget:g} s, {page - 1} pages"
            if page > 1 and self.quota.clock() >= deadline:
                return stopped(out_of_time, page - 1)
            unpaid = call_refused()  # no request the investigation's API-call budget cannot pay for
            if unpaid:
                return stopped(f"the investigation's read budget is spent: {unpaid}", page - 1)
            try:
                reply = self._page(body, deadline)
            except QuotaWaitExceeded:
                if page == 1:
                    raise
                return stopped(f"read quota: {READS_PER_MINUTE} requests/min for the project", page - 1)
            except Exception as exc:  # a later page failing or running out of time: keep what was read, say so
                if page == 1:
                    raise
                late = self.quota.clock() >= deadline
                return stopped(out_of_time if late else f"page {page} failed: {type(exc).__name__}", page - 1)
            entries = reply.get("entries") or []
            room = max_entries - len(items)
            decoded = [decode(e) for e in entries]
            items.extend(decoded[:room])
            token = reply.get("nextPageToken") or ""
            if len(entries) > room or (token and len(items) >= max_entries):
                return self._cut(items, decoded[room:], bool(token), what, when, page, max_entries)
            if not token:
                return ReadResult(items, cost=ReadCost(api_calls=page))
            body["pageToken"] = token
        return stopped(f"limit: {self.max_pages} pages of {self.page_size}", self.max_pages)

    def _cut(self, items: list[T], past: list[T], more: bool, what: str, when: Callable[[T], float],
             pages: int, max_entries: int) -> ReadResult[T]:
        """A read cut by `max_entries`: `items` read newest first, `past` the entries of the last page beyond the
        bound, `more` whether a next page was named. The lines of a trace that has lines in `past` are left out too
        (whole traces kept, as the bundle keeps them); records without a trace are kept by their time alone."""
        cut = {str(getattr(i, "trace_id", "") or "") for i in past} - {""}
        kept = [i for i in items if str(getattr(i, "trace_id", "") or "") not in cut]
        seen = len(items) + len(past)
        by_trace = any(hasattr(i, "trace_id") for i in items[:1] + past[:1])
        head = (sampled_by_trace(what, len(kept), seen, exact=not more) if by_trace else
                f"{what}: {len(kept)} of {seen if not more else f'at least {seen}'} kept")
        reached = f"; read back to {to_rfc3339(min(map(when, kept)))}" if kept else ""
        return ReadResult(kept, True, f"{head}, newest first{reached}; earlier entries of the window are unread "
                                      f"(limit: {max_entries} entries per read)", ReadCost(api_calls=pages))
