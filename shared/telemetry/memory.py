"""A TelemetrySource over records held in memory: hand-built incidents in tests, and any caller that already
holds its telemetry (no files, no network). Reads filter by window and service exactly as the other adapters do,
and with `max_records` set, a read past it is evenly sampled and says so, as the bundle's does."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TypeVar

from shared.ports import LogPatternCounter
from shared.telemetry_records import ChangeEvent, LogRecord, MetricSeries, ReadResult, Span, Window

T = TypeVar("T")


def _wanted(service: str, services: list[str] | None) -> bool:
    return services is None or service in services


@dataclass
class MemorySource:
    records: list[LogRecord] = field(default_factory=list)
    series: list[MetricSeries] = field(default_factory=list)
    span_list: list[Span] = field(default_factory=list)
    change_list: list[ChangeEvent] = field(default_factory=list)
    log_counter: LogPatternCounter | None = None
    max_records: int | None = None  # per read (series, for metrics); None: no bound

    def _bounded(self, items: list[T], what: str) -> ReadResult[T]:
        if self.max_records is None or len(items) <= self.max_records:
            return ReadResult(items)
        step = len(items) / self.max_records
        sample = [items[int(i * step)] for i in range(self.max_records)]
        return ReadResult(sample, sampled=True, note=f"{what}: {self.max_records} of {len(items)} evenly sampled")

    def logs(self, window: Window, services: list[str] | None = None) -> ReadResult[LogRecord]:
        return self._bounded(sorted((r for r in self.records if window.contains(r.timestamp)
                                     and _wanted(r.service, services)), key=lambda r: r.timestamp), "logs")

    def spans(self, window: Window, services: list[str] | None = None) -> ReadResult[Span]:
        return self._bounded(sorted((s for s in self.span_list if window.contains(s.start)
                                     and _wanted(s.service, services)), key=lambda s: s.start), "spans")

    def metrics(self, window: Window, services: list[str] | None = None) -> ReadResult[MetricSeries]:
        out = []
        for m in self.series:
            points = tuple(sorted(p for p in m.points if window.contains(p[0])))
            if points and _wanted(m.service, services):
                out.append(replace(m, points=points))
        return self._bounded(out, "metric series")

    def changes(self, window: Window, services: list[str] | None = None) -> ReadResult[ChangeEvent]:
        return self._bounded(sorted((c for c in self.change_list if window.contains(c.timestamp)
                                     and _wanted(c.service, services)), key=lambda c: c.timestamp), "changes")

    def describe(self) -> dict[str, str]:
        return {"source": "memory"}
