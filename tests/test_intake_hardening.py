"""Intake never raises on hostile input: deeply nested bytes and an unreadable deliveryAttempt are recorded once in
the dead-letter stream and acknowledged (a raise would be retried, then dead-lettered unrecorded)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cloudevents.http import CloudEvent

from shared.events import DEAD_LETTER_STREAM
from shared.store.sqlite import SqliteEventStore

ATTRS = {"type": "google.cloud.pubsub.topic.v1.messagePublished",
         "source": "//pubsub.googleapis.com/projects/p/topics/alerts", "id": "7"}
DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.fixture()
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AUTOSRE_STORE", "sqlite")
    monkeypatch.setenv("AUTOSRE_SQLITE_PATH", str(tmp_path / "events.db"))
    import functions.main as main

    monkeypatch.setattr(main, "_pipeline", None)
    return tmp_path / "events.db"


def envelope(data: bytes, attempt: object) -> dict[str, object]:
    return {"message": {"data": base64.b64encode(data).decode(), "attributes": {}, "messageId": "m-9"},
            "deliveryAttempt": attempt}


@pytest.mark.parametrize("event", [
    CloudEvent(ATTRS, DEEP),  # a binary-mode CloudEvent whose data is 100k-deep JSON
    CloudEvent(ATTRS, envelope(DEEP, 1)),  # the same inside a push envelope
    CloudEvent(ATTRS, envelope(b'{"incident": 5}', "three")),  # a non-numeric deliveryAttempt
    CloudEvent(ATTRS, envelope(b'{"incident": 5}', {"n": [1]})),
], ids=["deep-bytes", "deep-in-envelope", "attempt-text", "attempt-object"])
def test_hostile_intake_is_recorded_once_and_acked(db: Path, event: CloudEvent) -> None:
    from functions.main import intake, message_of

    message = message_of(event)
    assert message.delivery_attempt >= 1
    for _ in range(3):  # redelivered: still one record
        intake(event)
    rejected = SqliteEventStore(str(db)).load(DEAD_LETTER_STREAM)
    assert len(rejected) == 1, [e.data["reason"] for e in rejected]
    assert rejected[0].data["reason"] and json.dumps(rejected[0].data)


def test_a_replayed_message_that_is_still_poison_is_archived_again() -> None:
    from shared import topics
    from shared.ports import Message
    from tests.test_pipeline import make

    pipeline, bus = make()
    for attributes in ({}, {}, {"autosre_replay": "1"}):
        pipeline.on_alert(Message(data=b"{not json", attributes=attributes, topic=topics.ALERTS))
    archived = [m for m in bus.published if m.topic == topics.DEAD_LETTER]
    assert len(archived) == 2  # once when first rejected, once more after the replay; a redelivery adds nothing
    assert len(pipeline.store.load(DEAD_LETTER_STREAM)) == 2
