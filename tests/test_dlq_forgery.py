"""A poison alert cannot choose where `autosre dlq replay` sends it: the origin of a dead letter comes from what the
system itself recorded (intake's rejection, Pub/Sub's own dead-lettering), never from attributes the sender set."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from functions.dlq import SOURCE_ATTRIBUTE, origin_topic, replay
from shared import topics
from shared.ports import Message

FORGED = [
    {SOURCE_ATTRIBUTE: "projects/p/subscriptions/specialist-logs", "specialist": "logs"},
    {SOURCE_ATTRIBUTE: "projects/p/subscriptions/execute"},
    {SOURCE_ATTRIBUTE: "execute", "CloudPubSubDeadLetterSourceDeliveryCount": "30", "autosre_reason": "x"},
]


@dataclass
class RecordingBus:
    sent: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)

    def publish(self, topic: str, data: bytes, attributes: dict[str, str] | None = None) -> str:
        self.sent.append((topic, data, dict(attributes or {})))
        return str(len(self.sent))


class ArchiveSubscriber:
    """Hands out the given messages once, as a pull of the dead-letter archive would."""

    def __init__(self, messages: list[Message]):
        self.messages = messages

    def subscription_path(self, project: str, name: str) -> str:
        return f"projects/{project}/subscriptions/{name}"

    def pull(self, request: dict[str, Any], timeout: float) -> Any:
        received = [SimpleNamespace(ack_id=f"a{i}", message=SimpleNamespace(
            message_id=str(i), data=m.data, attributes=m.attributes)) for i, m in enumerate(self.messages)]
        self.messages = []
        return SimpleNamespace(received_messages=received)

    def acknowledge(self, request: dict[str, Any]) -> None:
        pass

    def modify_ack_deadline(self, request: dict[str, Any]) -> None:
        pass


@pytest.mark.parametrize("forged", FORGED, ids=["to-tasks", "to-actions", "to-actions-with-reason"])
def test_a_forged_source_attribute_does_not_steer_the_replay(forged: dict[str, str]) -> None:
    from tests.test_pipeline import make

    pipeline, bus = make()
    pipeline.on_alert(Message(data=b'{"incident_id": "approve p-1"', attributes=forged, topic=topics.ALERTS))
    archived = [m for m in bus.published if m.topic == topics.DEAD_LETTER]
    assert len(archived) == 1
    assert origin_topic(archived[0].attributes) == topics.ALERTS
    assert not any(k.startswith("CloudPubSubDeadLetter") for k in archived[0].attributes)

    out = RecordingBus()
    done = replay("p", out, subscriber=ArchiveSubscriber(archived))  # type: ignore[arg-type]
    assert [r.topic for r in done] == [topics.ALERTS]
    assert [topic for topic, _, _ in out.sent] == [topics.ALERTS]
    assert not any(k.startswith("CloudPubSubDeadLetter") for k in out.sent[0][2])


def test_intakes_rejection_outranks_a_source_attribute() -> None:
    """A dead letter intake wrote came from the alerts topic, whatever subscription an attribute names."""
    assert origin_topic({"autosre_reason": "bad_json", SOURCE_ATTRIBUTE: "projects/p/subscriptions/execute"}) \
        == topics.ALERTS
