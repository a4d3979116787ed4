"""The trace analyst on hand-built traces (one fault at a time, everything else unchanged) and on Nezha
TrainTicket network-delay cases (label.json gives the truth)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from agents.context import AnalysisContext, plan_windows
from agents.specialists.traces import analysis as traces
from shared.models import Finding
from shared.telemetry.bundle import BundleSource, BundleWriter
from shared.telemetry_records import Span
from tests.data import nezha_case

ONSET = 100_000.0


def context(onset: float = ONSET) -> AnalysisContext:
    incident, baseline = plan_windows(onset)
    return AnalysisContext("inc", "front", "latency", onset, incident, baseline)


# One request: front GET / -> (front's client span) -> mid /api -> (mid's client span) -> leaf /query, and
# front also calls auth /check in parallel with mid. `fault(t, rng)` returns per-request overrides.
Fault = Callable[[float, random.Random], dict[str, float]]


def no_fault(t: float, rng: random.Random) -> dict[str, float]:
    return {}


def shop(tmp_path: Path, fault: Fault = no_fault, n: int = 1500, seed: int = 3, error_rate: float = 0.01,
         two_leaf_ops: bool = False, leaf_marks_failure: bool = True) -> tuple[BundleSource, AnalysisContext]:
    """With `two_leaf_ops`, every other request asks the leaf for /list instead, which the fault leaves alone.
    Without `leaf_marks_failure`, a failing leaf answers with an error its own span does not mark (only its
    callers' spans fail)."""
    ctx = context()
    rng = random.Random(seed)
    with BundleWriter(tmp_path, {"name": "synthetic shop"}) as w:
        for i in range(n):
            t = ctx.baseline.start + i * (ctx.incident.end - ctx.baseline.start) / n
            leaf_op = "/list" if two_leaf_ops and i % 2 else "/query"
            f = fault(t, rng) if leaf_op == "/query" else {}
            leaf = f.get("leaf", rng.uniform(0.004, 0.008))
            wire = f.get("wire", rng.uniform(0.0005, 0.001))  # each way, between mid's client span and leaf
            auth = rng.uniform(0.002, 0.004)
            leaf_fails = rng.random() < f.get("leaf_errors", error_rate)
            trace = f"t{i:05d}"
            leaf_start = t + 0.004 + wire
            leaf_end = leaf_start + leaf
            mid_end = leaf_end + wire + 0.002
            end = mid_end + 0.001
            w.span(Span(trace, "a", "", "front", "GET /", t, end, "front-1", leaf_fails))
            w.span(Span(trace, "b", "a", "front", "HTTP GET mid", t + 0.001, mid_end, "front-1", leaf_fails))
            w.span(Span(trace, "e", "a", "front", "HTTP GET auth", t + 0.001, t + 0.0015 + auth, "front-1"))
            w.span(Span(trace, "f", "e", "auth", "/check", t + 0.0012, t + 0.0012 + auth, "auth-1"))
            w.span(Span(trace, "c", "b", "mid", "/api", t + 0.002, mid_end - 0.0005, "mid-1", leaf_fails))
            w.span(Span(trace, "g", "c", "mid", "HTTP GET leaf", t + 0.003, leaf_end + wire, "mid-1", leaf_fails))
            w.span(Span(trace, "d", "g", "leaf", leaf_op, leaf_start, leaf_end, "leaf-1",
                        leaf_fails and leaf_marks_failure))
    return BundleSource(tmp_path), ctx


def shifts(found: list[Finding], kind: str) -> dict[str, Finding]:
    return {f.service: f for f in found if f.kind == kind}


def test_no_findings_when_nothing_changed(tmp_path: Path) -> None:
    source, ctx = shop(tmp_path)  # same distributions (and the same 1% error rate) in both windows
    result = traces.analyse(source, ctx)
    assert [f.kind for f in result.findings] == ["trace.topology"]
    assert result.notes == []


def test_topology_counts_the_calls_between_services(tmp_path: Path) -> None:
    source, ctx = shop(tmp_path, n=300)
    (topology,) = [f for f in traces.analyse(source, ctx).findings if f.kind == "trace.topology"]
    assert topology.score == 0
    assert topology.details.edges == [("front", "auth", 300), ("front", "mid", 300), ("mid", "leaf", 300)]


def slow_leaf(t: float, rng: random.Random) -> dict[str, float]:
    return {"leaf": rng.uniform(0.2, 0.3)} if t >= context().incident.start else {}


def test_a_slow_leaf_is_the_origin_of_the_latency_not_its_callers(tmp_path: Path) -> None:
    source, ctx = shop(tmp_path, slow_leaf)
    found = traces.analyse(source, ctx).findings
    latency = shifts(found, "trace.latency_shift")
    leaf = latency["leaf"]
    assert leaf.details.own_time_grew and leaf.resource == "/query" and leaf.details.operation == "/query"
    assert leaf.details.explained_share_of_end_to_end_rise > 0.9
    for caller in ("front", "mid"):  # they only wait on it
        assert not latency[caller].details.own_time_grew and latency[caller].score < leaf.score
    assert "auth" not in latency and "trace.wire_delay" not in {f.kind for f in found}
    top = next(f for f in found if f.kind != "trace.topology")
    assert top.service == "leaf" and top.score > 0.8
    d = leaf.details
    assert d.incident_p50 > 20 * d.baseline_p50 and d.incident_p95 >= d.incident_p90 >= d.incident_p50
    b_path, i_path = d.critical_path_p50_ms
    assert b_path < 10 < 200 < i_path
    assert leaf.onset is not None and abs(leaf.onset - ctx.incident.start) < 60  # the slow calls begin there


def test_exemplars_show_a_slow_trace_with_its_waterfall_and_a_typical_one(tmp_path: Path) -> None:
    source, ctx = shop(tmp_path, slow_leaf)
    leaf = shifts(traces.analyse(source, ctx).findings, "trace.latency_shift")["leaf"]
    slow, typical = leaf.exemplars
    assert slow["role"] == "slow" and typical["role"] == "typical" and typical["window"] == "baseline"
    assert slow["span_ms"] > 200 > 10 > typical["span_ms"]
    assert leaf.widget is not None and leaf.widget.kind == "waterfall"
    assert leaf.widget.data["trace_id"] == slow["trace_id"]
    rows = {r["span_id"]: r for r in leaf.widget.data["spans"]}
    assert set(rows) == set("abcdefg") and rows["d"]["critical"] and not rows["f"]["critical"]
    assert rows["a"]["depth"] == 0 and rows["d"]["depth"] == 4 and rows["d"]["duration_ms"] > 200


def test_only_the_operation_that_slowed_is_blamed(tmp_path: Path) -> None:
    source, ctx = shop(tmp_path, slow_leaf, two_leaf_ops=True)
    latency = shifts(traces.analyse(source, ctx).findings, "trace.latency_shift")
    leaf = latency["leaf"]
    assert leaf.resource == "/query" and [o["operation"] for o in leaf.details.operations] == ["/query"]
    assert leaf.details.own_time_grew
    assert "HTTP GET auth" not in [o["operation"] for o in latency["front"].details.operations]


def test_a_slow_network_to_the_leaf_is_the_leafs_wire_delay(tmp_path: Path) -> None:
    def slow_wire(t: float, rng: random.Random) -> dict[str, float]:
        return {"wire": rng.uniform(0.1, 0.15)} if t >= context().incident.start else {}

    source, ctx = shop(tmp_path, slow_wire)
    found = traces.analyse(source, ctx).findings
    (wire,) = [f for f in found if f.kind == "trace.wire_delay"]
    assert wire.service == "leaf" and wire.score > 0.8 and wire.details.explained_share_of_end_to_end_rise > 0.9
    latency = shifts(found, "trace.latency_shift")
    assert "leaf" not in latency  # its own spans did not change
    assert not any(f.details.own_time_grew for f in latency.values())  # the callers only wait


def test_errors_originate_in_the_deepest_failing_span_not_in_the_callers_that_report_them(tmp_path: Path) -> None:
    def failing_leaf(t: float, rng: random.Random) -> dict[str, float]:
        return {"leaf_errors": 0.3} if t >= context().incident.start else {}

    source, ctx = shop(tmp_path, failing_leaf)
    found = traces.analyse(source, ctx).findings
    (origin,) = [f for f in found if f.kind == "trace.error_origin"]
    assert origin.service == "leaf" and origin.details.operation == "/query"
    assert origin.details.callers == ["front", "mid"] and origin.details.count > 30
    assert origin.exemplars[0]["role"] == "failing" and origin.exemplars[0]["error"]
    assert origin.onset is not None and abs(origin.onset - ctx.incident.start) < 120
    errors = shifts(found, "trace.error_shift")
    assert set(errors) == {"front", "mid", "leaf"}  # everyone on the path reports a higher error rate...
    d = errors["leaf"].details
    assert d.operation == "/query" and d.baseline_error_rate < 0.05 < 0.2 < d.incident_error_rate
    assert d.n > 200
    assert origin.score > max(f.score for f in errors.values()) * 0.9  # ...but the origin is told apart
    assert "auth" not in errors


def test_a_failure_the_callee_answered_without_marking_it_originates_in_the_callee(tmp_path: Path) -> None:
    """Caller-absorbed: the leaf's spans show no failure, but the call that reached it failed in its caller's
    client span; the answer is the leaf's, so the errors originate there, reported by its callers."""
    def failing_leaf(t: float, rng: random.Random) -> dict[str, float]:
        return {"leaf_errors": 0.3} if t >= context().incident.start else {}

    source, ctx = shop(tmp_path, failing_leaf, leaf_marks_failure=False)
    found = traces.analyse(source, ctx).findings
    (origin,) = [f for f in found if f.kind == "trace.error_origin"]
    assert origin.service == "leaf" and origin.details.operation == "/query"
    assert origin.details.callers == ["front", "mid"]
    assert "leaf" not in shifts(found, "trace.error_shift")  # its own spans' error rate did not change


def test_without_a_baseline_a_link_far_slower_than_its_peers_is_a_wire_delay(tmp_path: Path) -> None:
    ctx = context()
    with BundleWriter(tmp_path, {}) as w:  # incident-window spans only: front fans out to four services
        for i in range(200):
            t, trace = ctx.incident.start + i, f"t{i:04d}"
            w.span(Span(trace, "r", "", "front", "GET /", t, t + 2.5, "front-1"))
            for k, callee in enumerate(("a", "b", "c", "slow")):
                wire = 2.0 if callee == "slow" else 0.002 + 0.001 * ((i + k) % 3)
                start = t + 0.01 * k
                w.span(Span(trace, f"c{k}", "r", "front", f"HTTP GET {callee}", start, start + wire + 0.01, "front-1"))
                w.span(Span(trace, f"s{k}", f"c{k}", callee, "/x", start + wire / 2, start + wire / 2 + 0.01,
                            f"{callee}-1"))
    found = traces.analyse(BundleSource(tmp_path), ctx).findings
    wires = shifts(found, "trace.wire_delay")
    assert set(wires) == {"slow"}
    d = wires["slow"].details
    assert d.baseline == "calls to 3 other services in the incident window" and d.ratio > 100
    assert 0.3 < wires["slow"].score <= traces.PEER_WEIGHT and "other services" in wires["slow"].title


def test_output_is_deterministic(tmp_path: Path) -> None:
    source, ctx = shop(tmp_path, slow_leaf)
    first = [f.model_dump() for f in traces.analyse(source, ctx).findings]
    again = [f.model_dump() for f in traces.analyse(BundleSource(tmp_path), ctx).findings]
    assert first == again
    scores = [f.score for f in traces.analyse(source, ctx).findings]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)


