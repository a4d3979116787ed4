"""The Cloud Logging reader against a local stand-in for entries.list (the real client, REST transport).

The stand-in answers as the API does (the REST reference of entries.list and google-cloud-logging's
`ListLogEntriesRequest`): with `entries` it applies the filter's time bounds, services and log kind, `orderBy`,
`pageSize` (default 50; "If the value is negative or exceeds 1000, the request is rejected": 400 INVALID_ARGUMENT)
and page tokens (opaque, valid only for the query that issued them: any other is a 400); and past 60 requests a
minute (of its clock) it answers 429 RESOURCE_EXHAUSTED, Cloud Logging's read quota per project. The filter is
evaluated as the Logging query language reads it (tests/logging_filter.py: severity levels, resource.type and
labels, AND/OR/NOT, parentheses): a filter it cannot parse is a 400, as the API's is."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shared.telemetry.bundle import from_rfc3339
from shared.telemetry.cloud_logging import (
    READS_PER_MINUTE,
    CloudLoggingLogReader,
    QuotaWaitExceeded,
    TokenBucket,
    build_filter,
    project_quota,
)
from shared.telemetry_records import LogRecord, Window
from tests.http_stub import serve
from tests.logging_filter import FilterError, parse

pytest.importorskip("google.cloud.logging")

WINDOW = Window(1_768_470_000.0, 1_768_470_600.0)  # 2026-01-15T09:40:00Z .. 09:50:00Z
FILTER = ('timestamp >= "2026-01-15T09:40:00.000000Z" AND timestamp < "2026-01-15T09:50:00.000000Z" AND '
          'NOT logName:"cloudaudit.googleapis.com" AND ((resource.type = "cloud_run_revision" AND '
          'resource.labels.service_name = "payment") OR (resource.type = "k8s_container" AND '
          'resource.labels.container_name = "payment") OR (resource.type = "cloud_function" AND '
          'resource.labels.function_name = "payment"))')
QUOTA_EXCEEDED = {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": (
    "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute' of service "
    "'logging.googleapis.com' for consumer 'project_number:123456789'.")}}
SERVICE_LABELS = ("service_name", "container_name", "function_name")


def entry(i: int, service: str = "payment") -> dict[str, Any]:
    return {"logName": "projects/p/logs/stdout", "timestamp": f"2026-01-15T09:{40 + i // 60}:{i % 60:02d}.5Z",
            "severity": "ERROR" if i % 2 else "INFO", "insertId": f"id{i}",
            "resource": {"type": "k8s_container", "labels": {"container_name": service, "pod_name": f"{service}-0"}},
            "textPayload": f"charge failed for order {i}", "trace": f"projects/p/traces/t{i // 2:04d}",
            "spanId": f"s{i}"}  # two lines a trace


class FakeClock:
    """Time shared by the stand-in and a reader's quota bucket: sleeping advances it, at once."""

    def __init__(self, now: float = 1000.0):
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Api:
    """entries.list. With `entries` set, served the way the API serves them (see the module's docstring); else
    `pages`: page n answers pageToken str(n) and names page n+1 while there is one."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, per_minute: int = READS_PER_MINUTE) -> None:
        self.pages: list[list[dict[str, Any]]] = []
        self.entries: list[dict[str, Any]] | None = None
        self.endless = False  # every reply names a next page
        self.before: Callable[[int], tuple[int, Any] | None] = lambda n: None  # a reply instead, by request number
        self.requests: list[tuple[str, Any]] = []
        self.clock, self.per_minute = clock, per_minute
        self.admitted: list[float] = []  # times of the requests the quota let through
        self.refused = 0

    def __call__(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        self.requests.append((f"{method} {path.split('?')[0]}", body))
        now = self.clock()
        self.admitted = [t for t in self.admitted if t > now - 60.0]
        if len(self.admitted) >= self.per_minute:
            self.refused += 1
            return 429, QUOTA_EXCEEDED
        self.admitted.append(now)
        instead = self.before(len(self.requests))
        if instead is not None:
            return instead
        size = body.get("pageSize")
        if size is not None and not 0 <= int(size) <= 1000:
            return 400, {"error": {"code": 400, "status": "INVALID_ARGUMENT",
                                   "message": f"page_size must be between 0 and 1000, got {size}"}}
        if self.entries is not None:
            return self.serve(body)
        index = int(body.get("pageToken") or 0)
        reply: dict[str, Any] = {"entries": self.pages[index] if index < len(self.pages) else []}
        if self.endless or index + 1 < len(self.pages):
            reply["nextPageToken"] = str(index + 1)
        return 200, reply

    @staticmethod
    def token(body: dict[str, Any], offset: int) -> str:
        """An opaque page token, bound to the query that issued it."""
        query = repr((body.get("resourceNames"), body.get("filter"), body.get("orderBy")))
        return f"{offset}-{hashlib.sha256(query.encode()).hexdigest()[:16]}"

    def serve(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        try:
            matches = parse(body["filter"])  # the query language, as the API reads it (tests/logging_filter.py)
        except FilterError as exc:
            return 400, {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": f"invalid filter: {exc}"}}
        chosen = sorted((e for e in self.entries or [] if matches(e)), key=lambda e: from_rfc3339(e["timestamp"]),
                        reverse=str(body.get("orderBy", "")).endswith("desc"))
        token, size = str(body.get("pageToken") or ""), int(body.get("pageSize") or 50)
        offset = int(token.split("-")[0]) if token and token.split("-")[0].isdigit() else 0
        if token and token != self.token(body, offset):
            return 400, {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "invalid page token"}}
        reply: dict[str, Any] = {"entries": chosen[offset:offset + size]}
        if offset + size < len(chosen):
            reply["nextPageToken"] = self.token(body, offset + size)
        return 200, reply


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, list[Api]]]:
    current = [Api()]
    with serve(lambda method, path, body: current[0](method, path, body)) as stub:
        yield stub.url, current


@pytest.fixture()
def api(server: tuple[str, list[Api]]) -> tuple[str, Api]:
    url, current = server
    current[0] = Api()
    return url, current[0]


def logging_client(endpoint: str) -> Any:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import logging as cloud_logging

    return cloud_logging.Client(project="p", credentials=AnonymousCredentials(), _use_grpc=False,
                                client_options={"api_endpoint": endpoint})


def reader(endpoint: str, clock: FakeClock | None = None, **kwargs: Any) -> CloudLoggingLogReader:
    """A reader with a quota bucket of its own (on `clock` when given), not the process's shared one."""
    kwargs.setdefault("quota", TokenBucket(clock=clock, sleep=clock.sleep) if clock else TokenBucket())
    return CloudLoggingLogReader("p", client=logging_client(endpoint), **kwargs)


