"""What each kind of finding carries beside its title and score: typed details, one model per kind of evidence
(docs/findings.md describes each field), chosen by the finding's kind.

A finding's kind picks its details' model (`DETAILS_OF`): a specialist builds the model itself, and a stored
finding's details, a plain dict in the event log, validate into the model of its kind. Unknown keys are kept
(an event log written by another version still folds; the changes specialist keeps the attributes its source
gives a change), and a model dumps exactly the fields that were set, so a stored finding reads back as it was
written. Schemas are built on first use (cold starts), each kind's on its own: a finding's schema checks only that
its details are a `Details` (the finding validates a dict into its kind's model first), so folding a log builds
the details models of the kinds it holds, not of every kind.
"""

from typing import Any, Literal

from pydantic import Field

from shared.finding_kinds import Details as Details  # the base, and every kind: what a finding's schema needs
from shared.finding_kinds import FindingKind as FindingKind

LINKED_TRACES = 200  # trace ids a finding keeps to tie it to others' (a log pattern's lines, an error origin's)


class IncidentSeries(Details):
    """A metric series in the incident window as its chart shows it: what says whether it recovered."""

    points: list[tuple[float, float]] = Field(default_factory=list)  # (time, value), thinned to a chart's width
    threshold: float | None = None  # the anomaly threshold, on the bad side of the baseline
    baseline_median: float | None = None


class MetricDetails(Details):
    """What both kinds of metric finding say: the metric, where, and its series in the incident window."""

    metric: str = ""
    instance: str = ""
    unit: str = ""
    robust_z: float = 0.0
    active_at_alert: bool = True  # still anomalous at the alert (not recovered before it)
    series: IncidentSeries | None = None


class MetricAnomalyDetails(MetricDetails):
    """metric.anomaly: a series off its own baseline."""

    baseline_median: float | None = None
    baseline_mad: float | None = None
    baseline_sigma: float | None = None
    incident_value: float | None = None
    direction: Literal["up", "down", ""] = ""  # which way it moved
    bad_direction: Literal["up", "down", "either", ""] = ""  # which way is bad for this metric ("": not known)
    host_level: bool = False  # a host's figure, shared by every pod on it
    effect_vs_fleet: float = 0.0
    fleet_share_anomalous: float = 0.0
    baseline_from_change_point: bool = False
    seasonal_adjusted: bool = False
    co_movement: float | None = None  # correlation with the alert's series over the incident window
    missing_while_alert_moved: bool = False  # too few points at the alert's times to measure co_movement
    began_after_alert: bool = False  # its onset is over one of its periods after the alert's: it followed the alert


class FleetOutlierDetails(MetricDetails):
    """metric.fleet_outlier: an instance off its peers, or a cohort of instances (a zone, a version) off the rest."""

    peers_median: float | None = None
    value: float | None = None
    peers: int = 0
    z_vs_peers: float | None = None
    peers_median_z: float | None = None
    cohort: dict[str, str] = Field(default_factory=dict)
    instances: list[str] = Field(default_factory=list)
    cohort_median_z: float | None = None
    others_median_z: float | None = None
    others: int = 0


class TraceLatencyDetails(Details):
    """trace.latency_shift: an operation slower than in the baseline, its own time or its waits."""

    operation: str = ""
    baseline_p50: float | None = None
    incident_p50: float | None = None
    baseline_p90: float | None = None
    incident_p90: float | None = None
    baseline_p95: float | None = None
    incident_p95: float | None = None
    duration_ratio: float | None = None
    z_duration: float | None = None
    self_time_ratio: float | None = None
    z_self: float | None = None
    own_time_grew: bool = False
    p_value: float | None = None
    n: int = 0
    baseline_n: int = 0
    critical_path_p50_ms: list[float | None] = Field(default_factory=list)
    critical_path_z: float | None = None
    explained_share_of_end_to_end_rise: float | None = None
    operations: list[dict[str, Any]] = Field(default_factory=list)  # the shifted operations, strongest first


class TraceErrorDetails(Details):
    """trace.error_shift: an operation failing more often than in the baseline."""

    operation: str = ""
    baseline_error_rate: float = 0.0
    incident_error_rate: float = 0.0
    n: int = 0
    baseline_n: int = 0
    z: float | None = None
    p_value: float | None = None
    service_error_rate: list[float | None] = Field(default_factory=list)  # [baseline, incident]
    operations: list[dict[str, Any]] = Field(default_factory=list)


class ErrorOriginDetails(Details):
    """trace.error_origin: errors that start in this service (its spans are the deepest failing ones)."""

    operation: str = ""
    count: int = 0
    baseline_count: int = 0
    callers: list[str] = Field(default_factory=list)
    caller_counts: dict[str, int] = Field(default_factory=dict)
    operations: dict[str, int] = Field(default_factory=dict)
    share_of_error_traces: float | None = None
    p_value: float | None = None
    trace_ids: list[str] = Field(default_factory=list)  # traces whose failure starts here (a bounded sample)


class WireDelayDetails(Details):
    """trace.wire_delay: calls to a service wait longer outside it (network or queueing in front of it)."""

    baseline_p90: float | None = None
    incident_p90: float | None = None
    ratio: float | None = None
    z: float | None = None
    p_value: float | None = None
    n: int = 0
    baseline_n: int = 0
    baseline: str = ""  # what the incident's calls were compared with
    explained_share_of_end_to_end_rise: float | None = None


