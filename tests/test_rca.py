"""The root-cause analyst on hand-built findings: propagation on the dependency graph, changes, chains, ruled-out
entries, confidence and determinism."""

from __future__ import annotations

import random
from typing import Any

from agents.context import AnalysisContext, plan_windows
from agents.ranking.rca import RcaResult, headline, rank
from shared.models import Finding

ONSET = 1_700_000_000.0
# frontend (the alert, not in the traces) -> gateway -> checkout -> payment -> db-api; gateway -> catalog;
# checkout -> cart; batch -> reports (connected to nothing the alert sees)
EDGES = [["gateway", "checkout", 50], ["gateway", "catalog", 80], ["checkout", "payment", 40],
         ["checkout", "cart", 45], ["payment", "db-api", 40], ["batch", "reports", 5]]


def ctx(alert_service: str = "frontend") -> AnalysisContext:
    incident, baseline = plan_windows(ONSET)
    return AnalysisContext("inc-1", alert_service, "latency_p90", ONSET, incident, baseline)


def finding(kind: str, service: str, score: float, **details: Any) -> Finding:
    specialist = {"log": "logs", "trace": "traces", "metric": "metrics", "change": "changes"}[kind.split(".")[0]]
    return Finding(specialist=specialist, kind=kind, service=service, score=score, details=details,
                   title=f"{kind} on {service}" + (f" ({details['metric']})" if "metric" in details else ""))


def topology(edges: list[list[Any]] = EDGES) -> Finding:
    return Finding(specialist="traces", kind="trace.topology", title="call graph", details={"edges": edges})


def deploy(service: str, minutes_before: float, score: float) -> Finding:
    return finding("change.deploy", service, score, description=f"deploy {service}", at=ONSET - 60 * minutes_before,
                   actor="ci", seconds_before_onset=60 * minutes_before)


def with_ids(findings: list[Finding]) -> list[Finding]:
    return [f.model_copy(update={"finding_id": f"f-{i:03d}"}) for i, f in enumerate(findings)]


def slow_leaf() -> list[Finding]:
    """db-api's own time grew and errors originate there; its callers wait and fail, and say so."""
    return [
        topology(),
        finding("trace.latency_shift", "db-api", 0.8, own_time_grew=True),
        finding("trace.error_origin", "db-api", 0.85, callers=["payment"]),
        finding("log.new_pattern", "db-api", 0.5, severity="ERROR"),
        finding("trace.latency_shift", "payment", 0.9, own_time_grew=False),
        finding("trace.error_shift", "payment", 0.8),
        finding("log.new_pattern", "payment", 0.6, severity="ERROR"),  # "call to db-api failed"
        finding("metric.anomaly", "payment", 0.9, metric="server_latency_p90"),
        finding("trace.latency_shift", "checkout", 0.85, own_time_grew=False),
        finding("metric.anomaly", "checkout", 0.9, metric="server_latency_p90"),
        finding("metric.anomaly", "gateway", 0.9, metric="server_latency_p90"),
        finding("metric.anomaly", "frontend", 0.95, metric="latency_p90"),
        finding("change.none", "", 0.0) .model_copy(update={"ruled_out": True, "title": "no change near the onset"}),
    ]


def is_edge(caller: str, callee: str) -> bool:
    return [caller, callee] in [e[:2] for e in EDGES]


def check_chains(result: RcaResult, findings: list[Finding], alert_service: str = "frontend") -> None:
    ids = {f.finding_id for f in findings}
    for cause in result.causes:
        assert cause.evidence and set(cause.evidence) <= ids
        roles = [s.role for s in cause.chain]
        assert roles[0] == "cause" and roles[-1] == "impact" and cause.chain[0].service == cause.service
        assert cause.chain[-1].service == alert_service
        assert set(roles[1:-1]) <= {"propagation", "symptom"}
        for step in cause.chain:
            assert set(step.evidence) <= ids
        assert cause.chain[0].evidence and set(cause.chain[0].evidence) <= set(cause.evidence)
        assert 0.0 <= cause.confidence <= 1.0


def causes(result: RcaResult) -> list[str]:
    """The ranked services that are candidates in their own right (not listed last as likely propagation)."""
    return [c.service for c in result.causes if not c.propagation_of]


