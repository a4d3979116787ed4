"""An alert routed while another alert's close is processed must not land in the resolved incident: it opens a
new incident and is investigated."""

from __future__ import annotations

import pytest

import functions.handlers.intake as intake_module
from shared import topics
from shared.alerts import parse_alert
from shared.incident_state import fold
from shared.incidents import route_alert
from tests.test_pipeline import alert_bytes, make, run


def test_an_alert_routed_before_a_close_was_processed_opens_a_new_incident(monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline, bus = make()
    first = run(pipeline, bus, alert_bytes())
    late = alert_bytes(incident_id="0.mon-2")
    routed = route_alert(pipeline.store, parse_alert(late))  # the second alert is routed while mon-1 is open ...
    assert routed == first
    bus.publish(topics.ALERTS, alert_bytes(state="closed", ended_at=1_768_471_920))
    bus.drain()  # ... then the close of mon-1 is processed ...
    assert fold(pipeline.store.load(first)).status == "resolved"
    monkeypatch.setattr(intake_module, "route_alert", lambda store, alert: routed)
    bus.publish(topics.ALERTS, late)  # ... and only then is the second alert recorded
    bus.drain()
    resolved = fold(pipeline.store.load(first))
    assert "0.mon-2" not in resolved.alerts and resolved.status == "resolved"
    others = [s for s in pipeline.store.summaries() if s["incident_id"] not in (first, "dead-letter")]
    assert len(others) == 1
    fresh = fold(pipeline.store.load(others[0]["incident_id"]))
    assert fresh.status == "open" and "0.mon-2" in fresh.alerts and fresh.latest_report is not None
    monkeypatch.undo()  # a redelivery of the second alert lands in the same new incident
    bus.publish(topics.ALERTS, late)
    bus.drain()
    assert len([s for s in pipeline.store.summaries() if s["incident_id"] != "dead-letter"]) == 2
