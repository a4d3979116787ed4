"""How much to believe a report: the calibrated confidence of a ranked cause, and whether the incident recovered.

Confidence. The ranking's raw confidence (agents/ranking/rca.py `confidence`: the score, times its margin over the
strongest alternative, times corroboration by several specialists) orders causes well but is not a probability.
It is mapped to one by a monotone logistic (Platt) map, p = sigmoid(a * logit(raw) + b), capped at
MAX_CONFIDENCE, fitted (with Platt's smoothed targets) on the top causes of the demo generator's cases of seeds 0-2
(every fault kind and adversarial scenario) and the 15 Nezha TrainTicket dev cases, and checked on the held-out
seeds 3-4 and, leave-one-out, on each Nezha case (bench/calibration.py refits and prints the figures;
docs/benchmarks.md). Being monotone it never changes
which cause ranks first. The map's input stays the raw confidence: feeding it the score alone, or the score and
margin without corroboration, did not help on both held-out sets (docs/benchmarks.md). Below CONFIDENT the
report names no cause: its headline says no confident root cause was found and its summary what was checked; the
ranked causes stay in the report.

Recovered. The alert's metric, on the alert's service, back to its baseline at the end of the incident window:
every anomaly the metrics specialist found on that metric there has its last RECOVERED_POINTS points of the
incident window under its anomaly threshold, and those points come after the alert opened (the data reach past
it). An anomaly on the alert's metric is needed (without one there is nothing to have recovered from); a metric
still anomalous at the end is an ongoing incident. Recovered incidents get no remediation
(agents/remediation/catalog.py).
"""

from __future__ import annotations

import math

from shared.finding_details import MetricAnomalyDetails
from shared.models import Finding

RAW_TO_PROBABILITY = (0.8043, 2.6804)  # (a, b) of p = sigmoid(a * logit(raw) + b): bench/calibration.py --fit
MAX_CONFIDENCE = 0.99  # no finite set of cases makes a cause certain
CONFIDENT = 0.5  # below this calibrated confidence the report names no root cause
RECOVERED_POINTS = 3  # the last points of the incident window that must be back under the anomaly threshold
_EPS = 1e-4


def calibrated(raw: float, params: tuple[float, float] = RAW_TO_PROBABILITY) -> float:
    """The raw confidence as a probability (monotone non-decreasing in `raw`; 0 stays 0: no evidence)."""
    if raw <= 0:
        return 0.0
    a, b = params
    x = min(1 - _EPS, max(_EPS, raw))
    z = a * math.log(x / (1 - x)) + b
    p = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
    return round(min(MAX_CONFIDENCE, p), 3)


def _matches(metric: str, alert_metric: str) -> bool:
    name = metric.rsplit("/", 1)[-1].lower()
    return bool(name) and bool(alert_metric) and name == alert_metric.rsplit("/", 1)[-1].lower()


def recovery_signal(findings: list[Finding], alert_service: str, alert_metric: str,
                    alert_start: float) -> tuple[bool, str]:
    """(recovered, why): the alert's metric back under its anomaly threshold at the end of the incident window."""
    relevant = [(f, f.details.series) for f in findings if isinstance(f.details, MetricAnomalyDetails)
                and f.service == alert_service and not f.ruled_out and _matches(f.details.metric, alert_metric)
                and f.details.series is not None]
    if not relevant:
        return False, ""
    last_values: list[str] = []
    for f, series in relevant:
        assert isinstance(f.details, MetricAnomalyDetails) and series is not None
        threshold = series.threshold
        tail = sorted(series.points)[-RECOVERED_POINTS:]
        if threshold is None or len(tail) < RECOVERED_POINTS or tail[0][0] <= alert_start:
            return False, ""
        bad_up = f.details.bad_direction != "down"
        if not all((v < threshold) if bad_up else (v > threshold) for _, v in tail):
            return False, ""
        last_values.append(f"{f.resource or f.service}: {', '.join(f'{v:.4g}' for _, v in tail)} "
                           f"(anomaly threshold {threshold:.4g}, baseline {series.baseline_median or 0:.4g})")
    metric = alert_metric.rsplit("/", 1)[-1]
    return True, (f"{metric} on {alert_service} is back under its anomaly threshold for the last {RECOVERED_POINTS} "
                  f"points of the incident window, after the alert opened: {'; '.join(last_values)}")
