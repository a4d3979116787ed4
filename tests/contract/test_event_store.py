"""The EventStore contract: every adapter (SQLite file, SQLite memory, Firestore emulator) passes the same tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.models import Event
from shared.ports import EventStore
from shared.store_sqlite import SqliteEventStore


@pytest.fixture(params=["sqlite-file", "sqlite-memory", pytest.param("firestore", marks=pytest.mark.emulator)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    if request.param == "sqlite-file":
        yield SqliteEventStore(str(tmp_path / "events.db"))
    elif request.param == "sqlite-memory":
        yield SqliteEventStore(":memory:")
    else:
        request.getfixturevalue("firestore_emulator")
        from shared.store_firestore import FirestoreEventStore

        yield FirestoreEventStore(request.getfixturevalue("project_id"))


def event(event_id: str, at: float = 1.0, incident: str = "inc-1", **data: object) -> Event:
    return Event(incident_id=incident, event_id=event_id, type="t", at=at, actor="test", data=dict(data))


def test_append_is_create_if_absent_and_never_overwrites(store: EventStore) -> None:
    assert store.append(event("e1", x=1)) is True
    assert store.append(event("e1", x=2)) is False
    loaded = store.load("inc-1")
    assert len(loaded) == 1 and loaded[0].data == {"x": 1}


def test_load_orders_by_time_then_id(store: EventStore) -> None:
    for event_id, at in [("c", 2.0), ("b", 1.0), ("a", 2.0), ("d", 0.5)]:
        store.append(event(event_id, at))
    assert [e.event_id for e in store.load("inc-1")] == ["d", "b", "a", "c"]


def test_data_round_trips_exactly(store: EventStore) -> None:
    data = {"nested": {"list": [1, 2.5, None, "x", {"k": [True, False]}]}, "unicode": "é ü 漢 \u0000 <script>",
            "float": 0.1 + 0.2, "big": 2**53, "empty": {}, "quote": "a\"b'c\\"}
    store.append(event("e1", **data))
    assert store.load("inc-1")[0].data == data


def test_incidents_are_isolated(store: EventStore) -> None:
    store.append(event("e1", incident="a"))
    store.append(event("e1", incident="b"))
    assert [e.incident_id for e in store.load("a")] == ["a"]
    assert store.load("missing") == []


def test_concurrent_appends_of_one_event_write_once(store: EventStore) -> None:
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(store.append(event("same")))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1 and len(store.load("inc-1")) == 1


def test_claim_lookup_release(store: EventStore) -> None:
    assert store.lookup("open:policy|res/with/slashes") is None
    assert store.claim("open:policy|res/with/slashes", "inc-a") == "inc-a"
    assert store.claim("open:policy|res/with/slashes", "inc-b") == "inc-a"
    assert store.lookup("open:policy|res/with/slashes") == "inc-a"
    assert store.release("open:policy|res/with/slashes", "inc-b") is False  # not the holder
    assert store.lookup("open:policy|res/with/slashes") == "inc-a"
    assert store.release("open:policy|res/with/slashes", "inc-a") is True
    assert store.lookup("open:policy|res/with/slashes") is None
    assert store.claim("open:policy|res/with/slashes", "inc-b") == "inc-b"
    long_key = "k" * 5000
    assert store.claim(long_key, "v") == "v" and store.lookup(long_key) == "v"


def test_concurrent_claims_agree_on_one_winner(store: EventStore) -> None:
    seen: list[str] = []
    threads = [threading.Thread(target=lambda i=i: seen.append(store.claim("key", f"v{i}"))) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 1 and store.lookup("key") == seen[0]


def test_summaries_are_overwritten_projections(store: EventStore) -> None:
    store.put_summary("b", {"incident_id": "b", "status": "open"})
    store.put_summary("a", {"incident_id": "a", "status": "open"})
    store.put_summary("b", {"incident_id": "b", "status": "resolved"})
    assert store.summaries() == [{"incident_id": "a", "status": "open"}, {"incident_id": "b", "status": "resolved"}]
