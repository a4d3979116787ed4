"""The targeted second round (OODA): an open first ranking is re-examined before any report is published; a
decided one is published at once; redelivery and concurrency never start it twice or publish twice."""

from __future__ import annotations

from agents.context import AnalysisContext, SpecialistResult
from agents.reporting.followup import merged, second_look
from shared.incident_state import fold
from shared.models import Finding, RankedCause
from shared.ports import TelemetrySource
from tests.test_pipeline import alert_bytes, make, redeliver_shuffled, run

KINDS = {"logs": "log.new_pattern", "traces": "trace.error_origin", "metrics": "metric.anomaly",
         "changes": "change.deploy"}


def cause(service: str, score: float) -> RankedCause:
    return RankedCause(rank=1, service=service, kind="metric.anomaly", title="t", score=score, confidence=0.5)


def test_only_an_open_ranking_asks_for_a_second_look_at_its_leaders() -> None:
    assert second_look([]) == () and second_look([cause("a", 0.9)]) == ()
    assert second_look([cause("a", 0.9), cause("b", 0.5)]) == ()  # a clear lead
    open_ = [cause("a", 0.6), cause("b", 0.55), cause("c", 0.5), cause("d", 0.4)]
    assert second_look(open_) == ("a", "b", "c")


def finding(specialist: str, kind: str, service: str, title: str, score: float = 0.5) -> Finding:
    return Finding(specialist=specialist, kind=kind, service=service, title=title, score=score)


def test_a_later_round_replaces_the_earlier_rounds_findings_of_that_kind_about_that_service() -> None:
    first = [finding("logs", "log.flow_break", "a", "old break"), finding("logs", "log.new_pattern", "a", "new"),
             finding("logs", "log.flow_break", "b", "b break"), finding("metrics", "metric.anomaly", "a", "cpu"),
             finding("metrics", "metric.anomaly", "a", "mem")]
    second = [finding("logs", "log.flow_break", "a", "closer break 1"),
              finding("logs", "log.flow_break", "a", "closer break 2")]
    titles = sorted(f.title for f in merged([first, second]))
    assert titles == ["b break", "closer break 1", "closer break 2", "cpu", "mem", "new"]


def open_ranking(name: str) -> object:
    """Round 1: two services equally suspicious. Round 2 (focus set): logs confirm 'payment', refute 'ledger'."""
    def analyse(source: TelemetrySource, ctx: AnalysisContext) -> SpecialistResult:
        if ctx.focus:
            assert ctx.round == 2 and ctx.focus[:2] in (("ledger", "payment"), ("payment", "ledger"))
            return SpecialistResult([Finding(specialist=name, kind="log.flow_break", service="payment",
                                             title="code path broke in payment", score=0.95, onset=ctx.onset)])
        return SpecialistResult([
            Finding(specialist=name, kind=KINDS[name], service=s, title=f"{name} saw {s}", score=0.6,
                    onset=ctx.onset) for s in ("payment", "ledger")])
    return analyse


def test_an_open_ranking_gets_a_targeted_second_round_before_the_report_is_published() -> None:
    pipeline, bus = make(**{n: open_ranking(n) for n in ("logs", "traces", "metrics", "changes")})
    incident_id = run(pipeline, bus, alert_bytes())
    state = fold(pipeline.store.load(incident_id))
    assert sorted(state.rounds) == [1, 2]
    assert state.rounds[1].report is None  # the open ranking was never published
    second = state.rounds[2]
    assert second.specialists == ["logs", "traces", "changes"] and set(second.focus) >= {"payment", "ledger"}
    report = state.latest_report
    assert report is not None and report.round == 2 and not report.partial
    assert report.causes[0].service == "payment"  # confirmed by the closer look
    assert any(state.findings[i].kind == "log.flow_break" for i in report.causes[0].evidence)
    assert any(state.findings[i].specialist == "traces" for i in report.finding_ids)  # round 1's evidence stands
    [(_, _, actor, line)] = [t for t in state.timeline if t[1] == "round.started" and "round 2" in t[3]]
    assert actor == "synthesize" and "closer look at" in line and "open ranking" in line
    tasks = [m.attributes["specialist"] for m in bus.published if m.topic == "tasks"]
    assert sorted(tasks) == ["changes", "changes", "logs", "logs", "metrics", "traces", "traces"]


def test_a_decided_ranking_is_published_from_the_first_round() -> None:
    pipeline, bus = make()  # every specialist names 'payment' alone
    state = fold(pipeline.store.load(run(pipeline, bus, alert_bytes())))
    assert sorted(state.rounds) == [1] and state.latest_report is not None and state.latest_report.round == 1


def test_max_rounds_one_publishes_the_open_ranking_as_it_is() -> None:
    pipeline, bus = make(**{n: open_ranking(n) for n in ("logs", "traces", "metrics", "changes")})
    pipeline.max_rounds = 1
    state = fold(pipeline.store.load(run(pipeline, bus, alert_bytes())))
    assert sorted(state.rounds) == [1] and state.latest_report is not None


def test_redelivered_and_shuffled_messages_start_one_second_round_and_publish_one_report() -> None:
    pipeline, bus = make(**{n: open_ranking(n) for n in ("logs", "traces", "metrics", "changes")})
    incident_id = run(pipeline, bus, alert_bytes())
    before = pipeline.store.load(incident_id)
    redeliver_shuffled(bus, times=3, seed=7)
    after = pipeline.store.load(incident_id)
    assert [e.event_id for e in after] == [e.event_id for e in before]
    assert sum(e.type == "report.published" for e in after) == 1


def test_the_delivery_that_opened_the_second_round_resends_its_tasks_when_redelivered() -> None:
    pipeline, bus = make(**{n: open_ranking(n) for n in ("logs", "traces", "metrics", "changes")})
    lost: list[bytes] = []
    publish = pipeline.bus.publish

    def losing(topic: str, data: bytes, attributes: dict[str, str] | None = None) -> str:
        if topic == "tasks" and b'"round":2' in data.replace(b" ", b"") and not lost:
            lost.append(data)  # the synthesizer dies after opening round 2, before publishing its first task
            raise ConnectionError("publish failed")
        return publish(topic, data, attributes)

    pipeline.bus.publish = losing  # type: ignore[method-assign]
    incident_id = run(pipeline, bus, alert_bytes())  # the bus redelivers the failed findings message
    state = fold(pipeline.store.load(incident_id))
    report = state.latest_report
    assert lost and report is not None and report.round == 2
    assert sorted(state.rounds[2].completed) == ["changes", "logs", "traces"]
    assert sum(e.type == "round.started" for e in pipeline.store.load(incident_id)) == 2


def test_the_number_of_rounds_is_configured_by_environment(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pytest
    from pydantic import ValidationError

    from functions.runtime import from_settings
    from shared.config import Settings

    assert Settings.from_env({}).max_rounds == 2
    deployed = from_settings(Settings.from_env({"AUTOSRE_MAX_ROUNDS": "1",
                                                "AUTOSRE_SQLITE_PATH": str(tmp_path / "a.db")}))
    assert deployed.max_rounds == 1
    assert Settings.from_env({"AUTOSRE_MAX_ROUNDS": "1"}).max_rounds == 1
    with pytest.raises(ValidationError):
        Settings.from_env({"AUTOSRE_MAX_ROUNDS": "5"})
