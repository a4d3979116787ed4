"""Metrics analyst: a robust anomaly score per series (the incident's values against the baseline's median and
MAD, oriented by which way is bad for the metric), the onset by change-point detection (CUSUM), and fleet
outliers (the instance of a service that deviates from its peers on the same metric). Where the source holds
earlier days, each series is first adjusted for its usual shape at that time of day (seasonality.py).

Every series needs enough baseline points to be judged; one without is counted in a note, never scored.
"""

from __future__ import annotations

import statistics
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Literal

from agents.context import AnalysisContext, SpecialistResult
from agents.specialists.metrics import seasonality
from agents.specialists.metrics.metric_vocabulary import direction, is_host_level, ratio_ceiling
from agents.specialists.metrics.slo import slo_findings
from agents.specialists.stats import (
    MAD_TO_SIGMA,
    change_point,
    cusum_onset,
    mad,
    median,
    robust_center_scale,
    robust_scale,
    squash,
    z_of,
)
from shared.finding_details import FleetOutlierDetails, IncidentSeries, MetricAnomalyDetails, MetricDetails
from shared.models import Finding, Widget
from shared.ports import TelemetrySource
from shared.telemetry_records import MetricSeries, Window

MIN_BASELINE_POINTS = 5
MIN_INCIDENT_POINTS = 2
# The spread never counts as less than this share of the level, so a flat series does not make a small change
# huge. Ratios of good outcomes (success, availability: the down-is-bad words) sit near their ceiling, where a
# few percent of the level is already a many-fold rise in failures: their floor is lower.
REL_FLOOR = 0.05
REL_FLOOR_DOWN_BAD = 0.01
ANOMALY_Z = 4.0
PER_SERVICE = 3  # strongest series reported per service (one per metric)
MATERIAL_EFFECT = 0.5  # an increase of half the fleet's typical level of the metric counts in full
ONSET_TAIL = 10  # baseline points put in front of the incident's for the change-point search
ACTIVE_SLACK_S = 5 * 60  # an anomaly over this long before the alert fired had recovered by then (reported, not
# scored down: the incident window reaches back for onsets that precede the alert by minutes)
Z_HALF = 6.0  # squash: a robust z this far past the threshold (plus one) scores 0.6
MAX_WIDGET_POINTS = 240
BAD_DIRECTION: dict[int, Literal["up", "down", "either"]] = {1: "up", -1: "down", 0: "either"}  # by a sign
# a baseline chosen as the segment before the series' largest shift is biased towards finding that shift
CHANGE_POINT_BASELINE_WEIGHT = 0.6
# A share of good outcomes (availability, success in percent or as a fraction) is judged on the share that failed:
# one request in a thousand failing is one sigma at the least, so a drop from a flat 100% to 97% is 30 sigmas.
FAILED_SHARE_FLOOR = 0.001
# Windows follow the series' own resolution: an anomaly counts once it has lasted SUSTAIN_S (two 1-minute points,
# one 5-minute point, which is already a 5-minute average); the incident window reaches AHEAD_PERIODS periods past
# the alert, and the baseline holds BASELINE_PERIODS of the series' periods at least, however coarse the series (the
# planned hour already holds 12 five-minute points: a coarser series reaches further back). A baseline of 24 periods
# (two hours at 5 minutes) cost PetShop top-1 0.88 -> 0.56: the recent hour is the better reference.
RESOLUTION_RULE = True  # off: 1-minute windows and two points for every series (bench/rules.py)
SUSTAIN_S = 120.0
AHEAD_PERIODS = 3
BASELINE_PERIODS = 12
MATERIAL_FAILED_SHARE = 0.01  # a share of good outcomes that falls by this much (1% of requests failing) counts in full
MIN_SHARED_POINTS = 3  # incident points a series must share with the alert's to say whether it moves with it
MIN_FLEET = 4  # series of one metric needed before its breadth across the fleet is judged
MAX_COHORTS = 10  # a label with more values than this (or one per instance) does not split a fleet into cohorts
BREADTH_DISCOUNT = 0.5

