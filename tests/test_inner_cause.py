"""The inner root cause (agents/ranking/inner_cause.py): what broke inside a ranked cause's service, stated in
the report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agents.ranking.inner_cause import inner_causes
from demo.generator import generate
from evaluation.nezha_eval import CaseScore, inner_cause_matches, stated_inner_rank, summarize
from functions.local import triage
from functions.report_text import render_report
from shared.models import Finding, InnerCause, RankedCause
from shared.telemetry.bundle import BundleSource

SVC = "orders"


def finding(kind: str, score: float, fid: str, **details: Any) -> Finding:
    specialist = kind.split(".")[0].replace("log", "logs").replace("trace", "traces").replace("metric", "metrics")
    return Finding(finding_id=fid, specialist=specialist, kind=kind, service=SVC, title=f"{kind} {fid}",
                   score=score, resource=str(details.get("instance", "")), details=details)


def flow_break(fid: str, score: float, before: str, expected: str, share_since: float, **more: Any) -> Finding:
    return finding("log.flow_break", score, fid, before=before, expected=expected, instead="(end of the request)",
                   baseline_share=1.0, share_since_onset=share_since, after_call=False, **more)


def metric(fid: str, score: float, name: str, unit: str, value: float, base: float = 1.0, **more: Any) -> Finding:
    return finding("metric.anomaly", score, fid, metric=f"example.com/pod/{name}", unit=unit, incident_value=value,
                   baseline_median=base, instance="orders-1", direction="up", bad_direction="up", **more)


def test_a_complete_break_between_two_statements_comes_before_a_partial_one() -> None:
    found = [flow_break("f-1", 0.60, "A#10", "call payments", 0.3), flow_break("f-2", 0.56, "A#20", "A#23", 0.0),
             metric("f-3", 0.83, "client_latency_p90", "s", 20.0, 0.01)]
    inner = inner_causes(SVC, found)
    assert (inner[0].kind, inner[0].start, inner[0].end) == ("code_region", "A#20", "A#23")
    assert inner[0].evidence == ["f-2"] and "follows 0% of requests" in inner[0].detail
    assert [c.kind for c in inner[1:]] == ["code_region", "link"]  # the latency its calls see: a weaker link


def test_the_saturation_ratio_is_preferred_to_the_raw_amount_and_weighs_by_how_full() -> None:
    raw, rate = metric("f-1", 0.97, "cpu_usage", "m", 500.0, 5.0), metric("f-2", 0.97, "cpu_usage_rate", "%", 100.0)
    inner = inner_causes(SVC, [raw, rate])
    assert len(inner) == 1 and inner[0].kind == "resource" and inner[0].measure.endswith("/cpu_usage_rate")
    assert set(inner[0].evidence) == {"f-1", "f-2"} and "saturated" in inner[0].detail
    low = inner_causes(SVC, [metric("f-3", 0.58, "cpu_usage_rate", "%", 4.2),
                             metric("f-4", 0.80, "client_latency_p95", "s", 108.0, 0.9)])
    assert [c.kind for c in low] == ["link", "resource"]  # 4% of its limit: hardly what broke
    assert low[1].confidence < 0.2


def test_a_saturated_resource_explains_its_operations_own_time() -> None:
    found = [finding("trace.latency_shift", 0.99, "f-1", operation="Convert", own_time_grew=True,
                     baseline_p90=0.001, incident_p90=0.065, self_time_ratio=42.0),
             finding("metric.fleet_outlier", 0.86, "f-2", metric="x/cpu_utilization", value=99.3, peers_median=10.0,
                     instance="orders-1")]
    inner = inner_causes(SVC, found)
    assert [c.kind for c in inner] == ["resource", "operation"] and inner[1].name == "Convert"


def test_the_wire_delay_names_the_link_and_the_added_delay() -> None:
    found = [finding("trace.wire_delay", 0.70, "f-1", baseline_p90=0.004, incident_p90=2.008),
             metric("f-2", 0.97, "cpu_usage_rate", "%", 100.0),
             metric("f-3", 0.93, "server_latency_p90", "s", 0.95, 0.1)]
    inner = inner_causes(SVC, found, callers=["checkout", "web"])
    # the saturated CPU explains the 850 ms added inside the service, not the 2 s callers wait outside it
    assert inner[0].kind == "link" and (inner[0].start, inner[0].end) == ("checkout, web", SVC)
    assert inner[0].name == "checkout, web -> orders" and "2004 ms added" in inner[0].detail
    assert inner[1].kind == "resource"


def test_an_error_line_naming_a_pool_is_the_exhausted_pool() -> None:
    line = finding("log.new_pattern", 0.92, "f-1", severity="ERROR", errorish=True,
                   template="HikariPool-<*> - Connection is not available, request timed out after <*>")
    own = finding("trace.latency_shift", 0.99, "f-2", operation="GetStock", own_time_grew=True,
                  baseline_p90=0.005, incident_p90=0.8)
    inner = inner_causes(SVC, [line, own])
    assert (inner[0].kind, inner[0].name) == ("resource", "connection pool")
    assert [c.kind for c in inner] == ["resource", "operation"]  # the new line is not repeated as a code region


def test_only_the_service_findings_count_and_the_order_does_not_matter() -> None:
    found = [flow_break("f-1", 0.9, "A#1", "A#2", 0.0), metric("f-2", 0.5, "cpu_usage_rate", "%", 50.0),
             finding("trace.error_origin", 0.9, "f-3", operation="Get", count=4)]
    other = finding("trace.error_origin", 0.99, "f-9", operation="Other").model_copy(update={"service": "web"})
    assert inner_causes(SVC, [*found, other]) == inner_causes(SVC, [other, *reversed(found)])
    assert all("f-9" not in c.evidence for c in inner_causes(SVC, [*found, other]))
    assert len(inner_causes(SVC, found * 3)) <= 3


def test_the_eval_scores_the_stated_inner_cause() -> None:
    region = InnerCause(kind="code_region", name="x", start="c.s.Impl#31 TraceID:", end="c.s.Impl#34 TraceID:")
    cpu = InnerCause(kind="resource", name="cpu", measure="nezha.pod/cpu_usage_rate")
    link = InnerCause(kind="link", name="a -> b", start="a", end="b")
    assert inner_cause_matches("c.s.Impl#31_c.s.Impl#34", region)
    assert not inner_cause_matches("c.s.Impl#31_c.s.Impl#35", region)
    assert inner_cause_matches("CpuUsageRate(%)", cpu) and not inner_cause_matches("CpuUsage(m)", cpu)
    assert inner_cause_matches("NetworkP90(ms)", link) and not inner_cause_matches("CpuUsageRate(%)", link)
    cause = RankedCause(rank=1, service="b", kind="trace.wire_delay", title="t", score=1.0, confidence=0.9,
                        inner=[cpu, link])
    assert stated_inner_rank("NetworkP90(ms)", "b", [cause]) == 2
    assert stated_inner_rank("NetworkP90(ms)", "c", [cause]) is None
    rows = [CaseScore("c1", "network_delay", "b", "NetworkP90(ms)", ["b"], 1.0, inner_rank=2, evidence_rank=1),
            CaseScore("c2", "cpu_contention", "b", "CpuUsageRate(%)", ["b"], 1.0, inner_rank=1, evidence_rank=None)]
    m = summarize(rows)
    assert (m["inner@1"], m["inner@3"], m["evidence_inner@1"]) == (0.5, 1.0, 0.5)
    assert m["inner@1 network_delay"] == 0.0 and m["inner@3 network_delay"] == 1.0
    assert m["inner@1 cpu_contention"] == 1.0


DEMO_INNER = {  # each demo fault kind names what broke inside the root service
    "bad_deploy": ("operation", "errors originate in"),  # the bad revision's new error path
    "cpu_saturation": ("resource", "saturated"),  # the saturated CPU, by its utilisation
    "slow_dependency": ("resource", "disk"),  # the datastore's busy disk (its slow command next)
    "pool_exhaustion": ("resource", "pool"),  # the exhausted connection pool
}


@pytest.mark.parametrize("fault", sorted(DEMO_INNER))
def test_each_demo_fault_names_its_inner_cause(fault: str, tmp_path: Path) -> None:
    s = generate(fault, tmp_path / fault, seed=1)
    result = triage(s.alert_path.read_bytes(), BundleSource(s.bundle_dir))
    cause = next(c for c in result.report.causes if c.service == s.root_service)
    kind, words = DEMO_INNER[fault]
    top = cause.inner[0]
    assert top.kind == kind and words in f"{top.name} {top.detail}", cause.inner
    assert top.evidence and all(i in result.state.findings for i in top.evidence)
    if fault == "bad_deploy":  # the operation the new revision broke, with the rollout that brought it
        assert s.truth["description"].split(" in ", 1)[1].startswith(top.name)
        assert "rollout" in top.detail
    if fault == "cpu_saturation":
        assert top.measure.endswith("cpu_utilization") and top.name == f"cpu on {s.root_instance}"
    if fault == "slow_dependency":
        assert cause.inner[1].kind == "operation" and "own time" in cause.inner[1].detail
    text = render_report(result.state, result.report)
    assert f"inside: {top.kind.replace('_', ' ')} {top.name}" in text


def test_the_web_view_shows_the_inner_cause_and_highlights_it_in_the_causal_graph(tmp_path: Path) -> None:
    from functions.handlers.web import create_app
    from functions.local import triage
    from shared.store.sqlite import SqliteEventStore
    from shared.telemetry.bundle import BundleSource

    scenario = generate("cpu_saturation", tmp_path / "demo", seed=7)
    store = SqliteEventStore(str(tmp_path / "events.db"))
    result = triage(scenario.alert_path.read_bytes(), BundleSource(scenario.bundle_dir), store=store)
    top = result.report.causes[0]
    assert top.inner, "the top cause names what broke inside it"
    page = create_app(store).test_client().get(f"/incidents/{result.incident_id}").get_data(as_text=True)
    assert "class=inner-cause" in page and "Inside " + top.service in page
    assert "class='node cause inner'" in page and "svg .node.cause.inner rect{stroke:var(--bad)" in page  # highlighted


def test_a_new_error_line_placed_in_its_code_path_names_the_region_it_sits_in() -> None:
    placed = finding("log.new_pattern", 0.7, "f1", template="Impl#129 failed to read image <*>", severity="ERROR",
                     between=["Impl#114 start", "Impl#132 done"], between_count=5)
    loose = finding("log.new_pattern", 0.7, "f2", template="Other#7 failed <*>", severity="ERROR")
    inner = {c.evidence[0]: c for c in inner_causes(SVC, [placed, loose])}
    assert inner["f1"].kind == "code_region" and inner["f1"].name == "Impl#114 start -> Impl#132 done"
    assert (inner["f1"].start, inner["f1"].end) == ("Impl#114 start", "Impl#132 done")
    assert "Impl#129" in inner["f1"].detail and "5 requests" in inner["f1"].detail
    assert inner["f2"].name == "Other#7 failed" and inner["f2"].end == ""
