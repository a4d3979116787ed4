"""Closing the loop, embedded end to end: a demo fault is reported, its action approved and run (dry run), the sweep
checks the alerting SLI once the check window has passed and records the verdict with its numbers; the next
similar incident's report says the action worked. An action after which the SLI stays bad re-opens the
investigation with the action among the changes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agents.remediation.policy import Policy
from demo.generator import AFTER_S, Scenario, generate
from functions.handlers.sweep import sweep_all
from functions.local import TriageResult, triage
from functions.remediation import Remediation
from functions.runtime import embedded, make_runner
from shared.config import Settings
from shared.incident_state import IncidentState, fold
from shared.ports import EventStore
from shared.store.sqlite import SqliteEventStore
from shared.telemetry.bundle import BundleSource

APPROVER = "alice@example.com"
CHECK_S = 900.0  # the default check window
LATER_S = 300.0  # the action is approved and run this long after the alert


class Channel:
    """A notifier that keeps what it was sent."""

    channel = "test-chat"

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, text: str) -> tuple[bool, str]:
        self.sent.append(text)
        return True, "delivered"


def act(store: EventStore, result: TriageResult) -> tuple[str, float]:
    """Approve and run (dry run) the rollback the report proposes; returns the proposal and when it ran."""
    alert = result.state.first_alert
    assert alert is not None and alert.started_at is not None
    at = alert.started_at + LATER_S
    r = Remediation(store=store, runner=make_runner(Settings()), key=b"k" * 32,
                    policy=Policy({"*": ["rollback_cloud_run"]}), approvers=frozenset({APPROVER}), clock=lambda: at)
    state = fold(store.load(result.incident_id))
    pid = next(p for p, x in state.proposals.items() if x.action == "rollback_cloud_run")
    r.decide_and_deliver(r.link_token(result.incident_id, pid), "approve", APPROVER)
    return pid, at


def sweep_at(store: EventStore, scenario: Scenario, now: float, channel: Channel | None = None
             ) -> dict[str, list[str]]:
    pipeline, bus = embedded(store, BundleSource(scenario.bundle_dir), clock=lambda: now, notifier=channel)
    out = sweep_all(pipeline, None)
    bus.drain()  # a re-opened round's specialists run and its report is published
    return out


def scenario_for(tmp: Path, name: str, seed: int, fixed: bool) -> Scenario:
    """The bad deploy, the bundle running on 45 min past the onset; `fixed`: the fault stops soon after the
    action (as when the rollback worked)."""
    probe = generate("bad_deploy", tmp / f"{name}-probe", seed=seed)
    alert_at = float(json.loads(probe.alert_path.read_text())["incident"]["started_at"])
    return generate("bad_deploy", tmp / name, seed=seed, after_s=AFTER_S + 1800,
                    fault_ends_at=alert_at + LATER_S + 30 if fixed else None)


@pytest.fixture(scope="module")
def recovered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("recovered")
    store = SqliteEventStore(str(tmp / "events.db"))
    scenario = scenario_for(tmp, "deploy-0", 0, fixed=True)
    result = triage(scenario.alert_path.read_bytes(), BundleSource(scenario.bundle_dir), store=store)
    pid, at = act(store, result)
    channel = Channel()
    early = sweep_at(store, scenario, at + CHECK_S - 60, channel)
    swept = sweep_at(store, scenario, at + CHECK_S + 60, channel)
    again = sweep_at(store, scenario, at + CHECK_S + 360, channel)
    return {"store": store, "scenario": scenario, "result": result, "pid": pid, "channel": channel,
            "early": early, "swept": swept, "again": again, "tmp": tmp}


def state_of(store: EventStore, incident_id: str) -> IncidentState:
    return fold(store.load(incident_id))


def test_the_sweep_checks_recovery_once_the_window_has_passed(recovered: dict[str, Any]) -> None:
    store, incident_id, pid = recovered["store"], recovered["result"].incident_id, recovered["pid"]
    assert recovered["early"]["recovery_checked"] == []  # not yet: the window after the action is still running
    assert recovered["swept"]["recovery_checked"] == [f"{incident_id}/{pid}: recovered"]
    assert recovered["again"]["recovery_checked"] == []  # checked once
    state = state_of(store, incident_id)
    verified = state.verified[pid]
    assert verified.outcome == "recovered" and verified.verdict.startswith("recovered")
    e = verified.evidence
    assert e is not None and e.dry_run and e.points_after >= 3 and e.threshold is not None
    assert e.incident_mean is not None and e.baseline_mean is not None and e.incident_mean > e.baseline_mean
    assert e.line is not None and e.line_from and all(v <= e.line for v in e.after_last)
    assert state.executions[pid].verification == verified.verdict
    assert len(state.rounds) == 1  # a recovered action re-opens nothing


def test_the_channel_is_told_of_the_verdict_once(recovered: dict[str, Any]) -> None:
    (text,) = [t for t in recovered["channel"].sent if "Recovery check" in t]
    assert "Recovery check" in text and "recovered" in text and recovered["result"].incident_id in text


def resolve(store: EventStore, scenario: Scenario, at: float) -> None:
    from shared import topics

    doc = json.loads(scenario.alert_path.read_text())
    doc["incident"].update({"state": "closed", "ended_at": int(at)})
    _, bus = embedded(store, BundleSource(scenario.bundle_dir))
    bus.publish(topics.ALERTS, json.dumps(doc).encode())
    bus.drain()


def test_the_next_similar_incident_says_the_action_worked(recovered: dict[str, Any]) -> None:
    store, tmp = recovered["store"], recovered["tmp"]
    resolve(store, recovered["scenario"], recovered["scenario"].onset + 3600)
    nxt = generate("bad_deploy", tmp / "deploy-1", seed=1)
    result = triage(nxt.alert_path.read_bytes(), BundleSource(nxt.bundle_dir), store=store)
    top = result.report.similar[0]
    assert top.incident_id == recovered["result"].incident_id
    assert top.worked is True and top.verdict.startswith("recovered")


def test_the_page_and_the_text_report_show_the_verdict_and_its_numbers(recovered: dict[str, Any]) -> None:
    from functions.handlers.web import create_app
    from functions.report_text import render_report

    store, incident_id = recovered["store"], recovered["result"].incident_id
    state = state_of(store, incident_id)
    assert state.latest_report is not None
    text = render_report(state, state.latest_report)
    assert "RECOVERY CHECK" in text and "recovered" in text.split("RECOVERY CHECK")[1]
    page = create_app(store).test_client().get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "Recovery check" in page and "baseline mean" in page


def test_an_action_that_did_not_recover_reopens_the_investigation(tmp_path: Path) -> None:
    store = SqliteEventStore(str(tmp_path / "events.db"))
    scenario = scenario_for(tmp_path, "stuck", 0, fixed=False)
    result = triage(scenario.alert_path.read_bytes(), BundleSource(scenario.bundle_dir), store=store)
    pid, at = act(store, result)
    first = len(state_of(store, result.incident_id).rounds)
    swept = sweep_at(store, scenario, at + CHECK_S + 60)
    assert swept["recovery_checked"] == [f"{result.incident_id}/{pid}: not_recovered"]
    state = state_of(store, result.incident_id)
    assert state.verified[pid].outcome == "not_recovered"
    reopened = state.rounds[max(state.rounds)]
    assert max(state.rounds) == first + 1 and reopened.fresh
    assert any("did not recover" in line for _, _, _, line in state.timeline)
    assert reopened.window.end >= at + CHECK_S  # it reads up to the end of the check
    assert reopened.report is not None  # its specialists ran and its report was published
    action = [f for fid in reopened.report.finding_ids if (f := state.findings[fid]).specialist == "changes"
              and "by Auto SRE" in f.title]
    assert action and action[0].service == state.proposals[pid].service  # the action is one more change
    again = sweep_at(store, scenario, at + CHECK_S + 400)
    assert again["recovery_checked"] == [] and len(state_of(store, result.incident_id).rounds) == len(state.rounds)


def test_concurrent_sweeps_judge_an_action_once(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    store = SqliteEventStore(str(tmp_path / "events.db"))
    scenario = scenario_for(tmp_path, "race", 2, fixed=True)
    result = triage(scenario.alert_path.read_bytes(), BundleSource(scenario.bundle_dir), store=store)
    pid, at = act(store, result)
    channel = Channel()
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda _: sweep_at(store, scenario, at + CHECK_S + 60, channel), range(4)))
    assert sum(len(o["recovery_checked"]) for o in outs) == 1
    assert len([t for t in channel.sent if "Recovery check" in t]) == 1  # told once
    state = state_of(store, result.incident_id)
    assert pid in state.verified and state.verified[pid].outcome in ("recovered", "inconclusive")
