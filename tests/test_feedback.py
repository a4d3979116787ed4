"""Responder feedback: a verified identity confirms or rejects the named cause and says whether an action helped, on
the report page; stored as events (a resubmission records nothing more, a changed mind supersedes); a confirmed
cause outranks an unconfirmed one in similar incidents; the calibration bench takes feedback as labelled cases; the
postmortem shows it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from agents.remediation.policy import Policy
from agents.reporting.postmortem import render as postmortem
from agents.reporting.similarity import rank, signature
from bench.calibration import feedback_cases, judge_case
from demo.generator import Scenario, generate
from functions.feedback import FeedbackError, on_action, on_cause
from functions.handlers.web import create_app
from functions.local import triage
from functions.memory import recall
from functions.remediation import Remediation
from functions.runtime import make_runner
from shared.config import Settings
from shared.incident_state import IncidentState, fold
from shared.models import Finding, RankedCause, Report
from shared.store.sqlite import SqliteEventStore
from shared.telemetry.bundle import BundleSource

ALICE, BOB = "alice@example.com", "bob@example.com"
KEY = b"k" * 32


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return generate("bad_deploy", tmp_path_factory.mktemp("demo"), seed=3)


@pytest.fixture()
def incident(scenario: Scenario, tmp_path: Path) -> tuple[SqliteEventStore, str]:
    store = SqliteEventStore(str(tmp_path / "events.db"))
    result = triage(scenario.alert_path.read_bytes(), BundleSource(scenario.bundle_dir), store=store)
    return store, result.incident_id


def state_of(store: SqliteEventStore, incident_id: str) -> IncidentState:
    return fold(store.load(incident_id))


def remediation(store: SqliteEventStore) -> Remediation:
    return Remediation(store=store, runner=make_runner(Settings()), key=KEY,
                       policy=Policy({"*": ["rollback_cloud_run"]}), approvers=frozenset({ALICE}))


def test_cause_feedback_is_an_event_once_and_a_changed_mind_supersedes(incident: tuple[SqliteEventStore, str]
                                                                        ) -> None:
    store, incident_id = incident
    named = state_of(store, incident_id).latest_report.causes[0].service  # type: ignore[union-attr]
    assert on_cause(store, incident_id, ALICE, "confirmed") is True
    assert on_cause(store, incident_id, ALICE, "confirmed") is False  # resubmitted: nothing more
    events = [e for e in store.load(incident_id) if e.type == "feedback.cause"]
    assert len(events) == 1 and events[0].actor == ALICE
    state = state_of(store, incident_id)
    assert state.cause_verdict is not None and state.cause_verdict.verdict == "confirmed"
    assert state.cause_verdict.cause_service == named and state.summary()["cause_feedback"] == "confirmed"
    assert on_cause(store, incident_id, BOB, "rejected", "payments-db", "disk full") is True
    state = state_of(store, incident_id)
    word = state.cause_verdict
    assert word is not None and (word.by, word.verdict, word.true_service) == (BOB, "rejected", "payments-db")
    assert set(state.cause_feedback) == {ALICE, BOB}  # each person's latest word is kept
    with pytest.raises(FeedbackError):
        on_cause(store, incident_id, "", "confirmed")  # nobody: nothing recorded


def test_action_feedback_needs_an_executed_action(incident: tuple[SqliteEventStore, str]) -> None:
    store, incident_id = incident
    r = remediation(store)
    state = state_of(store, incident_id)
    pid = next(p for p, x in state.proposals.items() if x.action == "rollback_cloud_run")
    with pytest.raises(FeedbackError):
        on_action(store, incident_id, ALICE, pid, True)
    r.decide_and_deliver(r.link_token(incident_id, pid), "approve", ALICE)
    assert on_action(store, incident_id, BOB, pid, True, "errors stopped") is True
    assert on_action(store, incident_id, BOB, pid, True, "errors stopped") is False
    assert state_of(store, incident_id).action_feedback[pid][BOB].helpful is True
    text = postmortem(state_of(store, incident_id))
    assert "## Responder feedback" in text and "helped" in text.split("## Responder feedback")[1]


def form_csrf(page: str) -> str:
    found = re.findall(r"name=csrf value='([0-9a-f]+)'", page.split("Responder feedback", 1)[-1])
    assert found, "no feedback form on the page"
    return found[0]


def test_the_report_page_takes_feedback_from_a_verified_identity(incident: tuple[SqliteEventStore, str]) -> None:
    store, incident_id = incident
    r = remediation(store)
    web = create_app(store, r, BOB).test_client()
    page = web.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "Responder feedback" in page and "value=confirmed" in page
    csrf = form_csrf(page)
    url = f"/incidents/{incident_id}/feedback"
    assert web.post(url, data={"kind": "cause", "verdict": "confirmed", "csrf": "0" * 64}).status_code == 403
    assert web.post(url, data={"kind": "cause", "verdict": "confirmed", "csrf": csrf},
                    headers={"Origin": "https://evil.example"}).status_code == 403
    anonymous = create_app(store, r, "").test_client()
    assert "Feedback is off here" in anonymous.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert anonymous.post(url, data={"kind": "cause", "verdict": "confirmed", "csrf": csrf}).status_code == 403
    other = create_app(store, r, ALICE).test_client()  # BOB's token is bound to BOB
    assert other.post(url, data={"kind": "cause", "verdict": "confirmed", "csrf": csrf}).status_code == 403
    assert [e for e in store.load(incident_id) if e.type.startswith("feedback.")] == []
    done = web.post(url, data={"kind": "cause", "verdict": "rejected", "true_service": "<b>db</b>",
                               "true_cause": "disk full", "csrf": csrf})
    assert done.status_code == 200 and "Recorded" in done.get_data(as_text=True)
    word = state_of(store, incident_id).cause_verdict
    assert word is not None and (word.by, word.verdict, word.true_service) == (BOB, "rejected", "<b>db</b>")
    page = web.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "rejected the cause" in page and "<b>db</b>" not in page  # shown, escaped


def finding(fid: str, kind: Any, service: str) -> Finding:
    return Finding(finding_id=fid, specialist=kind.split(".")[0], kind=kind, service=service, title=kind, score=0.8)


def test_a_confirmed_cause_outranks_an_unconfirmed_one_as_alike() -> None:
    findings = {f.finding_id: f for f in [finding("f1", "change.deploy", "cart"),
                                          finding("f2", "log.new_pattern", "cart")]}
    report = Report(incident_id="now", headline="h", summary="s", finding_ids=list(findings),
                    causes=[RankedCause(rank=1, service="cart", kind="change.deploy", title="t", score=0.9,
                                        confidence=0.9)])
    terms = signature(report, findings)
    candidates = {"a-unconfirmed": terms, "b-confirmed": [*terms, "feedback:confirmed"],
                  "c-rejected": [*terms, "feedback:rejected"]}
    assert [cid for cid, _ in rank(terms, candidates)] == ["b-confirmed", "a-unconfirmed", "c-rejected"]
    assert {s for _, s in rank(terms, candidates)} == {1.0}  # the likeness shown is the likeness alone
    store = SqliteEventStore(":memory:")
    for cid, t in candidates.items():
        store.index_terms(cid, t)
    assert [s.incident_id for s in recall(store, report, findings)] == ["b-confirmed", "a-unconfirmed",
                                                                        "c-rejected"]


def test_feedback_reaches_the_next_similar_incident(tmp_path: Path) -> None:
    store = SqliteEventStore(str(tmp_path / "events.db"))
    first = generate("bad_deploy", tmp_path / "first", seed=0)
    past = triage(first.alert_path.read_bytes(), BundleSource(first.bundle_dir), store=store)
    on_cause(store, past.incident_id, ALICE, "confirmed")
    assert "feedback:confirmed" in store.indexed_terms([past.incident_id])[past.incident_id]
    from tests.test_recovery_loop import resolve

    resolve(store, first, first.onset + 3600)
    nxt = generate("bad_deploy", tmp_path / "next", seed=1)
    listed = triage(nxt.alert_path.read_bytes(), BundleSource(nxt.bundle_dir), store=store).report.similar
    assert listed[0].incident_id == past.incident_id and listed[0].cause_feedback == "confirmed"
    assert "confirmed by a***@example.com" in listed[0].root_cause  # who, masked


def test_feedback_becomes_labelled_cases_for_the_calibration_bench(incident: tuple[SqliteEventStore, str]) -> None:
    store, incident_id = incident
    assert feedback_cases(store) == []
    named = state_of(store, incident_id).latest_report.causes[0].service  # type: ignore[union-attr]
    on_cause(store, incident_id, ALICE, "confirmed")
    (case,) = feedback_cases(store)
    assert case.source == case.split == "feedback" and case.truth == (named,) and case.findings
    assert judge_case(case).correct  # the ranking, re-run from its findings, names the confirmed cause
    on_cause(store, incident_id, BOB, "rejected", "payments-db")
    (case,) = feedback_cases(store)
    assert case.truth == ("payments-db",) and not judge_case(case).correct
