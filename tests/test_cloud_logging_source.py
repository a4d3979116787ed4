"""The Cloud Logging reader against a local stand-in for entries.list (the real client, REST transport)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from shared.telemetry.cloud_logging import CloudLoggingLogReader, build_filter
from shared.telemetry_records import LogRecord, Window
from tests.http_stub import serve

pytest.importorskip("google.cloud.logging")

WINDOW = Window(1_768_470_000.0, 1_768_470_600.0)  # 2026-01-15T09:40:00Z .. 09:50:00Z
FILTER = ('timestamp >= "2026-01-15T09:40:00.000000Z" AND timestamp < "2026-01-15T09:50:00.000000Z" AND '
          'NOT logName:"cloudaudit.googleapis.com" AND (resource.labels.service_name = "payment" OR '
          'resource.labels.container_name = "payment" OR resource.labels.function_name = "payment")')


def entry(i: int, service: str = "payment") -> dict[str, Any]:
    return {"logName": "projects/p/logs/stdout", "timestamp": f"2026-01-15T09:40:{i % 60:02d}.5Z",
            "severity": "ERROR" if i % 2 else "INFO", "insertId": f"id{i}",
            "resource": {"type": "k8s_container", "labels": {"container_name": service, "pod_name": f"{service}-0"}},
            "textPayload": f"charge failed for order {i}", "trace": "projects/p/traces/abc123", "spanId": "s1"}


class Api:
    """entries.list over `pages`: page n answers pageToken str(n) and names page n+1 while there is one."""

    def __init__(self) -> None:
        self.pages: list[list[dict[str, Any]]] = []
        self.endless = False  # every reply names a next page
        self.before: Callable[[int], tuple[int, Any] | None] = lambda n: None  # a reply instead, by request number
        self.requests: list[tuple[str, Any]] = []

    def __call__(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        self.requests.append((f"{method} {path.split('?')[0]}", body))
        instead = self.before(len(self.requests))
        if instead is not None:
            return instead
        index = int(body.get("pageToken") or 0)
        reply: dict[str, Any] = {"entries": self.pages[index] if index < len(self.pages) else []}
        if self.endless or index + 1 < len(self.pages):
            reply["nextPageToken"] = str(index + 1)
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


def reader(endpoint: str, **kwargs: Any) -> CloudLoggingLogReader:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import logging as cloud_logging

    client = cloud_logging.Client(project="p", credentials=AnonymousCredentials(), _use_grpc=False,
                                  client_options={"api_endpoint": endpoint})
    return CloudLoggingLogReader("p", client=client, **kwargs)


def test_the_filter_is_exact() -> None:
    assert build_filter(WINDOW, ["payment"]) == FILTER
    assert build_filter(WINDOW) == FILTER.split(" AND (")[0]


def test_requests_are_paginated_and_entries_converted(api: tuple[str, Api]) -> None:
    endpoint, fake = api
    run = {"timestamp": "2026-01-15T09:41:00.123456789Z", "severity": "warning",
           "resource": {"type": "cloud_run_revision",
                        "labels": {"service_name": "checkout", "revision_name": "checkout-00042-abc"}},
           "jsonPayload": {"message": "slow upstream", "latency_ms": 900}}
    fn = {"receiveTimestamp": "2026-01-15T09:42:00Z",
          "resource": {"type": "cloud_function", "labels": {"function_name": "mailer", "instance_id": "i-9"}},
          "jsonPayload": {"b": 1, "a": "x"}}
    fake.pages = [[entry(0), entry(1), entry(2)], [run, fn]]
    result = reader(endpoint, page_size=3).logs(WINDOW, ["payment"])
    assert not result.sampled and result.note == "" and len(result.items) == 5
    assert result.items[0] == LogRecord(1_768_470_000.5, "payment", "charge failed for order 0", "INFO", "payment-0",
                                        "abc123", "s1")
    assert result.items[1].severity == "ERROR"
    assert result.items[3] == LogRecord(1_768_470_060.123456, "checkout", "slow upstream", "WARNING",
                                        "checkout-00042-abc")
    assert result.items[4] == LogRecord(1_768_470_120.0, "mailer", '{"a": "x", "b": 1}', "DEFAULT", "i-9")
    first = {"resourceNames": ["projects/p"], "filter": FILTER, "orderBy": "timestamp asc", "pageSize": 3}
    assert fake.requests == [("POST /v2/entries:list", first),
                             ("POST /v2/entries:list", {**first, "pageToken": "1"})]


def test_a_read_stops_at_max_entries_and_says_so(api: tuple[str, Api]) -> None:
    endpoint, fake = api
    fake.pages = [[entry(i) for i in range(4 * p, 4 * p + 4)] for p in range(5)]
    result = reader(endpoint, page_size=4, max_entries=6).logs(WINDOW)
    assert result.sampled and [r.message[-1] for r in result.items] == list("012345")
    assert result.note == ("logs: stopped after 6 entries (limit: 6 entries); read up to 2026-01-15T09:40:05.500000Z;"
                           " later entries of the window are unread")
    assert len(fake.requests) == 2  # no page past the bound
    fake.requests.clear()
    exact = reader(endpoint, page_size=4, max_entries=8).logs(WINDOW)
    assert exact.sampled and len(exact.items) == 8 and len(fake.requests) == 2  # the API names a next page
    fake.pages = fake.pages[:2]
    whole = reader(endpoint, page_size=4, max_entries=8).logs(WINDOW)
    assert not whole.sampled and len(whole.items) == 8  # exactly the bound, and nothing after it


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
    assert empty.note == ("logs: stopped after 0 entries (limit: 5 pages of 1000); "
                          "later entries of the window are unread")


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
    fake.pages = [[entry(0)]]
    fake.before = lambda n: (503, {"error": {"code": 503, "message": "try again"}}) if n == 1 else None
    result = reader(endpoint).logs(WINDOW)
    assert len(result.items) == 1 and len(fake.requests) == 2
    fake.requests.clear()
    fake.before = lambda n: (403, {"error": {"code": 403, "message": "denied"}})
    with pytest.raises(Exception, match="denied"):  # the first page failing fails the read
        reader(endpoint).logs(WINDOW)
    assert len(fake.requests) == 1
    fake.requests.clear()
    fake.pages = [[entry(0)], [entry(1)]]
    fake.before = lambda n: (403, {"error": {"code": 403, "message": "denied"}}) if n == 2 else None
    partial = reader(endpoint).logs(WINDOW)  # a later one keeps what was read, and says so
    assert len(partial.items) == 1 and partial.sampled and "(page 2 failed: Forbidden)" in partial.note


def test_service_names_are_escaped_or_refused(api: tuple[str, Api]) -> None:
    endpoint, fake = api
    fake.pages = [[]]
    reader(endpoint).logs(WINDOW, ['evil" OR logName:"x\\'])
    sent = fake.requests[0][1]["filter"]
    assert sent.endswith('(resource.labels.service_name = "evil\\" OR logName:\\"x\\\\" OR '
                         'resource.labels.container_name = "evil\\" OR logName:\\"x\\\\" OR '
                         'resource.labels.function_name = "evil\\" OR logName:\\"x\\\\")')
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
    for bad in ({"page_size": 0}, {"page_size": 1001}, {"max_entries": 0}, {"max_pages": 0}, {"timeout_s": 0}):
        with pytest.raises(ValueError):
            reader(endpoint, **bad)


def test_the_cloud_clients_are_imported_only_when_used() -> None:
    code = ("import sys, shared.telemetry.cloud_logging, shared.telemetry.bigquery_logs; "
            "print(sorted(m for m in sys.modules if m.startswith('google.cloud.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