@dataclass(frozen=True)
class SeriesScore:
    """One series judged against its baseline."""

    series: MetricSeries
    sign: int  # +1 up is bad, -1 down is bad, 0 either
    z: float  # sustained robust z in the bad direction (the second-largest over the incident's points)
    baseline_median: float
    baseline_mad: float
    scale: float  # the robust spread the z is measured in (scaled MAD with floors)
    value: float  # the incident value furthest in the bad direction
    onset: float | None
    active: bool  # still anomalous within ACTIVE_SLACK_S of the alert (or no points to tell otherwise)
    baseline_from_change_point: bool
    seasonal: bool = False  # scored after removing the usual shape for the time of day (seasonality.py)
    ceiling: float | None = None  # a share of good outcomes out of this whole (judged on the share that failed)
    shape: tuple[tuple[float, float], ...] = ()  # (time, robust z in the bad direction) of the incident's points

    @property
    def anomalous(self) -> bool:
        return self.z >= ANOMALY_Z


def _split(series: MetricSeries,
           ctx: AnalysisContext) -> tuple[list[tuple[float, float]], list[tuple[float, float]], bool] | None:
    """(baseline points, incident points, baseline taken from the pre-change segment) or None: too little data.

    With too little history before the incident window, the baseline is the segment before the series' own
    change point, when that change lies inside the incident window after enough points to judge it by."""
    base = [(t, v) for t, v in series.points if ctx.baseline.contains(t)]
    inc = [(t, v) for t, v in series.points if ctx.incident.contains(t)]
    from_change = False
    if len(base) < MIN_BASELINE_POINTS:
        points = [(t, v) for t, v in series.points if ctx.baseline.start <= t < ctx.incident.end]
        k, _ = change_point([v for _, v in points])
        if k < MIN_BASELINE_POINTS or not ctx.incident.contains(points[k][0]):
            return None
        base, inc, from_change = points[:k], points[k:], True
    if len(inc) < MIN_INCIDENT_POINTS:
        return None
    return base, inc, from_change


def resolution(series: MetricSeries) -> float:
    """The series' period: the shortest gap between its points (a sparse series with missing points keeps the
    period it was sampled at); 60 s when it has fewer than two."""
    return min((b - a for (a, _), (b, _) in zip(series.points, series.points[1:], strict=False) if b > a),
               default=60.0)


def _sustain_points(series: MetricSeries) -> int:
    """Points an anomaly must hold for to count as sustained: SUSTAIN_S of the series' time, one point at least."""
    if not RESOLUTION_RULE:
        return 2
    return max(1, round(SUSTAIN_S / resolution(series)))


def windows_for(ctx: AnalysisContext, period: float) -> AnalysisContext:
    """The context with its windows widened for series of this period: the incident window AHEAD_PERIODS past the
    alert, the baseline BASELINE_PERIODS periods long at least (unchanged where they already are)."""
    if not RESOLUTION_RULE:
        return ctx
    end = max(ctx.incident.end, ctx.onset + AHEAD_PERIODS * period)
    start = min(ctx.baseline.start, ctx.baseline.end - BASELINE_PERIODS * period)
    if end == ctx.incident.end and start == ctx.baseline.start:
        return ctx
    return replace(ctx, incident=Window(ctx.incident.start, end), baseline=Window(start, ctx.baseline.end))


