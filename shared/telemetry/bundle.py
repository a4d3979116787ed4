"""The on-disk telemetry bundle: a folder of JSON-lines files in (a subset of) GCP's own shapes.

See docs/bundle-format.md. `BundleWriter` writes one, `BundleSource` reads it as a `TelemetrySource`.
Log and span files are indexed in time once (a few numbers a line, not the records); a read decodes the lines it
returns. Metric and change files are small: parsed once and kept.
"""

from __future__ import annotations

import bisect
import json
import os
from array import array
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Generic, TypeVar

from shared.gc_pause import collector_paused
from shared.ports import LogPatternCounter
from shared.read_limit import records_allowed
from shared.telemetry.bounds import MAX_RECORDS, trace_cut
from shared.telemetry.bundle_codec import (  # re-exported: the bundle's format is imported from here
    BundleError,
    classify_method,
    decode_change,
    decode_dependency,
    decode_log,
    decode_series,
    decode_span,
    encode_change,
    encode_dependency,
    encode_log,
    encode_series,
    encode_span,
    from_rfc3339,
    salvage_log,
    to_rfc3339,
)
from shared.telemetry.bundle_index import (
    BAD_LINE,
    INDEX_SUFFIX,
    LOG_PLACE,
    SPAN_PLACE,
    Decode,
    Index,
    Salvage,
    Skipped,
    bad_line,
    decode_line,
    evenly_read,
)
from shared.telemetry.bundle_slos import SLOS, BundleSlos
from shared.telemetry.bundle_variants import variants
from shared.telemetry.provider_incidents import (
    decode_event,
    decode_placement,
    encode_event,
    encode_placement,
    touching,
)
from shared.telemetry_records import (
    ChangeEvent,
    Dependency,
    LogRecord,
    LogStream,
    LogVariants,
    MetricSeries,
    Placement,
    ProviderIncident,
    ReadResult,
    Span,
    Window,
)

FORMAT = "autosre-bundle/1"
LOGS, SPANS, METRICS, CHANGES = "logs.jsonl", "spans.jsonl", "metrics.jsonl", "changes.jsonl"
GRAPH = "graph.jsonl"  # optional: the declared service graph, one {"caller", "callee"} a line
PROVIDER_INCIDENTS = "provider_incidents.jsonl"  # optional: Google Cloud's incidents (Service Health events)
PLACEMENTS = "placements.jsonl"  # optional: where each service runs (product, location)
MANIFEST = "manifest.json"
DEFAULT_MAX_RECORDS = MAX_RECORDS  # log lines or spans per read (shared/telemetry/bounds.py): past it, whole traces

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
__all__ = ["CHANGES", "DEFAULT_MAX_RECORDS", "FORMAT", "GRAPH", "INDEX_SUFFIX", "LOGS", "MANIFEST", "METRICS", "SPANS",
           "BundleError", "BundleSource", "BundleWriter", "Skipped", "classify_method", "decode_change", "decode_log",
           "decode_series", "decode_span", "encode_change", "encode_log", "encode_series", "encode_span",
           "from_rfc3339", "index_files", "read_graph_file", "to_rfc3339"]


# ---------------------------------------------------------------- writing


