""""I'm on it": a verified identity acknowledges an incident with a POST (same origin, CSRF token bound to the
incident and the person); it is an event in the incident's log, recorded once however often it is said, shown on
the report page and the list, and told to the team's channel once. GET never writes."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from demo.generator import generate
from functions.chat_policy import ChatPolicy
from functions.chat_thread import Chat, told_hook
from functions.handlers.web import create_app
from functions.local import triage
from shared.incident_log import IncidentLog
from shared.notify.webhook import WebhookNotifier
from shared.store.sqlite import SqliteEventStore
from shared.telemetry.bundle import BundleSource
from tests.http_stub import Stub, serve
from tests.test_browser import browser, page  # noqa: F401  (fixtures)

ME = "alice@example.com"


@pytest.fixture()
def incident(tmp_path: Path) -> tuple[SqliteEventStore, str]:
    scenario = generate("bad_deploy", tmp_path / "demo", seed=3)
    store = SqliteEventStore(str(tmp_path / "events.db"))
    return store, triage(scenario.alert_path.read_bytes(), BundleSource(scenario.bundle_dir), store=store).incident_id


@pytest.fixture()
def chat() -> Iterator[Stub]:
    with serve(lambda method, path, body: (200, None)) as stub:
        yield stub


def app(store: SqliteEventStore, chat: Stub, who: str = ME) -> Any:
    thread = Chat(WebhookNotifier(chat.url + "/hook", kind="chat"), store, "https://sre.example", ChatPolicy(),
                  time.time)
    return create_app(store, None, who, told=told_hook(thread))


def csrf_of(body: str) -> str:
    found = re.search(r"name=csrf value='([0-9a-f]+)'", body)
    assert found, "no I'm-on-it form"
    return found.group(1)


def test_saying_it_twice_records_it_once_and_tells_the_channel_once(incident: tuple[SqliteEventStore, str],
                                                                     chat: Stub) -> None:
    store, incident_id = incident
    client = app(store, chat).test_client()
    before = len(store.load(incident_id))
    body = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    client.get("/")
    assert len(store.load(incident_id)) == before  # reading the page wrote nothing
    csrf = csrf_of(body)
    for _ in range(2):
        r = client.post(f"/incidents/{incident_id}/acknowledge", data={"csrf": csrf},
                        headers={"Origin": "http://localhost"})
        assert r.status_code == 303 and r.headers["Location"] == f"/incidents/{incident_id}"
    state = IncidentLog(store).read(incident_id)
    assert state is not None and list(state.acknowledged) == [ME]
    assert [t[3] for t in state.timeline if t[1] == "incident.acknowledged"] == [f"{ME} is on it"]
    (message,) = [b for _, _, b, _ in chat.requests]
    assert message["text"].startswith(f"*{ME} is on it*") and f"https://sre.example/incidents/{incident_id}" in \
        message["text"]
    assert store.summaries()[0]["acknowledged_by"] == [ME]


@pytest.mark.parametrize(("who", "data", "origin", "status", "why"), [
    (ME, {}, None, 403, "CSRF"),
    (ME, {"csrf": "0" * 64}, None, 403, "CSRF"),
    (ME, "take", "https://evil.example", 403, "cross-site"),
    ("", "take", None, 403, "no verified identity"),
])
def test_a_forged_or_anonymous_acknowledgement_records_nothing(incident: tuple[SqliteEventStore, str], chat: Stub,
                                                               who: str, data: Any, origin: str | None, status: int,
                                                               why: str) -> None:
    store, incident_id = incident
    form = {"csrf": csrf_of(app(store, chat).test_client().get(f"/incidents/{incident_id}").get_data(as_text=True))}
    client = app(store, chat, who).test_client()
    before = len(store.load(incident_id))
    r = client.post(f"/incidents/{incident_id}/acknowledge", data=form if data == "take" else data,
                    headers={"Origin": origin} if origin else {})
    assert r.status_code == status and why in r.get_data(as_text=True)
    assert len(store.load(incident_id)) == before and chat.requests == []
    assert client.get(f"/incidents/{incident_id}/acknowledge").status_code == 405  # GET never writes


def test_in_a_browser_the_page_and_the_list_say_who_is_on_it(incident: tuple[SqliteEventStore, str], chat: Stub,
                                                             page: Any) -> None:  # noqa: F811
    from werkzeug.serving import make_server

    store, incident_id = incident
    server = make_server("127.0.0.1", 0, app(store, chat), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        page.goto(f"{url}/incidents/{incident_id}")
        assert "Nobody has said they are on it yet." in page.inner_text("#on-it")
        page.click("button.ack")
        page.wait_for_url(f"{url}/incidents/{incident_id}")
        said = page.inner_text("#on-it")
        assert f"On it: {ME} (since " in said and "I'm on it" not in said  # said once: no button again
        assert f"{ME} is on it" in page.inner_text("table.timeline")
        page.goto(url + "/")
        row = page.locator("main table tr", has_text=incident_id).inner_text()
        assert ME in row
        assert len(chat.requests) == 1
    finally:
        server.shutdown()
