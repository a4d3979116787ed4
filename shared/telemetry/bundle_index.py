"""The time index of a bundle's log or span file: per line its time, byte offset, length, service and a hash of its
trace id (28 bytes a line), sorted by time, so that a read decodes only the lines it returns. Built by streaming the
file once and kept beside it (`<file>.idx`, valid while the file keeps its size and modification time), so a bundle
is placed once, not by every process that reads it. Used by shared/telemetry/bundle.py.
"""

from __future__ import annotations

import bisect
import json
import operator
import os
import re
import sys
import zlib
from array import array
from collections.abc import Callable, Iterator, Sequence
from itertools import accumulate, compress, islice, repeat
from pathlib import Path
from typing import Any, Generic, TypeVar

import orjson

from shared.gc_pause import collector_paused
from shared.telemetry.bounds import evenly_sampled
from shared.telemetry.bundle_codec import BundleError, from_rfc3339
from shared.telemetry.bundle_lines import MAX_LINE_BYTES, chunks, place_head
from shared.telemetry_records import ReadResult, Window

T = TypeVar("T")
INDEX_SUFFIX = ".idx"
_INDEX_FORMAT = "autosre-bundle-index/1"
KEEP_DECODED = 100_000  # records kept decoded per file: a line that several reads return is decoded once


class Skipped:
    """Lines of one file that did not parse: how many, and the first one's `<file>:<line>: <why>`; and the lines
    over MAX_LINE_BYTES read only that far (`cut`: cut to their start, or `dropped`: left out)."""

    def __init__(self, count: int = 0, first: str = ""):
        self.count, self.first = count, first
        self.cut: set[int] = set()  # byte offsets of the lines cut
        self.dropped: set[int] = set()  # ... and left out
        self.longest = 0

    def note(self, name: str) -> str:
        notes = []
        if self.count:
            lines = "line" if self.count == 1 else "lines"
            notes.append(f"{name}: {self.count} corrupt {lines} skipped, the report reads the rest "
                         f"(first: {self.first})")
        if self.cut or self.dropped:
            over = f"{name}: {len(self.cut) + len(self.dropped)} lines over {MAX_LINE_BYTES // 1024} KiB (longest " \
                   f"{self.longest:,} bytes)"
            notes.append(over + (f" cut to their first {MAX_LINE_BYTES // 1024} KiB" if self.cut else "")
                         + (f"{' and' if self.cut else ''} left out ({len(self.dropped)})" if self.dropped else ""))
        return "; ".join(notes)

    @property
    def any(self) -> bool:
        return bool(self.count or self.cut or self.dropped)

    def add(self, error: BundleError) -> None:
        self.count += 1
        self.first = self.first or str(error)


BAD_LINE = (ValueError, KeyError, TypeError, AttributeError, IndexError, OverflowError, RecursionError)


