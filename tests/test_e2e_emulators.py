"""The whole pipeline on the Google emulators: a real alert payload published to the alerts topic, the
functions driven by pull subscribers (Pub/Sub emulator), events and the report in Firestore (emulator).
Nothing is mocked but the telemetry source, a bundle written by the demo generator.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.generator import generate
from functions.pipeline import Pipeline
from functions.runtime import assemble
from functions.topology import routes, subscriptions
from shared import topics
from shared.events import DEAD_LETTER_STREAM
from shared.incident_state import fold
from shared.telemetry.bundle import BundleSource

pytestmark = pytest.mark.emulator


class RecordingBus:
    """Publishes through Pub/Sub and remembers every message, to redeliver them all later."""

    def __init__(self, inner: object):
        self.inner, self.sent = inner, []

    def publish(self, topic: str, data: bytes, attributes: dict[str, str] | None = None) -> str:
        self.sent.append((topic, data, dict(attributes or {})))
        return self.inner.publish(topic, data, attributes)  # type: ignore[attr-defined, no-any-return]

    def publish_all(self, topic: str, messages: list[tuple[bytes, dict[str, str]]]) -> list[str]:
        self.sent.extend((topic, data, dict(attributes)) for data, attributes in messages)
        return self.inner.publish_all(topic, messages)  # type: ignore[attr-defined, no-any-return]


@pytest.fixture()
def deployment(pubsub_emulator: object, firestore_emulator: object, project_id: str,
               tmp_path: Path) -> Iterator[tuple[Pipeline, object, object]]:
    from shared.bus.pubsub import PubSubBus
    from shared.bus.pubsub_topology import PullDispatcher, ensure_topology
    from shared.store.firestore import FirestoreEventStore

    scenario = generate("bad_deploy", tmp_path / "bundle", seed=3)
    source = BundleSource(scenario.bundle_dir)
    pipeline = assemble(FirestoreEventStore(project_id), RecordingBus(PubSubBus(project_id)),  # type: ignore[arg-type]
                        lambda state: source)
    ensure_topology(project_id, topics.ALL, subscriptions())
    dispatcher = PullDispatcher(project_id, routes(pipeline))
    dispatcher.start()
    yield pipeline, dispatcher, scenario
    dispatcher.stop()


def wait_for(predicate, timeout: float = 120.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.25)
    return False


def test_alert_to_report_on_the_emulators(deployment) -> None:  # type: ignore[no-untyped-def]
    pipeline, dispatcher, scenario = deployment
    payload = Path(scenario.alert_path).read_bytes()
    pipeline.bus.publish(topics.ALERTS, payload, {"source": "test"})

    def reported() -> bool:
        return any(s.get("report") for s in pipeline.store.summaries())

    assert wait_for(reported), "no report was published in Firestore"
    assert dispatcher.wait_idle(timeout=60)
    (summary,) = pipeline.store.summaries()
    state = fold(pipeline.store.load(summary["incident_id"]))
    report = state.latest_report
    assert report is not None and not report.partial
    assert sorted(state.rounds[1].completed) == ["changes", "logs", "metrics", "traces"]
    assert report.causes and report.causes[0].service == scenario.root_service
    assert summary["top_cause"].startswith(scenario.root_service)
    events_before = len(pipeline.store.load(summary["incident_id"]))

    # the same alert again (Monitoring re-sends, Pub/Sub redelivers): nothing new is written
    pipeline.bus.publish(topics.ALERTS, payload)
    assert dispatcher.wait_idle(timeout=60)
    assert len(pipeline.store.load(summary["incident_id"])) == events_before


def test_poison_alert_is_recorded_and_dead_lettered(deployment) -> None:  # type: ignore[no-untyped-def]
    pipeline, dispatcher, _ = deployment
    pipeline.bus.publish(topics.ALERTS, b'{"incident": "not an object"}')
    assert wait_for(lambda: len(pipeline.store.load(DEAD_LETTER_STREAM)) == 1, timeout=60)
    assert dispatcher.wait_idle(timeout=60)
    (rejected,) = pipeline.store.load(DEAD_LETTER_STREAM)
    assert rejected.data["reason"] == "wrong_type"
    assert json.loads(json.dumps(rejected.data))["topic"] == topics.ALERTS
    assert topics.DEAD_LETTER in topics.ALL


def test_every_message_redelivered_ten_times_shuffled_changes_nothing(deployment) -> None:  # type: ignore[no-untyped-def]
    import random

    pipeline, dispatcher, scenario = deployment
    pipeline.bus.publish(topics.ALERTS, Path(scenario.alert_path).read_bytes())
    assert wait_for(lambda: any(s.get("report") for s in pipeline.store.summaries()))
    assert dispatcher.wait_idle(timeout=60)
    (summary,) = pipeline.store.summaries()
    before = sorted(e.event_id for e in pipeline.store.load(summary["incident_id"]))
    report = fold(pipeline.store.load(summary["incident_id"])).latest_report
    replay = list(pipeline.bus.sent) * 10
    random.Random(7).shuffle(replay)
    inner = pipeline.bus.inner
    for topic, data, attributes in replay:
        inner.publish(topic, data, attributes)
    assert dispatcher.wait_idle(timeout=180, quiet=3.0)
    after = pipeline.store.load(summary["incident_id"])
    assert sorted(e.event_id for e in after) == before
    assert fold(after).latest_report == report