def test_the_filter_is_exact() -> None:
    assert build_filter(WINDOW, ["payment"]) == FILTER
    assert build_filter(WINDOW) == FILTER.split(" AND (")[0]
    severe = build_filter(WINDOW, ["payment"], ">= WARNING")
    assert severe == FILTER.replace(' AND ((', ' AND severity >= WARNING AND ((', 1)
    for bad in (">= LOUD", "WARNING", "~ INFO"):
        with pytest.raises(ValueError, match="severity"):
            build_filter(WINDOW, None, bad)


def test_requests_are_paginated_and_entries_converted(api: tuple[str, Api]) -> None:
    endpoint, fake = api
    run = {"timestamp": "2026-01-15T09:41:00.123456789Z", "severity": "warning",
           "resource": {"type": "cloud_run_revision",
                        "labels": {"service_name": "checkout", "revision_name": "checkout-00042-abc"}},
           "jsonPayload": {"message": "slow upstream", "latency_ms": 900}}
    fn = {"receiveTimestamp": "2026-01-15T09:42:00Z",
          "resource": {"type": "cloud_function", "labels": {"function_name": "mailer", "instance_id": "i-9"}},
          "jsonPayload": {"b": 1, "a": "x"}}
    fake.pages = [[fn, run, entry(2)], [entry(1), entry(0)]]  # newest first, as asked
    result = reader(endpoint, page_size=3).logs(WINDOW)
    assert not result.sampled and result.note == "" and len(result.items) == 5
    assert result.items[0] == LogRecord(1_768_470_000.5, "payment", "charge failed for order 0", "INFO", "payment-0",
                                        "t0000", "s0")
    assert result.items[1].severity == "ERROR"
    assert result.items[3] == LogRecord(1_768_470_060.123456, "checkout", "slow upstream", "WARNING",
                                        "checkout-00042-abc")
    assert result.items[4] == LogRecord(1_768_470_120.0, "mailer", '{"a": "x", "b": 1}', "DEFAULT", "i-9")
    first = {"resourceNames": ["projects/p"], "filter": build_filter(WINDOW), "orderBy": "timestamp desc",
             "pageSize": 3}
    assert fake.requests == [("POST /v2/entries:list", first),
                             ("POST /v2/entries:list", {**first, "pageToken": "1"})]


