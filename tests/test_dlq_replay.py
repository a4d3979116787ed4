"""Replaying the dead-letter archive on the Pub/Sub emulator: each message goes back to the topic it came from,
with the dead-letter bookkeeping dropped; one whose origin cannot be told stays in the archive."""

from __future__ import annotations

import pytest

from functions.dlq import REPLAY_ATTRIBUTE, SOURCE_ATTRIBUTE, origin_topic, replay
from functions.topology import subscriptions
from shared import topics
from shared.bus.pubsub_topology import SubscriptionSpec

pytestmark = pytest.mark.emulator


def test_origin_of_a_dead_lettered_message() -> None:
    assert origin_topic({SOURCE_ATTRIBUTE: "projects/p/subscriptions/specialist-logs"}) == topics.TASKS
    assert origin_topic({SOURCE_ATTRIBUTE: "projects/p/subscriptions/synthesize"}) == topics.FINDINGS
    assert origin_topic({"autosre_reason": "bad_json"}) == topics.ALERTS
    assert origin_topic({SOURCE_ATTRIBUTE: "projects/p/subscriptions/someone-elses"}) == ""
    assert origin_topic({}) == ""


def test_replay_sends_each_message_back_to_its_topic(pubsub_emulator: object, project_id: str) -> None:
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    from shared.bus.pubsub import PubSubBus
    from shared.bus.pubsub_topology import ensure_topology

    probes = [SubscriptionSpec("probe-alerts", topics.ALERTS, dead_letter_topic=""),
              SubscriptionSpec("probe-tasks", topics.TASKS, dead_letter_topic="")]
    ensure_topology(project_id, topics.ALL, [*subscriptions(), *probes])
    bus = PubSubBus(project_id)
    bus.publish(topics.DEAD_LETTER, b'{"incident": 1}', {"autosre_reason": "wrong_type", "autosre_sha256": "x"})
    bus.publish(topics.DEAD_LETTER, b'{"task": 1}',
                {SOURCE_ATTRIBUTE: f"projects/{project_id}/subscriptions/specialist-traces", "specialist": "traces",
                 "CloudPubSubDeadLetterSourceDeliveryCount": "30"})
    bus.publish(topics.DEAD_LETTER, b"unknown origin", {})
    subscriber = pubsub_v1.SubscriberClient()
    replayed = []
    for _ in range(10):  # the emulator may hand out fewer than asked per pull
        replayed += replay(project_id, bus, subscriber=subscriber)
        if len({r.message_id for r in replayed}) >= 3:
            break
    assert sorted({(r.topic) for r in replayed}) == ["", topics.ALERTS, topics.TASKS]

    def pulled(name: str) -> list[tuple[bytes, dict[str, str]]]:
        path = subscriber.subscription_path(project_id, name)
        got = subscriber.pull(request={"subscription": path, "max_messages": 10}, timeout=10)
        return [(bytes(m.message.data), dict(m.message.attributes)) for m in got.received_messages]

    assert pulled("probe-alerts") == [(b'{"incident": 1}', {REPLAY_ATTRIBUTE: "1"})]
    assert pulled("probe-tasks") == [(b'{"task": 1}', {"specialist": "traces", REPLAY_ATTRIBUTE: "1"})]
    left = subscriber.pull(request={"subscription": subscriber.subscription_path(project_id, "dead-letter-archive"),
                                    "max_messages": 10}, timeout=10)
    assert [bytes(m.message.data) for m in left.received_messages] == [b"unknown origin"]


def test_the_cli_replays_and_sends_a_synthetic_alert(pubsub_emulator: object, project_id: str) -> None:
    import json as _json
    import os
    import subprocess
    import sys

    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    from shared.bus.pubsub import PubSubBus
    from shared.bus.pubsub_topology import ensure_topology

    probe = SubscriptionSpec("probe-alerts", topics.ALERTS, dead_letter_topic="")
    ensure_topology(project_id, topics.ALL, [*subscriptions(), probe])
    PubSubBus(project_id).publish(topics.DEAD_LETTER, b"{}", {"autosre_reason": "missing_incident"})
    env = {**os.environ}

    def autosre(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "functions.cli", *argv], capture_output=True, text=True,
                              timeout=120, env=env)

    sent = autosre("send-alert", "--project", project_id, "--service", "checkout")
    assert sent.returncode == 0, sent.stderr
    assert _json.loads(sent.stdout)["monitoring_incident_id"].startswith("0.synthetic-")
    dry = autosre("dlq", "replay", "--project", project_id, "--dry-run")
    assert dry.returncode == 0 and "would replay 1 of 1" in dry.stderr, dry.stderr
    done = autosre("dlq", "replay", "--project", project_id)
    assert done.returncode == 0 and "replayed 1 of 1" in done.stderr and topics.ALERTS in done.stdout
    subscriber = pubsub_v1.SubscriberClient()
    got = subscriber.pull(request={"subscription": subscriber.subscription_path(project_id, "probe-alerts"),
                                   "max_messages": 10}, timeout=10)
    bodies = sorted(bytes(m.message.data)[:20] for m in got.received_messages)
    assert len(bodies) == 2 and b"{}" in bodies  # the synthetic alert and the replayed message
