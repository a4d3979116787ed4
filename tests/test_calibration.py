"""The calibration math (bench/calibration.py), the confidence map and the recovered signal
(agents/ranking/calibration.py), and what the report says when the evidence is weak or the incident recovered."""

from __future__ import annotations

import math

import pytest

from agents.context import AnalysisContext, plan_windows
from agents.ranking.calibration import CONFIDENT, RAW_TO_PROBABILITY, RECOVERED_POINTS, calibrated, recovery_signal
from agents.ranking.rca import RcaResult, headline
from agents.remediation.catalog import propose
from bench.calibration import bin_of, brier, ece, fit_platt, reliability
from shared.finding_details import IncidentSeries, MetricAnomalyDetails
from shared.models import ChainStep, Finding, RankedCause, Report, RuledOut

ALERT_METRIC = "custom.googleapis.com/shop/latency_p95_ms"


def test_brier_is_the_mean_squared_error() -> None:
    assert brier([]) == 0.0
    assert brier([(1.0, True), (0.0, False)]) == 0.0
    assert brier([(0.5, True), (0.5, False)]) == pytest.approx(0.25)
    assert brier([(0.9, False), (0.2, True)]) == pytest.approx((0.81 + 0.64) / 2)


def test_bins_are_ten_equal_widths_with_one_in_the_last() -> None:
    assert [bin_of(p) for p in (0.0, 0.05, 0.1, 0.55, 0.99, 1.0)] == [0, 0, 1, 5, 9, 9]


def test_reliability_and_ece_over_equal_width_bins() -> None:
    pairs = [(0.15, False), (0.15, False), (0.15, True), (0.15, False),  # bin 1: 0.15 said, 0.25 right
             (0.95, True), (0.95, True), (0.85, True), (0.85, False)]  # bin 8: 0.85 said, 0.5 right; bin 9: 0.95, 1
    table = reliability(pairs)
    assert [(b, n) for b, n, _, _ in table] == [(1, 4), (8, 2), (9, 2)]
    assert table[0][2:] == pytest.approx((0.15, 0.25)) and table[1][2:] == pytest.approx((0.85, 0.5))
    assert ece(pairs) == pytest.approx(4 / 8 * 0.10 + 2 / 8 * 0.35 + 2 / 8 * 0.05)
    assert ece([]) == 0.0
    perfect = [(0.25, True)] + [(0.25, False)] * 3
    assert ece(perfect) == pytest.approx(0.0)


def test_platt_fit_is_monotone_and_recovers_a_known_map() -> None:
    # outcomes drawn exactly at the rate sigmoid(2 * logit(x) - 0.5) says, many per level
    pairs: list[tuple[float, bool]] = []
    for x in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        rate = 1 / (1 + math.exp(-(2 * math.log(x / (1 - x)) - 0.5)))
        hits = round(200 * rate)
        pairs += [(x, True)] * hits + [(x, False)] * (200 - hits)
    a, b = fit_platt(pairs)  # with this many cases Platt's smoothed targets are nearly 0 and 1
    assert a == pytest.approx(2.0, abs=0.1) and b == pytest.approx(-0.5, abs=0.1)


def test_platt_fit_refuses_a_decreasing_map_and_stays_finite_and_modest_on_separable_cases() -> None:
    assert fit_platt([(0.9, False), (0.8, False), (0.2, True), (0.1, True)])[0] == 0.0
    separable = [(0.9, True), (0.8, True), (0.7, True), (0.2, False), (0.1, False)]
    a, b = fit_platt(separable)
    assert 0 < a < 50 and math.isfinite(b)
    # no surer than Platt's targets for 3 right and 2 wrong cases: 4/5 and 1/4
    assert calibrated(0.9, (a, b)) < 0.9 and calibrated(0.1, (a, b)) > 0.15


def test_the_calibrated_confidence_is_monotone_and_keeps_zero() -> None:
    assert calibrated(0.0) == 0.0
    values = [calibrated(x / 100) for x in range(1, 101)]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert values == sorted(values)
    assert RAW_TO_PROBABILITY[0] > 0  # an increasing map: calibration never reorders causes
    assert calibrated(0.5, (1.0, 0.0)) == pytest.approx(0.5)


