"""What every specialist receives and returns."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.models import Finding
from shared.time_window import Window

INCIDENT_LOOKBACK_S = 15 * 60  # alerts fire after the onset: look this far back from the alert's start
INCIDENT_LOOKAHEAD_S = 5 * 60
BASELINE_SPAN_S = 60 * 60  # the baseline is the hour before the incident window


@dataclass(frozen=True)
class AnalysisContext:
    incident_id: str
    alert_service: str  # the service the alert is about ("" when the alert does not say)
    alert_metric: str
    onset: float  # the alert's start
    incident: Window
    baseline: Window
    round: int = 1
    focus: tuple[str, ...] = ()  # services to look at closely in a targeted round


@dataclass
class SpecialistResult:
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # sampling and data-coverage notes, shown in the report


def plan_windows(onset: float) -> tuple[Window, Window]:
    """(incident window, baseline window) around an alert's start."""
    incident = Window(onset - INCIDENT_LOOKBACK_S, onset + INCIDENT_LOOKAHEAD_S)
    baseline = Window(incident.start - BASELINE_SPAN_S, incident.start)
    return incident, baseline
