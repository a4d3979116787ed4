"""Change detective: deploys, config changes, scaling and restarts in the two hours before the incident, scored by
how shortly before the onset they happened and by kind. Whether a change touched a service on the causal path is
judged by the root-cause analyst, which knows the dependency graph and which services misbehave."""

from __future__ import annotations

import math

from agents.context import AnalysisContext, SpecialistResult
from shared.finding_details import ChangeDetails, NoChangeDetails
from shared.models import Finding, Widget
from shared.ports import TelemetrySource
from shared.telemetry_records import ChangeEvent, Window

LOOKBACK_S = 2 * 3600
FOCUSED_LOOKBACK_S = 24 * 3600  # a follow-up round reads a day of changes to the services it is about
HALF_LIFE_S = 15 * 60  # a change this long before the onset keeps half its time score
AFTER_SCORE = 0.15  # a change just after the onset cannot have started it; it weighs this much at most ...
AFTER_DECAY_S = 5 * 60  # ... and fades with this time constant
KIND_WEIGHT = {"deploy": 1.0, "config": 0.8, "scale": 0.5, "restart": 0.5, "other": 0.4, "provider_incident": 1.0}
PROVIDER_HALF_LIFE_S = 3 * 3600  # a Google Cloud incident under way at the onset stays near: outages last hours
MAX_SCORE = 0.95  # a change is never unmistakable evidence on its own: it needs a misbehaving service
NEAR_SCORE = 0.2  # below this no change counts as near the onset (a deploy ~35 min before, a scale ~20 min)


def time_score(seconds_before_onset: float) -> float:
    """1 just before the onset, halving every HALF_LIFE_S; changes after the onset weigh little."""
    if seconds_before_onset < 0:
        return AFTER_SCORE * math.exp(seconds_before_onset / AFTER_DECAY_S)
    return float(0.5 ** (seconds_before_onset / HALF_LIFE_S))


def change_score(kind: str, seconds_before_onset: float) -> float:
    if kind == "provider_incident" and seconds_before_onset >= 0:  # still under way at the onset (it was read so)
        return round(min(MAX_SCORE, float(0.5 ** (seconds_before_onset / PROVIDER_HALF_LIFE_S))), 4)
    return round(min(MAX_SCORE, KIND_WEIGHT.get(kind, KIND_WEIGHT["other"]) * time_score(seconds_before_onset)), 4)


def analyse(source: TelemetrySource, ctx: AnalysisContext) -> SpecialistResult:
    if ctx.focus:
        return _focused(source, ctx)
    window = Window(ctx.incident.start - LOOKBACK_S, ctx.incident.end)
    read = source.changes(window)
    query: dict[str, object] = {"source": source.describe(), "window": [window.start, window.end]}
    # the alert's start is the best-known moment of the onset (the round's context carries it)
    findings = [_finding(c, ctx.onset - c.timestamp, query) for c in read.items]
    findings.sort(key=lambda f: (-f.score, f.onset or 0.0, f.service, f.kind, f.title))
    if not any(f.score >= NEAR_SCORE for f in findings):
        findings.append(_nothing_near(findings, query))
    return SpecialistResult(findings, [read.note] if read.sampled else [])


def _focused(source: TelemetrySource, ctx: AnalysisContext) -> SpecialistResult:
    """A follow-up round: a day of changes to each service it is about; for each with no change near the onset,
    the hypothesis "a change to it did this" is ruled out, naming its last change."""
    window = Window(ctx.incident.start - FOCUSED_LOOKBACK_S, ctx.incident.end)
    read = source.changes(window, list(ctx.focus))
    query: dict[str, object] = {"source": source.describe(), "window": [window.start, window.end],
                                "filter": {"services": list(ctx.focus)}}
    findings = [_finding(c, ctx.onset - c.timestamp, query) for c in read.items if c.service in ctx.focus]
    for service in ctx.focus:
        own = [f for f in findings if f.service == service]
        if any(f.score >= NEAR_SCORE for f in own):
            continue
        last = max((f for f in own if f.magnitude >= 0), key=lambda f: -f.magnitude, default=None)
        title = f"no change to {service} shortly before the onset" + (
            f" (its last: {_kind_of(last)} {_ago(last.magnitude)})" if last is not None
            else f" (none in the {FOCUSED_LOOKBACK_S // 3600} h before the incident)")
        findings.append(Finding(
            specialist="changes", kind="change.none", service=service, title=title, ruled_out=True,
            query={**query, "filter": {"service": service}},
            details=NoChangeDetails(changes_in_window=len(own),
                                    nearest_seconds_before_onset=last.magnitude if last is not None else None)))
    findings.sort(key=lambda f: (-f.score, f.onset or 0.0, f.service, f.kind, f.title))
    return SpecialistResult(findings, [read.note] if read.sampled else [])


def _finding(c: ChangeEvent, before: float, query: dict[str, object]) -> Finding:
    kind = c.kind if c.kind in KIND_WEIGHT else "other"
    extra = dict(c.details)
    score = change_score(kind, before)
    if kind == "provider_incident" and extra.get("ended_at"):  # over before the onset: it weighs as it fades
        score = change_score("other", before - float(extra["ended_at"]) + c.timestamp)
    where = c.service or "the project"
    said = ChangeDetails(description=c.description, at=c.timestamp, actor=c.actor, change_kind=c.kind,
                         seconds_before_onset=round(before, 1))
    return Finding(
        specialist="changes", kind=f"change.{kind}", service=c.service, resource=extra.get("revision", ""),
        title=(f"{c.description}, started {_ago(before)}, touches {where}" if kind == "provider_incident" else
               f"{c.kind} on {where} {_ago(before)}: {c.description}"),
        onset=c.timestamp, magnitude=round(before, 1), score=score, query=query,
        exemplars=[{"timestamp": c.timestamp, "actor": c.actor, "details": extra}],
        widget=Widget(kind="table", title="change", data={"rows": [{
            "at": c.timestamp, "service": c.service, "kind": c.kind, "actor": c.actor,
            "description": c.description}]}),
        details=ChangeDetails.model_validate({**extra, **said.model_dump()}))  # the source's attributes beside


def _kind_of(change: Finding) -> str:
    """What kind of change a change finding records (deploy, config, ...)."""
    assert isinstance(change.details, ChangeDetails)
    return change.details.change_kind


def _nothing_near(found: list[Finding], query: dict[str, object]) -> Finding:
    """The checked hypothesis "a recent change did it", found empty."""
    before = [f for f in found if f.magnitude >= 0]
    nearest = min(before, key=lambda f: (f.magnitude, f.service, f.kind)) if before else None
    title = "no deploy, config change or scaling shortly before the onset"
    if nearest is not None:
        title += f" (the nearest: {_kind_of(nearest)} on {nearest.service or 'the project'} " \
                 f"{_ago(nearest.magnitude)})"
    elif not found:
        title += f" (none in the {LOOKBACK_S // 3600} h before the incident)"
    return Finding(
        specialist="changes", kind="change.none", title=title, ruled_out=True, query=query,
        details=NoChangeDetails(changes_in_window=len(found),
                                nearest_seconds_before_onset=nearest.magnitude if nearest is not None else None))


def _ago(seconds: float) -> str:
    m = abs(seconds) / 60
    return f"{m:.0f} min before the alert" if seconds >= 0 else f"{m:.0f} min after the alert"
