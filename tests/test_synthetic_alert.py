"""The synthetic alert parses as a real Monitoring notification about the named service, at the current time."""

from __future__ import annotations

import json

from functions.synthetic_alert import send, synthetic_alert
from shared import topics
from shared.alerts import parse_alert
from shared.bus.inprocess import InProcessBus


def test_the_synthetic_alert_is_an_open_incident_on_the_service_now() -> None:
    payload = synthetic_alert("checkout", "my-project", "europe-west1", now=1_800_000_000.0)
    alert = parse_alert(json.dumps(payload).encode())
    assert alert.service == "checkout" and alert.state == "open" and alert.project_id == "my-project"
    assert alert.started_at == 1_800_000_000 - 120 and alert.metric_type == "run.googleapis.com/request_count"
    other = parse_alert(json.dumps(synthetic_alert("checkout", "my-project")).encode())
    assert other.monitoring_incident_id != alert.monitoring_incident_id  # each send is a new incident


def test_send_publishes_on_the_alerts_topic() -> None:
    bus = InProcessBus()
    send(bus, synthetic_alert("checkout", "p"))
    (message,) = bus.published
    assert message.topic == topics.ALERTS and parse_alert(message.data).service == "checkout"