class TopologyDetails(Details):
    """trace.topology: the service call graph, the calls the spans show and the edges the source declares."""

    edges: list[tuple[str, str, int]] = Field(default_factory=list)  # (caller, callee, calls)
    declared: list[tuple[str, str]] = Field(default_factory=list)  # declared by the source, not seen in the spans


class LogPatternDetails(Details):
    """log.new_pattern, log.spike, log.drop: a log pattern new, more frequent, or gone quiet."""

    template: str = ""
    count: int = 0
    baseline_count: int = 0
    rate: float | None = None  # per minute in the incident window
    ratio: float | None = None
    p_value: float | None = None
    z: float | None = None
    severity: str = ""
    errorish: bool = False
    first_seen: float | None = None
    baseline_lines: int = 0
    lines: int = 0
    instances: dict[str, int] = Field(default_factory=dict)
    silent_lines: int | None = None  # log.drop by a silence: the lines of the service that followed without it
    expected_in_silence: float | None = None
    silent_from: float | None = None
    silent_until: float | None = None
    last_seen: float | None = None
    between: tuple[str, str] | None = None  # a new line placed in its code path: the steps it came in between
    between_count: int | None = None
    trace_ids: list[str] = Field(default_factory=list)  # traces of the pattern's incident lines (a bounded sample)
    baseline_successor_count: int | None = None


class LogFlowBreakDetails(Details):
    """log.flow_break: a step of a code path that no longer follows the one before it."""

    before: str = ""
    expected: str = ""
    instead: str = ""
    after_call: bool = False
    callee: str = ""
    count: int = 0
    baseline_count: int = 0
    share: float = 0.0
    baseline_share: float = 0.0
    count_since_onset: int = 0
    share_since_onset: float | None = None
    p_value: float | None = None
    instances: dict[str, int] = Field(default_factory=dict)
    traces: list[str] = Field(default_factory=list)


class QuietLogsDetails(Details):
    """log.none: a service's logs checked and found unchanged."""

    lines: int = 0
    baseline_lines: int = 0


class ChangeDetails(Details):
    """change.deploy, .config, .scale, .restart, .other, .provider_incident: one change (a Google Cloud incident
    touching the service's product and location is one), with the attributes its source gives it
    (kept as they are: a revision, the previous revision, the API method)."""

    description: str = ""
    at: float | None = None
    actor: str = ""
    change_kind: str = ""
    seconds_before_onset: float | None = None
    revision: str = ""
    previous: str = ""  # a deploy: the revision it replaced
    previous_image: str = ""  # ... and that revision's image, where the source says


class NoChangeDetails(Details):
    """change.none: no change near the onset (to the project, or to a service a follow-up looked at)."""

    changes_in_window: int = 0
    nearest_seconds_before_onset: float | None = None


class SloBurnDetails(Details):
    """slo.burn: one SLO of the alerting service at the end of the incident window: context for the report's
    header, never evidence about a cause (score 0)."""

    slo: str = ""  # its resource name
    display_name: str = ""
    goal: float = 0.0
    period_s: float = 0.0
    at: float | None = None
    burn: list[tuple[float, float | None]] = Field(default_factory=list)  # (lookback seconds, burn rate)
    budget_left: float | None = None  # share of the error budget left over the compliance period
    budget_span_s: float = 0.0  # the part of the period the counts covered


DETAILS_OF: dict[str, type[Details]] = {
    "log.new_pattern": LogPatternDetails, "log.spike": LogPatternDetails, "log.drop": LogPatternDetails,
    "log.flow_break": LogFlowBreakDetails, "log.none": QuietLogsDetails,
    "trace.latency_shift": TraceLatencyDetails, "trace.error_shift": TraceErrorDetails,
    "trace.error_origin": ErrorOriginDetails, "trace.wire_delay": WireDelayDetails,
    "trace.topology": TopologyDetails,
    "metric.anomaly": MetricAnomalyDetails, "metric.fleet_outlier": FleetOutlierDetails,
    "change.deploy": ChangeDetails, "change.config": ChangeDetails, "change.scale": ChangeDetails,
    "change.restart": ChangeDetails, "change.other": ChangeDetails, "change.none": NoChangeDetails,
    "change.provider_incident": ChangeDetails, "slo.burn": SloBurnDetails,
}
"""The details' model of every finding kind (tests/test_finding_details.py checks it names each kind once)."""


def details_for(kind: object, details: object) -> object:
    """A finding's details as its kind's model: a dict (a stored event, a hand-built finding) validated into it,
    nothing given as the model's empty details; anything else is left for validation to judge."""
    model = DETAILS_OF.get(kind) if isinstance(kind, str) else None
    if model is None:
        return details
    if details is None:
        return model()
    if isinstance(details, dict):
        return model.model_validate(details)
    return details


def metric_of(details: Details) -> str:
    """The metric a finding is about ("" when it is not about one)."""
    return details.metric if isinstance(details, MetricDetails) else ""


def template_of(details: Details) -> str:
    """The log template a finding is about ("" when it is not about one)."""
    return details.template if isinstance(details, LogPatternDetails) else ""
