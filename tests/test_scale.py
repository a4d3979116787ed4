"""Big incidents: the scale generator, the bundle reader's index and trace sampling, and the verdict on the demo
faults when the reads are sampled."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from demo.faults import FAULT_KINDS
from demo.generator import generate
from demo.scale import instance_factor, scale, trace_ratio
from functions.local import triage
from shared.telemetry.bundle import BundleSource, BundleWriter, encode_log, to_rfc3339
from shared.telemetry_records import LogRecord, Span, Window

EVERYTHING = Window(-1e12, 1e12)
T0 = 1_700_000_000.0


def test_scale_multiplies_the_traffic_and_keeps_the_truth(tmp_path: Path) -> None:
    scaled = scale("bad_deploy", 3, tmp_path / "x3")
    base = json.loads((tmp_path / "x3" / "base" / "bundle" / "manifest.json").read_text())["counts"]
    assert scaled.counts["logs"] == 3 * base["logs"] and scaled.counts["spans"] == 3 * base["spans"]
    assert scaled.counts["metrics"] == 3 * base["metrics"]
    truth = json.loads(scaled.truth_path.read_text())
    assert truth["root_service"] == scaled.root_service == "payment" and truth["scale"] == 3
    source = BundleSource(scaled.bundle_dir, max_records=10**7)
    logs, spans = source.logs(EVERYTHING), source.spans(EVERYTHING)
    assert len(logs.items) == scaled.counts["logs"] and not logs.sampled and not source.skipped
    assert len({s.trace_id for s in spans.items}) == 3 * len({s.trace_id for s in BundleSource(
        tmp_path / "x3" / "base" / "bundle", max_records=10**7).spans(EVERYTHING).items})
    assert {r.instance for r in logs.items if r.instance.endswith("-r2")}  # more instances


def test_scale_bounds() -> None:
    assert trace_ratio(100, 13_429) == pytest.approx(200_000 / 1_342_900)
    assert trace_ratio(10, 13_429) == 1.0
    assert instance_factor(100, 257) == 7 and instance_factor(2, 257) == 2


def _write(path: Path, traces: int, lines_per_trace: int) -> None:
    with BundleWriter(path) as w:
        for t in range(traces):
            for k in range(lines_per_trace):
                ts = T0 + t + k / 100
                w.log(LogRecord(ts, f"svc{t % 3}", f"line {k} of {t}", "INFO", "pod-1", f"{t:032x}", f"{k:016x}"))
                w.span(Span(f"{t:032x}", f"{k:016x}", "", f"svc{t % 3}", "op", ts, ts + 0.01))


def test_a_sampled_read_keeps_whole_traces_the_same_in_logs_and_spans(tmp_path: Path) -> None:
    _write(tmp_path, traces=200, lines_per_trace=5)
    source = BundleSource(tmp_path, max_records=250)
    logs, spans = source.logs(EVERYTHING), source.spans(EVERYTHING)
    assert logs.sampled and "250 of 1000 sampled by trace" in logs.note and len(logs.items) == 250
    per_trace: dict[str, int] = defaultdict(int)
    for r in logs.items:
        per_trace[r.trace_id] += 1
    assert sum(n != 5 for n in per_trace.values()) <= 1  # whole traces, but for the one cut at the bound
    assert {r.trace_id for r in logs.items} == {s.trace_id for s in spans.items}
    assert [r.timestamp for r in logs.items] == sorted(r.timestamp for r in logs.items)
    again = BundleSource(tmp_path, max_records=250).logs(EVERYTHING)
    assert again.items == logs.items  # deterministic: the same sample in another process


def test_lines_not_in_the_writers_shape_are_read_the_same(tmp_path: Path) -> None:
    _write(tmp_path, traces=4, lines_per_trace=2)
    written = BundleSource(tmp_path).logs(EVERYTHING).items
    with open(tmp_path / "logs.jsonl", "w") as f:  # the same records, spaced and with their keys reordered
        for r in reversed(written):
            entry = encode_log(r)
            f.write(json.dumps(dict(reversed(list(entry.items()))), indent=None) + "\n")
    source = BundleSource(tmp_path)
    assert source.logs(EVERYTHING).items == written and not source.skipped


def test_a_read_decodes_only_its_window_and_returns_a_copy(tmp_path: Path) -> None:
    _write(tmp_path, traces=50, lines_per_trace=2)
    size = (tmp_path / "logs.jsonl").stat().st_size
    placing = BundleSource(tmp_path, keep_index=False)  # places the file itself: reads it once, then its lines
    assert len(placing.logs(Window(T0, T0 + 5)).items) == 10 and size <= placing.bytes_read < 2 * size
    source = BundleSource(tmp_path)  # takes the index the writer kept: reads it and the lines returned
    first = source.logs(Window(T0, T0 + 5))
    assert len(first.items) == 10 and source.bytes_read < size
    first.items.clear()
    assert len(source.logs(Window(T0, T0 + 5)).items) == 10
    assert source.logs(Window(T0 + 10, T0 + 11), ["svc1"]).items[0].message == "line 0 of 10"
    first_last = source.time_range()
    assert first_last is not None and first_last[0] == T0 and first_last[1] == pytest.approx(T0 + 49.01)
    assert to_rfc3339(source.spans(EVERYTHING).items[-1].end).endswith("Z")


@pytest.mark.parametrize("fault", FAULT_KINDS)
def test_the_verdict_on_the_demo_faults_is_unchanged_by_sampling(tmp_path: Path, fault: str) -> None:
    scenario = generate(fault, tmp_path)
    source = BundleSource(scenario.bundle_dir, max_records=2000)  # the baseline windows hold 3 to 5 times more
    result = triage(scenario.alert_path.read_bytes(), source)
    notes = [n for rnd in result.state.rounds.values() for ns in rnd.notes.values() for n in ns]
    assert any("sampled by trace" in n for n in notes), notes  # the report says it read a sample
    assert result.report.causes[0].service == scenario.root_service
