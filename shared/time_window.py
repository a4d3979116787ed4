"""A time window, [start, end) in UNIX seconds: what a round reads and every telemetry read asks for, and the
windows a round plans around an alert's start.

Its own module, apart from the telemetry records (shared/telemetry_records.py, which re-exports it) and what a
specialist is given (agents/context.py, which re-exports `plan_windows`), so that opening a round (intake) and
linking a report to the console (the web view) import neither.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Window:
    start: float
    end: float

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"window ends before it starts: {self.start} > {self.end}")

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def contains(self, t: float) -> bool:
        return self.start <= t < self.end


INCIDENT_LOOKBACK_S = 15 * 60  # alerts fire after the onset: look this far back from the alert's start
INCIDENT_LOOKAHEAD_S = 5 * 60
BASELINE_SPAN_S = 60 * 60  # the baseline is the hour before the incident window


def plan_windows(onset: float) -> tuple[Window, Window]:
    """(incident window, baseline window) around an alert's start."""
    incident = Window(onset - INCIDENT_LOOKBACK_S, onset + INCIDENT_LOOKAHEAD_S)
    baseline = Window(incident.start - BASELINE_SPAN_S, incident.start)
    return incident, baseline
