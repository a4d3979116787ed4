"""A TelemetrySource over records held in memory, for the specialists' hand-built tests."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from shared.telemetry.models import ChangeEvent, LogRecord, MetricSeries, ReadResult, Span, Window


@dataclass
class MemorySource:
    records: list[LogRecord] = field(default_factory=list)
    series: list[MetricSeries] = field(default_factory=list)

    def logs(self, window: Window, services: list[str] | None = None) -> ReadResult[LogRecord]:
        return ReadResult([r for r in self.records if window.contains(r.timestamp)
                           and (services is None or r.service in services)])

    def spans(self, window: Window, services: list[str] | None = None) -> ReadResult[Span]:
        return ReadResult([])

    def metrics(self, window: Window, services: list[str] | None = None) -> ReadResult[MetricSeries]:
        out = []
        for m in self.series:
            points = tuple(p for p in m.points if window.contains(p[0]))
            if points and (services is None or m.service in services):
                out.append(replace(m, points=points))
        return ReadResult(out)

    def changes(self, window: Window, services: list[str] | None = None) -> ReadResult[ChangeEvent]:
        return ReadResult([])

    def describe(self) -> dict[str, str]:
        return {"source": "memory"}

