"""Starting an investigation on a Google Cloud deployment (store firestore, bus pubsub), through the web function's
JSON API and the mcp function, each loaded as functions-framework loads it: the caller is IAP's verified e-mail, the
request is handed to the deployment's alerts topic (here the Pub/Sub emulator), which the intake reads, and the
intake opens the incident from it, as it does for any alert. Nothing is run in the web or mcp function itself."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from functions.topology import subscriptions
from shared import topics
from shared.iap import IAP_JWT_HEADER
from tests.http_stub import serve
from tests.test_iap import AUDIENCE, KEY, jwk_set, sign

pytestmark = pytest.mark.emulator
MAIN = Path(__file__).resolve().parents[1] / "functions" / "main.py"
WHO = "alice@example.com"  # the assertion's e-mail (tests/test_iap.py)


@pytest.fixture()
def deployment(firestore_emulator: Any, pubsub_emulator: Any, project_id: str,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A deployment's settings (Firestore, Pub/Sub, IAP with a local stand-in for its keys) and its topology."""
    from shared.bus.pubsub_topology import ensure_topology

    ensure_topology(project_id, topics.ALL, subscriptions())
    with serve(lambda method, path, body: (200, jwk_set(KEY))) as keys:
        for name, value in {"STORE": "firestore", "BUS": "pubsub", "PROJECT": project_id, "APPROVAL_KEY": "k" * 32,
                            "IAP_AUDIENCE": AUDIENCE, "IAP_CERTS_URL": keys.url, "READERS": WHO}.items():
            monkeypatch.setenv(f"AUTOSRE_{name}", value)
        for name in ("TELEMETRY", "APPROVERS", "ALLOWED_HOSTS", "GEMINI_API_KEY", "GEMINI_VERTEX_PROJECT"):
            monkeypatch.delenv(f"AUTOSRE_{name}", raising=False)
        monkeypatch.delitem(sys.modules, "main", raising=False)  # functions-framework loads main.py afresh
        yield project_id


def function(target: str) -> Any:
    import functions_framework

    create_app: Any = functions_framework.create_app  # untyped
    return create_app(target, str(MAIN))


def intake_messages(project: str) -> list[Any]:
    """What the intake's subscription (on the alerts topic) holds, pulled and acknowledged."""
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(project, "intake")
    got = subscriber.pull(request={"subscription": path, "max_messages": 10}, timeout=20).received_messages
    if got:
        subscriber.acknowledge(request={"subscription": path, "ack_ids": [m.ack_id for m in got]})
    return [m.message for m in got]


def the_intake_runs(project: str, message: Any) -> str:
    """The intake's handler on the pulled message (as the `intake` function gets it); the incident it opened."""
    from functions.runtime import from_settings
    from shared.config import Settings
    from shared.ports import Message

    pipeline = from_settings(Settings.from_env())
    pipeline.on_alert(Message(data=bytes(message.data), attributes=dict(message.attributes),
                              message_id=str(message.message_id), topic=topics.ALERTS))
    from shared.alerts import parse_alert
    from shared.incidents import monitoring_key

    incident_id = pipeline.store.lookup(monitoring_key(parse_alert(bytes(message.data))))
    assert incident_id
    return incident_id


def test_the_web_function_hands_a_started_investigation_to_the_intake(deployment: str) -> None:
    project = deployment
    web = function("web").test_client()
    web.environ_base["wsgi.input_terminated"] = True  # as gunicorn, functions-framework's server, says
    iap = {IAP_JWT_HEADER: sign()}
    token = web.get("/api/v1/csrf", headers=iap).get_json()
    assert token["identity"] == WHO
    forged = web.post("/api/v1/investigations", headers={"X-CSRF-Token": token["csrf"]}, json={"service": "cart"})
    assert forged.status_code == 403  # no assertion: nobody, nothing published
    started = web.post("/api/v1/investigations", headers={**iap, "X-CSRF-Token": token["csrf"]},
                       json={"service": "cart", "at": 1768471345})
    assert started.status_code == 202, started.get_data(as_text=True)
    body = started.get_json()
    assert body["pending"] is True and body["request"].startswith("0.requested-") and body["incident_id"] == ""
    (message,) = intake_messages(project)
    alert = json.loads(bytes(message.data))["incident"]
    assert alert["incident_id"] == body["request"] and alert["resource"]["labels"]["service_name"] == "cart"
    assert alert["started_at"] == 1768471345 and alert["condition_name"] == f"requested by {WHO}"
    assert message.attributes["autosre_requested"] == "1"
    incident_id = the_intake_runs(project, message)
    listed = web.get("/api/v1/incidents", headers=iap).get_json()
    assert [s["incident_id"] for s in listed["incidents"]] == [incident_id]
    again = web.post("/api/v1/investigations", headers={**iap, "X-CSRF-Token": token["csrf"]},
                     json={"service": "cart", "at": 1768471345})  # the same request: the same incident
    assert again.get_json()["incident_id"] == incident_id


async def start_over_mcp(app: Any, assertion: str) -> Any:
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app),
                                  headers={IAP_JWT_HEADER: assertion}) as http, \
            streamable_http_client("http://autosre-mcp.example/mcp", http_client=http) as streams, \
            ClientSession(streams[0], streams[1]) as session:
        await session.initialize()
        result = await session.call_tool("start_investigation", {"service": "cart", "at": 1768471345})
        return json.loads(result.content[0].text)  # type: ignore[union-attr]


def test_the_mcp_function_hands_a_started_investigation_to_the_intake(deployment: str) -> None:
    pytest.importorskip("mcp", reason="the MCP server needs the optional mcp package (pip install 'autosre[mcp]')")
    import anyio

    project = deployment
    out = anyio.run(start_over_mcp, function("mcp"), sign())
    assert "error" not in out, out
    assert out["pending"] is True and out["request"].startswith("0.requested-")
    (message,) = intake_messages(project)
    alert = json.loads(bytes(message.data))["incident"]
    assert alert["incident_id"] == out["request"] and alert["condition_name"] == f"requested by {WHO}"
    the_intake_runs(project, message)