def score_series(series: MetricSeries, ctx: AnalysisContext) -> SeriesScore | None:
    """The incident window against the baseline; None when there is too little data to tell."""
    split = _split(series, ctx)
    if split is None:
        return None
    base, inc, from_change = split
    values = [v for _, v in base]
    sign = direction(series.metric)
    ceiling = ratio_ceiling(series.metric, series.unit, values + [v for _, v in inc])
    if ceiling is not None:  # a share of good outcomes: z of the share that failed
        failed = [(ceiling - v) / ceiling for v in values]
        center_failed = median(failed)
        spread = robust_scale(failed, max(FAILED_SHARE_FLOOR, center_failed * REL_FLOOR))
        center, scale = ceiling * (1.0 - center_failed), spread * ceiling
    else:
        center, scale = robust_center_scale(values, rel_floor=REL_FLOOR_DOWN_BAD if sign < 0 else REL_FLOOR)

    def oriented(v: float) -> float:
        z = z_of(v, center, scale)
        return z * sign if sign else abs(z)

    zs = [oriented(v) for _, v in inc]
    strength = sorted(zs)[-min(len(zs), _sustain_points(series))]  # sustained, not a single spike
    # onset: the start of the strongest excursion over the baseline's tail and the incident (it may have begun
    # before the incident window opened). CUSUM drift = the anomaly threshold: only points beyond it add up, so
    # the ordinary wiggles of a heavy-tailed baseline do not start a run that the real shift then extends.
    around = base[-ONSET_TAIL:] + inc
    k = cusum_onset([oriented(v) for _, v in around], drift=ANOMALY_Z, threshold=ANOMALY_Z)
    onset = around[k][0] if k is not None else None
    recent = [z for (t, _), z in zip(inc, zs, strict=True) if t >= ctx.onset - ACTIVE_SLACK_S]
    active = not recent or max(recent) >= ANOMALY_Z
    value = max((v for _, v in inc), key=lambda v: abs(v - center) if not sign else (v - center) * sign)
    return SeriesScore(series, sign, strength, center, mad(values, center), scale, value, onset, active, from_change,
                       ceiling=ceiling, shape=tuple((t, z) for (t, _), z in zip(inc, zs, strict=True)))


def analyse(source: TelemetrySource, ctx: AnalysisContext) -> SpecialistResult:
    read = source.metrics(Window(ctx.baseline.start, ctx.incident.end))
    notes = []
    periods = [resolution(s) for s in read.items if len(s.points) > 1]
    wider = windows_for(ctx, median(periods)) if periods else ctx
    if wider is not ctx:  # coarse series: read again over windows their resolution can be judged in
        ctx = wider
        read = source.metrics(Window(ctx.baseline.start, ctx.incident.end))
        notes.append(f"metrics at {median(periods) / 60:.3g}-minute resolution: the incident window was read to "
                     f"{(ctx.incident.end - ctx.onset) / 60:.3g} min after the alert and the baseline over "
                     f"{ctx.baseline.seconds / 3600:.3g} h")
    if read.sampled:
        notes.insert(0, read.note)
    history = seasonality.history_by_series(
        {lag: source.metrics(w).items for lag, w in seasonality.lags_to_read(ctx.baseline, ctx.incident)})
    query: dict[str, object] = {"source": source.describe(), "window": [ctx.incident.start, ctx.incident.end],
                                "baseline": [ctx.baseline.start, ctx.baseline.end]}
    scored: list[SeriesScore] = []
    adjusted_count = 0
    for series in read.items:
        adjusted = seasonality.adjust(series, history.get(seasonality.key(series), {}), ctx.baseline, ctx.incident)
        s = score_series(adjusted, ctx) if adjusted is not None else None
        if s is not None:
            s = replace(s, seasonal=True)
            adjusted_count += 1
        else:
            s = score_series(series, ctx)
        if s is not None:
            scored.append(s)
    if adjusted_count:
        notes.append(f"{adjusted_count} of {len(read.items)} series scored against their usual shape for the time "
                     "of day (history of earlier days)")
    if len(scored) < len(read.items):
        notes.append(f"{len(read.items) - len(scored)} of {len(read.items)} series had too few baseline "
                     f"(< {MIN_BASELINE_POINTS}) or incident (< {MIN_INCIDENT_POINTS}) points to score")
    if not read.items:
        notes.append("no metric series in the baseline or incident window")
    elif not any(ctx.baseline.start <= t < ctx.baseline.end for s in read.items for t, _ in s.points):
        notes.append("no baseline metric points: series were compared with their own points before a change within "
                     "the incident window, where they held enough")
    elif not any(t >= ctx.incident.start for s in read.items for t, _ in s.points):
        notes.append("no metric points in the incident window")
    levels, breadth = fleet_levels(scored), fleet_breadth(scored)
    alerting = alert_series(scored, ctx)
    by_service: dict[str, list[Finding]] = defaultdict(list)
    for s in scored:
        if s.anomalous:
            moves, missing = co_movement(s, alerting) if alerting is not None else (None, False)
            by_service[s.series.service].append(_anomaly(s, levels, breadth, ctx, query, moves, missing))
    findings = []
    for service in sorted(by_service):
        findings += strongest(by_service[service])
    findings += fleet_outliers(scored, ctx, query)
    findings += cohort_outliers(scored, ctx, query)
    findings.sort(key=rank_key)
    slos, slo_notes = slo_findings(source, ctx)
    return SpecialistResult(findings + slos, notes + slo_notes)


