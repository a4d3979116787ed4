"""The Cloud Logging reader against a local stand-in for entries.list (the real client, REST transport)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shared.telemetry.cloud_logging import CloudLoggingLogReader, build_filter
from shared.telemetry.models import Window
from tests.http_stub import serve

pytest.importorskip("google.cloud.logging")

WINDOW = Window(1_768_470_000.0, 1_768_470_600.0)


def entry(i: int, service: str = "payment") -> dict[str, Any]:
    return {"logName": "projects/p/logs/stdout", "timestamp": f"2026-01-15T09:40:{i % 60:02d}.5Z",
            "severity": "ERROR" if i % 2 else "INFO", "insertId": f"id{i}",
            "resource": {"type": "k8s_container", "labels": {"container_name": service, "pod_name": f"{service}-0"}},
            "textPayload": f"charge failed for order {i}", "trace": "projects/p/traces/abc123", "spanId": "s1"}


class Recorder:
    def __init__(self) -> None:
        self.pages: list[list[dict[str, Any]]] = []
        self.requests: list[tuple[str, Any]] = []

    def __call__(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        self.requests.append((path, body))
        index = int(body.get("pageToken") or 0)
        reply: dict[str, Any] = {"entries": self.pages[index] if index < len(self.pages) else []}
        if index + 1 < len(self.pages):
            reply["nextPageToken"] = str(index + 1)
        return 200, reply


@pytest.fixture()
def server() -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder()
    with serve(recorder) as stub:
        yield stub.url, recorder


def reader(endpoint: str, **kwargs: Any) -> CloudLoggingLogReader:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import logging as cloud_logging

    client = cloud_logging.Client(project="p", credentials=AnonymousCredentials(), _use_grpc=False,
                                  client_options={"api_endpoint": endpoint})
    return CloudLoggingLogReader("p", client=client, **kwargs)


def test_requests_are_paginated_and_entries_converted(server: tuple[str, Recorder]) -> None:
    endpoint, rec = server
    rec.pages = [[entry(i) for i in range(3)], [entry(i) for i in range(3, 5)]]
    result = reader(endpoint, page_size=3).logs(WINDOW, ["payment"])
    assert not result.sampled and len(result.items) == 5
    first = result.items[0]
    assert (first.service, first.instance, first.severity) == ("payment", "payment-0", "INFO")
    assert first.trace_id == "abc123" and first.span_id == "s1" and first.message == "charge failed for order 0"
    (path1, body1), (_, body2) = rec.requests
    assert path1.split("?")[0] == "/v2/entries:list"
    assert body1["resourceNames"] == ["projects/p"] and body1["orderBy"] == "timestamp asc"
    assert body1["pageSize"] == 3 and "pageToken" not in body1 and body2["pageToken"] == "1"
    assert body1["filter"] == build_filter(WINDOW, ["payment"])
    assert body1["filter"].startswith('timestamp >= "2026-01-15T09:40:00.000000Z" AND timestamp < ')
    assert 'resource.labels.container_name = "payment"' in body1["filter"]


def test_reads_are_bounded_and_say_so(server: tuple[str, Recorder]) -> None:
    endpoint, rec = server
    rec.pages = [[entry(i) for i in range(4)] for _ in range(5)]
    by_entries = reader(endpoint, page_size=4, max_entries=6).logs(WINDOW)
    assert by_entries.sampled and len(by_entries.items) == 6 and "limit: 6 entries" in by_entries.note
    assert len(rec.requests) == 2  # no page is fetched past the bound
    rec.requests.clear()
    by_pages = reader(endpoint, page_size=4, max_pages=2).logs(WINDOW)
    assert by_pages.sampled and len(by_pages.items) == 8 and len(rec.requests) == 3
    rec.requests.clear()
    rec.pages = [[entry(i) for i in range(4)]]
    whole = reader(endpoint, page_size=4, max_pages=2).logs(WINDOW)
    assert not whole.sampled and len(whole.items) == 4


def test_filter_values_are_escaped_or_refused() -> None:
    f = build_filter(WINDOW, ['evil" OR logName:"x\\'])
    assert 'resource.labels.service_name = "evil\\" OR logName:\\"x\\\\"' in f
    with pytest.raises(ValueError, match="control character"):
        build_filter(WINDOW, ["svc\nOR true"])