def test_a_leaf_whose_own_time_grew_and_where_errors_originate_beats_its_callers() -> None:
    findings = with_ids(slow_leaf())
    result = rank(findings, ctx())
    assert causes(result) == ["db-api"]  # its callers only propagate: none is a cause ...
    tail = {c.service: c.propagation_of for c in result.causes[1:]}  # ... yet each is listed, last, and says so
    assert tail and set(tail.values()) == {"db-api"} and all("likely propagation" in c.title for c in result.causes[1:])
    assert "db-api" not in tail and all(c.confidence < result.causes[0].confidence for c in result.causes[1:])
    top = result.causes[0]
    assert top.kind in ("trace.error_origin", "trace.latency_shift") and top.rank == 1
    check_chains(result, findings)
    # the chain walks the graph from the cause up to the alerting frontend, each hop citing its findings
    hops = [s.service for s in top.chain]
    assert hops == ["db-api", "payment", "checkout", "gateway", "frontend", "frontend"]
    for caller_step, callee_step in zip(top.chain[2:4], top.chain[1:3], strict=True):
        assert is_edge(caller_step.service, callee_step.service)
    payment_ids = {f.finding_id for f in findings if f.service == "payment"}
    assert top.chain[1].role == "propagation" and set(top.chain[1].evidence) <= payment_ids and top.chain[1].evidence
    assert top.chain[4].role == "symptom" and top.chain[4].evidence  # the frontend's own latency finding
    impact = top.chain[-1]
    assert impact.evidence == [f.finding_id for f in findings if f.service == "frontend"]
    # the callers are ruled out as propagation of db-api
    explained = {r.service: r.reason for r in result.ruled_out if "explained by" in r.reason}
    assert sorted(explained) == ["checkout", "frontend", "gateway", "payment"]
    assert explained["payment"].startswith("latency in payment is explained by its callee db-api, whose own")
    assert "explained by its callee db-api (via payment)" in explained["checkout"]


def test_a_caller_whose_own_time_grew_keeps_more_than_one_that_only_waits() -> None:
    findings = with_ids([
        topology(),
        finding("trace.error_origin", "db-api", 0.9),
        finding("trace.latency_shift", "payment", 0.7, own_time_grew=True),
        finding("trace.latency_shift", "checkout", 0.7, own_time_grew=False),
    ])
    result = rank(findings, ctx())
    assert causes(result) == ["db-api", "payment"]  # checkout only waits: not a cause
    assert result.causes[1].kind == "trace.latency_shift" and result.causes[1].score >= 0.5
    (checkout,) = [r for r in result.ruled_out if r.service == "checkout"]
    assert checkout.reason.startswith("latency in checkout is explained by its callee db-api (via payment)")
    alone = rank(with_ids([f for f in findings if f.service != "db-api"]), ctx()).causes[0]
    assert alone.service == "payment" and alone.score > result.causes[1].score  # discounted, not erased


def test_a_candidate_whose_callers_show_nothing_explains_no_symptom_and_weighs_less() -> None:
    findings = with_ids([topology(), finding("trace.error_origin", "catalog", 0.7),
                         finding("trace.error_origin", "db-api", 0.7),
                         finding("trace.latency_shift", "payment", 0.6, own_time_grew=False)])
    result = rank(findings, ctx())
    assert causes(result) == ["db-api", "catalog"]  # catalog's caller (gateway) is quiet
    assert result.causes[0].chain[1].service == "payment"


def test_a_caller_logging_its_callees_error_text_is_a_symptom_not_a_second_origin() -> None:
    error = "TypeError: Cannot read properties of undefined (reading 'currencyCode') at charge (charge.js:<*>)"
    echo = f"failed to charge card: rpc error: code = Internal desc = {error[:70]}"
    own = "ERROR cache miss storm on cart-items key <*>"  # an error of its own, nothing its callees said
    base = [topology(), finding("log.new_pattern", "payment", 0.8, template=error),
            finding("log.new_pattern", "checkout", 0.8, template=echo)]
    result = rank(with_ids(base), ctx())
    assert causes(result) == ["payment"]
    (checkout,) = [r for r in result.ruled_out if r.service == "checkout"]
    assert "explained by its callee payment" in checkout.reason
    separate = rank(with_ids([*base[:2], finding("log.new_pattern", "checkout", 0.8, template=own)]), ctx())
    assert sorted(c.service for c in separate.causes) == ["checkout", "payment"]  # two errors of their own
    assert not any("explained" in r.reason for r in separate.ruled_out)


