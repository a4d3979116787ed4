"""A system seen through metrics alone (no spans, no logs) with a declared service graph: units, resolution, the
graph's attribution of metric symptoms, co-movement with the alert, a partial report without a baseline, and the
graph as bundle input. Hand-built series, one mechanism at a time."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

from agents.context import AnalysisContext, plan_windows
from agents.ranking.rca import rank
from agents.specialists.metrics import analysis as metrics
from agents.specialists.metrics.metric_vocabulary import metric_role, ratio_ceiling
from functions.local import triage
from shared.models import Finding
from shared.redaction import redact_finding
from shared.telemetry.bundle import BundleSource, BundleWriter
from shared.telemetry.memory import MemorySource
from shared.telemetry_records import Dependency, MetricSeries, Window

ONSET = 1_700_000_100.0
STEP = 300.0  # 5-minute resolution


def context(alert_service: str = "site", alert_metric: str = "custom.googleapis.com/app/latency_average"
            ) -> AnalysisContext:
    incident, baseline = plan_windows(ONSET)
    return AnalysisContext("inc", alert_service, alert_metric, ONSET, incident, baseline)


def coarse(metric: str, service: str, level: float, noise: float, unit: str = "s",
           after: Callable[[float, float], float] | None = None, hours: float = 6.0, seed: int = 1) -> MetricSeries:
    """One point every 5 minutes for `hours` before the alert to 20 minutes after; `after` rewrites the values
    from the alert on."""
    rng = random.Random(f"{metric}{service}{seed}")
    points, t = [], ONSET - hours * 3600
    while t < ONSET + 1200:
        v = level + rng.gauss(0, noise)
        if after is not None and t >= ONSET:
            v = after(t, v)
        points.append((t, v))
        t += STEP
    return MetricSeries(metric, service, tuple(points), unit=unit)


def slower(by: float) -> Callable[[float, float], float]:
    return lambda _t, v: v + by


GRAPH = [Dependency("site", "search"), Dependency("site", "cart"), Dependency("search", "db"),
         Dependency("cart", "db")]


def shop(**changed: Callable[[float, float], float]) -> list[MetricSeries]:
    """Four nodes with average latency and availability at 5-minute resolution; `changed` maps node to the
    change of its latency from the alert on."""
    out = []
    for node, level in (("site", 0.09), ("search", 0.006), ("cart", 0.02), ("db", 0.004)):
        out.append(coarse("latency_average", node, level, level * 0.05, after=changed.get(node)))
        out.append(coarse("availability_average", node, 100.0, 0.0, unit="%"))
    return out


def test_a_share_of_good_outcomes_is_judged_on_the_share_that_failed() -> None:
    # a flat 100% availability that drops to 97%: 3% of requests failing is far past any SLO
    s = coarse("availability_average", "search", 100.0, 0.0, unit="%", after=lambda _t, _v: 97.0)
    score = metrics.score_series(s, metrics.windows_for(context(), STEP))
    assert score is not None and score.anomalous and score.z >= 20
    assert ratio_ceiling("availability_average", "%", [100.0]) == 100.0
    assert ratio_ceiling("success_ratio", "", [0.99, 0.995]) == 1.0
    assert ratio_ceiling("latency_average", "%", [1.0]) is None  # up is bad: not a share of good outcomes


def test_request_counts_in_any_spelling_are_load() -> None:
    for name in ("requests_sum", "RequestCount", "invocations"):
        assert metric_role(name) == "load", name
    assert metric_role("request_latency_p99") == "symptom"


def test_windows_follow_the_resolution_and_one_coarse_point_is_sustained() -> None:
    ctx = context()
    wide = metrics.windows_for(ctx, STEP)
    assert wide.incident.end >= ONSET + 3 * STEP
    # the planned hour already holds 12 five-minute points: the baseline stays the recent hour, not a longer one
    assert wide.baseline == ctx.baseline
    quarter_hours = metrics.windows_for(ctx, 900.0)  # 15-minute data: the baseline reaches back 12 of its periods
    assert quarter_hours.baseline.end == ctx.baseline.end and quarter_hours.baseline.seconds == 12 * 900.0
    assert metrics.windows_for(ctx, 60.0) is ctx  # 1-minute data: the planned windows already fit
    # one anomalous 5-minute point (a 5-minute average) is enough; the sparse 1-minute series needs two points
    single = coarse("latency_average", "search", 0.006, 0.0003,
                    after=lambda t, v: v + 0.03 if t == ONSET else v)
    result = metrics.analyse(MemorySource(series=[single]), context("search"))
    assert [f.service for f in result.findings] == ["search"]
    assert any("5-minute resolution" in n for n in result.notes)


def _ranked(series: list[MetricSeries], graph: list[Dependency]) -> list[str]:
    ctx = context()
    found = metrics.analyse(MemorySource(series=series, graph=graph), ctx).findings
    topology = Finding(specialist="traces", kind="trace.topology", title="graph",
                       details={"edges": [[d.caller, d.callee, 1] for d in graph],
                                "declared": [[d.caller, d.callee] for d in graph]})
    return [c.service for c in rank([*found, topology], ctx).causes]


def test_a_deeper_anomalous_dependency_explains_its_callers_from_metrics_alone() -> None:
    # search slows down; the site that calls it shows it too: the graph says where it starts
    ranked = _ranked(shop(search=slower(0.03), site=slower(0.05)), GRAPH)
    assert ranked[0] == "search"
    # the database under both slows down: it explains search, cart and the site
    ranked = _ranked(shop(db=slower(0.02), search=slower(0.02), cart=slower(0.02), site=slower(0.05)), GRAPH)
    assert ranked[0] == "db"


def test_the_alerting_service_is_a_candidate_like_any_other() -> None:
    # only the site is slow, its callees are fine: the site itself is the cause
    assert _ranked(shop(site=slower(0.05)), GRAPH)[0] == "site"


def test_without_a_graph_metric_symptoms_stay_symptoms() -> None:
    ctx = context()
    found = metrics.analyse(MemorySource(series=shop(search=slower(0.03), site=slower(0.05))), ctx).findings
    causes = rank(found, ctx).causes
    # nothing is known of callees: a symptom counts a quarter of what the service's own evidence would
    assert causes and all(c.score <= 0.25 for c in causes)


def test_co_movement_with_the_alert_is_recorded_and_counts() -> None:
    def early(t: float, v: float) -> float:  # anomalous, but back to normal while the alert's series is bad
        return v + 0.05 if t == ONSET else v

    series = shop(search=slower(0.03), site=slower(0.05))
    series[4] = coarse("latency_average", "cart", 0.02, 0.001, after=early)
    found = {f.service: f for f in metrics.analyse(MemorySource(series=series), context()).findings
             if f.kind == "metric.anomaly" and "latency" in str(f.details.metric)}
    assert found["site"].details.co_movement == 1.0
    assert float(found["search"].details.co_movement) > 0.8
    assert float(found["cart"].details.co_movement) < 0.5


def _bundle(tmp_path: Path, series: list[MetricSeries], graph: list[Dependency]) -> tuple[Path, bytes]:
    with BundleWriter(tmp_path / "bundle", {"name": "shop"}) as w:
        for s in series:
            w.series(s)
        for d in graph:
            w.dependency(d)
    alert = {"incident": {"incident_id": "0.shop", "scoping_project_id": "p", "started_at": int(ONSET),
                          "state": "open", "summary": "site latency", "resource": {
                              "type": "generic_node", "labels": {"project_id": "p", "service_name": "site"}},
                          "resource_name": "site", "metric": {"type": "custom.googleapis.com/app/latency_average"},
                          "policy_name": "site latency", "condition_name": "site latency"}, "version": "1.2"}
    return tmp_path / "bundle", json.dumps(alert).encode()


def test_the_bundle_declares_the_graph_and_triage_uses_it(tmp_path: Path) -> None:
    bundle, alert = _bundle(tmp_path, shop(search=slower(0.03), site=slower(0.05)), GRAPH)
    source = BundleSource(bundle)
    assert source.dependencies().items == sorted(GRAPH, key=lambda d: (d.caller, d.callee))
    result = triage(alert, source)
    assert result.report.causes[0].service == "search"
    assert result.complete


def test_a_corrupt_graph_line_is_skipped_and_said(tmp_path: Path) -> None:
    bundle, _ = _bundle(tmp_path, shop(), GRAPH)
    with open(bundle / "graph.jsonl", "a", encoding="utf-8") as f:
        f.write('{"caller": "site"}\n')
    read = BundleSource(bundle).dependencies()
    assert len(read.items) == len(GRAPH) and read.sampled and "graph.jsonl" in read.note


def test_no_baseline_at_all_is_a_partial_report(tmp_path: Path) -> None:
    late = [MetricSeries(s.metric, s.service, tuple(p for p in s.points if p[0] >= ONSET - 600), unit=s.unit)
            for s in shop(search=slower(0.03), site=slower(0.05))]
    bundle, alert = _bundle(tmp_path, late, GRAPH)
    result = triage(alert, BundleSource(bundle))
    assert result.report.partial and not result.complete
    assert "no signal read had a baseline" in result.report.summary


def test_a_service_named_like_an_address_is_not_redacted() -> None:
    name = "adoptions@db.example.com_Database::SQL"
    f = Finding(specialist="metrics", kind="metric.anomaly", service=name, title=f"latency up on {name}; "
                "paged jane.doe@example.com", details={"edges": [[name, "x", 1]]})
    out = redact_finding(f)
    assert out.service == name and name in out.title and "jane.doe@example.com" not in out.title
    assert out.details.edges[0][0] == name


def test_memory_and_bundle_read_no_graph_when_none_is_declared(tmp_path: Path) -> None:
    bundle, _ = _bundle(tmp_path, shop(), [])
    assert BundleSource(bundle).dependencies().items == []
    assert not (bundle / "graph.jsonl").exists()
    assert MemorySource().dependencies().items == []
    assert Window(0, 1).contains(0)


def test_a_dependency_that_explains_more_anomalous_callers_ranks_first() -> None:
    # two leaves slow down, the balancer more: the load balancer only the site calls, and search, which the cart and
    # the api call too; both of those are slow as well, so search explains three anomalous callers and the balancer
    # one (the site, the most anomalous caller, calls both: their callers' support is the same)
    graph = [Dependency("site", "lb"), Dependency("site", "search"), Dependency("cart", "search"),
             Dependency("api", "search")]
    series = [coarse("latency_average", node, level, level * 0.05, after=slower(by))
              for node, level, by in (("site", 0.09, 0.05), ("lb", 0.006, 0.03), ("search", 0.006, 0.01),
                                      ("cart", 0.02, 0.01), ("api", 0.02, 0.01))]
    assert _ranked(series, graph)[0] == "search"


def test_a_strongly_anomalous_caller_counts_for_more_than_several_faint_ones() -> None:
    # x and z show the same own evidence; x's one caller is strongly anomalous, z's three callers barely are: a fault
    # in x explains more of what is seen, however the callers are counted
    from agents.ranking.causal_graph import ServiceGraph
    from agents.ranking.evidence import Evidence
    from agents.ranking.rca import judge

    faint = ("w1", "w2", "w3")
    edges = [("top", "a", 0), ("top", "b", 0), ("a", "x", 0), ("b", "z", 0),
             *(("top", w, 0) for w in faint), *((w, "z", 0) for w in faint)]
    graph = ServiceGraph(edges, declared=[(c, d) for c, d, _ in edges])

    def seen(service: str, anomaly: float, own: float = 0.0) -> Evidence:
        return Evidence(service, own=own, anomaly=anomaly)

    ev = {"x": seen("x", 0.5, own=0.5), "z": seen("z", 0.5, own=0.5), "top": seen("top", 0.5),
          "a": seen("a", 0.8), "b": seen("b", 0.3), **{w: seen(w, 0.12) for w in faint}}
    judged = judge(ev, graph, "top")
    assert judged["x"].score > judged["z"].score


def test_an_unvouched_cause_is_held_to_its_share_among_the_leading_candidates_not_the_tail() -> None:
    # a metrics-only cause one specialist backs: its confidence is its share of the evidence among the leaders; a
    # dozen faint candidates behind them do not dilute it, and two near-equal leaders are each about even
    from agents.ranking.rca import Judgement, bounded

    judged = {"a": Judgement(0.5), "b": Judgement(0.2), "c": Judgement(0.1),
              **{f"tail{i}": Judgement(0.05) for i in range(12)}}
    order = sorted(judged, key=lambda s: -judged[s].score)
    assert bounded(0.9, "a", judged, order, vouched=False) == round(0.5 / 0.8, 3)
    assert bounded(0.9, "a", judged, order, vouched=True) == 0.9  # the calibration vouches: no bound
    judged["b"] = Judgement(0.5)
    assert bounded(0.9, "a", judged, order, vouched=False) < 0.5


def test_an_anomaly_that_began_after_the_alert_followed_it_and_weighs_less() -> None:
    # two leaves the site calls slow down as much; one from the alert's onset, the other two periods later (what a
    # queue filling behind the first does): the later one is marked, and with co-movement set aside (it also tells
    # them apart) onset order alone ranks the one that came first; without it the two tie and a name decides
    from agents.ranking import evidence

    graph = [Dependency("site", "search"), Dependency("site", "queue")]

    def later(t: float, v: float) -> float:
        return v + 0.2 if t >= ONSET + 2 * STEP else v

    series = [coarse("latency_average", "site", 0.09, 0.0045, after=slower(0.05)),
              coarse("latency_average", "search", 0.006, 0.0003, after=slower(0.2)),
              coarse("latency_average", "queue", 0.006, 0.0003, after=later)]
    found = {f.service: f for f in metrics.analyse(MemorySource(series=series, graph=graph), context()).findings
             if f.kind == "metric.anomaly"}
    assert found["queue"].details.began_after_alert and "600 s after the alert" in found["queue"].title
    assert not found["search"].details.began_after_alert and not found["site"].details.began_after_alert
    saved = evidence.CO_MOVEMENT_WEIGHT, evidence.FOLLOWED_WEIGHT
    try:
        evidence.CO_MOVEMENT_WEIGHT = 0.0
        assert _ranked(series, graph)[0] == "search"
        evidence.FOLLOWED_WEIGHT = 0.0
        assert _ranked(series, graph)[0] == "queue"
    finally:
        evidence.CO_MOVEMENT_WEIGHT, evidence.FOLLOWED_WEIGHT = saved


def test_a_series_level_through_the_window_does_not_move_with_the_alert() -> None:
    """A series already at its anomalous level when the incident window opens, and level through it, while the
    alert's series rises: it does not rise and fall with the alert (co-movement 0, not unknown)."""
    ctx = context()
    series = shop(search=slower(0.03), site=slower(0.05))
    cart = coarse("latency_average", "cart", 0.02, 0.0)  # no noise: level in the window once it has stepped
    series[4] = MetricSeries(cart.metric, cart.service, tuple(
        (t, v + 0.2 if t >= ctx.incident.start - STEP else v) for t, v in cart.points), unit=cart.unit)
    found = {f.service: f for f in metrics.analyse(MemorySource(series=series), ctx).findings
             if f.kind == "metric.anomaly" and "latency" in str(f.details.metric)}
    assert found["cart"].details.co_movement == 0.0
    assert float(found["search"].details.co_movement) > 0.8


