"""The metrics analyst on hand-built series (one change at a time) and on Nezha TrainTicket CPU-contention cases
(label.json gives the truth)."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from agents.context import AnalysisContext, plan_windows
from agents.specialists.metrics import analysis as metrics
from agents.specialists.metrics.metric_vocabulary import direction
from shared.telemetry.bundle import BundleSource
from shared.telemetry.memory import MemorySource
from shared.telemetry_records import MetricSeries
from tests.data import nezha_case

ONSET = 200_000.0  # the alert's start
FAULT = ONSET - 180  # when the injected changes begin


def context() -> AnalysisContext:
    incident, baseline = plan_windows(ONSET)
    return AnalysisContext("inc", "front", "latency", ONSET, incident, baseline)


def series(metric: str, service: str, level: float, noise: float, instance: str = "", seed: int = 1,
           after: Callable[[float, float], float] | None = None, start: float | None = None) -> MetricSeries:
    """One point a minute from the baseline's start to the incident's end; `after(t, v)` rewrites values from
    FAULT on."""
    ctx = context()
    rng = random.Random(f"{metric}{service}{instance}{seed}")
    points = []
    t = ctx.baseline.start if start is None else start
    while t < ctx.incident.end:
        v = level + rng.gauss(0, noise)
        if after is not None and t >= FAULT:
            v = after(t, v)
        points.append((t, v))
        t += 60
    return MetricSeries(metric, service, tuple(points), instance or f"{service}-1", "")


def fleet(**changed: Callable[[float, float], float]) -> list[MetricSeries]:
    """Eight services with CPU, memory, latency and success-rate series; `changed` maps 'service/metric' to the
    change applied from FAULT on."""
    out = []
    for i in range(8):
        service = f"svc{i}"
        for metric, level, noise in (("cpu_utilization", 20 + 3 * i, 2.0), ("memory_mb", 300 + 20 * i, 5.0),
                                     ("latency_p95_ms", 40 + i, 3.0), ("success_rate", 99.5, 0.2)):
            out.append(series(metric, service, level, noise, after=changed.get(f"{service}/{metric}")))
    return out


def test_no_findings_when_nothing_changed() -> None:
    result = metrics.analyse(MemorySource(series=fleet()), context())
    assert result.findings == [] and result.notes == []


def test_a_cpu_saturation_is_found_with_its_onset_and_a_chart() -> None:
    source = MemorySource(series=fleet(**{"svc3/cpu_utilization": lambda t, v: 96.0 + v / 100}))
    result = metrics.analyse(source, context())
    (f,) = result.findings
    assert (f.kind, f.service, f.resource) == ("metric.anomaly", "svc3", "svc3-1") and f.score > 0.9
    assert f.details.metric == "cpu_utilization" and f.details.direction == "up"
    assert f.details.robust_z > 10 and f.details.baseline_median == pytest.approx(29, abs=2)
    assert f.details.incident_value > 95 and f.details.baseline_mad > 0
    assert f.onset is not None and abs(f.onset - FAULT) <= 60
    assert f.widget is not None and f.widget.kind == "timeseries" and f.widget.data["onset"] == f.onset
    base, inc = f.widget.data["series"]
    assert base["name"].endswith("baseline") and inc["name"].endswith("incident")
    assert max(t for t, _ in base["points"]) < min(t for t, _ in inc["points"])
    assert f.details.baseline_median < f.widget.data["threshold"] < f.details.incident_value


def test_direction_comes_from_the_metric_name() -> None:
    source = MemorySource(series=fleet(**{
        "svc1/success_rate": lambda t, v: 80.0, "svc2/success_rate": lambda t, v: 100.0,
        "svc4/cpu_utilization": lambda t, v: 1.0, "svc5/latency_p95_ms": lambda t, v: 900.0}))
    found = {(f.service, f.details.metric): f for f in metrics.analyse(source, context()).findings}
    assert set(found) == {("svc1", "success_rate"), ("svc5", "latency_p95_ms")}  # up on success, down on cpu: fine
    assert found[("svc1", "success_rate")].details.direction == "down"
    assert found[("svc1", "success_rate")].details.bad_direction == "down"
    assert direction("errors_total") == 1 and direction("requests_throughput") == -1
    assert direction("network_receive_bytes") == 0


def test_a_metric_of_unknown_direction_counts_either_way_but_weighs_less() -> None:
    source = MemorySource(series=[series("bytes_sent", "a", 1000, 20, after=lambda t, v: 100.0),
                     series("cpu_usage", "b", 10, 0.2, after=lambda t, v: 10.0 + v),  # cpu: direction known
                     series("bytes_sent", "c", 1000, 20), series("cpu_usage", "d", 10, 0.2)])
    found = {f.service: f for f in metrics.analyse(source, context()).findings}
    assert found["a"].details.direction == "down" and found["a"].details.bad_direction == "either"
    assert found["b"].details.bad_direction == "up" and found["a"].score < found["b"].score


def test_flat_baselines_do_not_turn_small_changes_into_anomalies() -> None:
    flat = [MetricSeries("queue_depth", "q", tuple((t, 0.0 if t < FAULT else 1.0) for t, _ in s.points), "q-1")
            for s in [series("x", "q", 0, 0)]]
    level = [MetricSeries("memory_usage", "m", tuple((t, 512.0 if t < FAULT else 520.0) for t, _ in s.points),
                          "m-1") for s in [series("x", "m", 0, 0)]]
    assert metrics.analyse(MemorySource(series=flat + level), context()).findings == []
    big = [MetricSeries("memory_usage", "m", tuple((t, 512.0 if t < FAULT else 900.0) for t, _ in s.points),
                        "m-1") for s in [series("x", "m", 0, 0)]]
    (f,) = metrics.analyse(MemorySource(series=big), context()).findings
    assert 10 < f.details.robust_z < 50 and 0.5 < f.score < 1  # measured against a floor, not a zero spread


def test_too_few_points_give_a_note_not_a_score() -> None:
    ctx = context()
    late = series("cpu_usage", "new", 10, 1, start=ctx.incident.end - 4 * 60, after=lambda t, v: 90.0)
    result = metrics.analyse(MemorySource(series=[late, *fleet()]), ctx)
    assert result.findings == []
    assert result.notes == ["1 of 33 series had too few baseline (< 5) or incident (< 2) points to score"]


def test_a_short_history_is_judged_against_the_segment_before_its_change_with_less_certainty() -> None:
    ctx = context()
    start = ctx.incident.start - 120  # two points in the baseline window, then a jump at FAULT
    short = series("cpu_usage", "new", 10, 1, start=start, after=lambda t, v: 90.0)
    full = series("cpu_usage", "old", 10, 1, after=lambda t, v: 90.0)
    found = {f.service: f for f in metrics.analyse(MemorySource(series=[short, full]), ctx).findings}
    assert found["new"].details.baseline_from_change_point and not found["old"].details.baseline_from_change_point
    onset = found["new"].onset
    assert found["new"].score < found["old"].score and onset is not None and abs(onset - FAULT) <= 60


def test_one_instance_that_deviates_from_its_peers_is_a_fleet_outlier() -> None:
    pods = [series("memory_usage", "cart", 400, 5, instance=f"cart-{i}",
                   after=(lambda t, v: v + 250 * (t - FAULT + 60) / 240) if i == 2 else None) for i in range(4)]
    found = metrics.analyse(MemorySource(series=pods), context()).findings
    (outlier,) = [f for f in found if f.kind == "metric.fleet_outlier"]
    assert outlier.resource == "cart-2" and outlier.details.peers == 3
    assert outlier.details.peers_median == pytest.approx(400, abs=15) and outlier.details.value > 600
    assert [f.resource for f in found if f.kind == "metric.anomaly"] == ["cart-2"]


def test_a_change_the_whole_fleet_shows_weighs_less_than_one_only_a_few_show() -> None:
    rise = {f"svc{i}/latency_p95_ms": (lambda t, v: v + 400) for i in range(8)}
    rise["svc6/memory_mb"] = lambda t, v: v + 400
    found = metrics.analyse(MemorySource(series=fleet(**rise)), context()).findings
    latency = [f for f in found if f.details.metric == "latency_p95_ms"]
    memory = [f for f in found if f.details.metric == "memory_mb"]
    assert len(latency) == 8 and len(memory) == 1
    assert all(f.details.fleet_share_anomalous == 1.0 for f in latency)
    assert memory[0].details.fleet_share_anomalous == 0.0
    assert found[0] == memory[0] and max(f.score for f in latency) < memory[0].score


def test_at_most_a_few_series_per_service_and_a_stable_order() -> None:
    up = {f"svc0/{m}": (lambda t, v: v * 5) for m in ("cpu_utilization", "memory_mb", "latency_p95_ms")}
    up["svc0/success_rate"] = lambda t, v: 10.0
    up["svc1/cpu_utilization"] = lambda t, v: v * 3
    source = MemorySource(series=fleet(**up))
    found = metrics.analyse(source, context()).findings
    assert sum(f.service == "svc0" for f in found) == metrics.PER_SERVICE
    assert [f.model_dump() for f in found] == [f.model_dump() for f in metrics.analyse(source, context()).findings]
    scores = [f.score for f in found]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)


# ---------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def nezha(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], tuple[BundleSource, AnalysisContext, dict]]:
    out = tmp_path_factory.mktemp("nezha")
    return lambda case: nezha_case(case, out)


@pytest.mark.parametrize("case", ["tt-20230129-142331", "tt-20230129-154200"])
def test_cpu_contention_puts_the_labelled_services_cpu_on_top(case: str, nezha) -> None:  # type: ignore[no-untyped-def]
    source, ctx, label = nezha(case)
    assert label["fault_type"] == "cpu_contention"
    result = metrics.analyse(source, ctx)
    top = result.findings[:3]
    cpu = [f for f in top if f.service == label["service"] and "cpu" in f.details.metric]
    assert cpu, [(f.service, f.details.metric, f.score) for f in top]
    f = cpu[0]
    assert f.resource == label["pod"] and f.score >= 0.9 and f.details.incident_value > 50  # percent or millicores
    assert f.onset is not None and abs(f.onset - label["inject"]) <= 120  # the change point, near the fault
    assert f.widget is not None and f.widget.data["onset"] == f.onset


def test_a_version_whose_instances_all_deviate_from_the_other_versions_is_a_cohort_outlier() -> None:
    def pod(i: int, version: str, zone: str, bad: bool) -> MetricSeries:
        s = series("latency_p95_ms", "api", 40, 3, instance=f"api-{i}", after=(lambda t, v: v + 400) if bad else None)
        return MetricSeries(s.metric, s.service, s.points, s.instance, s.unit,
                            (("version", version), ("zone", zone)))

    pods = [pod(i, "v2" if i < 3 else "v1", "a" if i % 2 else "b", bad=i < 3) for i in range(8)]
    found = [f for f in metrics.analyse(MemorySource(series=pods), context()).findings
             if f.kind == "metric.fleet_outlier"]
    cohorts = [f for f in found if getattr(f.details, "cohort", None)]
    assert [(f.resource, f.details.instances) for f in cohorts] == [("version=v2", ["api-0", "api-1", "api-2"])]
    assert cohorts[0].score > 0.5 and "stands out" in cohorts[0].title
    # the zones each hold bad and good pods: neither zone stands out; nor does one bad pod make a cohort
    one_bad = [pod(i, "v2" if i < 3 else "v1", "a", bad=i == 0) for i in range(8)]
    found = metrics.analyse(MemorySource(series=one_bad), context()).findings
    assert not [f for f in found if getattr(f.details, "cohort", None)]