def load_line(raw: bytes) -> dict[str, Any]:
    """A line's JSON object."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:  # what orjson refuses and json takes (NaN, huge integers), or a real error
        obj = json.loads(raw.decode("utf-8"))
    if not isinstance(obj, dict):
        raise BundleError("record is not a JSON object")
    return obj


def decode_line(raw: bytes, decode: Callable[[dict[str, Any]], T]) -> T:
    return decode(load_line(raw))


# A log or span decoder: the record of a line's JSON object, given the time the index placed it at (its timestamp,
# or its start: the very float decoding its text gives) or None (then parsed from the text).
Decode = Callable[[dict[str, Any], float | None], T]
# The record of a line too long to read whole, from its first MAX_LINE_BYTES, the time and the service the index
# placed it at; None: the line is left out.
Salvage = Callable[[bytes, float, str], T | None]
STREAM_BLOCK = 1 << 20  # a stream reads neighbouring lines together, this many bytes at a time
READ_BATCH = 2048  # ... and the lines next in time together when they lie close together in the file


def bad_line(exc: BaseException, where: str, skipped: Skipped | None) -> None:
    """A line that did not decode: `BundleError("<where>: <why>")` raised when `skipped` is None (strict), else
    counted there so the caller skips it."""
    why = f"missing field {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {exc}" if isinstance(
        exc, (AttributeError, IndexError, RecursionError)) else str(exc)  # a KeyError alone says only 'spanId'
    error = BundleError(f"{where}: {why}")
    if skipped is None:
        raise error from exc
    skipped.add(error)


def trace_hash(trace_id: bytes, position: int) -> int:
    """The hash a record's trace is kept by (`whole_traces`): CRC-32 of its trace id; a record without one (at this
    position: a line's byte offset, a record's index) is a trace of its own."""
    return zlib.crc32(trace_id or b"%d" % position)


def whole_traces(hashes: Sequence[int], bound: int) -> tuple[list[int], bool]:
    """Which of these lines (their traces' hashes, in line order) a read cut at `bound` keeps: the positions, in
    line order, of the lines of the traces with the smallest hashes, as many whole traces as fit (a trace of its
    own for a line without one; the hash decides, so logs and spans keep the same traces, spread evenly over the
    window), and True. Only when the first trace alone holds more than `bound` lines is it cut: its first `bound`
    lines, and False."""
    n = len(hashes)
    if n <= bound:
        return list(range(n)), True
    cut = min(2**32, int(2**32 * bound / n * 1.2) + 1)  # most lines are not candidates: sort only the likely ones
    candidates = list(compress(range(n), map(cut.__gt__, hashes)))
    if len(candidates) < bound:
        candidates = list(range(n))
    candidates.sort(key=hashes.__getitem__)  # stable: ties stay in line order
    if len(candidates) <= bound:
        return sorted(candidates), True
    split, end = hashes[candidates[bound]], bound  # the first trace left out, or the one the bound would split
    while end and hashes[candidates[end - 1]] == split:
        end -= 1
    if not end:
        return sorted(candidates[:bound]), False
    return sorted(candidates[:end]), True


def evenly(items: list[T], bound: int) -> list[T]:
    """`bound` of the items spread evenly over them, in their order (all of them when they fit): for records that
    belong to no trace (metric series, changes)."""
    if len(items) <= bound:
        return items
    step = len(items) / bound
    return [items[int(i * step)] for i in range(bound)]


def evenly_read(items: list[T], what: str, bound: int | None) -> ReadResult[T]:
    """A read of records that belong to no trace, cut at `bound` (None: none) by `evenly`, and saying so."""
    if bound is None or len(items) <= bound:
        return ReadResult(items)
    kept = evenly(items, bound)
    return ReadResult(kept, sampled=True, note=evenly_sampled(what, len(kept), len(items), bound))


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


# how a line is placed from the pattern's groups: pattern, (second, micro) of the time, of the end, service, trace
LOG_PLACE = (_LOG_LINE, (0, 1), None, 2, 3)
SPAN_PLACE = (_SPAN_LINE, (1, 2), (3, 4), 5, 0)


def _seconds(keys: Sequence[bytes]) -> list[int | None]:
    """The UNIX seconds of b"YYYY-MM-DDTHH:MM:SS" texts (None: not a time)."""
    known = {key: _second(key) for key in set(keys)}
    return list(map(known.__getitem__, keys))


class _Ids(dict[bytes, int]):
    """Service name -> its number, numbering a new one on first sight (looked up from C by `map`)."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def __missing__(self, service: bytes) -> int:
        sid = self[service] = len(self.names)
        self.names.append(service.decode("utf-8", "replace"))
        return sid


_ARRAYS = (("times", "d"), ("offsets", "q"), ("lengths", "I"), ("sids", "I"), ("hashes", "I"))


class Index(Generic[T]):
    """One JSON-lines file placed in time without keeping its records, sorted by time. A read decodes only the
    lines it returns, by positioned reads of the file. Lines the writer did not write (another key order, spaces)
    are decoded to be placed; a line that fails to decode is skipped and counted (`skipped` None, strict: fails
    the read, on the first one). `Index.open` takes the file's kept index when it is still the file's."""

    def __init__(self, path: Path, decode: Decode[T], skipped: Skipped | None, salvage: Salvage[T] | None = None):
        self.path, self.decode, self.skipped, self.salvage = path, decode, skipped, salvage
        self._fd: int | None = None
        self._ids = _Ids()
        self.services = self._ids.names
        self.times, self.offsets, self.lengths = array("d"), array("q"), array("I")
        self.sids, self.hashes = array("I"), array("I")
        self.bytes = 0  # bytes read to build the index (the file's, or its kept index's)
        self.bytes_read = 0  # bytes of lines read by `records` (a line kept decoded is not read again)
        self._decoded: dict[int, T] = {}  # line -> its record, for reads of overlapping windows (KEEP_DECODED)

    @classmethod
    def open(cls, path: Path, decode: Decode[T], time_of: Callable[[T], float],
             place: tuple[Any, ...], skipped: Skipped | None, keep: bool = True,
             salvage: Salvage[T] | None = None) -> Index[T]:
        """The file's index: its kept one when valid, else built and kept beside it (best effort). `keep=False`:
        built in memory, no kept index taken or written. `salvage`: the record of a line over MAX_LINE_BYTES."""
        index = cls(path, decode, skipped, salvage)
        if not (keep and index._load()):
            with collector_paused():  # a chunk's matches are held at once: the collector would scan them again
                index._build(time_of, place)
            if keep:
                index._save()
        index._fd = os.open(path, os.O_RDONLY) if len(index.times) else None
        return index

    # ------------------------------------------------------------ building

    def _build(self, time_of: Callable[[T], float], place: tuple[Any, ...]) -> None:
        path, skipped = self.path, self.skipped
        pattern, (sec, micro), end, service, trace = place
        groups = operator.methodcaller("groups", b"")
        good = 0
        for offset, first_line, lines, long in chunks(path):
            lengths = list(map(operator.add, map(len, lines), repeat(1)))
            for k, n in long.items():  # a line given by its head: placed from it (`_place_head`)
                lengths[k] = n + 1
            starts = list(accumulate(lengths, initial=offset))
            self.bytes = starts.pop()
            matches = list(map(pattern.match, lines)) if skipped is not None else [None] * len(lines)
            placed = list(map(bool, matches))
            rows = list(map(groups, compress(matches, placed)))
            cols: list[Sequence[Any]] = [list(map(operator.itemgetter(k), rows)) for k in range(pattern.groups)]
            if rows:
                times = _seconds(cols[sec])
                ends = _seconds(cols[end[0]]) if end is not None else times  # a span's end must be a time too
                if None in times or None in ends:  # a time that is no time (the 61st second): decode the line
                    ok = [t is not None and e is not None for t, e in zip(times, ends, strict=True)]
                    verdicts = iter(ok)
                    placed = [p and next(verdicts) for p in placed]
                    cols = [list(compress(c, ok)) for c in cols]
                    times = list(compress(times, ok))
                us = map(operator.add, map(operator.mul, times, repeat(1_000_000)), map(int, cols[micro]))
                self.times.extend(map(operator.truediv, us, repeat(1_000_000)))
                at = list(compress(starts, placed))
                self.offsets.extend(at)
                self.lengths.extend(compress(lengths, placed))
                self.sids.extend(map(self._ids.__getitem__, cols[service]))
                hashes = list(map(zlib.crc32, cols[trace]))  # trace_hash, mapped in bulk over the traced lines
                for k in [k for k, t in enumerate(cols[trace]) if not t]:  # no trace: a trace of its own
                    hashes[k] = trace_hash(b"", at[k])
                self.hashes.extend(hashes)
                good += len(times)
            for k in long:
                if placed[k]:
                    continue
                placed[k] = True
                found = place_head(lines[k])
                if found is None:
                    bad_line(ValueError("a line too long to read whose start names no time"),
                             f"{path.name}:{first_line + k}", skipped)
                    continue
                good += 1
                self.times.append(found[0])
                self.offsets.append(starts[k])
                self.lengths.append(lengths[k])
                self.sids.append(self._ids[found[1]])
                self.hashes.append(trace_hash(found[2], starts[k]))
            for k in [k for k, p in enumerate(placed) if not p and lines[k].strip()]:
                try:  # not as the writer writes it: decode it to place it
                    record = self.decode(load_line(lines[k]), None)
                except BAD_LINE as exc:
                    bad_line(exc, f"{path.name}:{first_line + k}", skipped)
                    continue
                good += 1
                self.times.append(time_of(record))
                self.offsets.append(starts[k])
                self.lengths.append(lengths[k])
                self.sids.append(self._ids[str(getattr(record, "service", "")).encode()])
                self.hashes.append(trace_hash(str(getattr(record, "trace_id", "")).encode(), starts[k]))
        if skipped is not None and skipped.count and not good:
            raise BundleError(f"{path.name}: none of its {skipped.count} non-blank lines is a valid record "
                              f"(first: {skipped.first})")
        placed_times = self.times
        if not all(map(operator.le, placed_times, islice(placed_times, 1, None))):
            order = sorted(range(len(placed_times)), key=placed_times.__getitem__)
            for name, code in _ARRAYS:
                setattr(self, name, array(code, map(getattr(self, name).__getitem__, order)))

    # ------------------------------------------------------------ keeping

    def _stamp(self) -> dict[str, Any]:
        st = self.path.stat()
        return {"format": _INDEX_FORMAT, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "byteorder": sys.byteorder,
                "itemsizes": [array(code).itemsize for _, code in _ARRAYS]}

    def _save(self) -> None:
        skipped = self.skipped or Skipped()
        head = {**self._stamp(), "lines": len(self.times), "services": self.services, "skipped": skipped.count,
                "first": skipped.first}
        target = self.path.with_name(self.path.name + INDEX_SUFFIX)
        temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            with open(temp, "wb") as f:
                f.write(json.dumps(head).encode() + b"\n")
                for name, _ in _ARRAYS:
                    getattr(self, name).tofile(f)
            os.replace(temp, target)
        except OSError:  # a read-only folder: the next process places the file again
            try:
                temp.unlink(missing_ok=True)
            except OSError:
                pass

    def _load(self) -> bool:
        target = self.path.with_name(self.path.name + INDEX_SUFFIX)
        try:
            with open(target, "rb") as f:
                head = json.loads(f.readline())
                stamp = self._stamp()
                if not isinstance(head, dict) or any(head.get(k) != v for k, v in stamp.items()):
                    return False
                n = int(head["lines"])
                arrays = {}
                for name, code in _ARRAYS:
                    arrays[name] = a = array(code)
                    a.fromfile(f, n)
                if f.read(1):
                    return False
                self.bytes = f.tell()
        except (OSError, ValueError, KeyError, TypeError, EOFError):
            return False
        if head["skipped"]:
            error = BundleError(str(head["first"]))
            if self.skipped is None:  # strict: fails on the corrupt line as placing the file would
                raise error
            self.skipped.count, self.skipped.first = int(head["skipped"]), str(head["first"])
        for name, a in arrays.items():
            setattr(self, name, a)
        for service in head["services"]:
            _ = self._ids[str(service).encode()]
        return True

    # ------------------------------------------------------------ reading

    def select(self, window: Window, services: list[str] | None, bound: int) -> tuple[list[int], int, bool]:
        """The lines in the window (of the services), in time order, how many there were, and whether what was
        left out was whole traces. Past `bound`, the lines of the traces with the smallest hashes (`whole_traces`):
        a kept request keeps all its lines, and the spans and lines of one trace are kept together."""
        lo, hi = bisect.bisect_left(self.times, window.start), bisect.bisect_left(self.times, window.end)
        chosen: Sequence[int]
        if services is None:
            chosen = range(lo, hi)
        else:
            wanted = {i for i, s in enumerate(self.services) if s in services}
            chosen = list(compress(range(lo, hi), map(wanted.__contains__, self.sids[lo:hi])))
        total = len(chosen)
        if total <= bound:
            return list(chosen), total, True
        kept, whole = whole_traces(list(map(self.hashes.__getitem__, chosen)), bound)
        return list(map(chosen.__getitem__, kept)), total, whole

    def stream(self, window: Window) -> Iterator[T]:
        """Every record in the window, in time order, decoded one at a time (none kept: constant memory)."""
        lo, hi = self.span(window)
        decode, times = self.decode, self.times
        for i, raw in zip(range(lo, hi), self.raw_lines(lo, hi), strict=True):
            if raw is None:  # a long line: read as far as MAX_LINE_BYTES, cut or left out
                yield from self.records([i], keep=False)
                continue
            try:  # the time is the index's: placing the line parsed it already
                obj = orjson.loads(raw)
                record = decode(obj, times[i]) if type(obj) is dict else self._decoded_line(raw, i)
            except BAD_LINE:
                record = self._decoded_line(raw, i)
            if record is not None:
                yield record

    def span(self, window: Window) -> tuple[int, int]:
        """The lines in the window: lo..hi-1, in time order."""
        return bisect.bisect_left(self.times, window.start), bisect.bisect_left(self.times, window.end)

    def raw_lines(self, lo: int, hi: int) -> Iterator[bytes | None]:
        """The bytes of lines lo..hi-1, one a line, in order (None for a line over MAX_LINE_BYTES: `records`
        reads it). READ_BATCH lines at a time: read in one piece when they lie close together in the file (a file
        written about in time order), else neighbouring lines together (STREAM_BLOCK bytes at a time)."""
        if self._fd is None:
            return
        fd, offsets, lengths = self._fd, self.offsets, self.lengths
        for i in range(lo, hi, READ_BATCH):
            j = min(i + READ_BATCH, hi)
            at, sizes = offsets[i:j], lengths[i:j]
            start, end, size = min(at), max(map(operator.add, at, sizes)), sum(sizes)
            if end - start > max(2 * size, STREAM_BLOCK) or max(sizes) > MAX_LINE_BYTES:
                yield from self._runs(i, j)
                continue
            block = os.pread(fd, end - start, start)
            self.bytes_read += len(block)
            for a, b in zip(map(operator.sub, at, repeat(start)), map(operator.add, at, sizes), strict=True):
                yield block[a:b - start]

    def _runs(self, lo: int, hi: int) -> Iterator[bytes | None]:
        """`raw_lines`, a line at a time but neighbouring lines in the file read together."""
        assert self._fd is not None
        fd, offsets, lengths = self._fd, self.offsets, self.lengths
        i = lo
        while i < hi:
            start = end = offsets[i]
            j = i
            while j < hi and offsets[j] == end and lengths[j] <= MAX_LINE_BYTES and end - start < STREAM_BLOCK:
                end += lengths[j]
                j += 1
            if j == i:  # a long line
                yield None
                i += 1
                continue
            block = os.pread(fd, end - start, start)
            self.bytes_read += len(block)
            if j == i + 1:  # most often: a time-sorted read of a file not written in time order
                yield block
            else:
                for k in range(i, j):
                    at = offsets[k] - start
                    yield block[at:at + lengths[k]]
            i = j

    def line_record(self, i: int, raw: bytes | None) -> T | None:
        """The record of line i from its bytes (None: a line over MAX_LINE_BYTES, read here, cut or left out);
        None when it does not decode (counted)."""
        return next(self.records([i], keep=False), None) if raw is None else self._decoded_line(raw, i)

    def _decoded_line(self, raw: bytes, i: int) -> T | None:
        try:  # the time is the index's: placing the line parsed it already
            return self.decode(load_line(raw), self.times[i])
        except BAD_LINE as exc:
            bad_line(exc, f"{self.path.name}: line at byte {self.offsets[i]}", self.skipped)
            return None

    def records(self, lines: Sequence[int], keep: bool = True) -> Iterator[T]:
        """The records of these lines; a line that fails to decode now is skipped and counted; a line over
        MAX_LINE_BYTES is read that far and cut (`salvage`) or left out, and counted. `keep`: remember the
        records decoded (KEEP_DECODED), for reads of overlapping windows."""
        if self._fd is None:
            return
        fd, offsets, lengths = self._fd, self.offsets, self.lengths
        decoded = self._decoded
        for i in lines:  # positioned reads: the file is not mapped, only the lines read pass through memory
            record = decoded.get(i)
            if record is None:
                start, length = offsets[i], lengths[i]
                raw = os.pread(fd, min(length, MAX_LINE_BYTES), start)
                self.bytes_read += len(raw)
                if length > MAX_LINE_BYTES:
                    record = self._salvaged(raw, i, length)
                    if record is None:
                        continue
                else:
                    record = self._decoded_line(raw, i)
                    if record is None:
                        continue
                if keep:
                    if len(decoded) >= KEEP_DECODED:
                        decoded.clear()
                    decoded[i] = record
            yield record

    def _salvaged(self, head: bytes, i: int, length: int) -> T | None:
        record = self.salvage(head, self.times[i], self.services[self.sids[i]]) if self.salvage else None
        if self.skipped is not None:
            self.skipped.longest = max(self.skipped.longest, length)
            (self.skipped.dropped if record is None else self.skipped.cut).add(self.offsets[i])
        return record

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.close()