def test_a_series_missing_while_the_alert_moves_is_not_taken_to_move_with_it() -> None:
    """A sparse series (a function invoked now and then) with one big point just before the alert and none while
    the alert's series is up: whether it moves with the alert cannot be measured, and that is not counted as
    moving with it. It weighs as a symptom of unknown co-movement, below a callee that rises with the alert."""
    from agents.ranking import evidence

    graph = [Dependency("site", "search"), Dependency("site", "batch")]
    batch = coarse("latency_average", "batch", 0.4, 0.02)
    sparse = tuple((t, v + (2.5 if t == ONSET - STEP else 0.0)) for t, v in batch.points
                   if t < ONSET - 900 or t in (ONSET - 2 * STEP, ONSET - STEP))
    series = [coarse("latency_average", "site", 0.09, 0.0045, after=slower(0.05)),
              coarse("latency_average", "search", 0.006, 0.0003, after=slower(0.2)),
              MetricSeries(batch.metric, batch.service, sparse, unit=batch.unit)]
    found = {f.service: f for f in metrics.analyse(MemorySource(series=series, graph=graph), context()).findings
             if f.kind == "metric.anomaly"}
    assert found["batch"].details.co_movement is None and found["batch"].details.missing_while_alert_moved
    assert not found["search"].details.missing_while_alert_moved
    assert float(found["search"].details.co_movement) > 0.8
    assert _ranked(series, graph)[0] == "search"
    saved = evidence.UNKNOWN_CO_MOVEMENT
    try:
        evidence.UNKNOWN_CO_MOVEMENT = None  # unknown taken as moving with the alert: the sparse series leads
        assert _ranked(series, graph)[0] == "batch"
    finally:
        evidence.UNKNOWN_CO_MOVEMENT = saved
