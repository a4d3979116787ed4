"""Telemetry as the analysis sees it: plain, source-independent records.

Every `TelemetrySource` adapter (bundle folder, Cloud Logging/Trace/Monitoring, BigQuery) converts its own
wire format into these. Times are UNIX seconds (float, UTC).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from shared.severity import SEVERITIES
from shared.time_window import Window as Window  # in a module of its own: planning a round needs no records

T = TypeVar("T")

@dataclass(frozen=True, slots=True)
class LogRecord:
    timestamp: float
    service: str
    message: str
    severity: str = "DEFAULT"
    instance: str = ""
    trace_id: str = ""
    span_id: str = ""


@dataclass(frozen=True, slots=True)
class Span:
    trace_id: str
    span_id: str
    parent_id: str  # "" for a root span
    service: str
    name: str
    start: float
    end: float
    instance: str = ""
    error: bool = False
    status_message: str = ""

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class MetricSeries:
    """One time series: a metric on one resource. `points` are (time, value) sorted by time."""

    metric: str
    service: str
    points: tuple[tuple[float, float], ...]
    instance: str = ""
    unit: str = ""
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    timestamp: float
    service: str
    kind: str  # deploy | config | scale | restart | other
    description: str
    actor: str = ""
    details: tuple[tuple[str, str], ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Dependency:
    """One edge of the service graph: `caller` sends requests to `callee`. Declared by the user or the telemetry
    source (a bundle's graph.jsonl, a graph file on Google Cloud), so a system whose dependencies emit no spans
    (managed databases, queues, other clouds' services) still has a graph."""

    caller: str
    callee: str


@dataclass(frozen=True)
class PatternCount:
    template: str
    service: str
    bucket: str  # baseline | incident
    count: int
    first_seen: float
    exemplar: str
    severity_rank: int  # index into shared.severity.SEVERITIES (string severities do not order by MAX)

    @property
    def severity(self) -> str:
        return SEVERITIES[min(max(self.severity_rank, 0), len(SEVERITIES) - 1)]


@dataclass(frozen=True, slots=True)
class ReadCost:
    """What a read cost where the adapter can tell: API requests it sent (pages, retries excluded), bytes a
    query billed, time series a Cloud Monitoring read returned (billed per series). Local sources cost nothing."""

    api_calls: int = 0
    bytes_billed: int = 0
    billed_series: int = 0


@dataclass(frozen=True, slots=True)
class ReadResult(Generic[T]):
    """What a read returned, and whether it had to stop early (page/size bounds): say so, never hide it."""

    items: list[T]
    sampled: bool = False
    note: str = ""
    cost: ReadCost = field(default_factory=ReadCost)


@dataclass(frozen=True, slots=True)
class ProviderIncident:
    """A Google Cloud incident as the Service Health API describes it (an `Event` of category INCIDENT): the products
    and locations it impacts, when it started and, once closed, ended."""

    event: str  # the event's resource name (projects/<p>/locations/global/events/<id>)
    title: str
    start: float
    state: str = "ACTIVE"  # ACTIVE | CLOSED
    end: float | None = None
    impacts: tuple[tuple[str, str], ...] = ()  # (product name, location name) pairs
    description: str = ""
    detailed_state: str = ""  # EMERGING | CONFIRMED | RESOLVED | ...


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a service runs: the Google Cloud product (as Service Health names it) and its region or zone."""

    service: str
    product: str
    location: str


@dataclass(frozen=True, slots=True)
class SloStatus:
    """One SLO of a service at a moment: its goal and compliance period, the burn rate over each lookback window
    (None where nothing was counted) and the share of the error budget left (over `budget_span_s`, which is shorter
    than the period when the source holds less)."""

    slo: str  # its resource name (projects/<p>/services/<s>/serviceLevelObjectives/<id>)
    service: str
    display_name: str
    goal: float
    period_s: float
    at: float
    burn: tuple[tuple[float, float | None], ...] = ()  # (lookback seconds, burn rate)
    budget_left: float | None = None
    budget_span_s: float = 0.0


@dataclass(frozen=True, slots=True)
class LogStream:
    """Every log line of a window, one at a time (for counts over all of them in constant memory); `note()`, once
    the lines are consumed, says what was cut or skipped on the way ("" when nothing was)."""

    lines: Iterator[LogRecord]
    note: Callable[[], str]


SKIPPED = 0xFFFFFFFF  # `LogVariants.lines`: a line that did not decode (counted in the note)


@dataclass(frozen=True, slots=True)
class LogVariants(Generic[T]):
    """Every log line of a window, in time order, by its variant: the lines whose records have one identity (a
    function of a record's service, instance, severity and message, given by the reader) are one variant. A line
    that differs from one met before only in its time, trace and span is not decoded: its bytes tell its variant.

    `lines[n]`: the variant of the window's n-th line (SKIPPED: a line that did not decode); `variants[v]`: the
    identity of variant v; `times[n]`: the time of line n; `traces[v]`: (n, trace id) of the lines of variant v
    that carry each of its first trace ids, in order, as many as asked for (empty ids left out); `record(n)`: line
    n in full, read again; `note()`: what was cut or skipped on the way ("" when nothing was)."""

    lines: Sequence[int]
    variants: list[T]
    times: Sequence[float]
    traces: dict[int, list[tuple[int, str]]]
    record: Callable[[int], LogRecord]
    note: Callable[[], str]