def test_a_capped_read_keeps_the_lines_nearest_the_alert(api: tuple[str, Api]) -> None:
    """Newest first: a busy window cut by the cap keeps its end (where the alert fired), not its quiet start, and
    whole traces: the cut falls inside trace t0006 (lines 12 and 13), so line 13 is left out with line 12."""
    endpoint, fake = api
    fake.entries = [entry(i) for i in range(20)] + [entry(i, "checkout") for i in range(20, 25)]
    result = reader(endpoint, page_size=4, max_entries=7).logs(WINDOW, ["payment"])
    assert result.sampled and [r.message.rsplit(" ", 1)[-1] for r in result.items] == [str(i) for i in range(14, 20)]
    assert result.note == ("logs: 6 of at least 8 sampled by trace (whole traces kept), newest first; read back to "
                           "2026-01-15T09:40:14.500000Z; earlier entries of the window are unread (limit: 7 entries "
                           "per read)")
    assert {r.trace_id for r in result.items} == {"t0007", "t0008", "t0009"}
    assert len(fake.requests) == 2 and {body["orderBy"] for _, body in fake.requests} == {"timestamp desc"}
    fake.requests.clear()
    exact = reader(endpoint, page_size=4, max_entries=8).logs(WINDOW, ["payment"])
    assert exact.sampled and len(exact.items) == 8 and len(fake.requests) == 2  # the API names a next page
    fake.entries = fake.entries[12:20]
    whole = reader(endpoint, page_size=4, max_entries=8).logs(WINDOW)
    assert not whole.sampled and len(whole.items) == 8  # exactly the bound, and nothing after it


def test_reads_share_the_projects_read_quota(api: tuple[str, Api]) -> None:
    """130 pages (a baseline and an incident read) against 60 requests a minute: the bucket paces them, the API
    refuses none, and every line is read."""
    endpoint, fake = api
    clock = FakeClock()
    fake.clock = clock
    fake.entries = [entry(i) for i in range(130)]
    quota = TokenBucket(clock=clock, sleep=clock.sleep)
    first_half, second_half = Window(WINDOW.start, WINDOW.start + 65), Window(WINDOW.start + 65, WINDOW.end)
    reads = [reader(endpoint, quota=quota, page_size=1, timeout_s=600).logs(w) for w in (first_half, second_half)]
    assert fake.refused == 0 and len(fake.requests) == 130
    assert [len(r.items) for r in reads] == [65, 65] and not any(r.sampled for r in reads)
    assert clock.now - 1000.0 == 120.0  # 60 now, 60 a minute later, 10 a minute after that
    assert project_quota("p") is project_quota("p") is CloudLoggingLogReader("p", client=logging_client(endpoint)).quota
    assert project_quota("p") is not project_quota("q")


def test_a_429_is_retried_with_exponential_backoff(api: tuple[str, Api]) -> None:
    """Another process spent the minute's quota: the read backs off 1, 2, 4 ... 32 s until the minute rolls."""
    endpoint, fake = api
    clock = FakeClock()
    fake.clock, fake.admitted = clock, [clock.now] * READS_PER_MINUTE
    fake.entries = [entry(0)]
    result = reader(endpoint, clock).logs(WINDOW)
    assert len(result.items) == 1 and fake.refused == 6 and len(fake.requests) == 7
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0] and clock.now - 1000.0 == 63.0


def test_429_retries_are_bounded(api: tuple[str, Api]) -> None:
    from google.api_core.exceptions import TooManyRequests

    endpoint, fake = api
    clock = FakeClock()
    fake.clock = clock
    fake.before = lambda n: (429, QUOTA_EXCEEDED)
    with pytest.raises(TooManyRequests, match="Quota exceeded"):  # the first page refused: the read fails
        reader(endpoint, clock, max_attempts=4).logs(WINDOW)
    assert len(fake.requests) == 4 and max(clock.sleeps) <= 32.0
    fake.requests.clear()
    with pytest.raises(TooManyRequests):  # within the time budget, whatever the attempts
        reader(endpoint, clock, timeout_s=10.0).logs(WINDOW)
    assert len(fake.requests) == 4  # tries at 0, 1, 3 and 7 s; the next backoff would end past 10 s
    fake.requests.clear()
    fake.entries = [entry(i) for i in range(3)]
    fake.before = lambda n: (429, QUOTA_EXCEEDED) if n > 1 else None
    partial = reader(endpoint, clock, page_size=2, max_attempts=2).logs(WINDOW)  # a later page: keep what was read
    assert len(partial.items) == 2 and partial.sampled and "(page 2 failed: TooManyRequests)" in partial.note


