"""Change detective: deploys, config changes and scaling near the onset, scored by how shortly before it they
happened and by kind. Whether a change touched a service on the causal path is judged by the root-cause
analyst, which knows the dependency graph."""

from __future__ import annotations

import math

from agents.base import AnalysisContext, SpecialistResult
from shared.models import Finding, Widget
from shared.telemetry.models import TelemetrySource, Window

LOOKBACK_S = 2 * 3600
HALF_LIFE_S = 15 * 60  # a change this long before the onset keeps half its time score
KIND_WEIGHT = {"deploy": 1.0, "config": 0.8, "scale": 0.5, "restart": 0.5, "other": 0.4}


def time_score(seconds_before_onset: float) -> float:
    """1 just before the onset, halving every HALF_LIFE_S; changes after the onset weigh little."""
    if seconds_before_onset < 0:
        return 0.15 * math.exp(seconds_before_onset / 300)
    return 0.5 ** (seconds_before_onset / HALF_LIFE_S)


def analyse(source: TelemetrySource, ctx: AnalysisContext) -> SpecialistResult:
    window = Window(ctx.incident.start - LOOKBACK_S, ctx.incident.end)
    read = source.changes(window)
    query = {"source": source.describe(), "window": [window.start, window.end]}
    # the onset of the problem precedes the alert: measure from the start of the incident's own window
    reference = ctx.onset
    findings = []
    for c in read.items:
        before = reference - c.timestamp
        score = KIND_WEIGHT.get(c.kind, 0.4) * time_score(before)
        findings.append(Finding(
            specialist="changes", kind=f"change.{c.kind}", service=c.service, resource=dict(c.details).get(
                "revision", ""), title=f"{c.kind} on {c.service or 'the project'} {_ago(before)}: {c.description}",
            onset=c.timestamp, magnitude=round(before, 1), score=round(min(score, 0.95), 4), query=query,
            exemplars=[{"timestamp": c.timestamp, "actor": c.actor, "details": dict(c.details)}],
            widget=Widget(kind="table", title="change", data={"rows": [{
                "at": c.timestamp, "service": c.service, "kind": c.kind, "actor": c.actor,
                "description": c.description}]}),
            details={"description": c.description, "at": c.timestamp, "actor": c.actor, "change_kind": c.kind,
                     "seconds_before_onset": round(before, 1), **{k: v for k, v in c.details}}))
    if not any(f.score >= 0.2 for f in findings):
        findings.append(Finding(
            specialist="changes", kind="change.none", title="no deploy or config change shortly before the onset",
            ruled_out=True, query=query, details={"changes_in_window": len(read.items)}))
    findings.sort(key=lambda f: (-f.score, f.onset or 0.0, f.service))
    return SpecialistResult(findings, [read.note] if read.sampled else [])


def _ago(seconds: float) -> str:
    m = abs(seconds) / 60
    return f"{m:.0f} min before the alert" if seconds >= 0 else f"{m:.0f} min after the alert"
