"""The incident list and /api/incidents read one page of summaries at a time (newest first), never every incident
the store keeps (Firestore keeps them for months): the page carries the cursor of the next one."""

from __future__ import annotations

import pytest

from functions.handlers import web
from shared.store.sqlite import SqliteEventStore


def store_with(n: int) -> SqliteEventStore:
    store = SqliteEventStore()
    for i in range(n):
        store.put_summary(f"inc-{i:02d}", {"incident_id": f"inc-{i:02d}", "status": "resolved", "events": 1,
                                           "updated_at": 1_700_000_000.0 + i, "service": "checkout"})
    return store


def test_the_api_pages_through_every_incident_newest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web, "LIST_PAGE", 2)
    client = web.create_app(store_with(5)).test_client()
    seen: list[str] = []
    after, pages = "", 0
    while True:
        body = client.get("/api/incidents", query_string={"after": after} if after else {}).get_json()
        assert len(body["incidents"]) <= 2
        seen += [s["incident_id"] for s in body["incidents"]]
        pages += 1
        after = body["next"]
        if not after:
            break
    assert seen == [f"inc-{i:02d}" for i in (4, 3, 2, 1, 0)] and pages == 3


def test_the_list_page_links_to_older_incidents(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web, "LIST_PAGE", 2)
    client = web.create_app(store_with(3)).test_client()
    first = client.get("/").get_data(as_text=True)
    assert "inc-02" in first and "inc-00" not in first and "Older incidents" in first
    older = first.split("href='/?after=", 1)[1].split("'", 1)[0]
    last = client.get(f"/?after={older}").get_data(as_text=True)
    assert "inc-00" in last and "inc-02" not in last and "Older incidents" not in last


def test_a_forged_cursor_is_a_bad_request() -> None:
    client = web.create_app(store_with(1)).test_client()
    assert client.get("/api/incidents", query_string={"after": "not-a-cursor"}).status_code == 400