def test_no_quota_within_the_time_budget_stops_the_read(api: tuple[str, Api]) -> None:
    endpoint, fake = api
    clock = FakeClock()
    fake.clock = clock
    quota = TokenBucket(rate=2, per=60.0, clock=clock, sleep=clock.sleep)
    fake.entries = [entry(i) for i in range(5)]
    capped = reader(endpoint, quota=quota, page_size=1, timeout_s=20).logs(WINDOW)
    assert capped.sampled and len(capped.items) == 2 and len(fake.requests) == 2
    assert "(read quota: 60 requests/min for the project)" in capped.note
    with pytest.raises(QuotaWaitExceeded):  # not even the first page
        reader(endpoint, quota=quota, timeout_s=20).logs(WINDOW)


def test_the_stand_in_enforces_the_quota_and_page_tokens(api: tuple[str, Api]) -> None:
    """The stand-in refuses the 61st request of a minute and pages by token (else the tests above prove nothing)."""
    _, fake = api
    clock = FakeClock()
    fake.clock = clock
    fake.entries = [entry(i) for i in range(3)]
    body = {"resourceNames": ["projects/p"], "filter": build_filter(WINDOW), "orderBy": "timestamp asc",
            "pageSize": 2}
    token = Api.token(body, 2)
    assert fake("POST", "/v2/entries:list", body) == (200, {"entries": fake.entries[:2], "nextPageToken": token})
    assert fake("POST", "/v2/entries:list", {**body, "pageToken": token}) == (200, {"entries": fake.entries[2:]})
    assert fake("POST", "/v2/entries:list", {**body, "pageToken": "2"})[0] == 400  # a token it did not issue
    assert fake("POST", "/v2/entries:list", {**body, "orderBy": "timestamp desc", "pageToken": token})[0] == 400
    assert fake("POST", "/v2/entries:list", {**body, "pageSize": 1001})[0] == 400  # over entries.list's maximum
    assert fake("POST", "/v2/entries:list", {**body, "pageSize": -1})[0] == 400
    for _ in range(READS_PER_MINUTE - 6):  # the refused requests spent quota too
        assert fake("POST", "/v2/entries:list", body)[0] == 200
    assert fake("POST", "/v2/entries:list", body) == (429, QUOTA_EXCEEDED)
    clock.now += 60.0
    assert fake("POST", "/v2/entries:list", body)[0] == 200


def test_a_read_stops_at_max_pages_even_when_they_are_empty(api: tuple[str, Api]) -> None:
    endpoint, fake = api
    fake.pages = [[entry(i) for i in range(4 * p, 4 * p + 4)] for p in range(5)]
    by_pages = reader(endpoint, page_size=4, max_pages=2).logs(WINDOW)
    assert by_pages.sampled and len(by_pages.items) == 8 and len(fake.requests) == 2
    assert "(limit: 2 pages of 4)" in by_pages.note
    fake.requests.clear()
    fake.pages, fake.endless = [], True  # entries.list may answer empty pages that name a next one
    empty = reader(endpoint, max_pages=5).logs(WINDOW)
    assert empty.items == [] and empty.sampled and len(fake.requests) == 5
    assert empty.note == ("logs: stopped after 0 entries, newest first (limit: 5 pages of 1000); "
                          "earlier entries of the window are unread")


def test_a_read_stops_at_its_time_budget(api: tuple[str, Api]) -> None:
    endpoint, fake = api
    fake.pages, fake.endless = [[entry(0)]], True

    def slow(n: int) -> None:
        time.sleep(0.15)

    fake.before = slow
    started = time.monotonic()
    result = reader(endpoint, timeout_s=0.4).logs(WINDOW)
    assert time.monotonic() - started < 1.5
    assert result.sampled and "(time budget: 0.4 s, " in result.note and 2 <= len(fake.requests) <= 4


