"""Reads cut by their bound (shared/telemetry/bounds.py) in the bundle folder and the in-memory source: logs and
spans keep whole traces, the same ones in both sources; metric series and changes are evenly sampled; each cut
says what it kept of how many."""

from __future__ import annotations

from pathlib import Path

from shared.telemetry.bounds import MAX_RECORDS
from shared.telemetry.bundle import BundleSource
from shared.telemetry.bundle_index import evenly, whole_traces
from shared.telemetry.memory import MemorySource
from shared.telemetry_records import ChangeEvent, LogRecord, MetricSeries, Span, Window
from tests.data import write_bundle

EVERYTHING = Window(0.0, 1e6)
# 12 traces of 1 to 4 lines each, interleaved in time
LOGS = [LogRecord(100.0 + i, "api", f"line {i}", "INFO", "pod-0", f"trace-{i % 12}", f"s{i}")
        for i in range(12 * 4) if i % 12 < 12 - (i // 12) * 3]
SPANS = [Span(r.trace_id, r.span_id, "", "api", "GET /", r.timestamp, r.timestamp + 0.5) for r in LOGS]
SERIES = [MetricSeries(f"m{i}", "api", ((100.0, float(i)),)) for i in range(7)]
CHANGES = [ChangeEvent(100.0 + i, "api", "deploy", f"deploy {i}") for i in range(7)]


def bundle(tmp: Path, bound: int) -> BundleSource:
    return write_bundle(tmp, LOGS, SPANS, SERIES, CHANGES, max_records=bound)


def test_whole_traces_never_splits_the_trace_at_the_bound() -> None:
    hashes = [5, 1, 5, 3, 1, 3, 9]  # traces 1 (2 lines), 3 (2), 5 (2), 9 (1)
    assert whole_traces(hashes, 7) == ([0, 1, 2, 3, 4, 5, 6], True)
    assert whole_traces(hashes, 4) == ([1, 3, 4, 5], True)
    assert whole_traces(hashes, 5) == ([1, 3, 4, 5], True)  # trace 5 would not fit whole: left out
    assert whole_traces(hashes, 1) == ([1], False)  # the first trace alone is over the bound: cut, and said so


def test_evenly_keeps_the_order_and_the_spread() -> None:
    assert evenly(list(range(10)), 5) == [0, 2, 4, 6, 8] and evenly([1, 2], 5) == [1, 2]


def test_the_bundle_and_memory_keep_the_same_whole_traces(tmp_path: Path) -> None:
    memory = MemorySource(list(LOGS), list(SERIES), list(SPANS), list(CHANGES), max_records=10)
    folder = bundle(tmp_path, 10)
    for kind in ("logs", "spans"):
        a, b = getattr(folder, kind)(EVERYTHING), getattr(memory, kind)(EVERYTHING)
        assert a.items == b.items and a.note == b.note and a.sampled
        assert a.note.endswith(f"of {len(LOGS)} sampled by trace (whole traces kept)") and len(a.items) <= 10
        kept = {r.trace_id for r in a.items}
        assert sorted(r.span_id for r in a.items) == sorted(r.span_id for r in LOGS if r.trace_id in kept)
    assert {r.trace_id for r in folder.logs(EVERYTHING).items} == {s.trace_id for s in folder.spans(EVERYTHING).items}


def test_metric_series_and_changes_are_evenly_sampled_past_the_bound(tmp_path: Path) -> None:
    memory = MemorySource(list(LOGS), list(SERIES), list(SPANS), list(CHANGES), max_records=3)
    folder = bundle(tmp_path, 3)
    for source in (folder, memory):
        metrics, changes = source.metrics(EVERYTHING), source.changes(EVERYTHING)
        assert [m.metric for m in metrics.items] == ["m0", "m2", "m4"] and metrics.sampled
        assert metrics.note == "metric series: 3 of 7 evenly sampled (limit: 3 per read)"
        assert [c.description for c in changes.items] == ["deploy 0", "deploy 2", "deploy 4"]
        assert changes.note == "changes: 3 of 7 evenly sampled (limit: 3 per read)"
    assert not BundleSource(tmp_path, max_records=7).metrics(EVERYTHING).sampled


def test_the_memory_source_is_bounded_by_default() -> None:
    assert MemorySource().max_records == MAX_RECORDS
    many = [LogRecord(float(i), "api", "x", trace_id=f"t{i // 2}") for i in range(MAX_RECORDS + 10)]
    read = MemorySource(many).logs(EVERYTHING)
    assert read.sampled and MAX_RECORDS - 1 <= len(read.items) <= MAX_RECORDS
    assert "sampled by trace (whole traces kept)" in read.note