def strongest(found: list[Finding]) -> list[Finding]:
    """A service's PER_SERVICE strongest anomalies on distinct metrics (the strongest instance of each): a
    saturated pool is not crowded out by the same latency metric on every instance."""
    best: dict[str, Finding] = {}
    for f in sorted(found, key=rank_key):
        assert isinstance(f.details, MetricDetails)
        best.setdefault(f.details.metric, f)
    return sorted(best.values(), key=rank_key)[:PER_SERVICE]


def rank_key(f: Finding) -> tuple[float, bool, float, float, str, str, str, str]:
    """Strongest first; at equal scores what is still anomalous at the alert, then the larger z, then the larger
    effect next to the fleet, then names (a total, deterministic order)."""
    d = f.details
    assert isinstance(d, MetricDetails)
    effect = d.effect_vs_fleet if isinstance(d, MetricAnomalyDetails) else 0.0
    return (-f.score, not d.active_at_alert, -d.robust_z, -effect, f.kind, f.service, f.resource, f.title)


def alert_series(scored: list[SeriesScore], ctx: AnalysisContext) -> SeriesScore | None:
    """The series the alert is about: the alerting service's series of the alert's metric (the strongest, when its
    instances each have one); None when the source holds none."""
    wanted = ctx.alert_metric.lower()
    found = [s for s in scored if ctx.alert_service and s.series.service == ctx.alert_service
             and s.series.metric.rsplit("/", 1)[-1].lower() in wanted]
    return max(found, key=lambda s: (s.z, s.series.instance), default=None)


def co_movement(s: SeriesScore, alerting: SeriesScore) -> tuple[float | None, bool]:
    """(The correlation of two series' incident points (robust z in their bad directions) at the times both have a
    point, whether the series was missing while the alert's moved.) The correlation is None with fewer than
    MIN_SHARED_POINTS shared or when the alert's series does not vary. A series level through those points while the
    alert's series rises and falls does not move with it: 0 (it was already at its level before the alert's series
    moved, and stays there whatever the alert's series does). Missing: too few shared points while the alert's
    series rises and falls (a sparse or interrupted series); whether it moves with the alert cannot be measured,
    which is not evidence that it does (agents/ranking/evidence.py weighs it as unknown)."""
    if s is alerting:
        return 1.0, False
    theirs = dict(alerting.shape)
    pairs = [(z, theirs[t]) for t, z in s.shape if t in theirs]
    if len(pairs) < MIN_SHARED_POINTS:
        return None, len(set(theirs.values())) >= 2
    ours, alert = [a for a, _ in pairs], [b for _, b in pairs]
    if len(set(alert)) < 2:  # the alert's series does not vary: nothing to move with
        return None, False
    if len(set(ours)) < 2:  # level while the alert's series rises and falls: it does not move with it
        return 0.0, False
    return statistics.correlation(ours, alert), False


