"""Steering: a responder's hint is an event; the next synthesis replays it as a bounded prior on the ranked
services; a hint never ranks a service without evidence first; a targeted round runs only for a service nothing
examined yet; the report says what the hint changed."""

from __future__ import annotations

from pathlib import Path

from agents.reporting.steering import HINT_PRIOR, steer
from demo.shop import SERVICES
from functions.runtime import bundle_source, embedded
from functions.talk import Talk
from shared.incident_log import IncidentLog
from shared.models import Finding, RankedCause
from shared.steering_events import Hint
from tests.talk_data import copy_of, store_at, triaged

WHO = "oncall@example.com"


def cause(service: str, score: float, rank: int, propagation_of: str = "") -> RankedCause:
    return RankedCause(rank=rank, service=service, kind="metric.anomaly", title=f"{service} is slow", score=score,
                       confidence=0.5, propagation_of=propagation_of)


def hint(service: str, kind: str = "service", text: str = "") -> Hint:
    return Hint(kind=kind, service=service, text=text, by=WHO)  # type: ignore[arg-type]


def test_a_hint_is_a_bounded_prior_on_ranked_services_only() -> None:
    causes = [cause("a", 1.0, 1), cause("b", 0.9, 2), cause("c", 0.5, 3), cause("d", 0.95, 4, propagation_of="a")]
    steered, lines = steer(causes, [hint("b")], [])
    assert [c.service for c in steered] == ["b", "a", "c", "d"]
    assert steered[0].score == 0.9 * (1 + HINT_PRIOR) and "moved from #2 to #1" in lines[0]
    steered, lines = steer(causes, [hint("c"), hint("c"), hint("c")], [])  # hints do not compound
    assert [c.service for c in steered] == ["a", "b", "c", "d"] and steered[2].score == 0.5 * (1 + HINT_PRIOR)
    steered, _ = steer(causes, [hint("d")], [])  # explained by its callee: stays behind the causes of their own
    assert steered[-1].service == "d"
    steered, lines = steer(causes, [hint("zzz")], [])  # no evidence: not ranked at all
    assert steered == causes and "not ranked" in lines[0]
    steered, _ = steer(causes, [hint("a", "noise")], [])
    assert steered[0].service == "b" and steered[1].score == 1.0 * (1 - HINT_PRIOR)


def test_a_change_hint_weighs_on_the_service_of_the_change_it_names() -> None:
    change = Finding(finding_id="f-0a0a0a0a", specialist="changes", kind="change.deploy", service="b",
                     title="deploy on b: image v1.2 -> v1.3")
    steered, lines = steer([cause("a", 1.0, 1), cause("b", 0.85, 2)], [hint("", "change", "v1.3")], [change])
    assert steered[0].service == "b" and "b moved from #2 to #1" in lines[0]


def talk_over(tmp_path: Path, fault: str) -> tuple[Talk, str]:
    t, db = copy_of(fault, tmp_path)
    store = store_at(db)
    pipeline, bus = embedded(store, bundle_source(t.scenario.bundle_dir))
    return Talk(store, pipeline, bus.drain), t.incident_id


def test_a_hint_naming_the_true_cause_moves_it_up_where_it_was_second(tmp_path: Path) -> None:
    talk, incident_id = talk_over(tmp_path, "dual_fault")
    state = talk.state(incident_id)
    report = state.latest_report
    assert report is not None
    second = report.causes[1].service
    assert second in triaged("dual_fault").scenario.root_services  # the demo's second true cause, ranked second
    out = talk.add_hint(incident_id, WHO, "service", second)
    assert out["before"][1] == second and out["after"][0] == second and not out["examined"]
    after = talk.state(incident_id)
    assert after.latest_report is not None and after.latest_report.causes[0].service == second
    assert any("moved from #2 to #1" in line for line in after.latest_report.steering)
    assert after.hints[0].service == second
    assert after.rounds[out["round"]].specialists == []  # examined already: re-ranked without new reads
    again = talk.add_hint(incident_id, WHO, "service", second)  # the same word again records nothing more
    assert again["recorded"] is False and max(talk.state(incident_id).rounds) == out["round"]


def test_a_hint_naming_a_healthy_service_does_not_put_it_first(tmp_path: Path) -> None:
    talk, incident_id = talk_over(tmp_path, "dual_fault")
    state = talk.state(incident_id)
    report = state.latest_report
    assert report is not None
    top = report.causes[0].service
    ranked = {c.service for c in report.causes}
    ruled = next(r.service for r in report.ruled_out if r.service and r.service not in ranked)
    out = talk.add_hint(incident_id, WHO, "service", ruled)  # examined and ruled out: no new reads
    assert out["after"][0] == top and ruled not in out["after"] and not out["examined"]
    assert any("not ranked" in line for line in out["steering"])
    seen = {f.service for f in state.findings.values()} | {r.service for r in report.ruled_out}
    unseen = sorted(set(SERVICES) - seen)[0]  # a service nothing looked at closely: a targeted round
    out = talk.add_hint(incident_id, WHO, "service", unseen)
    assert out["examined"] == [unseen] and out["after"][0] == top and not out["pending"]
    rnd = talk.state(incident_id).rounds[out["round"]]
    assert rnd.focus == [unseen] and rnd.specialists and not rnd.missing


def test_without_telemetry_a_hint_still_re_ranks_and_says_what_it_could_not_examine(tmp_path: Path) -> None:
    t, db = copy_of("dual_fault", tmp_path)
    talk = Talk(store_at(db))
    state = IncidentLog(store_at(db)).read(t.incident_id)
    assert state is not None and state.latest_report is not None
    second = state.latest_report.causes[1].service
    out = talk.add_hint(t.incident_id, WHO, "service", second)
    assert out["after"][0] == second
    out = talk.add_hint(t.incident_id, WHO, "service", "a-service-nobody-runs")
    assert out["examined"] == [] and out["not_examined"] == ["a-service-nobody-runs"]
    assert any("no telemetry here" in line for _, _, _, line in talk.state(t.incident_id).timeline)
