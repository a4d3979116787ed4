"""SLO burn in the report's header: the burn rate over 5 min, 1 h and 6 h and the error budget left for the alerting
service's SLOs, as Cloud Monitoring's select_slo_burn_rate / select_slo_budget_fraction define them; from a
bundle's slos.jsonl (Google's ServiceLevelObjective shape) and the SLI's counts in its metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from demo.generator import generate
from functions.local import triage
from functions.report_text import render_report
from functions.web_report import report_page
from shared.slo import budget_left, burn_rate
from shared.telemetry.bundle import BundleSource
from shared.telemetry.bundle_slos import decode_slo
from shared.telemetry_records import Window

AT = 1_768_471_200.0


def known_series() -> list[tuple[float, float, float]]:
    """A day of per-minute counts: 100 requests a minute; 20 of them bad in each of the last 5 minutes, 30 bad in
    one minute 3 h before."""
    out = []
    for i in range(1440):
        t = AT - (1439 - i) * 60
        bad = 20.0 if i >= 1435 else 30.0 if i == 1439 - 180 else 0.0
        out.append((t, bad, 100.0))
    return out


def test_burn_rate_and_budget_on_a_known_series() -> None:
    buckets = known_series()
    assert burn_rate(buckets, 0.99, AT, 300) == pytest.approx(20.0)  # 100/500 bad, 1% allowed
    assert burn_rate(buckets, 0.99, AT, 3600) == pytest.approx(100 / 6000 / 0.01)
    assert burn_rate(buckets, 0.99, AT, 21600) == pytest.approx(130 / 36000 / 0.01)
    assert budget_left(buckets, 0.99, AT, 86400) == pytest.approx(1 - 130 / 1440)
    assert burn_rate(buckets, 0.99, AT - 86400 * 2, 300) is None  # nothing counted
    with pytest.raises(ValueError):
        burn_rate(buckets, 1.0, AT, 300)


SLO = {"name": "projects/demo/services/frontend/serviceLevelObjectives/availability",
       "displayName": "Storefront availability", "goal": 0.999, "rollingPeriod": "86400s",
       "serviceLevelIndicator": {"requestBased": {"goodTotalRatio": {
           "badServiceFilter": 'metric.type="custom.googleapis.com/shop/error_count"',
           "totalServiceFilter": 'metric.type="custom.googleapis.com/shop/request_count" '
                                 'resource.labels.service_name="frontend"'}}}}


def test_the_slo_shape_is_enforced() -> None:
    slo = decode_slo(SLO)
    assert (slo.service, slo.goal, slo.period_s) == ("frontend", 0.999, 86400)
    assert slo.bad == ("custom.googleapis.com/shop/error_count", "frontend")
    for bad in ({**SLO, "goal": 1}, {**SLO, "goal": "0.9"}, {**SLO, "rollingPeriod": "3600s"},
                {**SLO, "rollingPeriod": "3456000s"}, {**SLO, "name": "services/frontend/slo"},
                {**SLO, "serviceLevelIndicator": {"requestBased": {"goodTotalRatio": {
                    "goodServiceFilter": 'metric.type="a"', "badServiceFilter": 'metric.type="b"',
                    "totalServiceFilter": 'metric.type="c"'}}}},
                {**SLO, "serviceLevelIndicator": {"basicSli": {}}}):
        with pytest.raises((KeyError, ValueError)):
            decode_slo(bad)


def test_the_report_header_shows_the_alerting_services_slo_burn(tmp_path: Path) -> None:
    s = generate("bad_deploy", tmp_path / "case", seed=2)
    (s.bundle_dir / "slos.jsonl").write_text(json.dumps(SLO) + "\n")
    source = BundleSource(s.bundle_dir)
    result = triage(s.alert_path.read_bytes(), source)
    burn = [f for f in result.state.findings.values() if f.kind == "slo.burn"]
    assert [f.service for f in burn] == ["frontend"]
    assert all(c.kind != "slo.burn" for c in result.report.causes)
    at = burn[0].details.model_dump()["at"]
    counts: dict[str, dict[float, float]] = {"error_count": {}, "request_count": {}}
    for series in source.metrics(Window(at - 86400, at + 1e-6), ["frontend"]).items:
        name = series.metric.rsplit("/", 1)[-1]
        for t, v in series.points:
            if name in counts:
                counts[name][t] = counts[name].get(t, 0.0) + v
    buckets = [(t, counts["error_count"].get(t, 0.0), n) for t, n in counts["request_count"].items()]
    expected = [burn_rate(buckets, 0.999, at, w) for w in (300, 3600, 21600)]
    assert expected[0] is not None and expected[0] > 14.4  # the bad deploy burns fast
    header = " ".join(render_report(result.state, result.report).split("RANKED CAUSES")[0].split())
    assert (f"SLO burn: Storefront availability on frontend (goal 0.999, 1 d): burn rate 5 min {expected[0]:.1f}x · "
            f"1 h {expected[1]:.1f}x · 6 h {expected[2]:.1f}x; error budget left "
            f"{budget_left(buckets, 0.999, at, 86400):.0%}") in header
    assert "class='meta slo'" in report_page(result.state, {}) and "Storefront availability" in report_page(
        result.state, {})
