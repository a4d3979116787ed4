"""The telemetry bundle: what BundleWriter writes, BundleSource reads back, sliced per window."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from shared.telemetry.bundle import BundleError, BundleSource, BundleWriter, from_rfc3339, to_rfc3339
from shared.telemetry.models import ChangeEvent, LogRecord, MetricSeries, Span, Window


def write(path: Path) -> None:
    with BundleWriter(path, {"name": "t"}) as w:
        for i in range(10):
            w.log(LogRecord(100.0 + i, "api" if i % 2 else "db", f"line {i} password=hunter2", "ERROR", f"pod-{i % 3}",
                            "t1", "s1"))
        w.span(Span("t1", "a", "", "api", "GET /x", 100.0, 101.5, "pod-1", False))
        w.span(Span("t1", "b", "a", "db", "SELECT", 100.2, 101.0, "pod-2", True, "deadlock"))
        w.series(MetricSeries("custom/cpu", "api", ((100.0, 1.0), (160.0, math.nan), (220.0, 3.0)), "pod-1", "%",
                              (("zone", "a"),)))
        w.change(ChangeEvent(150.0, "api", "deploy", "deploy api v2", "ci@x", (("revision", "api-2"),)))


def test_round_trip_of_every_record_kind(tmp_path: Path) -> None:
    write(tmp_path)
    src = BundleSource(tmp_path)
    everything = Window(0, 1e12)
    logs = src.logs(everything).items
    assert len(logs) == 10 and logs[0] == LogRecord(100.0, "db", "line 0 password=hunter2", "ERROR", "pod-0", "t1",
                                                    "s1")
    spans = src.spans(everything).items
    assert spans == [Span("t1", "a", "", "api", "GET /x", 100.0, 101.5, "pod-1", False),
                     Span("t1", "b", "a", "db", "SELECT", 100.2, 101.0, "pod-2", True, "deadlock")]
    (series,) = src.metrics(everything).items
    assert series.points == ((100.0, 1.0), (220.0, 3.0))  # NaN dropped, points sorted
    assert series.labels == (("zone", "a"),) and series.unit == "%" and series.instance == "pod-1"
    (change,) = src.changes(everything).items
    assert change.kind == "deploy" and change.actor == "ci@x" and dict(change.details)["revision"] == "api-2"
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["counts"] == {"logs": 10, "spans": 2, "metrics": 1, "changes": 1}


def test_windows_are_half_open_and_services_filter(tmp_path: Path) -> None:
    write(tmp_path)
    src = BundleSource(tmp_path)
    assert [r.timestamp for r in src.logs(Window(102.0, 105.0)).items] == [102.0, 103.0, 104.0]
    assert {r.service for r in src.logs(Window(0, 1e12), ["api"]).items} == {"api"}
    assert src.metrics(Window(100.0, 200.0)).items[0].points == ((100.0, 1.0),)
    assert src.changes(Window(0, 150.0)).items == []


def test_sampling_cap_is_reported(tmp_path: Path) -> None:
    write(tmp_path)
    result = BundleSource(tmp_path, max_records=4).logs(Window(0, 1e12))
    assert len(result.items) == 4 and result.sampled and "4 of 10" in result.note


def test_malformed_line_names_file_and_line(tmp_path: Path) -> None:
    write(tmp_path)
    with open(tmp_path / "logs.jsonl", "a") as f:
        f.write('{"timestamp": "yesterday"}\n')
    with pytest.raises(BundleError, match=r"logs.jsonl:11"):
        BundleSource(tmp_path).logs(Window(0, 1))


def test_not_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="not a telemetry bundle"):
        BundleSource(tmp_path)
    (tmp_path / "manifest.json").write_text('{"format": "other/9"}')
    with pytest.raises(BundleError, match="unknown bundle format"):
        BundleSource(tmp_path)


def test_rfc3339_with_nanoseconds() -> None:
    assert from_rfc3339("2023-01-29T08:51:24.968139185Z") == pytest.approx(1674982284.968139)
    assert from_rfc3339("2023-01-29T08:51:24+00:00") == 1674982284.0
    assert from_rfc3339(to_rfc3339(1674982284.5)) == 1674982284.5
    with pytest.raises(BundleError):
        from_rfc3339("not a time")
