"""The sweep does not skip resolved incidents: an alert that closes before every specialist reported still gets its
partial report, and a resolved incident's unfinished after-report steps still run."""

from __future__ import annotations

import json

from functions.runtime import embedded
from shared import topics
from shared.store.sqlite import SqliteEventStore
from shared.telemetry.memory import MemorySource
from tests.data import alerts_dir

OPEN = json.loads((alerts_dir() / "03_cloud_run_5xx_open.v1.2.json").read_text())


def closing() -> bytes:
    doc = json.loads(json.dumps(OPEN))
    doc["incident"].update(state="closed", ended_at=int(doc["incident"]["started_at"]) + 120)
    return json.dumps(doc).encode()


def test_an_alert_that_closes_before_the_specialists_reported_gets_its_partial_report() -> None:
    clock = [1000.0]
    store = SqliteEventStore(":memory:")
    pipeline, bus = embedded(store, MemorySource(), clock=lambda: clock[0])
    for payload in (json.dumps(OPEN).encode(), closing()):
        bus.publish(topics.ALERTS, payload)
        while bus._queue:  # the alerts only: the tasks are never run, so no specialist reports
            sub, message = bus._queue.popleft()
            if message.topic == topics.ALERTS:
                bus._run(sub, message)
    (summary,) = store.summaries()
    assert summary["status"] == "resolved" and not summary["report"]
    clock[0] += pipeline.round_deadline_s + 1
    assert pipeline.sweep() == [summary["incident_id"]]
    (after,) = store.summaries()
    assert after["report"] and after["partial"]
    assert pipeline.sweep() == []  # swept once


class FlakyNotifier:
    """A channel that is down until it is back up."""

    channel = "chat"

    def __init__(self) -> None:
        self.down = True
        self.sent: list[str] = []

    def send(self, text: str) -> tuple[bool, str]:
        if self.down:
            raise ConnectionError("chat is down")
        self.sent.append(text)
        return True, "HTTP 200"


def test_a_resolved_incidents_unfinished_steps_run_again() -> None:
    clock = [1000.0]
    store = SqliteEventStore(":memory:")
    notifier = FlakyNotifier()
    pipeline, bus = embedded(store, MemorySource(), clock=lambda: clock[0], notifier=notifier)
    bus.publish(topics.ALERTS, json.dumps(OPEN).encode())
    while bus._queue:
        bus._run(*bus._queue.popleft())
    (summary,) = store.summaries()
    assert summary["report"] and "complete:notify" not in summary["report_steps_done"]  # the channel was down
    bus.publish(topics.ALERTS, closing())
    while bus._queue:
        bus._run(*bus._queue.popleft())
    (summary,) = store.summaries()
    assert summary["status"] == "resolved"
    notifier.down = False
    clock[0] += 300
    pipeline.sweep()
    (after,) = store.summaries()
    assert "complete:notify" in after["report_steps_done"] and len(notifier.sent) == 1
