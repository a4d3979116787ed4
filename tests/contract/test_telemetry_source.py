"""The TelemetrySource contract (shared/ports.py), run against every adapter: the bundle folder, the in-memory
source, and the Google Cloud source on real-format responses served by the stand-ins of tests/test_gcp_telemetry.py
(Trace over REST, Monitoring over gRPC) and tests/test_cloud_logging_source.py (Logging over REST), which keep
the APIs' documented rules (page sizes, page tokens, quotas).

Every harness builds the same records. A read returns only records inside its window (start inclusive, end
exclusive) and of the asked services (None: all; an empty list: none), sorted by time; a read cut by a bound says
so (`sampled` and a note); `describe()` names the source; `log_counter` is None or counts patterns."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from shared.ports import TelemetrySource
from shared.telemetry.bundle import encode_log, to_rfc3339
from shared.telemetry.memory import MemorySource
from shared.telemetry_records import ChangeEvent, LogRecord, MetricSeries, Span, Window
from tests.data import write_bundle
from tests.http_stub import serve

T0 = 1_768_470_000.0
WINDOW = Window(T0 + 60, T0 + 360)
SERVICES = ("frontend", "payment", "checkout")
# around and on the window's edges: 59.5 before it, 60 its first instant, 360 its end (outside)
TIMES = (T0, T0 + 59.5, T0 + 60, T0 + 100.25, T0 + 160.5, T0 + 220.75, T0 + 300, T0 + 359.5, T0 + 360, T0 + 420)
METRIC = "custom.googleapis.com/app/queue_depth"
DEPLOY = "google.cloud.run.v1.Services.ReplaceService"


def service(i: int) -> str:
    return SERVICES[i % len(SERVICES)]


# listed out of time order: every adapter must hand them back sorted
LOGS = [LogRecord(t, service(i), f"request {i} handled", "ERROR" if i % 2 else "INFO", f"{service(i)}-0")
        for i, t in reversed(list(enumerate(TIMES)))]
SPANS = [Span(f"{i // 2:032x}", f"{i + 1:016x}", "", service(i), f"op{i}", t, t + 0.25, f"{service(i)}-0")
         for i, t in reversed(list(enumerate(TIMES)))]  # two spans a trace: trace 0 has one before the window
SERIES = [MetricSeries(METRIC, s, tuple((t, float(i + j)) for j, t in enumerate(TIMES)), f"{s}-0")
          for i, s in enumerate(SERVICES)]
CHANGES = [ChangeEvent(t, service(i), "deploy", f"deploy {i}", "ci@example.com", (("methodName", DEPLOY),))
           for i, t in reversed(list(enumerate(TIMES)))]


def log_key(r: LogRecord) -> tuple[Any, ...]:
    return r.timestamp, r.service, r.message, r.severity, r.instance


def span_key(s: Span) -> tuple[Any, ...]:
    return s.trace_id, s.span_id, s.parent_id, s.service, s.name, s.start, s.end, s.instance


def series_key(m: MetricSeries) -> tuple[Any, ...]:
    return m.metric, m.service, m.instance, m.points


def change_key(c: ChangeEvent) -> tuple[Any, ...]:
    return c.timestamp, c.service, c.kind


KINDS = ("logs", "spans", "metrics", "changes")
KEYS: dict[str, Callable[[Any], tuple[Any, ...]]] = {"logs": log_key, "spans": span_key, "metrics": series_key,
                                                    "changes": change_key}


def read(source: TelemetrySource, kind: str, window: Window, services: list[str] | None = None) -> Any:
    return getattr(source, kind)(window, services)


def expected(kind: str, window: Window, services: list[str] | None = None) -> list[tuple[Any, ...]]:
    def wanted(s: str) -> bool:
        return services is None or s in services

    if kind == "metrics":
        return sorted(series_key(MetricSeries(m.metric, m.service, tuple(p for p in m.points if window.contains(p[0])),
                                              m.instance)) for m in SERIES if wanted(m.service))
    items: list[Any] = {"logs": LOGS, "spans": SPANS, "changes": CHANGES}[kind]
    at: Callable[[Any], float] = (lambda s: s.start) if kind == "spans" else (lambda r: r.timestamp)
    return sorted(KEYS[kind](r) for r in items if window.contains(at(r)) and wanted(r.service))


def times(kind: str, items: list[Any]) -> list[float]:
    return [s.start for s in items] if kind == "spans" else [r.timestamp for r in items]


# ---------------------------------------------------------------- harnesses: the same records, each adapter


def bundle_source(tmp: Path, bound: int | None) -> TelemetrySource:
    return write_bundle(tmp / "bundle", LOGS, SPANS, SERIES, CHANGES, max_records=bound)


def memory_source(tmp: Path, bound: int | None) -> TelemetrySource:
    return MemorySource(list(LOGS), list(SERIES), list(SPANS), list(CHANGES), max_records=bound)


def gcp_entries() -> list[dict[str, Any]]:
    """The logs and audit logs as entries.list returns them (LogEntry JSON)."""
    entries = [{**encode_log(r, "p"), "logName": "projects/p/logs/stdout", "insertId": f"l{i}"}
               for i, r in enumerate(LOGS)]
    entries += [{"logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity", "insertId": f"a{i}",
                 "timestamp": to_rfc3339(c.timestamp),
                 "resource": {"type": "cloud_run_revision", "labels": {"service_name": c.service}},
                 "protoPayload": {"@type": "type.googleapis.com/google.cloud.audit.AuditLog", "methodName": DEPLOY,
                                  "resourceName": f"namespaces/p/services/{c.service}",
                                  "authenticationInfo": {"principalEmail": c.actor}}}
                for i, c in enumerate(CHANGES)]
    return entries


def gcp_traces() -> list[dict[str, Any]]:
    """The spans as Cloud Trace v1 ListTraces returns them: decimal 64-bit span ids, labels."""
    traces: dict[str, dict[str, Any]] = {}
    for s in SPANS:
        trace = traces.setdefault(s.trace_id, {"projectId": "p", "traceId": s.trace_id, "spans": []})
        span = {"spanId": str(int(s.span_id, 16)), "name": s.name, "kind": "RPC_SERVER",
                "startTime": to_rfc3339(s.start), "endTime": to_rfc3339(s.end),
                "labels": {"service.name": s.service, "k8s.pod.name": s.instance}}
        if s.parent_id:
            span["parentSpanId"] = str(int(s.parent_id, 16))
        trace["spans"].append(span)
    return list(traces.values())


@pytest.fixture(scope="module")
def gcp_stand_ins() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """One HTTP stand-in for Logging and Trace, one gRPC stand-in for Monitoring, serving the records."""
    pytest.importorskip("google.cloud.logging")
    pytest.importorskip("google.cloud.trace_v1")
    pytest.importorskip("google.cloud.monitoring_v3")
    from tests.test_cloud_logging_source import Api
    from tests.test_gcp_telemetry import MonitoringApi, TraceApi, monitoring_stand_in, time_series

    logging_api, trace_api, monitoring_api = Api(), TraceApi(), MonitoringApi()
    logging_api.entries, trace_api.traces = gcp_entries(), gcp_traces()
    logging_api.per_minute = trace_api.units_per_minute = 10**9  # this suite is not about the read quotas
    monitoring_api.kinds[METRIC] = ("GAUGE", "DOUBLE")  # not in the reader's table: it asks the descriptor
    monitoring_api.series[METRIC] = [time_series(METRIC, m.service, m.instance, list(m.points)) for m in SERIES]
    apis: dict[str, Any] = {"/v2/entries:list": logging_api, "/v1/projects/p/traces": trace_api}

    def reply(method: str, path: str, body: Any) -> tuple[int, Any]:
        return apis[urlsplit(path).path](method, path, body)  # type: ignore[no-any-return]

    with monitoring_stand_in() as (address, current), serve(reply) as stub:
        current[0] = monitoring_api
        yield stub.url, address, {"logging": logging_api, "trace": trace_api, "monitoring": monitoring_api}


def gcp_source(stand_ins: tuple[str, str, dict[str, Any]], bound: int | None) -> TelemetrySource:
    from shared.telemetry.cloud_logging import CloudLoggingLogReader, TokenBucket
    from shared.telemetry.gcp import CloudMonitoringReader, CloudTraceReader, GcpTelemetrySource
    from tests.test_cloud_logging_source import logging_client
    from tests.test_gcp_telemetry import monitoring_client, trace_client

    url, address, _ = stand_ins
    small = {"page_size": 2, "max_entries": bound} if bound else {"page_size": 3}
    logs = CloudLoggingLogReader("p", client=logging_client(url), quota=TokenBucket(), **small)
    traces = CloudTraceReader("p", client=trace_client(url), page_size=2, quota=TokenBucket(rate=10**6),
                              **({"max_spans": bound} if bound else {}))
    metrics = CloudMonitoringReader("p", [METRIC], client=monitoring_client(address), page_size=4,
                                    **({"max_series": bound} if bound else {}))
    return GcpTelemetrySource("p", logs, traces, metrics)


@dataclass
class Harness:
    name: str
    make: Callable[[int | None], TelemetrySource]


ADAPTERS = ("bundle", "memory", "gcp")


@pytest.fixture(params=ADAPTERS)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Harness:
    name = request.param
    if name == "gcp":
        stand_ins = request.getfixturevalue("gcp_stand_ins")
        return Harness(name, lambda bound: gcp_source(stand_ins, bound))
    make = bundle_source if name == "bundle" else memory_source
    return Harness(name, lambda bound: make(tmp_path / f"b{bound}", bound))


# ---------------------------------------------------------------- the contract


@pytest.mark.parametrize("kind", KINDS)
def test_a_read_returns_its_window_start_inclusive_end_exclusive(harness: Harness, kind: str) -> None:
    source = harness.make(None)
    result = read(source, kind, WINDOW)
    assert sorted(KEYS[kind](i) for i in result.items) == expected(kind, WINDOW)
    assert not result.sampled
    edge = Window(TIMES[2], TIMES[3])  # one instant holds a record of each kind; the end is not the window's
    assert sorted(KEYS[kind](i) for i in read(source, kind, edge).items) == expected(kind, edge)
    assert read(source, kind, Window(T0 + 1000, T0 + 2000)).items == []


@pytest.mark.parametrize("kind", KINDS)
def test_a_read_returns_only_the_asked_services(harness: Harness, kind: str) -> None:
    source = harness.make(None)
    for services in (["payment"], ["payment", "checkout"], ["nobody"], [], None):
        result = read(source, kind, WINDOW, services)
        assert sorted(KEYS[kind](i) for i in result.items) == expected(kind, WINDOW, services), services
    assert {i.service for i in read(source, kind, WINDOW, None).items} == set(SERVICES)  # None: all


@pytest.mark.parametrize("kind", KINDS)
def test_results_are_sorted_by_time(harness: Harness, kind: str) -> None:
    items = read(harness.make(None), kind, Window(T0, T0 + 1000)).items
    assert items
    if kind == "metrics":
        assert all(list(m.points) == sorted(m.points) for m in items)
    else:
        assert times(kind, items) == sorted(times(kind, items))


BOUNDED = [(a, k) for a in ADAPTERS for k in KINDS]


@pytest.mark.parametrize(("adapter", "kind"), BOUNDED)
def test_a_read_cut_by_a_bound_says_so(request: pytest.FixtureRequest, tmp_path: Path, adapter: str,
                                       kind: str) -> None:
    if adapter == "gcp":
        source = gcp_source(request.getfixturevalue("gcp_stand_ins"), 2)
    else:
        source = (bundle_source if adapter == "bundle" else memory_source)(tmp_path, 2)
    result = read(source, kind, WINDOW)
    assert result.sampled and result.note, (adapter, kind)
    keys = [KEYS[kind](i) for i in result.items]
    assert keys and len(keys) < len(expected(kind, WINDOW)) and set(keys) <= set(expected(kind, WINDOW))
    if kind != "metrics":
        assert times(kind, result.items) == sorted(times(kind, result.items))


def test_describe_names_the_source(harness: Harness) -> None:
    described = harness.make(None).describe()
    assert described["source"] == harness.name and all(isinstance(v, str) for v in described.values())


def test_log_counter_is_none_or_counts_patterns(harness: Harness) -> None:
    counter = harness.make(None).log_counter
    assert counter is None or callable(getattr(counter, "log_pattern_counts", None))


WHOLE = [(a, k) for a in ("bundle", "memory", "gcp") for k in ("logs", "spans")]


@pytest.mark.parametrize(("adapter", "kind"), WHOLE)
def test_a_cut_keeps_whole_traces_and_says_sampled_by_trace(request: pytest.FixtureRequest, tmp_path: Path,
                                                             adapter: str, kind: str) -> None:
    """The bundle and the Google Cloud adapters cut a log or span read the same way (shared/telemetry/bounds.py):
    whole traces kept, and the note says "N of M sampled by trace (whole traces kept)". The in-memory source cuts
    them as the bundle does."""
    bound = 3
    if adapter == "gcp":
        source = gcp_source(request.getfixturevalue("gcp_stand_ins"), bound)
    else:
        source = (bundle_source if adapter == "bundle" else memory_source)(tmp_path, bound)
    result = read(source, kind, WINDOW)
    # Google Cloud's logs are read by plan (shared/telemetry/log_plan.py): each part of it is cut this way, and the
    # note says what the plan read whole and what it sampled
    said = "logs read by plan" if (adapter, kind) == ("gcp", "logs") else "sampled by trace (whole traces kept)"
    assert result.sampled and said in result.note, result.note
    assert 0 < len(result.items) <= bound
    if kind == "spans":
        for trace in {s.trace_id for s in result.items}:  # every span of a kept trace in the window is kept
            assert {s.span_id for s in result.items if s.trace_id == trace} == \
                {s.span_id for s in SPANS if s.trace_id == trace and WINDOW.contains(s.start)}
