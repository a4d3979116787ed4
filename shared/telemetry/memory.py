"""A TelemetrySource over records held in memory: hand-built incidents in tests, and any caller that already
holds its telemetry (no files, no network). Reads filter by window and service exactly as the other adapters do,
and are bounded as theirs are (`max_records`, default `bounds.MAX_RECORDS`): past it, logs and spans keep whole
traces (the smallest trace-id hashes, the bundle's rule, so logs and spans keep the same traces), metric series and
changes are evenly sampled, and the read says so."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from shared.ports import LogPatternCounter
from shared.telemetry.bounds import MAX_RECORDS, trace_cut
from shared.telemetry.bundle_index import evenly_read, trace_hash, whole_traces
from shared.telemetry_records import ChangeEvent, Dependency, LogRecord, MetricSeries, ReadResult, Span, Window

T = TypeVar("T")


def _wanted(service: str, services: list[str] | None) -> bool:
    return services is None or service in services


@dataclass
class MemorySource:
    records: list[LogRecord] = field(default_factory=list)
    series: list[MetricSeries] = field(default_factory=list)
    span_list: list[Span] = field(default_factory=list)
    change_list: list[ChangeEvent] = field(default_factory=list)
    graph: list[Dependency] = field(default_factory=list)
    log_counter: LogPatternCounter | None = None
    max_records: int | None = MAX_RECORDS  # per read (series, for metrics); None: no bound

    def _by_trace(self, items: list[T], what: str, trace_of: Callable[[T], str]) -> ReadResult[T]:
        if self.max_records is None or len(items) <= self.max_records:
            return ReadResult(items)
        # the bundle's hashes, so logs and spans keep the same traces in both sources
        kept, whole = whole_traces([trace_hash(trace_of(r).encode(), i) for i, r in enumerate(items)],
                                   self.max_records)
        return ReadResult([items[i] for i in kept], sampled=True,
                          note=trace_cut(what, len(kept), len(items), whole, self.max_records))

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
        return evenly_read(out, "metric series", self.max_records)

    def changes(self, window: Window, services: list[str] | None = None) -> ReadResult[ChangeEvent]:
        return evenly_read(sorted((c for c in self.change_list if window.contains(c.timestamp)
                                   and _wanted(c.service, services)), key=lambda c: c.timestamp), "changes",
                           self.max_records)

    def dependencies(self) -> ReadResult[Dependency]:
        return ReadResult(sorted(set(self.graph), key=lambda d: (d.caller, d.callee)))

    def describe(self) -> dict[str, str]:
        return {"source": "memory"}
