"""A TelemetrySource over records held in memory: hand-built incidents in tests, and any caller that already
holds its telemetry (no files, no network). Reads filter by window and service exactly as the other adapters do."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from shared.ports import LogPatternCounter
from shared.telemetry_records import ChangeEvent, LogRecord, MetricSeries, ReadResult, Span, Window


def _wanted(service: str, services: list[str] | None) -> bool:
    return services is None or service in services


@dataclass
class MemorySource:
    records: list[LogRecord] = field(default_factory=list)
    series: list[MetricSeries] = field(default_factory=list)
    span_list: list[Span] = field(default_factory=list)
    change_list: list[ChangeEvent] = field(default_factory=list)
    log_counter: LogPatternCounter | None = None

    def logs(self, window: Window, services: list[str] | None = None) -> ReadResult[LogRecord]:
        return ReadResult(sorted((r for r in self.records if window.contains(r.timestamp)
                                  and _wanted(r.service, services)), key=lambda r: r.timestamp))

    def spans(self, window: Window, services: list[str] | None = None) -> ReadResult[Span]:
        return ReadResult(sorted((s for s in self.span_list if window.contains(s.start)
                                  and _wanted(s.service, services)), key=lambda s: s.start))

    def metrics(self, window: Window, services: list[str] | None = None) -> ReadResult[MetricSeries]:
        out = []
        for m in self.series:
            points = tuple(p for p in m.points if window.contains(p[0]))
            if points and _wanted(m.service, services):
                out.append(replace(m, points=points))
        return ReadResult(out)

    def changes(self, window: Window, services: list[str] | None = None) -> ReadResult[ChangeEvent]:
        return ReadResult(sorted((c for c in self.change_list if window.contains(c.timestamp)
                                  and _wanted(c.service, services)), key=lambda c: c.timestamp))

    def describe(self) -> dict[str, str]:
        return {"source": "memory"}
