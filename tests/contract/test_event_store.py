"""The EventStore contract: every adapter (SQLite file, SQLite memory, Firestore emulator) passes the same tests."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.models import Event
from shared.ports import EventStore
from shared.store.sqlite import SqliteEventStore

T = TypeVar("T")
THREADS = 8


@pytest.fixture(params=["sqlite-file", "sqlite-memory", pytest.param("firestore", marks=pytest.mark.emulator)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    if request.param == "sqlite-file":
        sqlite = SqliteEventStore(str(tmp_path / "events.db"))
        yield sqlite
        sqlite.close()
    elif request.param == "sqlite-memory":
        memory = SqliteEventStore(":memory:")
        yield memory
        memory.close()
    else:
        request.getfixturevalue("firestore_emulator")
        from shared.store.firestore import FirestoreEventStore

        yield FirestoreEventStore(request.getfixturevalue("project_id"))


def event(event_id: str, at: float = 1.0, incident: str = "inc-1", **data: Any) -> Event:
    return Event(incident_id=incident, event_id=event_id, type="t", at=at, actor="test", data=dict(data))


def together(n: int, work: Callable[[int], T]) -> list[T]:
    """Run work(0..n-1) on n threads released at the same instant; every result, in thread order."""
    barrier = threading.Barrier(n)
    results: list[T | None] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:  # reported below: a thread's exception must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return [r for r in results if r is not None]


def test_append_is_create_if_absent_and_never_overwrites(store: EventStore) -> None:
    assert store.append(event("e1", x=1)) is True
    assert store.append(event("e1", at=9.0, x=2)) is False
    loaded = store.load("inc-1")
    assert [(e.event_id, e.at, e.data) for e in loaded] == [("e1", 1.0, {"x": 1})]


def test_load_orders_by_time_then_id(store: EventStore) -> None:
    for event_id, at in [("c", 2.0), ("b", 1.0), ("a", 2.0), ("d", 0.5), ("e", 1.0000001)]:
        assert store.append(event(event_id, at))
    assert [e.event_id for e in store.load("inc-1")] == ["d", "b", "e", "a", "c"]


def test_loaded_events_keep_every_field(store: EventStore) -> None:
    original = Event(incident_id="inc-9", event_id="ev", type="FindingsRecorded", at=1700000000.123456,
                     actor="specialist:logs", data={"n": 1})
    store.append(original)
    assert store.load("inc-9") == [original]


def test_data_round_trips_exactly(store: EventStore) -> None:
    data: dict[str, Any] = {
            "nested": {"list": [1, 2.5, None, "x", {"k": [True, False]}]}, "unicode": "é ü 漢 \u0000 <script>",
            "float": 0.1 + 0.2, "big": 2**70, "neg": -(2**63) - 1, "tiny": 5e-324, "empty": {}, "emptylist": [],
            "quote": "a\"b'c\\", "slash/key": "/", "__name__": "reserved-looking key", "1": "digit key"}
    store.append(Event(incident_id="inc-1", event_id="e1", type="t", at=1.0, actor="test", data=data))
    assert _exact(store.load("inc-1")[0].data) == _exact(data)


def _exact(value: Any) -> str:
    """A spelling that tells 1, 1.0 and True apart (== does not)."""
    return json.dumps(value, sort_keys=True)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.dictionaries(st.text(), _json, max_size=5))
def test_any_json_data_round_trips(store: EventStore, data: dict[str, Any]) -> None:
    incident = f"inc-{uuid.uuid4().hex}"
    assert store.append(Event(incident_id=incident, event_id="e", type="t", at=1.0, actor="test", data=data))
    assert _exact(store.load(incident)[0].data) == _exact(data)


def test_incidents_are_isolated(store: EventStore) -> None:
    store.append(event("e1", incident="a", side="a"))
    store.append(event("e1", incident="b", side="b"))
    store.append(event("e2", incident="b", side="b"))
    assert [(e.incident_id, e.data["side"]) for e in store.load("a")] == [("a", "a")]
    assert [e.event_id for e in store.load("b")] == ["e1", "e2"]
    assert store.load("missing") == []


def test_ids_that_are_not_plain_words_work(store: EventStore) -> None:
    odd = ["a/b", "..", "__x__", "~tilde", "é漢", "x" * 2000]
    for incident in odd:
        for event_id in odd:
            assert store.append(event(event_id, incident=incident)) is True
            assert store.append(event(event_id, incident=incident)) is False
    for incident in odd:
        assert sorted(e.event_id for e in store.load(incident)) == sorted(odd)
        assert {e.incident_id for e in store.load(incident)} == {incident}


def test_concurrent_appends_of_one_event_write_once(store: EventStore) -> None:
    results = together(THREADS, lambda i: store.append(event("same", writer=i)))
    assert sorted(results) == [False] * (THREADS - 1) + [True]
    loaded = store.load("inc-1")
    assert len(loaded) == 1 and loaded[0].data["writer"] == results.index(True)


def test_claim_lookup_release(store: EventStore) -> None:
    key = "open:policy|res/with/slashes"
    assert store.lookup(key) is None
    assert store.release(key, "inc-a") is False  # nothing to release
    assert store.claim(key, "inc-a") == "inc-a"
    assert store.claim(key, "inc-b") == "inc-a"
    assert store.lookup(key) == "inc-a"
    assert store.release(key, "inc-b") is False  # not the holder
    assert store.lookup(key) == "inc-a"
    assert store.release(key, "inc-a") is True
    assert store.lookup(key) is None
    assert store.release(key, "inc-a") is False  # already free
    assert store.claim(key, "inc-b") == "inc-b"
    assert store.release(key, "inc-a") is False  # a stale holder cannot free the new holder's key
    assert store.lookup(key) == "inc-b"


def test_keys_of_any_shape_are_distinct(store: EventStore) -> None:
    keys = ["k" * 5000, "k" * 4999, "a/b", "a_b", "", "é", "..", "__x__"]
    for i, key in enumerate(keys):
        assert store.claim(key, f"v{i}") == f"v{i}"
    assert [store.lookup(key) for key in keys] == [f"v{i}" for i in range(len(keys))]


def test_concurrent_claims_agree_on_one_winner(store: EventStore) -> None:
    seen = together(THREADS, lambda i: store.claim("key", f"v{i}"))
    assert len(seen) == THREADS and len(set(seen)) == 1
    assert store.lookup("key") == seen[0]


def test_concurrent_releases_free_the_key_once(store: EventStore) -> None:
    store.claim("key", "holder")
    released = together(THREADS, lambda i: store.release("key", "holder"))
    assert sorted(released) == [False] * (THREADS - 1) + [True]
    assert store.lookup("key") is None


def test_summaries_are_overwritten_projections(store: EventStore) -> None:
    assert store.summaries() == []
    store.put_summary("b", {"incident_id": "b", "status": "open"})
    store.put_summary("a", {"incident_id": "a", "status": "open", "n": [1, 2.5]})
    store.put_summary("b", {"incident_id": "b", "status": "resolved"})
    assert store.summaries() == [{"incident_id": "a", "status": "open", "n": [1, 2.5]},
                                 {"incident_id": "b", "status": "resolved"}]


def test_summaries_and_events_do_not_mix(store: EventStore) -> None:
    store.append(event("e1", incident="only-events"))
    store.put_summary("only-summary", {"incident_id": "only-summary"})
    assert store.summaries() == [{"incident_id": "only-summary"}]
    assert store.load("only-summary") == []
    assert len(store.load("only-events")) == 1


def test_a_stale_summary_never_overwrites_a_newer_one(store: EventStore) -> None:
    store.put_summary("i", {"incident_id": "i", "status": "open", "events": 5, "updated_at": 50.0})
    store.put_summary("i", {"incident_id": "i", "status": "open", "events": 3, "updated_at": 90.0})  # fewer events
    store.put_summary("i", {"incident_id": "i", "status": "open", "events": 5, "updated_at": 40.0})  # older
    assert store.summaries() == [{"incident_id": "i", "status": "open", "events": 5, "updated_at": 50.0}]
    store.put_summary("i", {"incident_id": "i", "status": "resolved", "events": 6, "updated_at": 60.0})
    assert store.summaries()[0]["status"] == "resolved"


def test_summaries_can_be_asked_for_by_status(store: EventStore) -> None:
    for incident, status in (("a", "open"), ("b", "resolved"), ("c", "open")):
        store.put_summary(incident, {"incident_id": incident, "status": status, "events": 1, "updated_at": 1.0})
    assert [s["incident_id"] for s in store.summaries(status="open")] == ["a", "c"]
    assert [s["incident_id"] for s in store.summaries(status="resolved")] == ["b"]
    assert store.summaries(status="unknown") == []


@pytest.mark.emulator
def test_a_firestore_create_retried_after_a_lost_reply_counts_as_written(request: pytest.FixtureRequest,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    request.getfixturevalue("firestore_emulator")
    from google.api_core.exceptions import AlreadyExists
    from google.cloud.firestore_v1.document import DocumentReference

    from shared.store.firestore import FirestoreEventStore

    store = FirestoreEventStore(request.getfixturevalue("project_id"), prefix=f"t{uuid.uuid4().hex[:8]}")
    real_create = DocumentReference.create

    def lost_reply(self: DocumentReference, document_data: dict[str, Any], **kwargs: Any) -> Any:
        real_create(self, document_data, **kwargs)  # the write lands ...
        raise AlreadyExists("the retried create finds it")  # ... the reply is lost, the client's retry fails

    monkeypatch.setattr(DocumentReference, "create", lost_reply)
    assert store.append(event("e1")) is True  # our own write, not someone else's
    monkeypatch.undo()
    assert store.append(event("e1")) is False  # a genuine second append still writes nothing
    assert len(store.load("inc-1")) == 1


def test_incidents_are_found_by_their_signature_terms(store: EventStore) -> None:
    assert store.incidents_with_terms(["a"], 5) == {}
    store.index_terms("i1", ["a", "b", "c"])
    store.index_terms("i2", ["b", "c", "d"])
    store.index_terms("i3", ["x"])
    assert store.incidents_with_terms(["b", "c", "d"], 5) == {"i2": 3, "i1": 2}
    assert list(store.incidents_with_terms(["b", "c", "d"], 5)) == ["i2", "i1"]  # the most matches first
    assert store.incidents_with_terms(["b", "c"], 1) == {"i1": 2}  # a tie goes to the smaller id
    assert store.incidents_with_terms(["nothing"], 5) == {}
    assert store.incidents_with_terms([], 5) == {}
    assert store.indexed_terms(["i1", "i3", "missing"]) == {"i1": ["a", "b", "c"], "i3": ["x"]}


def test_indexing_again_replaces_an_incidents_terms(store: EventStore) -> None:
    store.index_terms("i1", ["a", "b"])
    store.index_terms("i1", ["a", "b"])  # a re-driven step changes nothing
    assert store.incidents_with_terms(["a", "b"], 5) == {"i1": 2}
    store.index_terms("i1", ["b", "z"])  # a later report's signature replaces the earlier one
    assert store.incidents_with_terms(["a"], 5) == {}
    assert store.incidents_with_terms(["a", "b", "z"], 5) == {"i1": 2}
    assert store.indexed_terms(["i1"]) == {"i1": ["b", "z"]}


def test_term_queries_span_more_terms_than_one_batch_and_odd_spellings(store: EventStore) -> None:
    terms = [f"logword:w{i:03d}" for i in range(75)] + ["a/b", "..", "__x__", "é漢", "pattern:" + "p" * 1600]
    store.index_terms("odd/incident", terms)
    store.index_terms("other", terms[::2])
    assert store.incidents_with_terms(terms, 5) == {"odd/incident": len(terms), "other": len(terms[::2])}
    assert store.indexed_terms(["odd/incident"]) == {"odd/incident": sorted(terms)}
    assert store.load("odd/incident") == [] and store.summaries() == []  # the index is not an incident's events
