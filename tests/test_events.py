"""fold(events) rebuilds an incident's state; deterministic ids make steps idempotent."""

from __future__ import annotations

import random

import pytest

from shared import events as ev
from shared.events import fold, make_event, stable_id
from shared.models import Alert, Report

ALERT = Alert(monitoring_incident_id="m1", policy_name="p", resource_type="cloud_run_revision",
              resource_labels={"service_name": "checkout"}, started_at=1000.0)


def _events() -> list:
    a = ALERT.model_dump(mode="json")
    report = Report(incident_id="i", headline="h", summary="s").model_dump(mode="json")
    return [
        make_event("i", ev.INCIDENT_OPENED, (), "intake", {"group_key": "g", "alert": a}, at=1.0),
        make_event("i", ev.ALERT_RECEIVED, ("m1", "open"), "intake", {"alert": a}, at=1.0),
        make_event("i", ev.ROUND_STARTED, (1,), "intake", {
            "round": 1, "specialists": ["logs", "traces"], "deadline": 700.0,
            "window": {"onset": 1000.0, "start": 100.0, "end": 1300.0, "baseline_start": 0.0, "baseline_end": 100.0},
        }, at=2.0),
        make_event("i", ev.SPECIALIST_FAILED, (1, "traces"), "t", {"round": 1, "specialist": "traces",
                                                                  "error": "boom"}, at=3.0),
        make_event("i", ev.SPECIALIST_COMPLETED, (1, "logs"), "l", {"round": 1, "specialist": "logs",
                                                                   "finding_ids": ["f1"]}, at=3.0),
        make_event("i", ev.SPECIALIST_COMPLETED, (1, "traces"), "t", {"round": 1, "specialist": "traces",
                                                                     "finding_ids": []}, at=4.0),
        make_event("i", ev.REPORT_PUBLISHED, (1, "complete"), "s", {"report": report}, at=5.0),
    ]


def test_stable_id_is_deterministic_and_distinguishes_parts() -> None:
    assert stable_id("a", 1) == stable_id("a", 1)
    assert stable_id("a", 1) != stable_id("a1")
    assert make_event("i", "t", ("k",), "x", {}).event_id == make_event("i", "t", ("k",), "y", {"z": 1}).event_id


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


def test_fold_is_order_insensitive_even_when_clocks_tie() -> None:
    events = [e.model_copy(update={"at": 1.0}) for e in _events()]
    reference = fold(events)
    for seed in range(5):
        shuffled = events[:]
        random.Random(seed).shuffle(shuffled)
        assert fold(shuffled).summary() == reference.summary()


def test_partial_report_is_superseded_by_complete_one() -> None:
    events = _events()
    partial = Report(incident_id="i", headline="partial", summary="", partial=True).model_dump(mode="json")
    events.insert(5, make_event("i", ev.REPORT_PUBLISHED, (1, "partial"), "sweep", {"report": partial}, at=4.5))
    state = fold(events)
    assert state.latest_report is not None and state.latest_report.headline == "h"


def test_fold_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError):
        fold([])
