"""Follow-up questions answered from the findings, without a model: a table of questions on two demo incidents,
each with the answer it must give, built from the incident's own report (its causes, chain, changes and what was
ruled out) and grounded: every finding it cites is one of the report's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agents.reporting.answers import intent_of
from functions.talk import Talk, TalkError
from shared.incident_state import IncidentState
from shared.models import Report
from tests.talk_data import copy_of, store_at

WHO = "oncall@example.com"
Check = Callable[[Report, IncidentState, str, list[str]], None]


def top(r: Report) -> str:
    return r.causes[0].service


def ranked(r: Report, n: int) -> str:
    return r.causes[n - 1].service


def ruled_only(r: Report) -> str:
    """A service ruled out and not ranked at all."""
    causes = {c.service for c in r.causes}
    return next(x.service for x in r.ruled_out if x.service and x.service not in causes)


def changes_before(s: IncidentState, r: Report) -> list[str]:
    return [f.finding_id for f in s.findings.values() if f.kind.startswith("change.") and f.kind != "change.none"
            and f.finding_id in r.finding_ids and (f.onset or 0) <= (r.onset or 0)]


def says_why_top(r: Report, s: IncidentState, text: str, cited: list[str]) -> None:
    assert f"{top(r)} is ranked #1 of {len(r.causes)}" in text
    assert r.causes[0].evidence[0] in cited and all(ev in cited for st in r.causes[0].chain for ev in st.evidence[:1])


def says_why_not(name: Callable[[Report], str]) -> Check:
    def check(r: Report, s: IncidentState, text: str, cited: list[str]) -> None:
        svc = name(r)
        c = next((c for c in r.causes if c.service == svc), None)
        if c is not None:
            assert f"{svc} is ranked #{c.rank}" in text and c.evidence[0] in cited
            assert f"{top(r)} leads on" in text and r.causes[0].evidence[0] in cited
        else:
            reason = next(x.reason for x in r.ruled_out if x.service == svc)
            assert f"{svc} was ruled out: {reason.rstrip('.')}" in text
    return check


def says_changes(r: Report, s: IncidentState, text: str, cited: list[str]) -> None:
    before = changes_before(s, r)
    assert before, "the demo incidents have changes before their onset"
    assert f"{len(before)} change(s) before the onset" in text and set(before) <= set(cited)


def says_step(number: int) -> Check:
    def check(r: Report, s: IncidentState, text: str, cited: list[str]) -> None:
        step = r.causes[0].chain[number - 1]
        assert f"Step {number}, {step.role} at {step.service}" in text and step.evidence[0] in cited
    return check


def says_role(role: str) -> Check:
    def check(r: Report, s: IncidentState, text: str, cited: list[str]) -> None:
        steps = [st for st in r.causes[0].chain if st.role == role]
        assert steps and all(f"{role} at {st.service}" in text and st.evidence[0] in cited for st in steps)
    return check


def says_ruled_out(r: Report, s: IncidentState, text: str, cited: list[str]) -> None:
    assert f"{len(r.ruled_out)} candidate(s) were ruled out" in text
    for x in r.ruled_out[:8]:
        assert f"{x.service or 'All services'}: {x.reason.rstrip('.')}" in text
        assert set(x.evidence[:1]) <= set(cited)


def says_summary(r: Report, s: IncidentState, text: str, cited: list[str]) -> None:
    assert r.headline.rstrip(".") in text and r.causes[0].evidence[0] in cited


def says_why_ranked(n: int) -> Check:
    def check(r: Report, s: IncidentState, text: str, cited: list[str]) -> None:
        c = r.causes[n - 1]
        assert f"{c.service} is ranked #{n}" in text and f"It is behind {top(r)}" in text and c.evidence[0] in cited
    return check


def says_ruled(r: Report, s: IncidentState, text: str, cited: list[str]) -> None:
    svc = ruled_only(r)
    assert f"{svc} was ruled out" in text


# (demo incident, question (a template over the report), the intent, what the answer must say)
TABLE: list[tuple[str, Callable[[Report], str], str, Check]] = [
    ("bad_deploy", lambda r: f"Why is {top(r)} the cause?", "why", says_why_top),
    ("bad_deploy", lambda r: f"Why not {ranked(r, 2)}?", "why_not", says_why_not(lambda r: ranked(r, 2))),
    ("bad_deploy", lambda r: "What changed before the onset?", "changes", says_changes),
    ("bad_deploy", lambda r: "Show the evidence for step 1", "evidence", says_step(1)),
    ("bad_deploy", lambda r: "What was ruled out and how?", "ruled_out", says_ruled_out),
    ("bad_deploy", lambda r: "What happened?", "summary", says_summary),
    ("bad_deploy", lambda r: "Show me the evidence for the symptom", "evidence", says_role("symptom")),
    ("bad_deploy", lambda r: f"Could it be {ruled_only(r)}?", "why_not", says_why_not(ruled_only)),
    ("bad_deploy", lambda r: "Was there a deploy before this started?", "changes", says_changes),
    ("bad_deploy", lambda r: f"why {ruled_only(r)}", "why", says_ruled),
    ("dual_fault", lambda r: f"Why is {top(r)} the root cause?", "why", says_why_top),
    ("dual_fault", lambda r: f"Why not {ranked(r, 2)}?", "why_not", says_why_not(lambda r: ranked(r, 2))),
    ("dual_fault", lambda r: f"Is it {ranked(r, 2)} instead?", "why_not", says_why_not(lambda r: ranked(r, 2))),
    ("dual_fault", lambda r: f"What about {r.causes[-1].service}?", "why_not",
     says_why_not(lambda r: r.causes[-1].service)),
    ("dual_fault", lambda r: "Which config changes or releases came before the alert?", "changes", says_changes),
    ("dual_fault", lambda r: "Which services were excluded, and why?", "ruled_out", says_ruled_out),
    ("dual_fault", lambda r: "Show the evidence for step 2 of the chain", "evidence", says_step(2)),
    ("dual_fault", lambda r: f"How do we know {ranked(r, 2)} is involved?", "why", says_why_ranked(2)),
    ("dual_fault", lambda r: "Summarize the incident", "summary", says_summary),
    ("dual_fault", lambda r: f"Why not {ruled_only(r)}?", "why_not", says_why_not(ruled_only)),
]


@pytest.fixture(scope="module")
def talks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Talk, str]]:
    out = {}
    for fault in sorted({row[0] for row in TABLE}):
        t, db = copy_of(fault, tmp_path_factory.mktemp(fault))
        out[fault] = (Talk(store_at(db)), t.incident_id)
    return out


def test_the_table_has_twenty_questions_each_of_its_intent() -> None:
    assert len(TABLE) == 20
    assert {intent for _, _, intent, _ in TABLE} == {"why", "why_not", "changes", "evidence", "ruled_out", "summary"}


@pytest.mark.parametrize("row", range(len(TABLE)))
def test_each_question_gets_its_grounded_answer_from_the_findings(row: int,
                                                                   talks: dict[str, tuple[Talk, str]]) -> None:
    fault, question_of, intent, check = TABLE[row]
    talk, incident_id = talks[fault]
    state = talk.state(incident_id)
    report = state.latest_report
    assert report is not None
    question = question_of(report)
    assert intent_of(question) in (intent, "free")
    got = talk.ask(incident_id, question, WHO)
    assert (got["intent"], got["source"]) == (intent, "findings"), got["text"]
    assert got["cited"] and set(got["cited"]) <= set(report.finding_ids)  # grounded: the report's findings only
    check(report, state, got["text"], got["cited"])
    recorded = talk.state(incident_id).questions[-1]  # each question and its answer is an event
    assert (recorded.question, recorded.answer, recorded.by, recorded.source) == (question, got["text"], WHO,
                                                                                  "findings")


def test_a_question_needs_an_incident_and_words(talks: dict[str, tuple[Talk, str]]) -> None:
    talk, incident_id = talks["bad_deploy"]
    with pytest.raises(TalkError):
        talk.ask(incident_id, "   ", WHO)
    with pytest.raises(TalkError):
        talk.ask("inc-nothing", "why?", WHO)
    got = talk.ask(incident_id, "what is the weather like?", WHO)  # no model: says what can be asked
    assert got["source"] == "none" and "why a service is the cause" in got["text"]


def test_answers_survive_a_store_reopen(tmp_path: Path) -> None:
    t, db = copy_of("bad_deploy", tmp_path)
    Talk(store_at(db)).ask(t.incident_id, "what happened?", WHO)
    assert Talk(store_at(db)).state(t.incident_id).questions[0].intent == "summary"