def test_a_hung_request_is_cut_by_the_timeout(api: tuple[str, Api]) -> None:
    endpoint, fake = api

    def hang(n: int) -> None:
        time.sleep(1.0)

    fake.before = hang
    started = time.monotonic()
    with pytest.raises(Exception, match=r"(?i)timed? ?out"):
        reader(endpoint, timeout_s=0.3).logs(WINDOW)
    assert time.monotonic() - started < 0.9


def test_transient_errors_are_retried(api: tuple[str, Api]) -> None:
    endpoint, fake = api
    clock = FakeClock()
    fake.pages = [[entry(0)]]
    fake.before = lambda n: (503, {"error": {"code": 503, "message": "try again"}}) if n == 1 else None
    result = reader(endpoint, clock).logs(WINDOW)
    assert len(result.items) == 1 and len(fake.requests) == 2 and clock.sleeps == [1.0]
    fake.requests.clear()
    fake.before = lambda n: (403, {"error": {"code": 403, "message": "denied"}})
    with pytest.raises(Exception, match="denied"):  # the first page failing fails the read
        reader(endpoint, clock).logs(WINDOW)
    assert len(fake.requests) == 1
    fake.requests.clear()
    fake.pages = [[entry(1)], [entry(0)]]
    fake.before = lambda n: (403, {"error": {"code": 403, "message": "denied"}}) if n == 2 else None
    partial = reader(endpoint, clock).logs(WINDOW)  # a later one keeps what was read, and says so
    assert len(partial.items) == 1 and partial.sampled and "(page 2 failed: Forbidden)" in partial.note


def test_service_names_are_escaped_or_refused(api: tuple[str, Api]) -> None:
    endpoint, fake = api
    fake.pages = [[]]
    reader(endpoint).logs(WINDOW, ['evil" OR logName:"x\\'])
    sent = fake.requests[0][1]["filter"]
    evil = '"evil\\" OR logName:\\"x\\\\"'
    assert sent.endswith(f'((resource.type = "cloud_run_revision" AND resource.labels.service_name = {evil}) OR '
                         f'(resource.type = "k8s_container" AND resource.labels.container_name = {evil}) OR '
                         f'(resource.type = "cloud_function" AND resource.labels.function_name = {evil}))')
    fake.requests.clear()
    for bad in ("svc\nOR true", "svc\rx", "svc\x00", "svc\x7f", "svc\x85"):
        with pytest.raises(ValueError, match="control character"):
            reader(endpoint).logs(WINDOW, [bad])
    with pytest.raises(ValueError, match="API limit 20000"):
        build_filter(WINDOW, [f"service-{i:04d}" for i in range(200)])
    assert fake.requests == []


def test_no_services_reads_nothing_and_bad_bounds_are_refused(api: tuple[str, Api]) -> None:
    endpoint, fake = api
    assert reader(endpoint).logs(WINDOW, []).items == [] and fake.requests == []
    for bad in ({"page_size": 0}, {"page_size": 1001}, {"max_entries": 0}, {"max_pages": 0}, {"timeout_s": 0},
                {"max_attempts": 0}, {"backoff_s": 0}):
        with pytest.raises(ValueError):
            reader(endpoint, **bad)


def test_the_cloud_clients_are_imported_only_when_used() -> None:
    code = ("import sys, shared.telemetry.cloud_logging, shared.telemetry.bigquery_logs, shared.telemetry.gcp; "
            "print(sorted(m for m in sys.modules if m.startswith('google.cloud.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_read_sends_no_page_the_investigations_api_call_budget_cannot_pay_for(api: tuple[str, Api]) -> None:
    from shared.read_limit import call_payer

    endpoint, fake = api
    fake.entries = [entry(i) for i in range(20)]
    paid: list[int] = []

    def pay() -> str:  # two calls, then the cap
        paid.append(1)
        return "" if len(paid) <= 2 else "API calls: 2 of a budget of 2 (AUTOSRE_BUDGET_API_CALLS)"

    with call_payer(pay):
        result = reader(endpoint, page_size=4).logs(WINDOW)
    assert len(fake.requests) == 2 and len(result.items) == 8 and result.cost.api_calls == 2
    assert result.sampled and "AUTOSRE_BUDGET_API_CALLS" in result.note