def test_a_deploy_shortly_before_the_onset_on_the_anomalous_service_boosts_it() -> None:
    base = [topology(), finding("trace.error_origin", "cart", 0.7), finding("trace.error_origin", "payment", 0.7),
            finding("metric.anomaly", "checkout", 0.8, metric="server_latency_p90")]
    tie = rank(with_ids(base), ctx())
    assert [c.service for c in tie.causes[:2]] == ["cart", "payment"]  # equal evidence: name order
    findings = with_ids([*base, deploy("payment", 3, 0.85)])
    result = rank(findings, ctx())
    top = result.causes[0]
    assert top.service == "payment" and top.score > tie.causes[1].score
    deploy_id = next(f.finding_id for f in findings if f.kind == "change.deploy")
    assert deploy_id in top.evidence and deploy_id in top.chain[0].evidence
    assert "change.deploy on payment" in top.chain[0].statement
    check_chains(result, findings)


def test_a_deploy_on_an_unrelated_service_does_not_make_it_the_top_cause() -> None:
    findings = with_ids([
        *slow_leaf(),
        deploy("catalog", 1, 0.95),  # in the graph, but nothing is wrong with it
        deploy("reports", 2, 0.9),  # misbehaves, but nothing it does reaches the frontend
        finding("metric.anomaly", "reports", 0.7, metric="cpu_usage"),
    ])
    result = rank(findings, ctx())
    ranked = [c.service for c in result.causes]
    assert ranked[0] == "db-api" and "catalog" not in ranked
    assert ranked.index("reports") > ranked.index("db-api")
    reasons = {r.service: r.reason for r in result.ruled_out}
    assert "catalog shows no anomaly of its own" in reasons["catalog"]
    if "reports" not in ranked[:5]:
        assert "not on a call path to frontend" in reasons["reports"]
    check_chains(result, findings)


def test_ruled_out_entries_cover_propagation_quiet_callees_and_checked_hypotheses() -> None:
    findings = with_ids([
        topology(),
        finding("trace.error_origin", "payment", 0.9),
        finding("log.new_pattern", "payment", 0.7, severity="ERROR"),
        finding("trace.latency_shift", "checkout", 0.8, own_time_grew=False),
        finding("metric.anomaly", "gateway", 0.9, metric="server_latency_p90"),
        finding("change.none", "", 0.0).model_copy(update={"ruled_out": True, "title": "no change near the onset"}),
    ])
    result = rank(findings, ctx(), top_k=1)
    assert causes(result) == ["payment"]
    by_service = {r.service: r for r in result.ruled_out}
    assert "explained by its callee payment" in by_service["checkout"].reason
    assert set(by_service["checkout"].evidence) <= {f.finding_id for f in findings}
    assert "db-api" in by_service and "further downstream" in by_service["db-api"].reason  # examined, normal
    none = by_service[""]
    assert none.reason == "no change near the onset" and none.evidence == [findings[-1].finding_id]


def test_the_same_findings_in_any_order_give_the_same_result() -> None:
    evidence: list[tuple[str, float, dict[str, Any]]] = [
        ("trace.error_origin", 0.85, {}), ("trace.latency_shift", 0.8, {"own_time_grew": True}),
        ("log.new_pattern", 0.5, {"severity": "ERROR"})]
    # checkout's two callees, with the same evidence
    twins = [finding(kind, leaf, score, **details) for leaf in ("payment", "cart") for kind, score, details in evidence]
    findings = with_ids(slow_leaf()[:1] + twins + slow_leaf()[8:])
    reference = rank(findings, ctx())
    assert [c.service for c in reference.causes[:2]] == ["cart", "payment"]  # a tie: name order
    assert reference.causes[0].score == reference.causes[1].score
    for seed in range(5):
        shuffled = list(findings)
        random.Random(seed).shuffle(shuffled)
        assert rank(shuffled, ctx()) == reference
        assert headline(rank(shuffled, ctx()), ctx()) == headline(reference, ctx())