class BundleWriter:
    """Writes a bundle folder; use as a context manager. Records may be written in any order. On close the log and
    span files are indexed in time and the index kept beside them (`index=False`: left to the first read)."""

    def __init__(self, path: str | os.PathLike[str], manifest: dict[str, Any] | None = None, index: bool = True):
        self.path = Path(path)
        self.index = index
        self.path.mkdir(parents=True, exist_ok=True)
        self._manifest = {"format": FORMAT, **(manifest or {})}
        self._files: dict[str, IO[str]] = {}
        self.counts = {LOGS: 0, SPANS: 0, METRICS: 0, CHANGES: 0, GRAPH: 0, PROVIDER_INCIDENTS: 0, PLACEMENTS: 0}

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

    def dependency(self, d: Dependency) -> None:
        """One edge of the declared service graph (the file is written only when the bundle declares one)."""
        self._write(GRAPH, encode_dependency(d))

    def provider_incident(self, p: ProviderIncident) -> None:
        """One Google Cloud incident (a Service Health event; the file is written only when the bundle has one)."""
        self._write(PROVIDER_INCIDENTS, encode_event(p))

    def placement(self, p: Placement) -> None:
        """Where one service runs (the file is written only when the bundle declares placements)."""
        self._write(PLACEMENTS, encode_placement(p))

    def close(self) -> None:
        for name in (LOGS, SPANS, METRICS, CHANGES):
            if name not in self._files:
                (self.path / name).touch()
        for f in self._files.values():
            f.close()
        self._files.clear()
        optional = (GRAPH, PROVIDER_INCIDENTS, PLACEMENTS)
        counts = {k.split(".")[0]: v for k, v in self.counts.items() if k not in optional or v}
        manifest = {**self._manifest, "counts": counts}
        (self.path / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        if self.index:
            index_files(self.path)

    def __enter__(self) -> BundleWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_graph_file(path: str | os.PathLike[str]) -> list[Dependency]:
    """A service graph file in the bundle's graph.jsonl format (every line must be a valid edge)."""
    if not Path(path).is_file():
        raise BundleError(f"service graph {path}: no such file")
    return list(_read_jsonl(Path(path), decode_dependency))


def index_files(path: str | os.PathLike[str]) -> None:
    """Index the bundle's log and span files in time and keep the indexes beside them (`<file>.idx`), so that
    no read has to place their lines again. Best effort: a file that cannot be indexed is left to its reads."""
    folder = Path(path)
    try:
        if (folder / LOGS).exists():
            Index.open(folder / LOGS, decode_log, _log_time, LOG_PLACE, Skipped()).close()
        if (folder / SPANS).exists():
            Index.open(folder / SPANS, decode_span, _span_time, SPAN_PLACE, Skipped()).close()
    except (BundleError, OSError):
        pass


# ---------------------------------------------------------------- reading


@dataclass
class _Timeline(Generic[T]):
    items: list[T]
    keys: list[float]

    def between(self, window: Window) -> list[T]:
        lo = bisect.bisect_left(self.keys, window.start)
        hi = bisect.bisect_left(self.keys, window.end)
        return self.items[lo:hi]


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
                record = decode_line(raw, decode)
            except BAD_LINE as exc:
                bad_line(exc, f"{path.name}:{lineno}", skipped)
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


READ_CACHE = 8  # the latest reads kept decoded: the specialists of one process ask for the same windows


class BundleSource:
    """A `TelemetrySource` over a bundle folder. Reads are bounded by `max_records` per call.

    Log and span files are indexed once (time, service and trace of each line, not the records) and each read
    decodes only the lines it returns: memory grows with what is read, not with the file. Past `max_records` a log
    or span read keeps whole traces (the smallest hashes of their ids, the same in logs and spans; the trace the
    bound would split is left out), a metric or change read an even sample, and the read says so. The latest
    reads are kept, so specialists sharing a source (embedded) decode a window once.

    A corrupt line (not JSON, a required field missing, a bad time or value) is skipped and counted, and every read
    of that file says so in its note (`ReadResult.sampled`, so the specialists carry it into the report); a file
    in which no line is valid fails its reads with `BundleError`. `strict=True` fails on the first corrupt line.

    A file's index is kept beside it (`<file>.idx`, best effort: not in a read-only folder) and taken by later
    reads while the file keeps its size and modification time; `keep_index=False` neither takes nor writes one."""

    log_counter: LogPatternCounter | None = None  # a folder has no pre-aggregation: the analyst reads lines

    def __init__(self, path: str | os.PathLike[str], max_records: int = DEFAULT_MAX_RECORDS, strict: bool = False,
                 keep_index: bool = True):
        self.path = Path(path)
        self.keep_index = keep_index
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
        self._indexes: dict[str, Index[Any]] = {}
        self._failed: dict[str, BundleError] = {}
        self._series: list[tuple[MetricSeries, list[float]]] | None = None  # with the times of its points
        self._changes: _Timeline[ChangeEvent] | None = None
        self._graph: ReadResult[Dependency] | None = None
        self._outside: tuple[list[ProviderIncident], list[Placement]] | None = None
        self._cache: dict[tuple[str, Window, tuple[str, ...] | None, int], ReadResult[Any]] = {}
        self.bytes_read = 0  # bytes of the bundle's files read so far (indexing reads a file once)

    def describe(self) -> dict[str, str]:
        return {"source": "bundle", "path": str(self.path), "name": str(self.manifest.get("name", ""))}

    def _skipped(self, name: str) -> Skipped | None:
        return None if self.strict else self.skipped.setdefault(name, Skipped())

    def _tidy(self, name: str) -> None:
        if name in self.skipped and not self.skipped[name].any:
            del self.skipped[name]

    def _read(self, name: str, decode: Callable[[dict[str, Any]], T]) -> list[T]:
        try:
            with collector_paused():
                items = list(_read_jsonl(self.path / name, decode, self._skipped(name)))
        finally:
            self._tidy(name)
        if (self.path / name).exists():
            self.bytes_read += (self.path / name).stat().st_size
        return items

    def _index(self, name: str, decode: Decode[T], time_of: Callable[[T], float],
               place: tuple[Any, ...], salvage: Salvage[T] | None = None) -> Index[T] | None:
        if name in self._failed:
            raise self._failed[name]
        if name not in self._indexes:
            if not (self.path / name).exists():
                return None
            try:
                index = Index.open(self.path / name, decode, time_of, place, self._skipped(name), self.keep_index,
                                   salvage)
            except BundleError as exc:
                if not self.strict:
                    self._failed[name] = exc
                raise
            finally:
                self._tidy(name)
            self._indexes[name] = index
            self.bytes_read += index.bytes
        found: Index[T] = self._indexes[name]
        return found

    def _indexed(self, name: str, what: str, window: Window, services: list[str] | None,
                 index: Index[T] | None) -> ReadResult[T]:
        bound = records_allowed(self.max_records)  # or what is left of the investigation's budget
        key = (name, window, None if services is None else tuple(services), bound)
        cached = self._cache.get(key)
        if cached is None:
            items: list[T] = []
            read = ReadResult(items)
            if index is not None:
                lines, total, whole = index.select(window, services, bound)
                before = index.bytes_read
                with collector_paused():
                    items = list(index.records(lines))
                self.bytes_read += index.bytes_read - before
                self._adopt(name, index)
                read = ReadResult(items)
                if len(lines) < total:
                    read = ReadResult(items, sampled=True,
                                      note=trace_cut(what, len(lines), total, whole, bound))
            while len(self._cache) >= READ_CACHE:
                del self._cache[next(iter(self._cache))]
            self._cache[key] = cached = read
        result = self._noted(cached, name)
        return ReadResult(list(result.items), result.sampled, result.note)

    def _adopt(self, name: str, index: Index[Any]) -> None:
        """The file's skipped and cut lines, as its index counted them while reading."""
        if index.skipped is not None and index.skipped.any:
            self.skipped[name] = index.skipped
        self._tidy(name)

    def _noted(self, read: ReadResult[T], name: str) -> ReadResult[T]:
        skipped = self.skipped.get(name)
        if skipped is None:
            return read
        note = "; ".join(n for n in (read.note, skipped.note(name)) if n)
        return ReadResult(read.items, sampled=True, note=note)

    def _log_index(self) -> Index[LogRecord] | None:
        return self._index(LOGS, decode_log, _log_time, LOG_PLACE, salvage_log)

    def logs(self, window: Window, services: list[str] | None = None) -> ReadResult[LogRecord]:
        index = self._log_index()
        return self._indexed(LOGS, "logs", window, services, index)

    def log_stream(self, window: Window) -> LogStream:
        """Every log line of the window, streamed (one record at a time, none kept); `note()` afterwards says
        what was cut or skipped on the way."""
        index = self._log_index()
        return LogStream(self._streamed(index, window), lambda: self._stream_note(index))

    def log_variants(self, window: Window, identity: Callable[[LogRecord], K], traces: int = 0,
                     blind: Callable[[LogRecord], bool] | None = None) -> LogVariants[K]:
        """Every log line of the window by its variant (`LogVariants`): lines whose records have one identity
        (`identity`: a function of a record's service, instance, severity and message, called on the first line of
        each new variant, in time order) are one; the first `traces` trace ids of each variant kept. `blind`:
        whether a record's identity stays the same whatever the ASCII digits of its message (asked after
        `identity`; then lines equal but in those digits are told apart by their bytes too)."""
        index = self._log_index()
        if index is None:
            return LogVariants(array("I"), [], array("d"), {}, _no_line, lambda: "")
        lo, hi = index.span(window)
        before = index.bytes_read
        with collector_paused():
            lines, ids, found = variants(index, lo, hi, identity, traces, blind)
        self.bytes_read += index.bytes_read - before

        def record(n: int) -> LogRecord:  # a line that decoded (or was cut) before
            for read in index.records([lo + n], keep=False):
                return read
            raise BundleError(f"{LOGS}: line at byte {index.offsets[lo + n]} no longer decodes")

        return LogVariants(lines, ids, index.times[lo:hi], found, record, lambda: self._stream_note(index))

    def _streamed(self, index: Index[LogRecord] | None, window: Window) -> Iterator[LogRecord]:
        if index is None:
            return
        before = index.bytes_read
        with collector_paused():
            yield from index.stream(window)
        self.bytes_read += index.bytes_read - before

    def _stream_note(self, index: Index[LogRecord] | None) -> str:
        if index is None:
            return ""
        self._adopt(LOGS, index)
        skipped = self.skipped.get(LOGS)
        return skipped.note(LOGS) if skipped is not None else ""

    def spans(self, window: Window, services: list[str] | None = None) -> ReadResult[Span]:
        index = self._index(SPANS, decode_span, _span_time, SPAN_PLACE)
        return self._indexed(SPANS, "spans", window, services, index)

    def metrics(self, window: Window, services: list[str] | None = None) -> ReadResult[MetricSeries]:
        if self._series is None:
            self._series = [(m, [t for t, _ in m.points]) for m in self._read(METRICS, decode_series)]
        out: list[MetricSeries] = []
        for m, times in self._series:  # a series' points are in time order (decode_series)
            if not _keep(m.service, services):
                continue
            lo, hi = bisect.bisect_left(times, window.start), bisect.bisect_left(times, window.end)
            if lo < hi:
                out.append(MetricSeries(m.metric, m.service, m.points[lo:hi], m.instance, m.unit, m.labels))
        return self._noted(evenly_read(out, "metric series", self.max_records), METRICS)

    def changes(self, window: Window, services: list[str] | None = None) -> ReadResult[ChangeEvent]:
        if self._changes is None:
            self._changes = _timeline(self._read(CHANGES, decode_change), lambda c: c.timestamp)
        items = [c for c in self._changes.between(window) if _keep(c.service, services)]
        items += self._provider_changes(window, services)
        read = evenly_read(items, "changes", self.max_records)
        for name in (CHANGES, PROVIDER_INCIDENTS, PLACEMENTS):
            read = self._noted(read, name)
        return read

    def _provider_changes(self, window: Window, services: list[str] | None) -> list[ChangeEvent]:
        """Google Cloud's incidents active in the window that touch a placed service, as changes on it."""
        if self._outside is None:
            self._outside = (self._read(PROVIDER_INCIDENTS, decode_event), self._read(PLACEMENTS, decode_placement))
        incidents, placements = self._outside
        return touching(incidents, placements, window, services)

    def dependencies(self) -> ReadResult[Dependency]:
        if self._graph is None:
            edges = sorted(set(self._read(GRAPH, decode_dependency)), key=lambda d: (d.caller, d.callee))
            self._graph = self._noted(ReadResult(edges), GRAPH)
        return self._graph

    @property
    def slo_reader(self) -> BundleSlos | None:
        """The bundle's SLOs (slos.jsonl), with burn rates and budgets from its metrics; None without the file."""
        if not (self.path / SLOS).exists():
            return None
        from shared.telemetry.bundle_slos import decode_slo

        slos = self._read(SLOS, decode_slo)
        skipped = self.skipped.get(SLOS)
        return BundleSlos(self, slos, skipped.note(SLOS) if skipped is not None else "")

    def time_range(self) -> tuple[float, float] | None:
        """The first and last time a record of the bundle carries (None when it holds none). Places every line of
        the log and span files (without keeping them) and reads the metric and change files, so it raises
        `BundleError` as the reads would."""
        everything = Window(-1e12, 1e12)
        self.changes(everything)
        self.metrics(everything)
        times: list[float] = []
        for index in (self._log_index(),
                      self._index(SPANS, decode_span, _span_time, SPAN_PLACE)):
            if index is not None and len(index.times):
                times += [index.times[0], index.times[-1]]
        if self._changes is not None and self._changes.keys:
            times += [self._changes.keys[0], self._changes.keys[-1]]
        times += [t for m, _ in self._series or [] if m.points for t in (m.points[0][0], m.points[-1][0])]
        return (min(times), max(times)) if times else None

    def close(self) -> None:
        """Close the indexed files (reads index them again)."""
        for index in self._indexes.values():
            index.close()
        self._indexes.clear()
        self._cache.clear()


def _no_line(n: int) -> LogRecord:
    raise IndexError(n)


def _log_time(r: LogRecord) -> float:
    return r.timestamp


def _span_time(s: Span) -> float:
    return s.start