def _effect(s: SeriesScore, levels: dict[str, float]) -> float:
    """How material the change is, 1 in full: a share of good outcomes by the share of requests that now fail
    (MATERIAL_FAILED_SHARE counts in full); any other series next to what the fleet typically runs at (an increase
    that is small next to the fleet's level is real but hardly a cause)."""
    change = abs(s.value - s.baseline_median)
    if s.ceiling is not None:
        return min(1.0, change / s.ceiling / MATERIAL_FAILED_SHARE)
    return min(1.0, change / max(levels.get(s.series.metric, 0.0), 1e-9) / MATERIAL_EFFECT)


def _anomaly(s: SeriesScore, levels: dict[str, float], breadth: dict[tuple[str, str, str], float],
             ctx: AnalysisContext, query: dict[str, object], moves: float | None = None,
             missing: bool = False) -> Finding:
    series = s.series
    host_level = is_host_level(series.metric)
    effect = _effect(s, levels)
    shared = breadth.get(_key(series), 0.0)
    weight = ((0.5 if host_level else (1.0 if s.sign else 0.7)) * effect
              * (1.0 - BREADTH_DISCOUNT * shared)
              * (CHANGE_POINT_BASELINE_WEIGHT if s.baseline_from_change_point else 1.0))
    score = round(min(0.97, weight * (0.1 + squash(s.z - ANOMALY_Z + 1, Z_HALF))), 4)
    arrow: Literal["up", "down"] = "up" if s.value >= s.baseline_median else "down"
    where = series.instance or series.service
    charted = incident_series(s, ctx)
    unit = f" {series.unit}" if series.unit not in ("", "1") else ""  # "1": Cloud Monitoring's "no unit"
    # onset order: a series that began moving over one of its own periods after the alert's onset followed it
    after = s.onset is not None and s.onset > ctx.onset + resolution(series)
    return Finding(
        specialist="metrics", kind="metric.anomaly", service=series.service, resource=series.instance,
        title=(f"{series.metric.rsplit('/', 1)[-1]} {arrow} on {where}: {s.baseline_median:.4g} -> {s.value:.4g}"
               f"{unit} (robust z {s.z:.1f}{', time-of-day adjusted' if s.seasonal else ''}"
               f"{'' if s.active else ', recovered before the alert'}"
               f"{f', began {(s.onset or 0.0) - ctx.onset:.0f} s after the alert' if after else ''})"),
        onset=s.onset, magnitude=round(s.z, 3), score=score,
        query={**query, "filter": {"metric": series.metric, "service": series.service, "instance": series.instance}},
        exemplars=[{"t": t, "v": v, "instance": where} for t, v in series.points if ctx.incident.contains(t)][:10],
        widget=timeseries_widget(s, ctx, charted),
        details=MetricAnomalyDetails(
            metric=series.metric, instance=series.instance, unit=series.unit, baseline_median=s.baseline_median,
            baseline_mad=s.baseline_mad, baseline_sigma=s.scale, incident_value=s.value, robust_z=round(s.z, 3),
            direction=arrow, bad_direction=BAD_DIRECTION[s.sign], host_level=host_level,
            effect_vs_fleet=round(effect, 4), active_at_alert=s.active, fleet_share_anomalous=round(shared, 4),
            baseline_from_change_point=s.baseline_from_change_point, seasonal_adjusted=s.seasonal,
            co_movement=None if moves is None else round(moves, 3), missing_while_alert_moved=missing,
            began_after_alert=after, series=charted))


