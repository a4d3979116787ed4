"""The alert an SRE would get: a Cloud Monitoring v1.2 notification on the frontend, from the frontend's own
numbers. Error faults trip the 5xx-ratio policy, slowness trips the p95-latency policy; the latency threshold is
set just above the frontend's usual p95, as a person tuning the policy would. It says nothing about the cause."""

from __future__ import annotations

import math
import random
from typing import Any

from demo.series import PREFIX

PROJECT = "demo-shop-prod"
PROJECT_NUMBER = 481516234223
ALERT_WINDOW_S = 120.0  # the policy's alignment period
ERROR_RATIO_THRESHOLD = 0.02
ERROR_FAULTS = ("bad_deploy", "pool_exhaustion")


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)] if ordered else 0.0


def _nice_ceiling(ms: float) -> float:
    step = 10 if ms < 200 else 25 if ms < 500 else 100
    return math.ceil(ms / step) * step


def latency_threshold_ms(front: list[tuple[float, float, bool]], onset: float) -> float:
    """Just above the frontend's p95 over the baseline: 1.3x, rounded up to a round number."""
    return _nice_ceiling(1.3 * 1000 * _p95([d for t, d, _ in front if t < onset]))


def observed(front: list[tuple[float, float, bool]], fault: str, started_at: float) -> float:
    """The frontend's value of the policy's metric over the alignment period that ends when the alert opens."""
    recent = [(d, failed) for t, d, failed in front if started_at - ALERT_WINDOW_S <= t < started_at]
    if fault in ERROR_FAULTS:
        return sum(f for _, f in recent) / max(1, len(recent))
    return 1000 * _p95([d for d, _ in recent])


def noisy_threshold_ms(value_ms: float) -> float:
    """A policy tuned too tight: the round number just under what noise reached (the alert fires on noise)."""
    step = 10 if value_ms < 200 else 25 if value_ms < 500 else 100
    return max(step, math.ceil(value_ms / step) * step - step)


def build_alert(fault: str, onset: float, front: list[tuple[float, float, bool]], rng: random.Random,
                noisy: bool = False) -> dict[str, Any]:
    """The alert for `fault` (its kind picks the policy); `noisy`: the latency policy's threshold sits just under
    the frontend's p95 at the alert's start, nothing being wrong."""
    started_at = int(onset + ALERT_WINDOW_S + rng.randint(0, 30))
    errors = fault in ERROR_FAULTS and not noisy
    value = observed(front, fault, started_at)
    if errors:
        threshold, metric = ERROR_RATIO_THRESHOLD, "error_count"
        policy, condition = "Storefront 5xx error ratio", "frontend 5xx ratio above 2% for 1 min"
        summary = (f"5xx error ratio for frontend is above the threshold of {threshold:.0%} with a value of "
                   f"{value:.1%}.")
        shown, threshold_shown = f"{value:.4f}", f"{threshold}"
    else:
        threshold = noisy_threshold_ms(value) if noisy else latency_threshold_ms(front, onset)
        metric = "latency_p95_ms"
        policy, condition = "Storefront p95 latency", f"frontend p95 latency above {threshold:.0f} ms for 1 min"
        summary = (f"p95 latency for frontend is above the threshold of {threshold:.0f} ms with a value of "
                   f"{value:.0f} ms.")
        shown, threshold_shown = f"{value:.1f}", f"{threshold:.0f}"
    incident_id = f"0.{rng.getrandbits(64):016x}"
    policy_id, condition_id = rng.randint(10**17, 10**18), rng.randint(10**17, 10**18)
    return {
        "incident": {
            "incident_id": incident_id,
            "scoping_project_id": PROJECT,
            "scoping_project_number": PROJECT_NUMBER,
            "url": f"https://console.cloud.google.com/monitoring/alerting/incidents/{incident_id}?project={PROJECT}",
            "severity": "Critical",
            "started_at": started_at,
            "ended_at": None,
            "state": "open",
            "summary": summary,
            "apigee_url": "",
            "observed_value": shown,
            "resource": {"type": "k8s_pod", "labels": {
                "project_id": PROJECT, "location": "europe-west1", "cluster_name": "shop-prod",
                "namespace_name": "shop", "service_name": "frontend"}},
            "resource_type_display_name": "Kubernetes Pod",
            "resource_id": "",
            "resource_display_name": "frontend",
            "resource_name": f"{PROJECT} frontend",
            "metric": {"type": PREFIX + metric, "displayName": metric, "labels": {}},
            "metadata": {"system_labels": {}, "user_labels": {}},
            "policy_name": policy,
            "policy_user_labels": {"team": "storefront", "tier": "web"},
            "documentation": {
                "content": ("The storefront is failing its SLO. Follow the storefront runbook; page the storefront "
                            "on-call if it lasts more than 10 minutes."),
                "mime_type": "text/markdown", "subject": f"[ALERT - Critical] {policy}", "links": []},
            "condition": {
                "name": f"projects/{PROJECT}/alertPolicies/{policy_id}/conditions/{condition_id}",
                "displayName": condition,
                "conditionThreshold": {
                    "filter": (f'metric.type="{PREFIX}{metric}" AND resource.type="k8s_pod" AND '
                               f'resource.labels.service_name="frontend"'),
                    "comparison": "COMPARISON_GT", "thresholdValue": threshold, "duration": "60s",
                    "aggregations": [{"alignmentPeriod": f"{ALERT_WINDOW_S:.0f}s",
                                      "perSeriesAligner": "ALIGN_DELTA" if errors else "ALIGN_PERCENTILE_95",
                                      "crossSeriesReducer": "REDUCE_SUM" if errors else "REDUCE_MAX",
                                      "groupByFields": ["resource.label.service_name"]}]}},
            "condition_name": condition,
            "threshold_value": threshold_shown,
        },
        "version": "1.2",
    }
