"""`autosre demo` and `autosre triage` end to end on the embedded default, with the real specialists."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from demo.generator import FAULT_KINDS, generate
from functions.cli import main
from functions.local import triage
from functions.runtime import embedded
from shared import topics
from shared.incident_state import fold
from shared.store.sqlite import SqliteEventStore
from shared.telemetry.bundle import BundleSource


@pytest.mark.parametrize("fault", FAULT_KINDS)
def test_demo_ranks_the_injected_cause_first(fault: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--fault", fault, "--out", str(tmp_path), "--strict"]) == 0
    out = capsys.readouterr()
    truth = json.loads((tmp_path / fault / "truth.json").read_text())
    assert "CORRECT" in out.out and f"#1 {truth['root_service']}" in out.out
    assert "RANKED CAUSES" in out.out and "cause:" in out.out and "impact:" in out.out
    assert "round 1: dispatching" not in out.err  # progress only on a terminal (tests/test_cli.py checks one)


def test_every_cause_cites_findings_that_exist(tmp_path: Path) -> None:
    s = generate("bad_deploy", tmp_path, seed=2)
    result = triage(s.alert_path.read_bytes(), BundleSource(s.bundle_dir))
    assert result.report.causes[0].service == s.root_service
    for cause in result.report.causes:
        assert cause.evidence and set(cause.evidence) <= set(result.state.findings)
        assert next(step.role for step in cause.chain) == "cause" and cause.chain[-1].role == "impact"
        for step in cause.chain:
            assert set(step.evidence) <= set(result.state.findings)
    deploy = [result.state.findings[f] for f in result.report.causes[0].evidence
              if result.state.findings[f].kind == "change.deploy"]
    assert deploy, "the bad deploy is part of the top cause's evidence"


def test_redelivering_every_message_three_times_changes_no_event_and_no_report(tmp_path: Path) -> None:
    s = generate("pool_exhaustion", tmp_path, seed=4)
    store = SqliteEventStore(str(tmp_path / "events.db"))
    _pipeline, bus = embedded(store, BundleSource(s.bundle_dir))
    bus.publish(topics.ALERTS, s.alert_path.read_bytes())
    bus.drain()
    (summary,) = store.summaries()
    before = store.load(summary["incident_id"])
    report = fold(before).latest_report
    messages = list(bus.published)
    assert {m.topic for m in messages} == {"alerts", "tasks", "findings"}
    replay = messages * 3
    random.Random(7).shuffle(replay)
    for m in replay:
        bus.deliver(m)
    bus.drain()
    after = store.load(summary["incident_id"])
    assert len(after) == len(before) and [e.event_id for e in after] == [e.event_id for e in before]
    assert fold(after).latest_report == report
    assert store.summaries() == [summary]


def test_triage_cli_json_and_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = generate("slow_dependency", tmp_path, seed=1)
    assert main(["triage", "--alert", str(s.alert_path), "--telemetry", str(s.bundle_dir), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["causes"][0]["service"] == s.root_service
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["triage", "--alert", str(bad), "--telemetry", str(s.bundle_dir)]) == 2
    assert "alert rejected" in capsys.readouterr().err
    assert main(["triage", "--alert", str(s.alert_path), "--telemetry", str(tmp_path)]) == 2
    assert "not a telemetry bundle" in capsys.readouterr().err