def _thin(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return points[::max(1, len(points) // (MAX_WIDGET_POINTS // 2))]


def incident_series(s: SeriesScore, ctx: AnalysisContext) -> IncidentSeries:
    """The series in the incident window as its chart shows it, with its anomaly threshold (the finding's own)."""
    threshold = s.baseline_median + (s.sign or (1 if s.value >= s.baseline_median else -1)) * ANOMALY_Z * s.scale
    return IncidentSeries(points=_thin([(t, v) for t, v in s.series.points if ctx.incident.contains(t)]),
                          threshold=threshold, baseline_median=s.baseline_median)


def timeseries_widget(s: SeriesScore, ctx: AnalysisContext, charted: IncidentSeries) -> Widget:
    """The chart of a finding's series: the baseline's points, and the incident's as the finding holds them, the
    onset marked, the anomaly threshold drawn."""
    name = s.series.instance or s.series.service
    base = _thin([(t, v) for t, v in s.series.points if t < ctx.incident.start])
    return Widget(kind="timeseries", title=f"{s.series.metric} ({name})",
                  data={"series": [{"name": f"{name} baseline", "unit": s.series.unit,
                                    "points": [[t, v] for t, v in base]},
                                   {"name": f"{name} incident", "unit": s.series.unit,
                                    "points": [[t, v] for t, v in charted.points]}],
                        "onset": s.onset, "threshold": charted.threshold, "baseline_median": charted.baseline_median})


def fleet_levels(scored: list[SeriesScore]) -> dict[str, float]:
    """The typical level of each metric across the fleet: the median of the series' baseline medians."""
    values: dict[str, list[float]] = defaultdict(list)
    for s in scored:
        values[s.series.metric].append(abs(s.baseline_median))
    return {metric: median(v) for metric, v in values.items()}


def fleet_breadth(scored: list[SeriesScore]) -> dict[tuple[str, str, str], float]:
    """Per series, the share of the other series of the same metric across the fleet that are about as anomalous
    (at least half its z, and anomalous themselves); 0 with fewer than MIN_FLEET series of the metric. A change
    most of the fleet shows at once is a shared symptom (load, a common dependency, the measurement itself):
    weak evidence about any one member. A series far beyond the rest of its fleet keeps its full weight."""
    by_metric: dict[str, list[SeriesScore]] = defaultdict(list)
    for s in scored:
        by_metric[s.series.metric].append(s)
    out: dict[tuple[str, str, str], float] = {}
    for members in by_metric.values():
        zs = sorted(m.z for m in members)
        for s in members:
            share = 0.0
            if len(members) >= MIN_FLEET and s.anomalous:
                bar = max(ANOMALY_Z, s.z / 2)
                alike = len(zs) - bisect_left(zs, bar) - 1  # others at or above the bar (minus itself)
                share = alike / (len(members) - 1)
            out[_key(s.series)] = share
    return out


def _key(series: MetricSeries) -> tuple[str, str, str]:
    return series.metric, series.service, series.instance


def fleet_outliers(scored: list[SeriesScore], ctx: AnalysisContext, query: dict[str, object]) -> list[Finding]:
    """Instances whose incident value stands out from their peers' (same service, same metric): a robust z of
    the instance's value against the peers' values, in the metric's bad direction, while the peers themselves
    stay near their own baselines (a fleet-wide shift is not one instance's problem)."""
    groups: dict[tuple[str, str], list[SeriesScore]] = defaultdict(list)
    for s in scored:
        if s.series.instance:
            groups[(s.series.service, s.series.metric)].append(s)
    out = []
    for (service, metric), members in sorted(groups.items()):
        if len(members) < 2:
            continue
        for s in sorted(members, key=lambda m: m.series.instance):
            peers = [p for p in members if p.series.instance != s.series.instance]
            peer_values = [p.value for p in peers]
            peers_median = median(peer_values)
            peer_z = median([p.z for p in peers])
            # the spread among peers, floored by the instance's own baseline spread so two identical peers
            # do not make any difference look infinite
            spread = max(MAD_TO_SIGMA * mad(peer_values, peers_median), s.scale, abs(peers_median) * 0.05, 1e-9)
            apart = (s.value - peers_median) / spread
            apart = apart * s.sign if s.sign else abs(apart)
            if not (s.anomalous and apart >= ANOMALY_Z and peer_z < ANOMALY_Z / 2):
                continue
            out.append(Finding(
                specialist="metrics", kind="metric.fleet_outlier", service=service, resource=s.series.instance,
                title=(f"{s.series.instance} stands out from its {len(peers)} peer(s) on {metric.rsplit('/', 1)[-1]}:"
                       f" {s.value:.4g} vs peers' {peers_median:.4g}"),
                onset=s.onset, magnitude=round(apart, 3),
                score=round(min(0.9, squash(s.z - peer_z, 8.0)), 4),
                query={**query, "filter": {"metric": metric, "service": service}},
                widget=timeseries_widget(s, ctx, charted := incident_series(s, ctx)),
                details=FleetOutlierDetails(
                    metric=metric, instance=s.series.instance, peers_median=peers_median, value=s.value,
                    peers=len(peers), z_vs_peers=round(apart, 3), robust_z=round(s.z, 3),
                    peers_median_z=round(peer_z, 3), active_at_alert=s.active, series=charted)))
    return out


def cohort_outliers(scored: list[SeriesScore], ctx: AnalysisContext, query: dict[str, object]) -> list[Finding]:
    """Cohorts of a service's instances (those sharing a label value: a zone, a version, a revision) whose
    members are anomalous on a metric while the other cohorts' members stay near their baselines: a bad canary
    version, a degraded zone. Judged on the members' median z, so one bad instance does not make its cohort bad
    (that is fleet_outliers' finding) and a cohort needs two members or more."""
    groups: dict[tuple[str, str], list[SeriesScore]] = defaultdict(list)
    for s in scored:
        if s.series.instance and s.series.labels:
            groups[(s.series.service, s.series.metric)].append(s)
    out = []
    for (service, metric), members in sorted(groups.items()):
        keys = sorted({k for m in members for k, _ in m.series.labels})
        for key in keys:
            cohorts: dict[str, list[SeriesScore]] = defaultdict(list)
            for m in members:
                value = dict(m.series.labels).get(key)
                if value is not None:
                    cohorts[value].append(m)
            if not 2 <= len(cohorts) <= MAX_COHORTS or len(cohorts) == len(members):
                continue
            for value, inside in sorted(cohorts.items()):
                rest = [m for v, c in cohorts.items() if v != value for m in c]
                z_in, z_rest = median([m.z for m in inside]), median([m.z for m in rest])
                if len(inside) < 2 or z_in < ANOMALY_Z or z_rest >= ANOMALY_Z / 2:
                    continue
                lead = max(inside, key=lambda m: (m.z, m.series.instance))
                out.append(Finding(
                    specialist="metrics", kind="metric.fleet_outlier", service=service, resource=f"{key}={value}",
                    title=(f"{key}={value} ({len(inside)} instances of {service}) stands out on "
                           f"{metric.rsplit('/', 1)[-1]}: median robust z {z_in:.1f} vs {z_rest:.1f} in the other "
                           f"{len(rest)}"),
                    onset=min((m.onset for m in inside if m.onset is not None), default=None),
                    magnitude=round(z_in - z_rest, 3), score=round(min(0.9, squash(z_in - z_rest, 8.0)), 4),
                    query={**query, "filter": {"metric": metric, "service": service, key: value}},
                    widget=timeseries_widget(lead, ctx, charted := incident_series(lead, ctx)),
                    details=FleetOutlierDetails(
                        metric=metric, cohort={key: value}, instances=sorted(m.series.instance for m in inside),
                        cohort_median_z=round(z_in, 3), others_median_z=round(z_rest, 3), others=len(rest),
                        series=charted)))
    return out