def ctx() -> AnalysisContext:
    onset = 1_000_000.0
    incident, baseline = plan_windows(onset)
    return AnalysisContext("inc", "frontend", ALERT_METRIC, onset, incident, baseline)


def latency(tail: list[float], threshold: float = 130.0, metric: str = ALERT_METRIC, service: str = "frontend",
            after_alert: bool = True) -> Finding:
    c = ctx()
    step = 60.0
    end = c.incident.end if after_alert else c.onset
    times = [end - step * (len(tail) - 1 - i) for i in range(len(tail))]
    points = [(t - 600, 400.0) for t in times[:2]] + list(zip(times, tail, strict=True))
    return Finding(specialist="metrics", kind="metric.anomaly", service=service, resource=f"{service}-abc",
                   title="latency up", score=0.6, details=MetricAnomalyDetails(
                       metric=metric, bad_direction="up",
                       series=IncidentSeries(points=points, threshold=threshold, baseline_median=100.0)))


def test_recovered_when_the_alert_metric_is_back_under_its_threshold_at_the_window_end() -> None:
    c = ctx()
    ok, why = recovery_signal([latency([101.0, 99.0, 104.0])], c.alert_service, c.alert_metric, c.onset)
    assert ok and "latency_p95_ms on frontend" in why and f"last {RECOVERED_POINTS} points" in why
    for found in ([latency([101.0, 400.0, 104.0])],  # still anomalous at the end
                  [latency([101.0, 99.0, 104.0], metric="custom.googleapis.com/shop/error_count")],  # not its metric
                  [latency([101.0, 99.0, 104.0], service="cart")],  # not the alert's service
                  [latency([101.0, 99.0, 104.0], after_alert=False)],  # no data after the alert: cannot tell
                  [latency([99.0, 104.0])],  # too few points
                  []):  # nothing to have recovered from
        assert recovery_signal(found, c.alert_service, c.alert_metric, c.onset) == (False, "")
    # every anomalous series of the metric must be back
    mixed = [latency([101.0, 99.0, 104.0]), latency([101.0, 99.0, 404.0])]
    assert not recovery_signal(mixed, c.alert_service, c.alert_metric, c.onset)[0]


def cause(confidence: float, service: str = "db-api") -> RankedCause:
    return RankedCause(rank=1, service=service, kind="trace.latency_shift", title=f"{service} got slow", score=0.5,
                       confidence=confidence, raw_confidence=0.4, evidence=["f-1"],
                       chain=[ChainStep(role="cause", service=service, statement="slow", evidence=["f-1"]),
                              ChainStep(role="impact", service="frontend", statement="alert")])


def test_weak_evidence_names_no_cause_but_keeps_the_ranking_and_says_what_was_checked() -> None:
    weak = RcaResult([cause(CONFIDENT - 0.01), cause(0.1, "cart")],
                     [RuledOut(service="auth", reason="auth shows nothing anomalous")])
    title, summary = headline(weak, ctx())
    assert title == "No confident root cause for the alert on frontend"
    assert "db-api" not in title + summary and "cart" not in title + summary
    assert "Checked" in summary and "auth shows nothing anomalous" in summary and "2 candidate" in summary
    strong_title, _ = headline(RcaResult([cause(CONFIDENT)], []), ctx())
    assert strong_title.startswith("Likely root cause: db-api")


def test_a_recovered_incident_says_so_and_proposes_nothing() -> None:
    result = RcaResult([cause(0.9)], [], recovered=True, recovery="latency_p95_ms on frontend is back")
    title, summary = headline(result, ctx())
    assert title.startswith("Recovered before triage.") and "recovered by itself" in summary
    assert "No remediation is proposed" in summary
    report = Report(incident_id="inc", headline=title, summary=summary, causes=result.causes, recovered=True,
                    recovery=result.recovery)
    findings = {"f-1": Finding(finding_id="f-1", specialist="changes", kind="change.deploy", service="db-api",
                               title="deploy", score=0.9)}
    assert propose(report, findings) == []
    assert [p.action for p in propose(report.model_copy(update={"recovered": False}), findings)] == [
        "rollback_cloud_run"]
