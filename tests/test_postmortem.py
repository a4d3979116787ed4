"""The postmortem draft (agents/reporting/postmortem.py): rendered from the folded event log, deterministic, inert
Markdown; served by the web view as a download and printed by `autosre postmortem`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agents.reporting.postmortem import md, render
from demo.generator import Scenario, generate
from functions.handlers.web import create_app
from functions.local import triage
from functions.web_security import SECURITY_HEADERS
from shared.core_models import Alert
from shared.finding_details import ChangeDetails
from shared.incident_log import IncidentLog
from shared.incident_state import IncidentState, RoundState, fold
from shared.lifecycle_events import RoundWindow
from shared.models import Finding, RankedCause, Report
from shared.store.sqlite import SqliteEventStore
from shared.telemetry.bundle import BundleSource
from shared.timefmt import utc_text
from tests.test_cli import run
from tests.test_similarity import fix_and_verify


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return generate("bad_deploy", tmp_path_factory.mktemp("pm"), seed=3)


@pytest.fixture(scope="module")
def fixed(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A triaged incident whose rollback was approved, run and verified: the whole story in one event log."""
    db = tmp_path_factory.mktemp("db") / "events.db"
    store = SqliteEventStore(str(db))
    result = triage(scenario.alert_path.read_bytes(), BundleSource(scenario.bundle_dir), store=store)
    assert fix_and_verify(store, result, scenario, db.parent).startswith("recovered")
    store.close()
    return db, result.incident_id


def scenario_roots(state: IncidentState) -> set[str]:
    report = state.latest_report
    return {report.causes[0].service} if report is not None and report.causes else set()


def load(db: Path, incident_id: str) -> IncidentState:
    state = IncidentLog(SqliteEventStore(str(db))).read(incident_id)
    assert state is not None
    return state


def section(text: str, title: str) -> str:
    assert f"\n## {title}\n" in text, title
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_draft_tells_the_whole_story_from_the_event_log(fixed: tuple[Path, str]) -> None:
    state = load(*fixed)
    report = state.latest_report
    assert report is not None and report.causes
    text = render(state)
    assert text.startswith("# Postmortem (draft): ")
    assert report.summary.split()[0] in section(text, "Summary")
    impact = section(text, "Impact")
    assert "| time | value |" in impact and "Peak " in impact  # the alert's SLI over time, from its finding
    timeline = section(text, "Timeline")
    for what in ("alert started", "| alert |", "| findings |", "| report |", "| approval |", "| execution |",
                 "| recovery verified |"):
        assert what in timeline, what
    times = re.findall(r"^\| (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", timeline, flags=re.MULTILINE)
    assert times == sorted(times)
    deploy = next(f for f in state.findings.values() if f.kind == "change.deploy" and f.service in
                  scenario_roots(state))
    assert isinstance(deploy.details, ChangeDetails) and deploy.details.at is not None
    row = next(line for line in timeline.splitlines() if f"| deploy | {md(deploy.service)}: " in line)
    assert row.startswith(f"| {utc_text(deploy.details.at)} ")  # the deploy at its own time, before the alert
    assert timeline.index(row) < timeline.index("alert started")
    cause = section(text, "Root cause")
    top = report.causes[0]
    assert md(top.service) in cause
    for fid in top.evidence:  # every piece of evidence, by id and title
        assert f"`{md(fid)}` " in cause and md(state.findings[fid].title) in cause
    if report.ruled_out:
        assert md(report.ruled_out[0].reason) in section(text, "What was ruled out")
    done = section(text, "What was done")
    assert "Roll back to the previous revision" in done and "executed" in done and "recovered" in done
    items = section(text, "Action items")
    executed = set(state.executions)
    pending = [pid for pid in state.proposals if pid not in executed]
    for pid in pending:  # every proposal not executed is an action item, and no executed one is
        assert f"`{md(pid)}`" in items
    for pid in executed:
        assert f"`{md(pid)}`" not in items
    assert "- [ ] gate rollouts of" in items  # the follow-up for a bad deploy


