"""A TelemetrySource over records held in memory: hand-built incidents in tests, and any caller that already
holds its telemetry (no files, no network). Reads filter by window and service exactly as the other adapters do,
and are bounded as theirs are (`max_records`, default `bounds.MAX_RECORDS`): past it, logs and spans keep whole
traces (the smallest trace-id hashes, the bundle's rule, so logs and spans keep the same traces), metric series and
changes are evenly sampled, and the read says so."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from shared.ports import LogPatternCounter
from shared.telemetry.bounds import MAX_RECORDS, sampled_by_trace
from shared.telemetry.bundle_index import evenly, whole_traces
from shared.telemetry_records import ChangeEvent, LogRecord, MetricSeries, ReadResult, Span, Window

T = TypeVar("T")


def _wanted(service: str, services: list[str] | None) -> bool:
    return services is None or service in services


def _trace_hash(trace_id: str, position: int) -> int:
    """The hash a record's trace is kept by: the bundle's (CRC-32 of the trace id); a record without a trace is a
    trace of its own."""
    return zlib.crc32(trace_id.encode() if trace_id else b"%d" % position)


@dataclass
class MemorySource:
    records: list[LogRecord] = field(default_factory=list)
    series: list[MetricSeries] = field(default_factory=list)
    span_list: list[Span] = field(default_factory=list)
    change_list: list[ChangeEvent] = field(default_factory=list)
    log_counter: LogPatternCounter | None = None
    max_records: int | None = MAX_RECORDS  # per read (series, for metrics); None: no bound

    def _by_trace(self, items: list[T], what: str, trace_of: Callable[[T], str]) -> ReadResult[T]:
        if self.max_records is None or len(items) <= self.max_records:
            return ReadResult(items)
        kept, whole = whole_traces([_trace_hash(trace_of(r), i) for i, r in enumerate(items)], self.max_records)
        note = (sampled_by_trace(what, len(kept), len(items)) if whole else
                f"{what}: {len(kept)} of {len(items)} kept, all of one trace cut at the bound "
                f"({self.max_records} per read)")
        return ReadResult([items[i] for i in kept], sampled=True, note=note)

    def _evenly(self, items: list[T], what: str) -> ReadResult[T]:
        if self.max_records is None or len(items) <= self.max_records:
            return ReadResult(items)
        kept = evenly(items, self.max_records)
        return ReadResult(kept, sampled=True, note=f"{what}: {len(kept)} of {len(items)} evenly sampled (limit: "
                                                   f"{self.max_records} per read)")

    def logs(self, window: Window, services: list[str] | None = None) -> ReadResult[LogRecord]:
        return self._by_trace(sorted((r for r in self.records if window.contains(r.timestamp)
                                      and _wanted(r.service, services)), key=lambda r: r.timestamp), "logs",
                              lambda r: r.trace_id)

    def spans(self, window: Window, services: list[str] | None = None) -> ReadResult[Span]:
        return self._by_trace(sorted((s for s in self.span_list if window.contains(s.start)
                                      and _wanted(s.service, services)), key=lambda s: s.start), "spans",
                              lambda s: s.trace_id)

    def metrics(self, window: Window, services: list[str] | None = None) -> ReadResult[MetricSeries]:
        out = []
        for m in self.series:
            points = tuple(sorted(p for p in m.points if window.contains(p[0])))
            if points and _wanted(m.service, services):
                out.append(replace(m, points=points))
        return self._evenly(out, "metric series")

    def changes(self, window: Window, services: list[str] | None = None) -> ReadResult[ChangeEvent]:
        return self._evenly(sorted((c for c in self.change_list if window.contains(c.timestamp)
                                    and _wanted(c.service, services)), key=lambda c: c.timestamp), "changes")

    def describe(self) -> dict[str, str]:
        return {"source": "memory"}
