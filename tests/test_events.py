"""fold(events) rebuilds an incident's state; deterministic ids make steps idempotent; every event type has one
typed payload; folding one more event in place gives the same state as folding them all again; a payload owns its
meaning (phase, timeline line, postmortem label, how it changes the state), so a new event type registered in the
one list of payloads folds, summarises and reaches the postmortem with nothing else touched."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from agents.reporting.postmortem import render
from shared import events as ev
from shared.analysis_events import ReportPublished, SpecialistCompleted, SpecialistFailed
from shared.core_models import Alert, Event
from shared.events import EventPayload, make_event, payload_of, stable_id
from shared.incident_parts import Notification
from shared.incident_state import IncidentState, fold
from shared.lifecycle_events import AlertReceived, IncidentOpened, IncidentResolved, RoundStarted, RoundWindow
from shared.models import Report

ALERT = Alert(monitoring_incident_id="m1", policy_name="p", resource_type="cloud_run_revision",
              resource_labels={"service_name": "checkout"}, started_at=1000.0)
WINDOW = RoundWindow(onset=1000.0, start=100.0, end=1300.0, baseline_start=0.0, baseline_end=100.0)


def _events() -> list[Event]:
    report = Report(incident_id="i", headline="h", summary="s")
    return [
        make_event("i", ev.INCIDENT_OPENED, (), "intake", IncidentOpened(group_key="g", alert=ALERT), at=1.0),
        make_event("i", ev.ALERT_RECEIVED, ("m1", "open"), "intake", AlertReceived(alert=ALERT), at=1.0),
        make_event("i", ev.ROUND_STARTED, (1,), "intake", RoundStarted(
            round=1, specialists=["logs", "traces"], deadline=700.0, window=WINDOW), at=2.0),
        make_event("i", ev.SPECIALIST_FAILED, (1, "traces"), "t",
                   SpecialistFailed(round=1, specialist="traces", error="boom"), at=3.0),
        make_event("i", ev.SPECIALIST_COMPLETED, (1, "logs"), "l",
                   SpecialistCompleted(round=1, specialist="logs", finding_ids=["f1"]), at=3.0),
        make_event("i", ev.SPECIALIST_COMPLETED, (1, "traces"), "t",
                   SpecialistCompleted(round=1, specialist="traces"), at=4.0),
        make_event("i", ev.REPORT_PUBLISHED, (1, "complete"), "s", ReportPublished(report=report), at=5.0),
    ]


def test_stable_id_is_deterministic_and_distinguishes_parts() -> None:
    assert stable_id("a", 1) == stable_id("a", 1)
    assert stable_id("a", 1) != stable_id("a1")
    first = make_event("i", ev.INCIDENT_RESOLVED, ("k",), "x", IncidentResolved(by_alert="a"))
    again = make_event("i", ev.INCIDENT_RESOLVED, ("k",), "y", IncidentResolved(by_alert="b"))
    assert first.event_id == again.event_id


def test_every_event_type_has_one_payload_model_and_a_wrong_one_is_refused() -> None:
    assert set(ev.registry(ev.all_payload_models())) == set(ev.EventType)
    with pytest.raises(TypeError):
        make_event("i", ev.REPORT_PUBLISHED, (), "s", AlertReceived(alert=ALERT))
    with pytest.raises(ValidationError):
        SpecialistCompleted(round=1, specialist="logs", finding_ids=["f1"], surprise=True)  # type: ignore[call-arg]
    (opened, *_rest) = _events()
    payload = payload_of(opened)
    assert isinstance(payload, IncidentOpened) and payload.alert.service == "checkout"


def test_fold_rebuilds_state() -> None:
    state = fold(_events())
    assert state.status == "open"
    assert state.first_alert is not None and state.first_alert.service == "checkout"
    rnd = state.rounds[1]
    assert rnd.missing == []
    assert rnd.completed == {"logs": ["f1"], "traces": []}
    assert rnd.failed == {}  # a later completion supersedes a failure
    assert state.latest_report is not None and state.latest_report.headline == "h"
    assert state.summary()["report"] is True


def test_applying_events_one_by_one_equals_folding_them() -> None:
    events = _events()
    state = IncidentState(incident_id="i")
    for e in events:
        state.apply(e)
        state.apply(e)  # an event seen twice is folded once
    reference = fold(events)
    assert state.summary() == reference.summary() and state.timeline == reference.timeline
    assert state.rounds == reference.rounds


def test_fold_is_order_insensitive_even_when_clocks_tie() -> None:
    events = [e.model_copy(update={"at": 1.0}) for e in _events()]
    reference = fold(events)
    for seed in range(5):
        shuffled = events[:]
        random.Random(seed).shuffle(shuffled)
        assert fold(shuffled).summary() == reference.summary()


def test_partial_report_is_superseded_by_complete_one() -> None:
    events = _events()
    partial = Report(incident_id="i", headline="partial", summary="", partial=True)
    events.insert(5, make_event("i", ev.REPORT_PUBLISHED, (1, "partial"), "sweep", ReportPublished(report=partial),
                                at=4.5))
    state = fold(events)
    assert state.latest_report is not None and state.latest_report.headline == "h"


def test_fold_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError):
        fold([])


class DrillRun(EventPayload):
    """An event type defined only here: a game-day drill run against the incident."""

    event_types = ("drill.run",)
    phase = 6  # after the report (5), whatever the writers' clocks say
    postmortem_label = "drill"
    scenario: str

    def summary_line(self) -> str:
        return f"drill: {self.scenario}"

    def apply(self, state: IncidentState, event: Event) -> None:
        reported = "after the report" if state.latest_report is not None else "before the report"
        state.notifications.append(Notification("sent", "drill", f"{self.scenario}, {reported}"))


def test_a_new_event_type_registered_in_the_one_list_folds_summarises_and_reaches_the_postmortem(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def drill() -> Event:
        return make_event("i", "drill.run", ("d1",), "game-day", DrillRun(scenario="db failover"),  # type: ignore[arg-type]
                          at=0.5)  # its clock says before everything else

    with pytest.raises(ValueError):  # not registered: refused, not silently folded
        drill()
    monkeypatch.setattr(ev, "PAYLOADS", ev.registry([*ev.all_payload_models(), DrillRun]))
    events = [*_events(), drill()]
    state = fold(list(reversed(events)))
    assert state.notifications == [Notification("sent", "drill", "db failover, after the report")]  # its phase
    assert (0.5, "drill.run", "game-day", "drill: db failover") in state.timeline
    assert fold(events).summary() == state.summary() and state.summary()["events"] == len(events)
    timeline = render(state).split("\n## Timeline\n", 1)[1].split("\n## ", 1)[0]
    assert "| drill | drill: db failover |" in timeline
    assert "| findings |" in timeline and "| report |" in timeline  # the listed types, from their payloads
    assert "round.started" not in timeline and "| alert |" in timeline


def test_a_payload_must_say_its_types_and_phase_and_a_type_has_one_payload() -> None:
    class NoPhase(EventPayload):
        event_types = ("drill.unphased",)

    with pytest.raises(TypeError, match="phase"):
        ev.registry([NoPhase])
    class Twin(EventPayload):
        event_types = (ev.ALERT_RECEIVED,)
        phase = 1

    with pytest.raises(TypeError, match="both"):
        ev.registry([*ev.all_payload_models(), Twin])


def test_only_the_postmortem_types_are_listed_and_each_payload_has_a_phase() -> None:
    listed = {t: m.postmortem_label for t, m in ev.registry(ev.all_payload_models()).items() if m.postmortem_label}
    assert listed == {
        ev.ALERT_RECEIVED: "alert", ev.ROUND_STARTED: "investigation", ev.SPECIALIST_COMPLETED: "findings",
        ev.SPECIALIST_FAILED: "findings", ev.REPORT_PUBLISHED: "report", ev.REMEDIATION_PROPOSED: "proposal",
        ev.APPROVAL_DECIDED: "approval", ev.REMEDIATION_EXECUTED: "execution", ev.REMEDIATION_PENDING: "execution",
        ev.REMEDIATION_FAILED: "execution",
        ev.REMEDIATION_VERIFIED: "recovery verified", ev.INCIDENT_RESOLVED: "resolved",
        ev.CAUSE_FEEDBACK: "cause feedback", ev.ACTION_FEEDBACK: "action feedback",
        ev.INCIDENT_ACKNOWLEDGED: "acknowledged", ev.HINT_ADDED: "hint", ev.QUESTION_ANSWERED: "question",
        ev.EventType.HANDOFF_REQUESTED: "hand-off", ev.EventType.HANDOFF_SENT: "hand-off",
        ev.EventType.HANDOFF_FAILED: "hand-off"}
    assert [ev.model_of(t).phase for t in (ev.INCIDENT_OPENED, ev.ALERT_RECEIVED, ev.ROUND_STARTED,
                                           ev.FINDING_RECORDED, ev.SPECIALIST_COMPLETED, ev.REPORT_PUBLISHED,
                                           ev.REMEDIATION_PROPOSED, ev.APPROVAL_DECIDED, ev.REMEDIATION_EXECUTED,
                                           ev.NOTIFICATION_SENT, ev.INCIDENT_RESOLVED)] == [0, 1, 2, 3, 4, 5, 6, 7,
                                                                                             8, 9, 10]


def test_importing_the_vocabulary_imports_no_payload_and_importing_them_builds_no_schema() -> None:
    code = ("import sys\n"
            "from shared import events as ev\n"
            "import shared.incident_state, shared.incident_log\n"
            "print(sorted(f for f in ev.FAMILIES if f in sys.modules))\n"
            "from shared.lifecycle_events import RoundWindow\n"
            "print(sorted(m.__name__ for m in (*ev.all_payload_models(), RoundWindow) if m.__pydantic_complete__))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.split("\n")[:2] == ["[]", "[]"], out.stdout


def test_a_type_imports_its_own_family_alone_and_a_family_must_carry_what_the_map_says(
        monkeypatch: pytest.MonkeyPatch) -> None:
    code = ("import sys\n"
            "from shared import events as ev\n"
            "ev.model_of(ev.ROUND_STARTED)\n"
            "print(sorted(f for f in ev.FAMILIES if f in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "['shared.lifecycle_events']", out.stdout
    monkeypatch.setitem(ev.FAMILIES, "shared.lifecycle_events", (ev.INCIDENT_OPENED, ev.ALERT_RECEIVED))
    with pytest.raises(TypeError, match="FAMILIES says"):
        ev.family_models("shared.lifecycle_events")
