"""The telemetry bundle: what BundleWriter writes, BundleSource reads back, sliced per window."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from shared.telemetry.bundle import BundleError, BundleSource, BundleWriter, from_rfc3339, to_rfc3339
from shared.telemetry_records import ChangeEvent, LogRecord, MetricSeries, Span, Window

EVERYTHING = Window(0, 1e12)
LOGS = [LogRecord(100.0 + i, "api" if i % 2 else "db", f"line {i}", "ERROR" if i == 3 else "INFO", f"pod-{i % 3}",
                  f"t{i}", f"s{i}") for i in range(10)]
SPANS = [Span("t1", "a", "", "api", "GET /x", 100.0, 101.5, "pod-1", False),
         Span("t1", "b", "a", "db", "SELECT", 100.2, 101.0, "pod-2", True, "deadlock"),
         Span("t2", "c", "", "api", "GET /y", 103.0, 103.25)]
SERIES = [MetricSeries("custom/cpu", "api", ((100.0, 1.0), (160.0, math.nan), (220.0, 3.0), (280.0, math.inf)),
                       "pod-1", "%", (("zone", "a"),)),
          MetricSeries("custom/mem", "db", ((100.0, 5.0), (160.0, 6.0)), "pod-2", "By")]
CHANGES = [ChangeEvent(150.0, "api", "deploy", "deploy api v2", "ci@x", (("revision", "api-2"),)),
           ChangeEvent(170.0, "db", "scale", "db to 3 replicas", "ops@x")]


def write(path: Path, **manifest: Any) -> None:
    with BundleWriter(path, {"name": "t", **manifest}) as w:
        for r in LOGS:
            w.log(r)
        for s in reversed(SPANS):  # any order: the reader sorts
            w.span(s)
        for m in SERIES:
            w.series(m)
        for c in CHANGES:
            w.change(c)


def test_round_trip_of_every_record_kind(tmp_path: Path) -> None:
    write(tmp_path, source="unit")
    src = BundleSource(tmp_path)
    assert src.logs(EVERYTHING).items == LOGS
    assert src.spans(EVERYTHING).items == SPANS
    cpu, mem = src.metrics(EVERYTHING).items
    assert cpu == MetricSeries("custom/cpu", "api", ((100.0, 1.0), (220.0, 3.0)), "pod-1", "%", (("zone", "a"),))
    assert mem == SERIES[1]
    deploy, scale = src.changes(EVERYTHING).items
    assert (deploy.timestamp, deploy.service, deploy.kind, deploy.description, deploy.actor) == (
        150.0, "api", "deploy", "deploy api v2", "ci@x")
    assert dict(deploy.details)["revision"] == "api-2"
    assert (scale.kind, scale.service, scale.actor) == ("scale", "db", "ops@x")
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest == {"format": "autosre-bundle/1", "name": "t", "source": "unit",
                        "counts": {"logs": 10, "spans": 3, "metrics": 2, "changes": 2}}
    assert src.describe()["name"] == "t"


def test_records_are_gcp_shaped(tmp_path: Path) -> None:
    write(tmp_path)
    entry = json.loads((tmp_path / "logs.jsonl").read_text().splitlines()[0])
    assert entry["resource"] == {"type": "k8s_container", "labels": {"container_name": "db", "pod_name": "pod-0"}}
    assert entry["trace"].endswith("/traces/t0") and entry["spanId"] == "s0" and entry["textPayload"] == "line 0"
    assert entry["timestamp"] == "1970-01-01T00:01:40.000000Z"
    spans = [json.loads(line) for line in (tmp_path / "spans.jsonl").read_text().splitlines()]
    root = next(s for s in spans if s["spanId"] == "a")
    assert "parentSpanId" not in root and root["name"].endswith("/traces/t1/spans/a")
    assert next(s for s in spans if s["spanId"] == "b")["status"] == {"code": 2, "message": "deadlock"}
    change = json.loads((tmp_path / "changes.jsonl").read_text().splitlines()[0])
    assert change["protoPayload"]["@type"] == "type.googleapis.com/google.cloud.audit.AuditLog"


def test_windows_are_half_open(tmp_path: Path) -> None:
    write(tmp_path)
    src = BundleSource(tmp_path)
    assert [r.timestamp for r in src.logs(Window(102.0, 105.0)).items] == [102.0, 103.0, 104.0]
    assert [s.span_id for s in src.spans(Window(100.0, 103.0)).items] == ["a", "b"]  # by start time
    assert [s.span_id for s in src.spans(Window(103.0, 103.1)).items] == ["c"]
    assert [m.points for m in src.metrics(Window(100.0, 160.0)).items] == [((100.0, 1.0),), ((100.0, 5.0),)]
    assert src.metrics(Window(300.0, 400.0)).items == []  # a series with no point in the window is left out
    assert src.changes(Window(0, 150.0)).items == []
    assert [c.timestamp for c in src.changes(Window(150.0, 170.0)).items] == [150.0]


def test_service_filter(tmp_path: Path) -> None:
    write(tmp_path)
    src = BundleSource(tmp_path)
    assert {r.service for r in src.logs(EVERYTHING, ["api"]).items} == {"api"}
    assert len(src.logs(EVERYTHING, ["api"]).items) == 5
    assert [s.span_id for s in src.spans(EVERYTHING, ["db"]).items] == ["b"]
    assert [m.metric for m in src.metrics(EVERYTHING, ["db"]).items] == ["custom/mem"]
    assert [c.kind for c in src.changes(EVERYTHING, ["db"]).items] == ["scale"]
    assert src.logs(EVERYTHING, []).items == []
    assert src.logs(EVERYTHING, ["nobody"]).items == []


def test_nan_points_are_dropped_and_the_file_stays_strict_json(tmp_path: Path) -> None:
    write(tmp_path)

    def refuse(token: str) -> None:
        raise AssertionError(f"non-JSON token {token} in metrics.jsonl")

    for line in (tmp_path / "metrics.jsonl").read_text().splitlines():
        json.loads(line, parse_constant=refuse)
    (cpu,) = BundleSource(tmp_path).metrics(EVERYTHING, ["api"]).items
    assert all(math.isfinite(v) for _, v in cpu.points) and len(cpu.points) == 2


def test_reads_what_gcp_exports_too(tmp_path: Path) -> None:
    """Shapes the writer does not produce but the APIs do: jsonPayload, int64 strings, newest-first points."""
    write(tmp_path)
    with open(tmp_path / "logs.jsonl", "a") as f:
        f.write(json.dumps({"timestamp": "1970-01-01T00:03:20.5Z", "jsonPayload": {"message": "hello", "x": 1},
                            "resource": {"type": "cloud_run_revision", "labels": {"container_name": "web",
                                                                                 "revision_name": "web-0001"}}}))
        f.write("\n\n")  # blank lines are skipped
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"metric": {"type": "req"}, "resource": {"labels": {"service_name": "web"}},
                            "points": [{"interval": {"endTime": "1970-01-01T00:02:00Z"}, "value": {"int64Value": "7"}},
                                       {"interval": {"endTime": "1970-01-01T00:01:00Z"}, "value": {"int64Value": "4"}},
                                       {"interval": {"endTime": "1970-01-01T00:00:30Z"}, "value": {}}]}) + "\n")
    with open(tmp_path / "changes.jsonl", "a") as f:
        f.write(json.dumps({"timestamp": "1970-01-01T00:03:00Z", "resource": {"labels": {"service_name": "web"}},
                            "protoPayload": {"methodName": "google.cloud.run.v1.Services.ReplaceService",
                                             "request": {"spec": {"nested": 1}, "replicas": 2}}}) + "\n")
    src = BundleSource(tmp_path)
    (log,) = src.logs(EVERYTHING, ["web"]).items
    assert (log.timestamp, log.message, log.instance, log.severity) == (200.5, "hello", "web-0001", "DEFAULT")
    (series,) = src.metrics(EVERYTHING, ["web"]).items
    assert series.points == ((60.0, 4.0), (120.0, 7.0))
    (change,) = src.changes(EVERYTHING, ["web"]).items
    assert change.kind == "deploy" and dict(change.details)["replicas"] == "2" and "spec" not in dict(change.details)


def test_absent_files_read_as_empty(tmp_path: Path) -> None:
    with BundleWriter(tmp_path, {"name": "only logs"}) as w:
        w.log(LOGS[0])
    assert (tmp_path / "spans.jsonl").read_text() == ""  # the writer leaves every file, empty or not
    (tmp_path / "changes.jsonl").unlink()
    src = BundleSource(tmp_path)
    assert src.spans(EVERYTHING).items == [] and src.changes(EVERYTHING).items == []
    assert src.logs(EVERYTHING).items == [LOGS[0]]


def test_sampling_cap_is_reported(tmp_path: Path) -> None:
    write(tmp_path)
    result = BundleSource(tmp_path, max_records=4).logs(EVERYTHING)
    assert len(result.items) == 4 and result.sampled and "4 of 10" in result.note
    assert [r.timestamp for r in result.items] == sorted(r.timestamp for r in result.items)
    spans = BundleSource(tmp_path, max_records=2).spans(EVERYTHING)
    assert len(spans.items) == 2 and spans.sampled and "2 of 3" in spans.note
    whole = BundleSource(tmp_path, max_records=10).logs(EVERYTHING)
    assert len(whole.items) == 10 and not whole.sampled and whole.note == ""


BAD_LOG_LINES = [
    ('{"timestamp": "yesterday"}', "not a timestamp"),
    ("{not json", ""),
    ("[1, 2]", "not a JSON object"),
    ('{"severity": "INFO"}', "timestamp"),
    ('{"timestamp": "2023-01-29T08:51:24Z", "resource": "pod-1"}', "get"),  # a field of the wrong type
]


@pytest.mark.parametrize(("line", "why"), BAD_LOG_LINES)
def test_a_corrupt_line_is_skipped_counted_and_noted(tmp_path: Path, line: str, why: str) -> None:
    write(tmp_path)
    with open(tmp_path / "logs.jsonl", "a") as f:
        f.write(line + "\n")
    source = BundleSource(tmp_path)
    read = source.logs(EVERYTHING)
    assert [r.message for r in read.items] == [r.message for r in LOGS]  # every good line, none invented
    assert read.sampled and read.note.startswith("logs.jsonl: 1 corrupt line skipped")
    assert "first: logs.jsonl:11: " in read.note and why in read.note
    assert source.skipped["logs.jsonl"].count == 1
    assert not source.spans(EVERYTHING).sampled  # the note stays with the file it is about
    empty = source.logs(Window(0, 1))  # a window without records still says the file was partial
    assert empty.items == [] and empty.sampled and "corrupt" in empty.note


@pytest.mark.parametrize(("line", "why"), BAD_LOG_LINES)
def test_strict_reading_fails_on_the_first_corrupt_line(tmp_path: Path, line: str, why: str) -> None:
    write(tmp_path)
    with open(tmp_path / "logs.jsonl", "a") as f:
        f.write(line + "\n")
    with pytest.raises(BundleError, match=r"logs\.jsonl:11: .*" + why):
        BundleSource(tmp_path, strict=True).logs(Window(0, 1))


def test_corrupt_span_times_and_metric_values_are_skipped_and_counted(tmp_path: Path) -> None:
    write(tmp_path)
    with open(tmp_path / "spans.jsonl", "a") as f:
        f.write('{"name": "projects/p/traces/t/spans/x"}\n')  # no spanId
        f.write('{"spanId": "y", "startTime": "2023-02-30T00:00:00Z", "endTime": "2023-01-29T08:51:24Z"}\n')
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write('{"metric": {"type": "m"}, "points": [{"interval": {"endTime": "2023-01-29T08:51:24Z"}, '
                '"value": {"doubleValue": "lots"}}]}\n')
    source = BundleSource(tmp_path)
    spans = source.spans(EVERYTHING)
    assert len(spans.items) == len(SPANS) and spans.sampled
    assert "spans.jsonl: 2 corrupt lines skipped" in spans.note and "spans.jsonl:4" in spans.note
    metrics = source.metrics(EVERYTHING)
    assert {m.metric for m in metrics.items} == {"custom/cpu", "custom/mem"}
    assert metrics.sampled and "metrics.jsonl: 1 corrupt line skipped" in metrics.note and "lots" in metrics.note
    assert set(source.skipped) == {"spans.jsonl", "metrics.jsonl"}


def test_a_file_with_no_valid_line_fails(tmp_path: Path) -> None:
    write(tmp_path)
    (tmp_path / "changes.jsonl").write_text("{not json\n\n[]\n")
    with pytest.raises(BundleError, match=r"changes\.jsonl: none of its 2 non-blank lines is a valid record"):
        BundleSource(tmp_path).changes(EVERYTHING)


def test_invalid_utf8_is_one_corrupt_line(tmp_path: Path) -> None:
    write(tmp_path)
    with open(tmp_path / "logs.jsonl", "ab") as f:
        f.write(b'{"timestamp": "2023-01-29T08:51:24Z", "textPayload": "\xff\xfe"}\n')
    read = BundleSource(tmp_path).logs(EVERYTHING)
    assert len(read.items) == len(LOGS) and "1 corrupt line" in read.note and "utf-8" in read.note


def test_time_range(tmp_path: Path) -> None:
    write(tmp_path)
    assert BundleSource(tmp_path).time_range() == (100.0, 220.0)  # the last metric point with a finite value
    empty = tmp_path / "empty"
    with BundleWriter(empty):
        pass
    assert BundleSource(empty).time_range() is None


def test_not_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="not a telemetry bundle"):
        BundleSource(tmp_path)
    (tmp_path / "manifest.json").write_text('{"format": "other/9"}')
    with pytest.raises(BundleError, match="unknown bundle format"):
        BundleSource(tmp_path)
    (tmp_path / "manifest.json").write_text("[]")
    with pytest.raises(BundleError, match="not a JSON object"):
        BundleSource(tmp_path)
    (tmp_path / "manifest.json").write_text("{")
    with pytest.raises(BundleError, match=r"manifest\.json"):
        BundleSource(tmp_path)


def test_rfc3339_with_nanoseconds() -> None:
    assert from_rfc3339("2023-01-29T08:51:24.968139185Z") == pytest.approx(1674982284.968139, abs=1e-6)
    assert from_rfc3339("2023-01-29T16:51:24.968139185+08:00") == from_rfc3339("2023-01-29T08:51:24.968139185Z")
    assert from_rfc3339("2023-01-29T08:51:24+00:00") == 1674982284.0
    assert from_rfc3339("2023-01-29T08:51:24") == 1674982284.0  # no offset: UTC
    assert from_rfc3339("2023-01-29t08:51:24.5z") == 1674982284.5  # RFC 3339 allows lower case
    assert from_rfc3339(to_rfc3339(1674982284.5)) == 1674982284.5
    assert to_rfc3339(1674982284.25) == "2023-01-29T08:51:24.250000Z"
    for bad in ("not a time", "", "2023-13-40T00:00:00Z"):
        with pytest.raises(BundleError):
            from_rfc3339(bad)


@pytest.mark.parametrize(("method", "kind"), [
    ("google.cloud.run.v2.Services.UpdateService", "deploy"),  # gcloud run deploy, google_cloud_run_v2_service
    ("google.cloud.run.v2.Services.CreateService", "deploy"),
    ("google.cloud.run.v1.Services.ReplaceService", "deploy"),
    ("google.cloud.functions.v2.FunctionService.UpdateFunction", "deploy"),
    ("google.cloud.run.v2.Services.DeleteService", "config"),
    ("google.iam.admin.v1.UpdateRole", "config"),  # an update elsewhere is still a configuration change
    ("google.cloud.run.v2.Services.UpdateServiceX", "config"),
])
def test_cloud_run_api_v2_deploys_are_deploys(method: str, kind: str) -> None:
    """A deploy through the Admin API v2 is a deploy (a rollback can be proposed), not a configuration change."""
    from shared.telemetry.bundle import classify_method

    assert classify_method(method) == kind
