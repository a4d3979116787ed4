"""The on-disk telemetry bundle: a folder of JSON-lines files in (a subset of) GCP's own shapes.

See docs/bundle-format.md. `BundleWriter` writes one, `BundleSource` reads it as a `TelemetrySource`.
Log and span files are indexed in time once (a few numbers a line, not the records); a read decodes the lines it
returns. Metric and change files are small: parsed once and kept.
"""

from __future__ import annotations

import bisect
import json
import operator
import os
import re
import zlib
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import IO, Any, Generic, TypeVar

from shared.ports import LogPatternCounter
from shared.telemetry.bundle_codec import (  # re-exported: the bundle's format is imported from here
    BundleError,
    classify_method,
    decode_change,
    decode_log,
    decode_series,
    decode_span,
    encode_change,
    encode_log,
    encode_series,
    encode_span,
    from_rfc3339,
    to_rfc3339,
)
from shared.telemetry_records import ChangeEvent, LogRecord, MetricSeries, ReadResult, Span, Window

FORMAT = "autosre-bundle/1"
LOGS, SPANS, METRICS, CHANGES = "logs.jsonl", "spans.jsonl", "metrics.jsonl", "changes.jsonl"
MANIFEST = "manifest.json"
DEFAULT_MAX_RECORDS = 20_000  # log lines or spans per read: past it, whole traces are sampled

T = TypeVar("T")
__all__ = ["CHANGES", "DEFAULT_MAX_RECORDS", "FORMAT", "LOGS", "MANIFEST", "METRICS", "SPANS", "BundleError",
           "BundleSource", "BundleWriter", "Skipped", "classify_method", "decode_change", "decode_log",
           "decode_series", "decode_span", "encode_change", "encode_log", "encode_series", "encode_span",
           "from_rfc3339", "to_rfc3339"]


# ---------------------------------------------------------------- writing


