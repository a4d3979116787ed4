"""Metrics analyst: robust anomaly scores per series against the baseline, onset by change point, and fleet
outliers (the instance that deviates from its peers)."""

from __future__ import annotations

from collections import defaultdict

from agents.base import AnalysisContext, SpecialistResult
from agents.stats import change_point, median, robust_scale, robust_z, squash
from shared.models import Finding, Widget
from shared.telemetry.models import MetricSeries, TelemetrySource

MIN_BASELINE_POINTS = 5
MIN_INCIDENT_POINTS = 2
ANOMALY_Z = 4.0
PER_SERVICE = 3
MATERIAL_EFFECT = 0.5  # an increase of half the fleet's typical level counts in full
MAX_WIDGET_POINTS = 240

# Direction from generic words in metric names: which way is bad.
UP_BAD = ("error", "fail", "latency", "duration", "cpu", "memory", "pool", "queue", "timeout", "restart", "saturat",
          "utiliz", "usage", "wait", "throttl", "5xx", "drop", "retrans", "p50", "p90", "p95", "p99")
DOWN_BAD = ("success", "availab", "throughput", "ok_", "healthy", "uptime")
HOST_WORDS = ("node",)  # a node's figures are shared by every pod on it: weaker evidence about one service


def direction(metric: str) -> int:
    """+1 when up is bad, -1 when down is bad, 0 when either may be."""
    name = metric.lower()
    if any(w in name for w in DOWN_BAD):
        return -1
    if any(w in name for w in UP_BAD):
        return 1
    return 0


