"""What every specialist receives and returns."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.models import Finding
from shared.time_window import Window
from shared.time_window import plan_windows as plan_windows  # the windows a round reads (intake plans them)


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

