"""Memory of past incidents: signatures and their similarity (agents/reporting/similarity.py), the store lookup and the
"remember" step (functions/memory.py), and where the similar incidents show (report, text, web, JSON)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agents.remediation.policy import Policy
from agents.reporting.similarity import MIN_SIMILARITY, rank, shared_terms, signature, similarity, weight
from demo.generator import Scenario, generate
from functions.handlers.web import create_app
from functions.local import TriageResult, triage
from functions.memory import describe, recall
from functions.remediation import Remediation
from functions.report_text import render_report
from functions.runtime import embedded, make_runner
from shared import topics
from shared.config import Settings
from shared.incident_state import fold
from shared.models import ChainStep, Finding, RankedCause, Report, SimilarIncident
from shared.store.sqlite import SqliteEventStore
from shared.telemetry.bundle import BundleSource, BundleWriter
from shared.telemetry_records import MetricSeries

DRY_RUN = make_runner(Settings())  # the default executor: records the plan, changes nothing

APPROVER = "alice@example.com"


def finding(fid: str, kind: Any, service: str, score: float = 0.8, ruled_out: bool = False,
            **details: Any) -> Finding:
    return Finding(finding_id=fid, specialist=kind.split(".")[0], kind=kind, service=service, title=f"{kind} {fid}",
                   score=score, ruled_out=ruled_out, details=details)


FINDINGS = {f.finding_id: f for f in [
    finding("f1", "change.deploy", "cart", change_kind="deploy"),
    finding("f2", "log.new_pattern", "cart", template="panic recovered in <*>: nil pointer dereference"),
    finding("f3", "metric.anomaly", "cart", metric="custom.googleapis.com/shop/error_count", direction="up"),
    finding("f4", "change.config", "ads", score=0.05, change_kind="config"),  # too weak to say anything
    finding("f5", "trace.latency_shift", "redis", ruled_out=True),  # ruled out: not part of what happened
    finding("f6", "log.none", "frontend"),
]}


def report(incident: str = "now", kind: Any = "change.deploy", service: str = "cart",
           ids: tuple[str, ...] = tuple(FINDINGS)) -> Report:
    chain = [ChainStep(role="cause", service=service, statement="x"),
             ChainStep(role="impact", service="frontend", statement="y")]
    return Report(incident_id=incident, headline="h", summary="s", finding_ids=list(ids),
                  causes=[RankedCause(rank=1, service=service, kind=kind, title="t", score=0.9, confidence=0.9,
                                      chain=chain)])


def test_a_signature_says_what_went_wrong_and_where() -> None:
    terms = signature(report(), FINDINGS, "custom.googleapis.com/shop/latency_p95_ms")
    assert terms == sorted(terms)
    for term in ("cause:change.deploy", "root:cart", "chain:cause>impact", "change:deploy", "kind:log.new_pattern",
                 "metric:error_count:up", "logword:panic", "logword:pointer", "svc:cart", "alert:latency_p95_ms"):
        assert term in terms, term
    assert any(t.startswith("pattern:") for t in terms)
    assert "change:config" not in terms and "svc:ads" not in terms  # a weak finding adds nothing
    assert "svc:redis" not in terms and "kind:trace.latency_shift" not in terms  # nor a ruled-out one
    assert "kind:log.none" not in terms


def test_similarity_is_a_weighted_jaccard_index() -> None:
    a = ["cause:change.deploy", "svc:cart", "logword:panic"]
    assert similarity(a, a) == 1.0 and similarity(a, ["kind:x"]) == 0.0 and similarity([], []) == 0.0
    assert similarity(a, ["cause:change.deploy"]) == pytest.approx(3.0 / (3.0 + 0.25 + 0.5))
    # the same fault elsewhere is more alike than another fault on the same service
    same_fault_elsewhere = ["cause:change.deploy", "svc:ads", "logword:panic"]
    other_fault_here = ["cause:metric.anomaly", "svc:cart", "logword:panic"]
    assert similarity(a, same_fault_elsewhere) > similarity(a, other_fault_here)
    assert weight("cause:x") > weight("svc:x") and weight("unknown:x") == 1.0
    assert shared_terms(a, same_fault_elsewhere) == ["cause:change.deploy", "logword:panic"]


def test_rank_never_lists_the_incident_itself_nor_the_unalike() -> None:
    query = ["cause:change.deploy", "change:deploy", "svc:cart"]
    candidates = {"now": query, "b": query, "a": query, "far": ["svc:cart", "kind:x", "kind:y", "kind:z"],
                  "mid": ["cause:change.deploy", "svc:cart"]}
    ranked = rank(query, candidates, exclude="now", limit=3)
    assert [cid for cid, _ in ranked] == ["a", "b", "mid"]  # ties by id; "now" is the incident itself
    assert all(score >= MIN_SIMILARITY for _, score in ranked)
    assert "far" not in dict(rank(query, candidates, exclude="now", limit=10))


def test_recall_reads_the_index_not_every_incident() -> None:
    store = SqliteEventStore(":memory:")
    mine = signature(report(), FINDINGS)
    store.index_terms("now", mine)  # its own earlier report: never listed
    store.index_terms("past-1", mine)
    store.index_terms("past-2", [t for t in mine if not t.startswith("cause:")])
    store.index_terms("other", ["cause:metric.anomaly", "svc:db"])
    listed = recall(store, report(), FINDINGS, limit=3)
    assert [s.incident_id for s in listed] == ["past-1", "past-2"]
    assert listed[0].similarity == 1.0 and listed[0].root_cause == ""  # no events stored for it: only the match
    assert "cause:change.deploy" in listed[0].shared
    assert recall(store, report(), FINDINGS, limit=0) == []


# ------------------------------------------------------------------ through the real pipeline


def resolve(store: SqliteEventStore, scenario: Scenario) -> None:
    doc = json.loads(scenario.alert_path.read_text())
    doc["incident"].update({"state": "closed", "ended_at": int(scenario.onset) + 1800})
    _, bus = embedded(store, BundleSource(scenario.bundle_dir))
    bus.publish(topics.ALERTS, json.dumps(doc).encode())
    bus.drain()


def fix_and_verify(store: SqliteEventStore, result: TriageResult, scenario: Scenario, tmp_path: Path) -> str:
    """Approve and run the rollback of the top cause, then verify recovery on an SLI that came back."""
    r = Remediation(store=store, runner=DRY_RUN, key=b"k" * 32, policy=Policy({"*": ["rollback_cloud_run"]}),
                    approvers=frozenset({APPROVER}), clock=lambda: scenario.onset + 600)
    state = fold(store.load(result.incident_id))
    pid = next(p for p, x in state.proposals.items() if x.action == "rollback_cloud_run")
    r.decide(r.link_token(result.incident_id, pid), "approve", APPROVER)
    r.execute(result.incident_id, pid)
    alert = state.first_alert
    assert alert is not None
    with BundleWriter(tmp_path / "after", {}) as w:
        w.series(MetricSeries(alert.metric_type, alert.service,
                              tuple((scenario.onset + 600 + 60 * (i + 1), v) for i, v in enumerate([9.0, 2, 1, 1]))))
    return r.verify_recovery(BundleSource(tmp_path / "after"), result.incident_id, pid, threshold=5.0)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[SqliteEventStore, dict[str, TriageResult]]:
    tmp = tmp_path_factory.mktemp("history")
    store = SqliteEventStore(str(tmp / "events.db"))
    results: dict[str, TriageResult] = {}
    for name, kind, seed in (("deploy-0", "bad_deploy", 0), ("cpu-0", "cpu_saturation", 0),
                             ("deploy-1", "bad_deploy", 1)):
        scenario = generate(kind, tmp / name, seed=seed)
        results[name] = triage(scenario.alert_path.read_bytes(), BundleSource(scenario.bundle_dir), store=store)
        if name == "deploy-0":
            assert fix_and_verify(store, results[name], scenario, tmp).startswith("recovered")
        if name != "deploy-1":
            resolve(store, scenario)
    return store, results


def test_a_new_report_lists_the_most_similar_past_incident_and_what_became_of_it(
        history: tuple[SqliteEventStore, dict[str, TriageResult]]) -> None:
    store, results = history
    new = results["deploy-1"]
    assert results["deploy-0"].report.similar == []  # nothing was remembered before it
    listed = new.report.similar
    assert 1 <= len(listed) <= 3 and new.incident_id not in {s.incident_id for s in listed}
    top = listed[0]
    assert top.incident_id == results["deploy-0"].incident_id  # the same fault kind, another seed
    assert top.root_cause.startswith(results["deploy-0"].report.causes[0].service)
    assert any(a.startswith("Roll back to the previous revision on ") and ": executed" in a for a in top.actions)
    assert top.worked is True and top.verdict.startswith("recovered")
    state = fold(store.load(new.incident_id))
    assert state.latest_report is not None and state.latest_report.similar == listed  # recorded with the report
    assert any(step.endswith(":remember") for step in state.report_round.steps_done)  # type: ignore[union-attr]
    assert store.indexed_terms([new.incident_id])[new.incident_id]  # remembered for the next one


def test_the_similar_incidents_show_in_the_text_the_json_and_the_web(
        history: tuple[SqliteEventStore, dict[str, TriageResult]]) -> None:
    store, results = history
    new = results["deploy-1"]
    past = results["deploy-0"].incident_id
    text = render_report(new.state, new.report)
    assert "SIMILAR PAST INCIDENTS" in text and past in text.split("SIMILAR PAST INCIDENTS")[1]
    assert "worked: yes" in text
    client = create_app(store).test_client()
    page = client.get(f"/incidents/{new.incident_id}").get_data(as_text=True)
    assert "Similar past incidents" in page and f"href='/incidents/{past}'" in page
    api = client.get(f"/api/incidents/{new.incident_id}").get_json()
    assert api["report"]["similar"][0]["incident_id"] == past


def test_a_failing_lookup_never_costs_the_report(tmp_path: Path) -> None:
    class NoIndex(SqliteEventStore):
        def incidents_with_terms(self, terms: Any, limit: int) -> dict[str, int]:
            raise RuntimeError("index down")

    scenario = generate("slow_dependency", tmp_path / "s", seed=2)
    result = triage(scenario.alert_path.read_bytes(), BundleSource(scenario.bundle_dir), store=NoIndex(":memory:"))
    assert result.report.causes and result.report.similar == []


def test_hostile_text_in_a_similar_incident_is_escaped_on_the_web() -> None:
    from functions.web_report import similar_html

    hostile = SimilarIncident(incident_id="x'><script>1</script>", similarity=0.5,
                              root_cause="<img src=x onerror=alert(1)>", actions=["<b>bold</b>"],
                              shared=["logword:<script>"])
    html = similar_html(Report(incident_id="i", headline="h", summary="s", similar=[hostile]))
    assert "<script>" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_describe_says_what_was_done_and_whether_it_worked() -> None:
    assert describe("gone", 0.4, None, []).model_dump() == SimilarIncident(incident_id="gone",
                                                                           similarity=0.4).model_dump()
