"""The bundle's kept time index (`<file>.idx`): written once, taken while the file is unchanged, never trusted after
the file changed, and the same reads with or without it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from shared.telemetry.bundle import INDEX_SUFFIX, BundleError, BundleSource, BundleWriter, index_files
from shared.telemetry_records import LogRecord, Span, Window
from tests.test_bundle import EVERYTHING, LOGS, SPANS, write

SOME = Window(102.0, 107.0)


def reads(source: BundleSource) -> list[object]:
    out: list[object] = []
    for window in (EVERYTHING, SOME):
        for services in (None, ["api"]):
            for read in (source.logs(window, services), source.spans(window, services)):
                out.append((read.items, read.sampled, read.note))
    return out


def test_the_writer_keeps_the_index_and_reads_take_it(tmp_path: Path) -> None:
    write(tmp_path)
    assert (tmp_path / f"logs.jsonl{INDEX_SUFFIX}").exists() and (tmp_path / f"spans.jsonl{INDEX_SUFFIX}").exists()
    kept = BundleSource(tmp_path)
    assert reads(kept) == reads(BundleSource(tmp_path, keep_index=False))
    assert kept.logs(EVERYTHING).items == LOGS and kept.spans(EVERYTHING).items == SPANS
    fresh = tmp_path / "fresh"
    with BundleWriter(fresh, index=False) as w:
        for r in LOGS:
            w.log(r)
    assert not (fresh / f"logs.jsonl{INDEX_SUFFIX}").exists()
    assert BundleSource(fresh, keep_index=False).logs(EVERYTHING).items == LOGS
    assert not (fresh / f"logs.jsonl{INDEX_SUFFIX}").exists()
    BundleSource(fresh).logs(EVERYTHING)  # the first read keeps it
    assert (fresh / f"logs.jsonl{INDEX_SUFFIX}").exists()


def test_a_changed_file_is_placed_again(tmp_path: Path) -> None:
    write(tmp_path)
    BundleSource(tmp_path).logs(EVERYTHING)
    extra = LogRecord(300.0, "api", "late line", "INFO", "pod-1", "t9", "s9")
    with BundleWriter(tmp_path / "one", index=False) as w:
        w.log(extra)
    with open(tmp_path / "logs.jsonl", "a") as f:  # appended after the index was kept
        f.write((tmp_path / "one" / "logs.jsonl").read_text())
    assert BundleSource(tmp_path).logs(EVERYTHING).items == [*LOGS, extra]
    same_size = (tmp_path / "logs.jsonl").read_text().replace("line 1", "LINE 1")
    (tmp_path / "logs.jsonl").write_text(same_size)  # same size, later modification time
    os.utime(tmp_path / "logs.jsonl", ns=(1, 1))
    assert "LINE 1" in [r.message for r in BundleSource(tmp_path).logs(EVERYTHING).items]


def test_a_damaged_index_is_ignored(tmp_path: Path) -> None:
    write(tmp_path)
    index = tmp_path / f"spans.jsonl{INDEX_SUFFIX}"
    index.write_bytes(index.read_bytes()[:-3])
    assert BundleSource(tmp_path).spans(EVERYTHING).items == SPANS
    index.write_bytes(b"not an index")
    assert BundleSource(tmp_path).spans(EVERYTHING).items == SPANS


def test_corrupt_lines_are_counted_from_the_kept_index_too(tmp_path: Path) -> None:
    write(tmp_path)
    with open(tmp_path / "logs.jsonl", "a") as f:
        f.write("{not json\n")
    first = BundleSource(tmp_path).logs(EVERYTHING)  # places the file and keeps its index with the count
    second = BundleSource(tmp_path).logs(EVERYTHING)  # takes the kept index
    assert first.items == second.items == LOGS
    assert first.note == second.note and "1 corrupt line skipped" in second.note and "logs.jsonl:11" in second.note
    with pytest.raises(BundleError, match=r"logs\.jsonl:11"):
        BundleSource(tmp_path, strict=True).logs(EVERYTHING)


def test_a_read_only_folder_is_read_without_keeping_anything(tmp_path: Path) -> None:
    with BundleWriter(tmp_path, index=False) as w:
        for s in SPANS:
            w.span(s)
    mode = tmp_path.stat().st_mode
    tmp_path.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        if os.access(tmp_path, os.W_OK):  # root writes anyway: nothing to test here
            pytest.skip("the folder stays writable for this user")
        assert BundleSource(tmp_path).spans(EVERYTHING).items == SPANS
        assert not (tmp_path / f"spans.jsonl{INDEX_SUFFIX}").exists()
    finally:
        tmp_path.chmod(mode)


def test_index_files_after_a_streamed_write(tmp_path: Path) -> None:
    with BundleWriter(tmp_path, index=False) as w:
        w.span(Span("t1", "a", "", "api", "GET /x", 100.0, 101.5))
    index_files(tmp_path)
    assert (tmp_path / f"spans.jsonl{INDEX_SUFFIX}").exists()
    assert not (tmp_path / f"logs.jsonl{INDEX_SUFFIX}").exists() or (tmp_path / "logs.jsonl").stat().st_size == 0
