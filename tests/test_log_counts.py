"""Pattern counts from every log line, whatever the read limit; lines over the size limit cut and said; the
streaming counter's memory bounded by the distinct lines, not the lines."""

from __future__ import annotations

import random
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.context import AnalysisContext
from agents.specialists.logs import analysis as logs
from agents.specialists.logs.counts import count_stream
from agents.specialists.logs.log_patterns import PatternMiner
from shared.telemetry.bundle import BundleSource, BundleWriter
from shared.telemetry.bundle_lines import MAX_LINE_BYTES
from shared.telemetry_records import LogRecord, Window

BASE = Window(0.0, 3600.0)
INCIDENT = Window(3600.0, 4800.0)
CTX = AnalysisContext("inc", "frontend", "m", 4500.0, INCIDENT, BASE)
NORMAL = ["GET /api/cart/{} 200 in {} ms", "user {} logged in from 10.0.{}.7", "cache hit ratio {} over {} keys"]


def _lines(window: Window, n: int, seed: int) -> list[LogRecord]:
    rng = random.Random(seed)
    step = window.seconds / n
    return [LogRecord(window.start + i * step, "shop", rng.choice(NORMAL).format(rng.randrange(9999),
                                                                                  rng.randrange(999)),
                      severity="INFO", instance="shop-0", trace_id=f"{rng.getrandbits(64):016x}")
            for i in range(n)]


def _bundle(path: Path, records: list[LogRecord]) -> None:
    with BundleWriter(path, {"name": "t"}) as w:
        for r in sorted(records, key=lambda r: r.timestamp):
            w.log(r)


def test_every_line_is_counted_beyond_the_read_limit(tmp_path: Path) -> None:
    errors = [LogRecord(4000.0 + i, "shop", f"payment gateway refused order {i}: card declined", severity="ERROR",
                        instance="shop-0", trace_id=f"e{i:015x}") for i in range(7)]
    _bundle(tmp_path, _lines(BASE, 3000, 1) + _lines(INCIDENT, 1000, 2) + errors)
    result = logs.analyse(BundleSource(tmp_path, max_records=200), CTX)  # reads: a sample of whole traces
    (new,) = [f for f in result.findings if f.kind == "log.new_pattern"]
    assert new.details.count == 7 and new.details.lines == 1007 and new.details.baseline_lines == 3000
    assert any("every line" in n for n in result.notes), result.notes


def test_an_oversized_line_is_cut_and_noted(tmp_path: Path) -> None:
    huge = LogRecord(4000.0, "shop", "stack dump " + "frame at com.example.Shop.run " * 100_000, severity="ERROR",
                     instance="shop-0")
    _bundle(tmp_path, _lines(BASE, 300, 1) + _lines(INCIDENT, 300, 2) + [huge])
    read = BundleSource(tmp_path).logs(INCIDENT)
    (cut,) = [r for r in read.items if r.message.startswith("stack dump")]
    assert len(cut.message.encode()) <= MAX_LINE_BYTES and cut.message.endswith("[cut]")
    assert cut.timestamp == 4000.0 and cut.service == "shop" and cut.severity == "ERROR"
    assert read.sampled and "cut" in read.note
    result = logs.analyse(BundleSource(tmp_path, max_records=100), CTX)
    assert any("1 lines over" in n and "cut" in n for n in result.notes), result.notes


def _peak(n: int) -> int:
    miner = PatternMiner()
    tracemalloc.start()
    count_stream(miner, [(False, iter([])), (True, _gen(n))], lambda r: 0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def _gen(n: int) -> Iterator[LogRecord]:
    rng = random.Random(3)
    for i in range(n):  # fresh values every line, one record alive at a time
        yield LogRecord(float(i), "shop", rng.choice(NORMAL).format(rng.randrange(99999), rng.randrange(999)),
                        instance="shop-0")


def test_the_streaming_counter_memory_does_not_grow_with_the_lines() -> None:
    small, large = _peak(20_000), _peak(200_000)
    assert large < 1.5 * small + 200_000, (small, large)


def test_a_line_longer_than_a_read_chunk_is_read_past_not_held(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    from shared.telemetry import bundle_lines

    monkeypatch.setattr(bundle_lines, "CHUNK", 100_000)  # the line below spans several chunks
    huge = LogRecord(4000.0, "shop", "x" * 1_000_000, severity="ERROR", instance="shop-0")
    around = _lines(INCIDENT, 50, 2)
    _bundle(tmp_path, [*around, huge])
    read = BundleSource(tmp_path, keep_index=False).logs(INCIDENT)
    assert sorted(r.message for r in read.items if not r.message.startswith("x")) == sorted(
        r.message for r in around)
    (cut,) = [r for r in read.items if r.message.startswith("x")]
    assert cut.message.endswith("[cut]") and cut.severity == "ERROR" and cut.timestamp == 4000.0
