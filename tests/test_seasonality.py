"""Daily seasonality: a morning ramp that happens every day is not an anomaly when the history shows it; the same
ramp with no history, or a real fault on top of the ramp, is."""

from __future__ import annotations

import math
import random

from agents.context import AnalysisContext, plan_windows
from agents.specialists.metrics import analysis as metrics
from agents.specialists.metrics import seasonality
from shared.telemetry.memory import MemorySource
from shared.telemetry_records import MetricSeries, Window
from tests.test_metrics_specialist import ONSET

DAY = seasonality.DAY_S


def usual(t: float) -> float:
    """Requests rise steeply around the onset's time of day, every day."""
    phase = ((t - ONSET) % DAY) / DAY  # 0 at the onset's time of day
    return 100.0 + 80.0 * math.tanh(12.0 * (phase if phase < 0.5 else phase - 1.0) * 24 / 6)


def cpu(days: int, fault: float = 0.0, seed: int = 3) -> MetricSeries:
    """A minute-resolution CPU series over the last `days` days and today's windows; `fault` added from 3 min
    before the onset on the last day."""
    incident, baseline = plan_windows(ONSET)
    rng = random.Random(seed)
    points = []
    for day in range(days, -1, -1):
        t = baseline.start - day * DAY
        while t < incident.end - day * DAY:
            v = usual(t) + rng.gauss(0, 2.0) + (fault if day == 0 and t >= ONSET - 180 else 0.0)
            points.append((t, v))
            t += 60
    return MetricSeries("cpu_usage", "svc", tuple(points), "svc-1", "m")


def context() -> AnalysisContext:
    incident, baseline = plan_windows(ONSET)
    return AnalysisContext("inc", "front", "latency", ONSET, incident, baseline)


def anomalies(series: MetricSeries) -> list[str]:
    result = metrics.analyse(MemorySource(series=[series]), context())
    return [f.title for f in result.findings if f.kind == "metric.anomaly"]


def test_the_daily_ramp_is_an_anomaly_without_history() -> None:
    assert anomalies(cpu(days=0))


def test_the_daily_ramp_is_not_an_anomaly_when_earlier_days_show_it() -> None:
    assert anomalies(cpu(days=7)) == []
    assert anomalies(cpu(days=1)) == []  # yesterday alone is enough


def test_a_fault_on_top_of_the_ramp_is_still_found_and_says_it_was_adjusted() -> None:
    found = anomalies(cpu(days=7, fault=60.0))
    assert found and "time-of-day adjusted" in found[0]


def test_one_unusual_earlier_day_does_not_make_today_look_anomalous() -> None:
    s = cpu(days=7)
    yesterday = Window(context().incident.start - DAY, context().incident.end - DAY)
    spoiled = tuple((t, v - 150.0 if yesterday.contains(t) else v) for t, v in s.points)  # an outage yesterday
    assert anomalies(MetricSeries(s.metric, s.service, spoiled, s.instance, s.unit)) == []  # median of 3 lags


def test_a_series_whose_history_covers_too_little_is_scored_as_it_is() -> None:
    ctx = context()
    s = cpu(days=0)
    history = {DAY: MetricSeries(s.metric, s.service, tuple((t - DAY, v) for t, v in s.points[:10]), s.instance)}
    assert seasonality.adjust(s, history, ctx.baseline, ctx.incident) is None
