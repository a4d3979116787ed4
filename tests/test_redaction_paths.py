"""Every path that records something passes the redaction boundary, the odd ones too: a rejected alert's raw bytes
and attributes (kept in the dead-letter stream for people to read), and a specialist's notes and failure."""

from __future__ import annotations

import base64
import json

from shared import topics
from shared.events import DEAD_LETTER_STREAM
from shared.ports import Message

TOKEN = "ghp_" + "Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6J7k8"
PASSWORD = "Tr0ub4dor-9xQ"


def test_a_rejected_alerts_bytes_and_attributes_are_recorded_masked() -> None:
    from tests.test_pipeline import make

    pipeline, bus = make()
    poison = f'{{"incident": {{"summary": "db password={PASSWORD} token {TOKEN}", "state": '.encode()
    pipeline.on_alert(Message(data=poison, attributes={"x-auth-token": TOKEN, "note": f"Bearer {TOKEN}"},
                              topic=topics.ALERTS))
    (event,) = pipeline.store.load(DEAD_LETTER_STREAM)
    recorded = json.dumps(event.data) + base64.b64decode(event.data["excerpt_b64"]).decode("utf-8", "replace")
    assert TOKEN not in recorded and PASSWORD not in recorded, recorded
    assert event.data["size"] == len(poison)  # what was received is still described: its size and digest
    archived = [m for m in bus.published if m.topic == topics.DEAD_LETTER]
    assert archived[0].data == poison  # the archive keeps the bytes for replay; the record is what people read


def test_a_specialists_notes_and_failure_are_recorded_masked() -> None:
    from agents.context import AnalysisContext, SpecialistResult
    from shared.incident_state import fold
    from shared.ports import TelemetrySource
    from tests.test_pipeline import ALERT, make

    pipeline, bus = make()

    def noting(source: TelemetrySource, ctx: AnalysisContext) -> SpecialistResult:
        return SpecialistResult(findings=[], notes=[f"logs.jsonl: 1 corrupt line skipped (first: logs.jsonl:7: "
                                                    f"not a timestamp: 'Bearer {TOKEN}')"])

    def failing(source: TelemetrySource, ctx: AnalysisContext) -> SpecialistResult:
        raise RuntimeError(f"connect postgres://app:{PASSWORD}@db:5432/x refused")

    names = list(pipeline.specialists)
    pipeline._loaded[names[0]] = noting
    for name in names[1:]:
        pipeline._loaded[name] = failing
    bus.publish(topics.ALERTS, json.dumps(ALERT).encode())
    bus.drain()
    (summary,) = pipeline.store.summaries()
    recorded = json.dumps([e.data for e in pipeline.store.load(summary["incident_id"])])
    assert TOKEN not in recorded and PASSWORD not in recorded
    state = fold(pipeline.store.load(summary["incident_id"]))
    assert state.incident_id and "corrupt line skipped" in recorded


def test_a_responders_free_text_is_recorded_masked(tmp_path: object) -> None:
    """Feedback is typed by people, who paste log lines: the cause they name and their note pass the boundary."""
    from pathlib import Path

    from demo.generator import generate
    from functions.feedback import on_action, on_cause
    from functions.local import triage
    from shared.incident_state import fold
    from shared.store.sqlite import SqliteEventStore
    from shared.telemetry.bundle import BundleSource
    from tests.test_feedback import ALICE, BOB, remediation

    assert isinstance(tmp_path, Path)
    scenario = generate("bad_deploy", tmp_path / "demo", seed=3)
    store = SqliteEventStore(str(tmp_path / "events.db"))
    incident_id = triage(scenario.alert_path.read_bytes(), BundleSource(scenario.bundle_dir), store=store).incident_id
    assert on_cause(store, incident_id, BOB, "rejected", "payments-db", f"disk full; DB_PASS={PASSWORD} in env")
    r = remediation(store)
    pid = next(p for p, x in fold(store.load(incident_id)).proposals.items() if x.action == "rollback_cloud_run")
    r.decide_and_deliver(r.link_token(incident_id, pid), "approve", ALICE)
    assert on_action(store, incident_id, BOB, pid, True, f"helped; used Authorization: Bearer {TOKEN}")
    recorded = json.dumps([e.data for e in store.load(incident_id)])
    assert TOKEN not in recorded and PASSWORD not in recorded
    assert "payments-db" in recorded and "disk full" in recorded
