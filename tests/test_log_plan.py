"""A busy project's logs read by plan against the Cloud Logging stand-in (which evaluates the filter it is given):
every WARNING-and-above entry of the services in question over the whole window, resource-scoped, and a sampled
slice of the lower severities spread over the window; the note says what was sampled."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shared.telemetry.bundle import to_rfc3339
from shared.telemetry.cloud_logging import build_filter
from shared.telemetry_records import Window
from tests.http_stub import serve
from tests.test_cloud_logging_source import WINDOW, Api, reader

pytest.importorskip("google.cloud.logging")


@pytest.fixture()
def api() -> Iterator[tuple[str, Api]]:
    fake = Api()
    with serve(fake) as stub:
        yield stub.url, fake


def line(at: float, severity: str, service: str = "payment", rtype: str = "k8s_container",
         label: str = "container_name") -> dict[str, Any]:
    return {"logName": "projects/p/logs/stdout", "timestamp": to_rfc3339(at), "severity": severity,
            "insertId": f"{service}-{severity}-{at}", "resource": {"type": rtype, "labels": {label: service}},
            "textPayload": f"{severity.lower()} at {at:.2f}"}


def busy() -> list[dict[str, Any]]:
    """Ten minutes of payment: 6,000 INFO/DEBUG lines (10 a second), 30 warnings and errors spread from the first
    minute on; checkout's errors, and a VM whose label says payment, are not payment's container."""
    span = WINDOW.end - WINDOW.start
    out = [line(WINDOW.start + i * span / 6000, "INFO" if i % 3 else "DEBUG") for i in range(6000)]
    out += [line(WINDOW.start + 5 + i * 19.5, "ERROR" if i % 2 else "WARNING") for i in range(30)]
    out += [line(WINDOW.start + 7 + i, "ERROR", "checkout") for i in range(50)]
    out += [line(WINDOW.start + 9, "CRITICAL", "payment", "gce_instance", "service_name")]
    return out


def test_every_warning_of_the_window_is_read_and_the_rest_sampled_over_it(api: tuple[str, Api]) -> None:
    from shared.telemetry.gcp import GcpTelemetrySource

    endpoint, fake = api
    fake.entries = busy()
    logs = reader(endpoint, max_entries=430)
    one_read = logs.logs(WINDOW, ["payment"])  # the newest 430 lines: the last 43 seconds of the window
    assert sum(r.severity in ("WARNING", "ERROR") for r in one_read.items) == 1  # of the 30
    fake.requests.clear()

    result = GcpTelemetrySource("p", logs).logs(WINDOW, ["payment"])
    severe = [r for r in result.items if r.severity in ("WARNING", "ERROR", "CRITICAL")]
    assert len(severe) == 30 and {r.service for r in result.items} == {"payment"}  # resource-scoped
    assert min(r.timestamp for r in severe) == WINDOW.start + 5  # the window's first minute too
    low = [r for r in result.items if r.severity in ("INFO", "DEBUG")]
    assert len(low) == 400 and len(result.items) <= 430  # the reader's bound holds for the whole plan
    # the newest 100 lines (the last 10 s), then 100 from each third of the time before them: spread over the
    # window, not its last seconds
    newest = sorted(r.timestamp for r in low)[-100]
    third = (newest - WINDOW.start) / 3
    assert newest >= WINDOW.end - 10.5
    assert [sum(WINDOW.start + i * third <= r.timestamp < WINDOW.start + (i + 1) * third for r in low)
            for i in range(3)] == [100] * 3
    assert result.sampled and result.note.startswith(
        "logs read by plan: every WARNING-and-above entry of the window read (30); lower severities sampled: 400 "
        "entries, at most 100 from each of 4 part(s) of the window (its newest lines, then equal parts before "
        "them), newest first in each; 4 part(s) had more")
    filters = [body["filter"] for _, body in fake.requests]
    assert filters[0] == build_filter(WINDOW, ["payment"], ">= WARNING")
    assert all("severity < WARNING" in f for f in filters[1:]) and len(filters) == 5


def test_a_quiet_window_is_read_whole_by_the_plan(api: tuple[str, Api]) -> None:
    from shared.telemetry.gcp import GcpTelemetrySource

    endpoint, fake = api
    fake.entries = [line(WINDOW.start + i, "INFO") for i in range(50)] + [line(WINDOW.start + 60, "ERROR")]
    fake.requests.clear()
    result = GcpTelemetrySource("p", reader(endpoint)).logs(WINDOW, ["payment"])
    assert len(result.items) == 51 and not result.sampled and result.note == ""
    assert len(fake.requests) == 2  # the severe entries, then the rest whole: no parts on a quiet window
    assert [r.timestamp for r in result.items] == sorted(r.timestamp for r in result.items)


def test_the_stand_in_honours_severity_and_resource_filters(api: tuple[str, Api]) -> None:
    _, fake = api
    fake.entries = busy()
    body: dict[str, Any] = {"resourceNames": ["projects/p"], "orderBy": "timestamp desc", "pageSize": 1000}
    status, reply = fake("POST", "/v2/entries:list", {**body, "filter": build_filter(WINDOW, ["payment"],
                                                                                        ">= ERROR")})
    assert status == 200 and len(reply["entries"]) == 15
    status, reply = fake("POST", "/v2/entries:list", {**body, "filter": 'severity >= CRITICAL AND '
                                                      'resource.type = "gce_instance"'})
    assert status == 200 and len(reply["entries"]) == 1
    narrow = Window(WINDOW.start, WINDOW.start + 1)
    status, reply = fake("POST", "/v2/entries:list", {**body, "filter": build_filter(narrow, ["payment"])})
    assert status == 200 and len(reply["entries"]) == 10
    status, reply = fake("POST", "/v2/entries:list", {**body, "filter": 'severity >= LOUD'})
    assert status == 400
    status, reply = fake("POST", "/v2/entries:list", {**body, "filter": '(severity >= ERROR'})
    assert status == 400