def _widget(series: MetricSeries, onset: float | None, baseline_median: float) -> Widget:
    points = list(series.points)
    step = max(1, len(points) // MAX_WIDGET_POINTS)
    return Widget(kind="timeseries", title=f"{series.metric} ({series.instance or series.service})",
                  data={"series": [{"name": series.instance or series.service, "unit": series.unit,
                                    "points": [[t, v] for t, v in points[::step]]}],
                        "onset": onset, "baseline_median": baseline_median})


def score_series(series: MetricSeries, ctx: AnalysisContext) -> dict[str, float] | None:
    """Robust z of the incident window against the baseline; None when there is too little data to tell."""
    base = [v for t, v in series.points if ctx.baseline.contains(t)]
    inc_points = [(t, v) for t, v in series.points if ctx.incident.contains(t)]
    split = "window"
    if len(base) < MIN_BASELINE_POINTS:
        # Too little history before the incident window: take the baseline from the segment before the
        # series' own change point, when that change lies after enough points to judge it by.
        points = [(t, v) for t, v in series.points if ctx.baseline.start <= t < ctx.incident.end]
        k, _ = change_point([v for _, v in points])
        if k < MIN_BASELINE_POINTS or not ctx.incident.contains(points[k][0]):
            return None
        base, inc_points, split = [v for _, v in points[:k]], points[k:], "change_point"
    if len(inc_points) < MIN_INCIDENT_POINTS:
        return None
    sign = direction(series.metric)
    zs = [robust_z(v, base) for _, v in inc_points]
    oriented = sorted(((z * sign) if sign else abs(z)) for z in zs)
    # sustained, not a single spike: the second-largest oriented z
    strength = oriented[-2]
    k, shift = change_point(base[-10:] + [v for _, v in inc_points])
    offset = k - len(base[-10:])
    onset = inc_points[offset][0] if 0 <= offset < len(inc_points) else None
    base_median = median(base)
    inc_peak = max((v for _, v in inc_points), key=lambda v: (v - base_median) * (sign or 1))
    return {"z": strength, "shift": shift, "onset": onset or 0.0, "baseline_median": base_median,
            "baseline_scale": robust_scale(base, max(abs(base_median) * 0.05, 1e-9)), "incident_value": inc_peak,
            "sign": float(sign), "baseline_from_change_point": float(split == "change_point")}


def analyse(source: TelemetrySource, ctx: AnalysisContext) -> SpecialistResult:
    read = source.metrics(type(ctx.baseline)(ctx.baseline.start, ctx.incident.end))
    notes = [read.note] if read.sampled else []
    query: dict[str, object] = {"source": source.describe(), "window": [ctx.incident.start, ctx.incident.end],
             "baseline": [ctx.baseline.start, ctx.baseline.end]}
    scored: list[tuple[MetricSeries, dict[str, float]]] = []
    unscored = 0
    for series in read.items:
        s = score_series(series, ctx)
        if s is None:
            unscored += 1
        else:
            scored.append((series, s))
    if unscored:
        notes.append(f"{unscored} of {len(read.items)} series had too few baseline/incident points to score")
    levels = fleet_levels(scored)
    by_service: dict[str, list[Finding]] = defaultdict(list)
    for series, s in scored:
        if s["z"] < ANOMALY_Z:
            continue
        host_level = any(w in series.metric.lower() for w in HOST_WORDS)
        # an increase that is small next to what the fleet typically runs at is real but hardly a cause
        effect = abs(s["incident_value"] - s["baseline_median"]) / max(levels.get(series.metric, 0.0), 1e-9)
        weight = (0.5 if host_level else (1.0 if s["sign"] else 0.7)) * min(1.0, effect / MATERIAL_EFFECT)
        score = round(min(0.97, weight * squash(s["z"] - ANOMALY_Z + 1, 6.0) + 0.1 * weight), 4)
        onset = s["onset"] or None
        arrow = "up" if s["incident_value"] >= s["baseline_median"] else "down"
        by_service[series.service].append(Finding(
            specialist="metrics", kind="metric.anomaly", service=series.service, resource=series.instance,
            title=(f"{series.metric.rsplit('/', 1)[-1]} {arrow} on {series.instance or series.service}: "
                   f"{s['baseline_median']:.4g} -> {s['incident_value']:.4g}{series.unit and ' ' + series.unit} "
                   f"(robust z {s['z']:.1f})"),
            onset=onset, magnitude=round(s["z"], 3), score=score, query={**query, "metric": series.metric},
            exemplars=[{"t": t, "v": v} for t, v in series.points if ctx.incident.contains(t)][:10],
            widget=_widget(series, onset, s["baseline_median"]),
            details={"metric": series.metric, "instance": series.instance, "baseline_median": s["baseline_median"],
                     "baseline_mad": s["baseline_scale"], "incident_value": s["incident_value"],
                     "robust_z": round(s["z"], 3), "direction": arrow, "host_level": host_level,
                     "effect_vs_fleet": round(effect, 4)}))
    findings = []
    for service in sorted(by_service):
        findings += sorted(by_service[service], key=lambda f: (-f.score, f.resource, f.title))[:PER_SERVICE]
    findings += fleet_outliers(scored, query)
    findings.sort(key=lambda f: (-f.score, f.service, f.title))
    return SpecialistResult(findings, notes)


def fleet_levels(scored: list[tuple[MetricSeries, dict[str, float]]]) -> dict[str, float]:
    """The typical level of each metric across the fleet: the median of the series' baseline medians."""
    values: dict[str, list[float]] = defaultdict(list)
    for series, s in scored:
        values[series.metric].append(abs(s["baseline_median"]))
    return {metric: median(v) for metric, v in values.items()}


def fleet_outliers(scored: list[tuple[MetricSeries, dict[str, float]]], query: dict[str, object]) -> list[Finding]:
    """Instances whose anomaly stands out from their peers (same service, same metric)."""
    groups: dict[tuple[str, str], list[tuple[MetricSeries, dict[str, float]]]] = defaultdict(list)
    for series, s in scored:
        groups[(series.service, series.metric)].append((series, s))
    out = []
    for (service, metric), members in sorted(groups.items()):
        if len(members) < 2:
            continue
        for series, s in members:
            peers = [p["z"] for other, p in members if other.instance != series.instance]
            peer_level = median(peers)
            if s["z"] >= ANOMALY_Z and peer_level < ANOMALY_Z / 2 and s["sign"] >= 0:
                out.append(Finding(
                    specialist="metrics", kind="metric.fleet_outlier", service=service, resource=series.instance,
                    title=f"{series.instance} stands out from its {len(peers)} peer(s) on {metric.rsplit('/', 1)[-1]}",
                    magnitude=round(s["z"] - peer_level, 3),
                    score=round(min(0.9, squash(s["z"] - peer_level, 8.0)), 4), query={**query, "metric": metric},
                    details={"metric": metric, "instance": series.instance, "peers_median_z": round(peer_level, 3),
                             "value": s["incident_value"], "robust_z": round(s["z"], 3)}))
    return out
