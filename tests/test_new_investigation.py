"""A long-open incident (a log-based alert stays open for days) does not absorb a new alert that starts after the
window the last investigation read: that alert gets a fresh investigation of its own windows and findings."""

from __future__ import annotations

from shared import topics
from shared.incident_state import fold
from tests.test_pipeline import alert_bytes, make, run

HOUR = 3600


def test_a_later_alert_of_an_open_incident_gets_its_own_investigation() -> None:
    pipeline, bus = make()
    incident_id = run(pipeline, bus, alert_bytes())
    first = fold(pipeline.store.load(incident_id))
    assert list(first.rounds) == [1] and first.rounds[1].report is not None
    later = 1_768_471_320 + 6 * HOUR
    bus.publish(topics.ALERTS, alert_bytes(incident_id="0.mon-2", started_at=later))
    bus.drain()
    state = fold(pipeline.store.load(incident_id))
    assert sorted(state.rounds) == [1, 2] and state.rounds[2].fresh
    assert state.rounds[2].window.onset == later and state.rounds[2].report is not None
    report = state.latest_report
    assert report is not None and report.round == 2
    own = {fid for name in state.rounds[2].specialists for fid in state.rounds[2].completed.get(name, [])}
    assert set(report.finding_ids) == own  # only the new investigation's findings
    # an alert that starts inside the window already read joins; a redelivery changes nothing
    bus.publish(topics.ALERTS, alert_bytes(incident_id="0.mon-3", started_at=later + 60))
    bus.publish(topics.ALERTS, alert_bytes(incident_id="0.mon-2", started_at=later))
    bus.drain()
    assert sorted(fold(pipeline.store.load(incident_id)).rounds) == [1, 2]