def test_an_alert_on_a_service_in_the_graph_ends_the_chain_there_and_discounts_what_it_cannot_see() -> None:
    findings = with_ids([*slow_leaf(), finding("trace.error_origin", "catalog", 0.85)])
    result = rank(findings, ctx("checkout"))
    scores = {c.service: c.score for c in result.causes}
    assert result.causes[0].service == "db-api" and scores["catalog"] < scores["db-api"] / 1.5
    chain = result.causes[0].chain
    assert [s.service for s in chain] == ["db-api", "payment", "checkout", "checkout"]
    assert [s.role for s in chain] == ["cause", "propagation", "symptom", "impact"]


def test_without_traces_the_ranking_stands_on_the_evidence_alone() -> None:
    findings = with_ids([f for f in slow_leaf() if f.kind != "trace.topology"]
                        + [finding("metric.anomaly", "db-api", 0.9, metric="cpu_usage")])
    result = rank(findings, ctx())
    assert result.causes[0].service == "db-api"
    chain = result.causes[0].chain
    assert [s.role for s in chain] == ["cause", "symptom", "impact"]
    assert "no call path" in chain[1].statement
    check_chains(result, findings)


def test_confidence_grows_with_the_margin_and_with_corroboration() -> None:
    lone = rank(with_ids([topology(), finding("trace.error_origin", "db-api", 0.7),
                          finding("trace.error_origin", "cart", 0.7)]), ctx()).causes[0]
    clear = rank(with_ids([*slow_leaf(), finding("metric.anomaly", "db-api", 0.9, metric="cpu_usage")]),
                 ctx()).causes[0]
    assert 0.0 <= lone.confidence < clear.confidence <= 1.0
    assert clear.confidence >= 0.5


def test_the_headline_names_the_top_cause_and_the_path_or_says_nothing_was_found() -> None:
    findings = with_ids(slow_leaf())
    result = rank(findings, ctx())
    title, summary = headline(result, ctx())
    assert title.startswith("Likely root cause: db-api") and f"{result.causes[0].confidence:.0%}" in title
    assert "db-api -> payment -> checkout -> gateway -> frontend" in summary and "latency_p90" in summary
    empty = rank(with_ids([topology(), finding("change.none", "", 0.0).model_copy(
        update={"ruled_out": True, "title": "no change near the onset"})]), ctx())
    assert empty.causes == []
    title, summary = headline(empty, ctx())
    assert title == "No root cause found for the alert on frontend" and "no change near the onset" in summary


def test_a_callee_that_only_fails_does_not_explain_its_callers_own_slowness() -> None:
    """Two faults: payment throws (errors, no slowness); checkout, its caller, waits on its own pool (latency and a
    pool error of its own). payment's errors explain checkout's errors, not its two-second waits."""
    pool = finding("log.new_pattern", "checkout", 0.74, template="timeout waiting for connection from pool")
    findings = with_ids([topology(),
                         finding("trace.error_origin", "payment", 0.83), finding("log.new_pattern", "payment", 0.79),
                         finding("metric.anomaly", "checkout", 0.97, metric="latency_p50_ms"), pool,
                         finding("trace.error_shift", "checkout", 0.58)])
    result = rank(findings, ctx())
    assert causes(result)[:2] == ["payment", "checkout"] or causes(result)[:2] == ["checkout", "payment"]
    slow_payment = rank(with_ids([*findings, finding("trace.latency_shift", "payment", 0.8, own_time_grew=True)]),
                        ctx())
    assert causes(slow_payment) == ["payment"]  # a slower callee does explain the wait: checkout is listed last
    assert slow_payment.causes[-1].service == "checkout" and slow_payment.causes[-1].propagation_of == "payment"


def test_every_service_with_an_anomaly_is_in_the_ranking_even_with_no_weight_of_its_own() -> None:
    findings = with_ids([*slow_leaf(), finding("metric.anomaly", "cart", 0.2, metric="node_network_receive_bytes",
                                               host_level=True)])
    ranked = [c.service for c in rank(findings, ctx()).causes]
    assert ranked[0] == "db-api" and "cart" in ranked  # a context finding alone: last, but listed
