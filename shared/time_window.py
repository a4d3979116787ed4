"""A time window, [start, end) in UNIX seconds: what a round reads and every telemetry read asks for.

Its own module, apart from the telemetry records (shared/telemetry_records.py, which re-exports it), so that
opening a round (intake) and linking a report to the console (the web view) do not import every record type.
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