def test_the_draft_is_deterministic(fixed: tuple[Path, str]) -> None:
    db, incident_id = fixed
    store = SqliteEventStore(str(db))
    events = store.load(incident_id)
    assert render(fold(events)) == render(fold(list(reversed(events)))) == render(load(db, incident_id))


def hostile_state() -> IncidentState:
    """An incident whose telemetry-derived text tries to become markup."""
    alert = Alert(monitoring_incident_id="m", policy_name="p\n# Injected heading", started_at=1000.0,
                  resource_labels={"service_name": "web"}, metric_type="m/latency")
    evil = Finding(finding_id="f-1", specialist="logs", kind="log.new_pattern", service="web",
                   title="<script>alert(1)</script>\n## fake section [link](javascript:x) | cell |", score=0.9)
    cause = RankedCause(rank=1, service="web<img src=x>", kind="log.new_pattern", title="![x](http://evil/)",
                        score=0.9, confidence=0.9, evidence=["f-1"])
    report = Report(incident_id="i", headline="h\n# also injected", summary="`code` *bold*", causes=[cause],
                    finding_ids=["f-1"])
    state = IncidentState(incident_id="i", first_alert=alert, findings={"f-1": evil}, status="open")
    state.rounds[1] = RoundState(1, ["logs"], 0.0, RoundWindow(onset=1000, start=0, end=2000, baseline_start=0,
                                                               baseline_end=0), report=report)
    return state


def test_telemetry_text_cannot_become_markup() -> None:
    text = render(hostile_state())
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert all(h.startswith(("# Postmortem (draft): ", "## ")) for h in headings)
    assert "Injected heading" not in " ".join(headings[1:]) and "fake section" not in " ".join(headings)
    for live in (r"<script", r"<img", r"\]\(javascript", r"!\[x\]", r"`code`", r"\*bold\*"):
        assert re.search(r"(?<!\\)" + live, text) is None, live  # only escaped, never live
    assert "\\<script\\>" in text
    assert "No finding holds the alert's SLI as a series" in section(text, "Impact")  # said, not invented


def test_the_report_page_offers_the_draft_as_a_markdown_download(fixed: tuple[Path, str]) -> None:
    db, incident_id = fixed
    client = create_app(SqliteEventStore(str(db))).test_client()
    page = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert f"href='/incidents/{incident_id}/postmortem.md'" in page
    r = client.get(f"/incidents/{incident_id}/postmortem.md")
    assert r.status_code == 200 and r.mimetype == "text/markdown"
    assert r.headers["Content-Disposition"] == f'attachment; filename="postmortem-{incident_id}.md"'
    for name, value in SECURITY_HEADERS.items():
        assert r.headers[name] == value
    assert r.get_data(as_text=True) == render(load(db, incident_id))
    assert client.get("/incidents/nope/postmortem.md").status_code == 404


def test_autosre_postmortem_prints_the_draft(fixed: tuple[Path, str], tmp_path: Path) -> None:
    db, incident_id = fixed
    r = run("postmortem", incident_id, "--db", db)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert r.stdout == render(load(db, incident_id))
    out = tmp_path / "pm.md"
    r = run("postmortem", incident_id, "--db", db, "--out", out)
    assert r.returncode == 0 and r.stdout == "" and out.read_text() == render(load(db, incident_id))
    r = run("postmortem", "inc-none", "--db", db)
    assert (r.returncode, r.stdout, r.stderr) == (2, "", f"autosre postmortem: no incident inc-none in {db}\n")
    missing = tmp_path / "missing.db"
    r = run("postmortem", incident_id, "--db", missing)
    assert r.returncode == 2 and not missing.exists()
    assert r.stderr == f"autosre postmortem: --db {missing} does not exist\n"


def test_an_incident_without_a_report_still_gets_a_draft() -> None:
    state = hostile_state()
    state.rounds.clear()
    text = render(state)
    assert "No report was published for this incident yet." in text and "## Root cause" not in text