class BundleWriter:
    """Writes a bundle folder; use as a context manager. Records may be written in any order."""

    def __init__(self, path: str | os.PathLike[str], manifest: dict[str, Any] | None = None):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._manifest = {"format": FORMAT, **(manifest or {})}
        self._files: dict[str, IO[str]] = {}
        self.counts = {LOGS: 0, SPANS: 0, METRICS: 0, CHANGES: 0}

    def _write(self, name: str, obj: dict[str, Any]) -> None:
        f = self._files.get(name)
        if f is None:
            f = self._files[name] = open(self.path / name, "w", encoding="utf-8")  # noqa: SIM115
        f.write(json.dumps(obj, separators=(",", ":")) + "\n")
        self.counts[name] += 1

    def log(self, r: LogRecord) -> None:
        self._write(LOGS, encode_log(r))

    def span(self, s: Span) -> None:
        self._write(SPANS, encode_span(s))

    def series(self, m: MetricSeries) -> None:
        self._write(METRICS, encode_series(m))

    def change(self, c: ChangeEvent) -> None:
        self._write(CHANGES, encode_change(c))

    def close(self) -> None:
        for name in (LOGS, SPANS, METRICS, CHANGES):
            if name not in self._files:
                (self.path / name).touch()
        for f in self._files.values():
            f.close()
        self._files.clear()
        manifest = {**self._manifest, "counts": {k.split(".")[0]: v for k, v in self.counts.items()}}
        (self.path / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")

    def __enter__(self) -> BundleWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------- reading


@dataclass
class _Timeline(Generic[T]):
    items: list[T]
    keys: list[float]

    def between(self, window: Window) -> list[T]:
        lo = bisect.bisect_left(self.keys, window.start)
        hi = bisect.bisect_left(self.keys, window.end)
        return self.items[lo:hi]


@dataclass
class Skipped:
    """Lines of one file that did not parse: how many, and the first one's `<file>:<line>: <why>`."""

    count: int = 0
    first: str = ""

    def note(self, name: str) -> str:
        lines = "line" if self.count == 1 else "lines"
        return f"{name}: {self.count} corrupt {lines} skipped, the report reads the rest (first: {self.first})"

    def add(self, error: BundleError) -> None:
        self.count += 1
        self.first = self.first or str(error)


_BAD_LINE = (ValueError, KeyError, TypeError, AttributeError, IndexError, OverflowError, RecursionError)


def _decode_line(raw: bytes, decode: Callable[[dict[str, Any]], T]) -> T:
    obj = json.loads(raw.decode("utf-8"))
    if not isinstance(obj, dict):
        raise BundleError("record is not a JSON object")
    return decode(obj)


def _bad_line(exc: BaseException, where: str, skipped: Skipped | None) -> None:
    """A line that did not decode: `BundleError("<where>: <why>")` raised when `skipped` is None (strict), else
    counted there so the caller skips it."""
    error = BundleError(f"{where}: {exc}")
    if skipped is None:
        raise error from exc
    skipped.add(error)


def _read_jsonl(path: Path, decode: Callable[[dict[str, Any]], T], skipped: Skipped | None = None) -> Iterator[T]:
    """The file's records, in file order. A line that does not decode raises `BundleError("<file>:<line>: <why>")`
    when `skipped` is None; otherwise it is skipped and counted there, unless no line of the file decodes at all
    (a file that is all corrupt is not a sample of anything: it still fails)."""
    if not path.exists():
        return
    good = 0
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                record = _decode_line(raw, decode)
            except _BAD_LINE as exc:
                _bad_line(exc, f"{path.name}:{lineno}", skipped)
                continue
            good += 1
            yield record
    if skipped is not None and skipped.count and not good:
        raise BundleError(f"{path.name}: none of its {skipped.count} non-blank lines is a valid record "
                          f"(first: {skipped.first})")


def _timeline(items: Iterable[T], key: Callable[[T], float]) -> _Timeline[T]:
    ordered = sorted(items, key=key)
    return _Timeline(ordered, [key(i) for i in ordered])


def _keep(service: str, services: list[str] | None) -> bool:
    return services is None or service in services


# A log or span line as the writer writes it (compact JSON, its keys in the writer's order, the whole line matched)
# is placed in time from its text, without decoding it. Any other line is decoded to be placed.
_STAMP = rb'(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{6})Z'
_TEXT = rb'"[^"\\\n]*(?:\\.[^"\\\n]*)*"'
_NAME = rb'"[^"\\\n]*"'
_LOG_LINE = re.compile(  # groups: second, microseconds, service, trace id
    rb'\{"timestamp":"' + _STAMP + rb'","severity":' + _NAME + rb',"resource":\{"type":' + _NAME
    + rb',"labels":\{"service_name":"([^"\\\n]*)"(?:,"pod_name":' + _NAME + rb')?\}\},"textPayload":' + _TEXT
    + rb'(?:,"trace":"[^"\\\n]*?/traces/([^"\\/\n]*)")?(?:,"spanId":' + _NAME + rb')?\}\s*$')
_SPAN_LINE = re.compile(  # groups: trace id, second, microseconds (start), second, microseconds (end), service
    rb'\{"name":"[^"\\\n]*?/traces/([^"\\/\n]*)/spans/[^"\\\n]*","spanId":' + _NAME + rb',"displayName":\{"value":'
    + _TEXT + rb'\},"startTime":"' + _STAMP + rb'","endTime":"' + _STAMP
    + rb'","attributes":\{"attributeMap":\{"service\.name":\{"stringValue":\{"value":"([^"\\\n]*)"\}\}'
    + rb'(?:,"k8s\.pod\.name":\{"stringValue":\{"value":' + _NAME + rb'\}\})?\}\},"status":\{"code":-?\d+'
    + rb'(?:,"message":' + _TEXT + rb')?\}(?:,"parentSpanId":' + _NAME + rb')?\}\s*$')
_SECONDS: dict[bytes, int | None] = {}  # b"YYYY-MM-DDTHH:MM:SS" -> UNIX seconds (None: not a time)


def _second(key: bytes) -> int | None:
    if key not in _SECONDS:
        if len(_SECONDS) > 1_000_000:
            _SECONDS.clear()
        try:
            _SECONDS[key] = round(from_rfc3339(key.decode("ascii") + "Z"))
        except BundleError:
            _SECONDS[key] = None
    return _SECONDS[key]


# per placed line: (time, service, trace id), from the pattern's groups
_LOG_PLACE = (_LOG_LINE, (0, 1), None, 2, 3)  # pattern, (second, micro) of the time, of the end, service, trace
_SPAN_PLACE = (_SPAN_LINE, (1, 2), (3, 4), 5, 0)
CHUNK = 1 << 24


def _chunks(path: Path) -> Iterator[tuple[int, int, list[bytes]]]:
    """(byte offset, line number of the first line, lines) of a file, read in chunks of whole lines."""
    offset, lineno, rest = 0, 1, b""
    with open(path, "rb") as f:
        while True:
            data = f.read(CHUNK)
            buf = rest + data
            if not buf:
                return
            cut = buf.rfind(b"\n") + 1 if data else len(buf)
            if cut == 0:
                rest = buf
                continue
            buf, rest = buf[:cut], buf[cut:]
            lines = buf.split(b"\n")
            if buf.endswith(b"\n"):
                lines.pop()
            yield offset, lineno, lines
            offset, lineno = offset + len(buf), lineno + len(lines)


class _Index(Generic[T]):
    """One JSON-lines file placed in time without keeping its records: per line its time, offset, length, service
    and a hash of its trace id, sorted by time (28 bytes a line). A read decodes only the lines it returns, from a
    the file, by positioned reads. Lines the writer did not write (another key order, spaces) are decoded to be placed;
    a line that fails to decode is skipped and counted (`strict`: fails the read, on the first one)."""

    def __init__(self, path: Path, decode: Callable[[dict[str, Any]], T], time_of: Callable[[T], float],
                 place: tuple[Any, ...], skipped: Skipped | None):
        self.path, self.decode, self.skipped = path, decode, skipped
        self._fd: int | None = None
        self.services: list[str] = []
        self._ids: dict[bytes, int] = {}
        self.times, self.offsets, self.lengths = array("d"), array("q"), array("I")
        self.sids, self.hashes = array("I"), array("I")
        self.bytes = 0
        good = 0
        pattern, (sec, micro), end, service, trace = place
        times, offsets, lengths, sids, hashes = self.times, self.offsets, self.lengths, self.sids, self.hashes
        seconds, ids, crc32 = _SECONDS, self._ids, zlib.crc32
        for offset, first_line, lines in _chunks(path):
            slow: list[tuple[int, int, bytes]] = []
            o = offset
            for k, m in enumerate(map(pattern.match, lines) if skipped is not None else [None] * len(lines)):
                x = lines[k]
                start, o = o, o + len(x) + 1
                if m is not None:
                    g = m.groups()
                    t = seconds.get(g[sec], -1)
                    if t == -1:
                        t = _second(g[sec])
                    if end is not None and t is not None:  # a span's end must be a time too
                        e = seconds.get(g[end[0]], -1)
                        if (_second(g[end[0]]) if e == -1 else e) is None:
                            t = None
                    if t is not None:
                        times.append((t * 1_000_000 + int(g[micro])) / 1_000_000)
                        offsets.append(start)
                        lengths.append(len(x) + 1)
                        sid = ids.get(g[service])
                        sids.append(sid if sid is not None else self._sid(g[service]))
                        hashes.append(crc32(g[trace] or b"%d" % start))
                        good += 1
                        continue
                if x.strip():
                    slow.append((k, start, x))
            for k, start, x in slow:  # not as the writer writes it: decode it to place it
                try:
                    record = _decode_line(x, decode)
                except _BAD_LINE as exc:
                    _bad_line(exc, f"{path.name}:{first_line + k}", skipped)
                    continue
                good += 1
                tid = str(getattr(record, "trace_id", "")).encode()
                times.append(time_of(record))
                offsets.append(start)
                lengths.append(len(x) + 1)
                sids.append(self._sid(str(getattr(record, "service", "")).encode()))
                hashes.append(crc32(tid or b"%d" % start))
            self.bytes = o
        if skipped is not None and skipped.count and not good:
            raise BundleError(f"{path.name}: none of its {skipped.count} non-blank lines is a valid record "
                              f"(first: {skipped.first})")
        times = self.times
        if not all(map(operator.le, times, islice(times, 1, None))):
            order = sorted(range(len(times)), key=times.__getitem__)
            self.times = array("d", map(times.__getitem__, order))
            self.offsets = array("q", map(self.offsets.__getitem__, order))
            self.lengths = array("I", map(self.lengths.__getitem__, order))
            self.sids = array("I", map(self.sids.__getitem__, order))
            self.hashes = array("I", map(self.hashes.__getitem__, order))
        self._fd = os.open(path, os.O_RDONLY) if len(self.times) else None

    def _sid(self, service: bytes) -> int:
        sid = self._ids.get(service)
        if sid is None:
            sid = self._ids[service] = len(self.services)
            self.services.append(service.decode("utf-8", "replace"))
        return sid

    def select(self, window: Window, services: list[str] | None, bound: int) -> tuple[list[int], int]:
        """The lines in the window (of the services), in time order, and how many there were. Past `bound`, the
        lines of the `bound` smallest trace hashes: whole traces kept or left (so a kept request keeps all its
        lines, and the spans and lines of one trace are kept together), spread evenly over the window."""
        lo, hi = bisect.bisect_left(self.times, window.start), bisect.bisect_left(self.times, window.end)
        chosen: Sequence[int]
        if services is None:
            chosen = range(lo, hi)
        else:
            wanted = {i for i, s in enumerate(self.services) if s in services}
            sids = self.sids
            chosen = [i for i in range(lo, hi) if sids[i] in wanted]
        total = len(chosen)
        if total <= bound:
            return list(chosen), total
        hashes = self.hashes
        cut = min(2**32, int(2**32 * bound / total * 1.2) + 1)
        candidates = [i for i in chosen if hashes[i] < cut]
        if len(candidates) < bound:
            candidates = list(chosen)
        candidates.sort(key=lambda i: (hashes[i], i))
        return sorted(candidates[:bound]), total

    def records(self, lines: list[int]) -> Iterator[T]:
        """The records of these lines; a line that fails to decode now is skipped and counted."""
        if self._fd is None:
            return
        fd, offsets, lengths = self._fd, self.offsets, self.lengths
        for i in lines:  # positioned reads: the file is not mapped, only the lines read pass through memory
            start = offsets[i]
            raw = os.pread(fd, lengths[i], start)
            try:
                yield _decode_line(raw, self.decode)
            except _BAD_LINE as exc:
                _bad_line(exc, f"{self.path.name}: line at byte {start}", self.skipped)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.close()


READ_CACHE = 8  # the latest reads kept decoded: the specialists of one process ask for the same windows


class BundleSource:
    """A `TelemetrySource` over a bundle folder. Reads are bounded by `max_records` per call.

    Log and span files are indexed once (time, service and trace of each line, not the records) and each read
    decodes only the lines it returns: memory grows with what is read, not with the file. Past `max_records` a
    read keeps whole traces (the smallest hashes of their ids, the same in logs and spans) and says so. The latest
    reads are kept, so specialists sharing a source (embedded) decode a window once.

    A corrupt line (not JSON, a required field missing, a bad time or value) is skipped and counted, and every read
    of that file says so in its note (`ReadResult.sampled`, so the specialists carry it into the report); a file
    in which no line is valid fails its reads with `BundleError`. `strict=True` fails on the first corrupt line."""

    log_counter: LogPatternCounter | None = None  # a folder has no pre-aggregation: the analyst reads lines

    def __init__(self, path: str | os.PathLike[str], max_records: int = DEFAULT_MAX_RECORDS, strict: bool = False):
        self.path = Path(path)
        if not (self.path / MANIFEST).exists():
            raise BundleError(f"{self.path} is not a telemetry bundle (no {MANIFEST})")
        try:
            self.manifest: dict[str, Any] = json.loads((self.path / MANIFEST).read_text())
        except ValueError as exc:
            raise BundleError(f"{MANIFEST}: {exc}") from exc
        if not isinstance(self.manifest, dict):
            raise BundleError(f"{MANIFEST}: not a JSON object")
        if self.manifest.get("format") != FORMAT:
            raise BundleError(f"unknown bundle format {self.manifest.get('format')!r}, expected {FORMAT}")
        self.max_records = max_records
        self.strict = strict
        self.skipped: dict[str, Skipped] = {}  # file name -> corrupt lines skipped (files read so far)
        self._indexes: dict[str, _Index[Any]] = {}
        self._failed: dict[str, BundleError] = {}
        self._series: list[MetricSeries] | None = None
        self._changes: _Timeline[ChangeEvent] | None = None
        self._cache: dict[tuple[str, Window, tuple[str, ...] | None], ReadResult[Any]] = {}
        self.bytes_read = 0  # bytes of the bundle's files read so far (indexing reads a file once)

    def describe(self) -> dict[str, str]:
        return {"source": "bundle", "path": str(self.path), "name": str(self.manifest.get("name", ""))}

    def _skipped(self, name: str) -> Skipped | None:
        return None if self.strict else self.skipped.setdefault(name, Skipped())

    def _tidy(self, name: str) -> None:
        if name in self.skipped and not self.skipped[name].count:
            del self.skipped[name]

    def _read(self, name: str, decode: Callable[[dict[str, Any]], T]) -> list[T]:
        try:
            items = list(_read_jsonl(self.path / name, decode, self._skipped(name)))
        finally:
            self._tidy(name)
        if (self.path / name).exists():
            self.bytes_read += (self.path / name).stat().st_size
        return items

    def _index(self, name: str, decode: Callable[[dict[str, Any]], T], time_of: Callable[[T], float],
               place: tuple[Any, ...]) -> _Index[T] | None:
        if name in self._failed:
            raise self._failed[name]
        if name not in self._indexes:
            if not (self.path / name).exists():
                return None
            try:
                index = _Index(self.path / name, decode, time_of, place, self._skipped(name))
            except BundleError as exc:
                if not self.strict:
                    self._failed[name] = exc
                raise
            finally:
                self._tidy(name)
            self._indexes[name] = index
            self.bytes_read += index.bytes
        found: _Index[T] = self._indexes[name]
        return found

    def _indexed(self, name: str, what: str, window: Window, services: list[str] | None,
                 index: _Index[T] | None) -> ReadResult[T]:
        key = (name, window, None if services is None else tuple(services))
        cached = self._cache.get(key)
        if cached is None:
            items: list[T] = []
            read = ReadResult(items)
            if index is not None:
                lines, total = index.select(window, services, self.max_records)
                items = list(index.records(lines))
                self.bytes_read += sum(index.lengths[i] for i in lines)
                self._tidy(name)
                read = ReadResult(items)
                if len(lines) < total:
                    read = ReadResult(items, sampled=True,
                                      note=f"{what}: {len(lines)} of {total} sampled by trace (whole traces kept)")
            while len(self._cache) >= READ_CACHE:
                del self._cache[next(iter(self._cache))]
            self._cache[key] = cached = read
        result = self._noted(cached, name)
        return ReadResult(list(result.items), result.sampled, result.note)

    def _noted(self, read: ReadResult[T], name: str) -> ReadResult[T]:
        skipped = self.skipped.get(name)
        if skipped is None:
            return read
        note = "; ".join(n for n in (read.note, skipped.note(name)) if n)
        return ReadResult(read.items, sampled=True, note=note)

    def logs(self, window: Window, services: list[str] | None = None) -> ReadResult[LogRecord]:
        index = self._index(LOGS, decode_log, _log_time, _LOG_PLACE)
        return self._indexed(LOGS, "logs", window, services, index)

    def spans(self, window: Window, services: list[str] | None = None) -> ReadResult[Span]:
        index = self._index(SPANS, decode_span, _span_time, _SPAN_PLACE)
        return self._indexed(SPANS, "spans", window, services, index)

    def metrics(self, window: Window, services: list[str] | None = None) -> ReadResult[MetricSeries]:
        if self._series is None:
            self._series = self._read(METRICS, decode_series)
        out: list[MetricSeries] = []
        for m in self._series:
            if not _keep(m.service, services):
                continue
            points = tuple(p for p in m.points if window.contains(p[0]))
            if points:
                out.append(
                    MetricSeries(m.metric, m.service, points, m.instance, m.unit, m.labels)
                )
        return self._noted(ReadResult(out), METRICS)

    def changes(self, window: Window, services: list[str] | None = None) -> ReadResult[ChangeEvent]:
        if self._changes is None:
            self._changes = _timeline(self._read(CHANGES, decode_change), lambda c: c.timestamp)
        items = [c for c in self._changes.between(window) if _keep(c.service, services)]
        return self._noted(ReadResult(items), CHANGES)

    def time_range(self) -> tuple[float, float] | None:
        """The first and last time a record of the bundle carries (None when it holds none). Places every line of
        the log and span files (without keeping them) and reads the metric and change files, so it raises
        `BundleError` as the reads would."""
        everything = Window(-1e12, 1e12)
        self.changes(everything)
        self.metrics(everything)
        times: list[float] = []
        for index in (self._index(LOGS, decode_log, _log_time, _LOG_PLACE),
                      self._index(SPANS, decode_span, _span_time, _SPAN_PLACE)):
            if index is not None and len(index.times):
                times += [index.times[0], index.times[-1]]
        if self._changes is not None and self._changes.keys:
            times += [self._changes.keys[0], self._changes.keys[-1]]
        times += [t for m in self._series or [] if m.points for t in (m.points[0][0], m.points[-1][0])]
        return (min(times), max(times)) if times else None

    def close(self) -> None:
        """Close the indexed files (reads index them again)."""
        for index in self._indexes.values():
            index.close()
        self._indexes.clear()
        self._cache.clear()


def _log_time(r: LogRecord) -> float:
    return r.timestamp


def _span_time(s: Span) -> float:
    return s.start
