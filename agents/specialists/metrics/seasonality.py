"""Daily and weekly seasonality: a metric that rises every morning is not an incident every morning.

When the source holds history for the same clock window on earlier days (one day, two days and one week before),
each series is adjusted by its usual shape: at every point, the median of the earlier days' values at the same
time of day, relative to their median over the baseline window, is subtracted. The adjusted series keeps its
own level, so the anomaly score (median/MAD, analysis.py) then measures what is unusual *for this time*.
A series whose history does not cover enough of its points is scored as it is, and the finding says which.
Pure: the reads are done by the caller through `lags_to_read`.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import replace

from agents.specialists.stats import median
from shared.telemetry_records import MetricSeries, Window

DAY_S = 24 * 3600
LAGS_S = (DAY_S, 2 * DAY_S, 7 * DAY_S)  # the same time yesterday, the day before, a week ago
MIN_COVERAGE = 0.8  # share of a series' points (in each window) that need an earlier value at their time of day
TOLERANCE_S = 90.0  # an earlier point this close to the lagged time stands for it

SeriesKey = tuple[str, str, str, tuple[tuple[str, str], ...]]


def key(s: MetricSeries) -> SeriesKey:
    return (s.metric, s.service, s.instance, s.labels)


def lags_to_read(baseline: Window, incident: Window) -> list[tuple[int, Window]]:
    """The windows to read for each lag: the baseline and incident windows moved back by it."""
    return [(lag, Window(baseline.start - lag, incident.end - lag)) for lag in LAGS_S]


def _value_at(points: tuple[tuple[float, float], ...], times: list[float], t: float) -> float | None:
    i = bisect_left(times, t)
    best = min((j for j in (i - 1, i) if 0 <= j < len(points)), key=lambda j: abs(times[j] - t), default=None)
    return points[best][1] if best is not None and abs(times[best] - t) <= TOLERANCE_S else None


def adjust(series: MetricSeries, history: dict[int, MetricSeries], baseline: Window,
           incident: Window) -> MetricSeries | None:
    """The series with its usual shape for the time of day removed; None when the history (per lag: the same
    series `lag` seconds earlier) does not cover MIN_COVERAGE of its points in both windows."""
    if not history:
        return None
    lagged = {lag: (s.points, [t for t, _ in s.points]) for lag, s in history.items()}
    usual: list[float | None] = []
    for t, _ in series.points:
        values = [v for lag, (pts, times) in lagged.items() if (v := _value_at(pts, times, t - lag)) is not None]
        usual.append(median(values) if values else None)
    for window in (baseline, incident):
        inside = [u for (t, _), u in zip(series.points, usual, strict=True) if window.contains(t)]
        if not inside or sum(u is not None for u in inside) < MIN_COVERAGE * len(inside):
            return None
    level = [u for (t, _), u in zip(series.points, usual, strict=True) if u is not None and baseline.contains(t)]
    centre = median(level)
    points = tuple((t, v - (u - centre)) for (t, v), u in zip(series.points, usual, strict=True) if u is not None)
    return replace(series, points=points)


def history_by_series(reads: dict[int, list[MetricSeries]]) -> dict[SeriesKey, dict[int, MetricSeries]]:
    """Per series key, the earlier copy of the series for each lag that has one."""
    out: dict[SeriesKey, dict[int, MetricSeries]] = {}
    for lag, items in reads.items():
        for s in items:
            out.setdefault(key(s), {})[lag] = s
    return out
