"""The pipeline's mechanics on the embedded default: fan-out, idempotence, failures, deadlines, poison input.

The analysis itself is tested per specialist; here the specialists are small deterministic functions so that
each test can control what they do (fail, hang back, report).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from agents.context import AnalysisContext, SpecialistResult
from functions.pipeline import Pipeline
from functions.runtime import embedded
from shared import events as ev
from shared import topics
from shared.bus.inprocess import InProcessBus
from shared.events import DEAD_LETTER_STREAM
from shared.incident_state import fold
from shared.models import Finding
from shared.ports import TelemetrySource
from shared.store.sqlite import SqliteEventStore

ALERT = {
    "incident": {
        "incident_id": "0.mon-1", "policy_name": "Frontend 5xx", "condition_name": "error ratio > 1%",
        "state": "open", "started_at": 1_768_471_320,
        "resource": {"type": "cloud_run_revision", "labels": {"service_name": "frontend", "project_id": "p"}},
        "metric": {"type": "run.googleapis.com/request_count"}, "summary": "errors up",
    },
    "version": "1.2",
}


def alert_bytes(**changes: object) -> bytes:
    payload = json.loads(json.dumps(ALERT))
    payload["incident"].update(changes)
    return json.dumps(payload).encode()


def specialist(name: str, service: str = "payment") -> object:
    def analyse(source: TelemetrySource, ctx: AnalysisContext) -> SpecialistResult:
        return SpecialistResult(findings=[Finding(
            specialist=name, kind={"logs": "log.new_pattern", "traces": "trace.error_origin",
                                   "metrics": "metric.anomaly", "changes": "change.deploy"}[name],
            service=service, title=f"{name} saw {service}", score=0.9, onset=ctx.onset,
        )], notes=[])
    return analyse


def failing(source: TelemetrySource, ctx: AnalysisContext) -> SpecialistResult:
    raise RuntimeError("telemetry backend unavailable")


class NoTelemetry:
    log_counter = None  # no pre-aggregation capability (the port's attribute)

    def describe(self) -> dict[str, str]:
        return {"source": "none"}


def make(store: SqliteEventStore | None = None, **overrides: object) -> tuple[Pipeline, InProcessBus]:
    pipeline, bus = embedded(store or SqliteEventStore(), NoTelemetry())  # type: ignore[arg-type]
    for name in pipeline.specialists:
        pipeline._loaded[name] = overrides.get(name, specialist(name))  # type: ignore[assignment]
    return pipeline, bus


def run(pipeline: Pipeline, bus, payload: bytes) -> str:
    bus.publish(topics.ALERTS, payload)
    bus.drain()
    incident_ids = [s["incident_id"] for s in pipeline.store.summaries() if s["incident_id"] != DEAD_LETTER_STREAM]
    assert len(incident_ids) == 1
    return incident_ids[0]


def redeliver_shuffled(bus: InProcessBus, times: int, seed: int) -> None:
    """Deliver every message published so far `times` more times, in a shuffled order, and drain."""
    for message in list(bus.published) * times:
        bus.deliver(message)
    shuffled = list(bus._queue)
    random.Random(seed).shuffle(shuffled)
    bus._queue.clear()
    bus._queue.extend(shuffled)
    bus.drain()


def test_alert_in_report_out() -> None:
    pipeline, bus = make()
    incident_id = run(pipeline, bus, alert_bytes())
    state = fold(pipeline.store.load(incident_id))
    assert state.status == "open"
    rnd = state.rounds[1]
    assert sorted(rnd.completed) == ["changes", "logs", "metrics", "traces"]
    report = state.latest_report
    assert report is not None and not report.partial
    assert report.causes and report.causes[0].service == "payment"
    assert set(report.finding_ids) == set(state.findings)
    # tasks were published once per specialist, with the attribute the subscriptions filter on
    tasks = [m for m in bus.published if m.topic == "tasks"]
    assert sorted(m.attributes["specialist"] for m in tasks) == ["changes", "logs", "metrics", "traces"]


def test_redelivering_every_message_three_times_changes_nothing() -> None:
    pipeline, bus = make()
    incident_id = run(pipeline, bus, alert_bytes())
    before = pipeline.store.load(incident_id)
    report_before = fold(before).latest_report
    redeliver_shuffled(bus, times=3, seed=1)
    after = pipeline.store.load(incident_id)
    assert [e.event_id for e in after] == [e.event_id for e in before]
    assert fold(after).latest_report == report_before


def test_second_alert_of_same_policy_joins_and_close_resolves() -> None:
    pipeline, bus = make()
    incident_id = run(pipeline, bus, alert_bytes())
    bus.publish(topics.ALERTS, alert_bytes(incident_id="0.mon-2"))
    bus.drain()
    state = fold(pipeline.store.load(incident_id))
    assert set(state.alerts) == {"0.mon-1", "0.mon-2"}
    assert len(state.rounds) == 1  # the second alert joins; it opens no new investigation
    for mon in ("0.mon-1", "0.mon-2"):
        bus.publish(topics.ALERTS, alert_bytes(incident_id=mon, state="closed", ended_at=1_768_471_920))
        bus.drain()
    state = fold(pipeline.store.load(incident_id))
    assert state.status == "resolved"
    # after resolution the next Monitoring incident of the same policy opens a new incident
    bus.publish(topics.ALERTS, alert_bytes(incident_id="0.mon-3"))
    bus.drain()
    ids = {s["incident_id"] for s in pipeline.store.summaries()}
    assert len(ids) == 2


def test_failed_specialist_is_recorded_and_named_in_the_report() -> None:
    pipeline, bus = make(traces=failing)
    incident_id = run(pipeline, bus, alert_bytes())
    state = fold(pipeline.store.load(incident_id))
    report = state.latest_report
    assert report is not None
    assert "traces" in report.failed_specialists
    assert "telemetry backend unavailable" in report.failed_specialists["traces"]
    assert bus.dead_letters == []  # recorded, not retried forever


def test_deadline_sweep_publishes_partial_report_naming_missing() -> None:
    clock = [1000.0]
    pipeline, bus = make()
    pipeline.clock = lambda: clock[0]
    pipeline.specialists = ("logs", "traces", "metrics", "changes")
    # deliver the alert but hold back the traces task: the specialist never answers
    bus.publish(topics.ALERTS, alert_bytes())
    held = []
    while bus._queue:
        sub, message = bus._queue.popleft()
        if message.topic == "tasks" and message.attributes.get("specialist") == "traces":
            held.append((sub, message))
            continue
        bus._run(sub, message)
    incident_id = next(s["incident_id"] for s in pipeline.store.summaries())
    assert fold(pipeline.store.load(incident_id)).latest_report is None
    assert pipeline.sweep(now=1000.0 + 10) == []  # not yet past the deadline
    assert pipeline.sweep(now=1000.0 + pipeline.round_deadline_s + 1) == [incident_id]
    report = fold(pipeline.store.load(incident_id)).latest_report
    assert report is not None and report.partial and report.missing_specialists == ["traces"]
    # the late specialist then answers: the complete report supersedes the partial one
    for sub, message in held:
        bus._run(sub, message)
    bus.drain()
    report = fold(pipeline.store.load(incident_id)).latest_report
    assert report is not None and not report.partial


@pytest.mark.parametrize("payload", [b"{not json", b"[]", b'{"incident": []}', b"x" * 2_000_000])
def test_malformed_alert_is_recorded_and_dead_lettered_once(payload: bytes) -> None:
    pipeline, bus = make()
    for _ in range(3):  # redelivered: recorded once, dead-lettered once, never retried
        bus.publish(topics.ALERTS, payload)
        bus.drain()
    rejected = pipeline.store.load(DEAD_LETTER_STREAM)
    assert len(rejected) == 1 and rejected[0].type == ev.ALERT_REJECTED
    assert rejected[0].data["reason"]
    assert len([m for m in bus.published if m.topic == topics.DEAD_LETTER]) == 1
    assert bus.dead_letters == []


def test_closed_alert_alone_opens_no_investigation(tmp_path: Path) -> None:
    pipeline, bus = make(SqliteEventStore(str(tmp_path / "e.db")))
    incident_id = run(pipeline, bus, alert_bytes(state="closed", ended_at=1_768_471_920))
    state = fold(pipeline.store.load(incident_id))
    assert state.status == "resolved" and not state.rounds
