"""The Cloud Functions targets, served by functions-framework in-process (push-envelope CloudEvents)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.data import alerts_dir


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "events.db"
    monkeypatch.setenv("AUTOSRE_STORE", "sqlite")
    monkeypatch.setenv("AUTOSRE_SQLITE_PATH", str(db))
    monkeypatch.delenv("AUTOSRE_TELEMETRY", raising=False)
    import functions.main as main

    monkeypatch.setattr(main, "_pipeline", None)
    monkeypatch.setattr(main, "_store", None)
    monkeypatch.setattr(main, "_remediation", None)
    return db


def client(target: str):  # type: ignore[no-untyped-def]
    import functions_framework

    source = Path(__file__).resolve().parents[1] / "functions" / "main.py"
    return functions_framework.create_app(target, str(source), "cloudevent").test_client()


def push(data: bytes, attributes: dict[str, str] | None = None) -> dict[str, object]:
    return {"message": {"data": base64.b64encode(data).decode(), "attributes": attributes or {},
                        "messageId": "m-1", "publishTime": "2026-01-01T00:00:00Z"},
            "subscription": "projects/p/subscriptions/intake"}


def headers() -> dict[str, str]:
    return {"ce-id": "1", "ce-specversion": "1.0", "ce-source": "//pubsub.googleapis.com/projects/p/topics/alerts",
            "ce-type": "google.cloud.pubsub.topic.v1.messagePublished", "Content-Type": "application/json"}


def test_message_of_decodes_the_push_envelope() -> None:
    from cloudevents.http import CloudEvent

    from functions.main import message_of

    event = CloudEvent({"type": "google.cloud.pubsub.topic.v1.messagePublished",
                        "source": "//pubsub.googleapis.com/projects/p/topics/alerts", "id": "9"},
                       {**push(b'{"a": 1}', {"k": "v"}), "deliveryAttempt": 3})
    m = message_of(event)
    assert m.data == b'{"a": 1}' and m.attributes == {"k": "v"} and m.topic == "alerts"
    assert m.message_id == "m-1" and m.delivery_attempt == 3


def test_intake_target_records_incident_from_a_real_payload(env: Path) -> None:
    from shared.store.sqlite import SqliteEventStore

    payload = (alerts_dir() / "01_gce_cpu_threshold_closed.v1.2.json").read_bytes()
    r = client("intake").post("/projects/p/topics/alerts", json=push(payload), headers=headers())
    assert r.status_code == 200, r.data
    summaries = SqliteEventStore(str(env)).summaries()
    assert len(summaries) == 1 and summaries[0]["status"] == "resolved"


def test_intake_target_acks_and_records_a_poison_message(env: Path) -> None:
    from shared.events import DEAD_LETTER_STREAM
    from shared.store.sqlite import SqliteEventStore

    for _ in range(2):
        r = client("intake").post("/projects/p/topics/alerts", json=push(b"\xff not json"), headers=headers())
        assert r.status_code == 200  # acknowledged: a poison message is never retried forever
    events = SqliteEventStore(str(env)).load(DEAD_LETTER_STREAM)
    assert len(events) == 1 and events[0].data["reason"] == "bad_json"
    assert json.loads(json.dumps(events[0].data))["sha256"]


def test_execute_builds_its_workflow_once_not_per_message(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cloudevents.http import CloudEvent

    import functions.main as main
    import functions.runtime as runtime

    built: list[object] = []
    real = runtime.remediation_of

    def counting(*args: object, **kwargs: object) -> object:
        built.append(args)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(runtime, "remediation_of", counting)
    for n in range(3):
        action = json.dumps({"incident_id": f"inc-{n}", "proposal_id": "p-none"}).encode()
        main.execute(CloudEvent({"type": "google.cloud.pubsub.topic.v1.messagePublished", "id": str(n),
                                 "source": "//pubsub.googleapis.com/projects/p/topics/actions"}, push(action)))
    assert len(built) == 1  # each message refused (no such incident), the workflow built for the first alone


def test_a_raw_push_keeps_its_delivery_attempt_through_the_framework(env: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A Pub/Sub push subscription posting straight to the function (no CloudEvent headers): functions-framework
    rewraps the body and drops deliveryAttempt; the handler still sees the real count."""
    import sys

    from shared.ports import Message

    app = client("intake")
    seen: list[Message] = []

    class Recorder:
        def on_alert(self, message: Message) -> None:
            seen.append(message)

    # the framework loads functions/main.py under its file name
    monkeypatch.setattr(sys.modules["main"], "pipeline", Recorder)
    body = {**push(b'{"a": 1}'), "deliveryAttempt": 7}
    r = app.post("/projects/p/topics/alerts", json=body)
    assert r.status_code == 200, r.data
    assert [m.delivery_attempt for m in seen] == [7] and seen[0].data == b'{"a": 1}'