def test_too_little_to_compare_is_said_not_scored(tmp_path: Path) -> None:
    ctx = context()
    with BundleWriter(tmp_path / "empty", {}) as w:
        w.span(Span("x", "a", "", "front", "GET /", ctx.baseline.start + 1, ctx.baseline.start + 2))
    result = traces.analyse(BundleSource(tmp_path / "empty"), ctx)
    assert result.findings == [] and result.notes == ["no spans in the incident window"]
    with BundleWriter(tmp_path / "no-baseline", {}) as w:
        for i in range(20):
            w.span(Span(f"t{i}", "a", "", "front", "GET /", ctx.incident.start + i, ctx.incident.start + i + 5))
    result = traces.analyse(BundleSource(tmp_path / "no-baseline"), ctx)
    assert [f.kind for f in result.findings] == ["trace.topology"]
    assert any("no baseline spans" in n for n in result.notes)


def test_a_follow_up_round_compares_the_services_it_is_about_on_thinner_samples(tmp_path: Path) -> None:
    def slow_wire(t: float, rng: random.Random) -> dict[str, float]:
        return {"wire": rng.uniform(0.1, 0.15)} if t >= context().incident.start else {}

    # 20 requests over the 80 minutes: 5 in the incident window, too few for a first round's comparison
    source, ctx = shop(tmp_path, slow_wire, n=20)
    assert not [f for f in traces.analyse(source, ctx).findings if f.kind == "trace.wire_delay"]
    focused = traces.analyse(source, replace(ctx, round=2, focus=("leaf",))).findings
    (wire,) = [f for f in focused if f.kind == "trace.wire_delay"]
    assert wire.service == "leaf" and wire.score > 0.5
    assert {f.service for f in focused if f.kind != "trace.topology"} == {"leaf"}  # only what it is about


# ---------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def nezha(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], tuple[BundleSource, AnalysisContext, dict]]:
    out = tmp_path_factory.mktemp("nezha")
    return lambda case: nezha_case(case, out)


@pytest.mark.parametrize("case", ["tt-20230130-115146", "tt-20230130-120612", "tt-20230130-140016"])
def test_a_network_delay_shows_as_delay_to_the_labelled_service(case: str, nezha) -> None:  # type: ignore[no-untyped-def]
    source, ctx, label = nezha(case)
    assert label["fault_type"] == "network_delay"
    found = [f for f in traces.analyse(source, ctx).findings if f.kind != "trace.topology"]
    top = found[:3]
    assert any(f.service == label["service"] and f.kind in ("trace.wire_delay", "trace.latency_shift")
               for f in top), [(f.service, f.kind, f.score) for f in top]
    delay = next(f for f in found if f.service == label["service"])
    assert delay.details.incident_p90 > 1.0 > 0.05 > delay.details.baseline_p90  # ~2 s added, seconds
    (topology,) = [f for f in traces.analyse(source, ctx).findings if f.kind == "trace.topology"]
    assert any(label["service"] == callee for _, callee, _ in topology.details.edges)
