"""The EventLog contract (shared/ports.py): appends are create-if-absent and never overwrite, an incident's events
load in (at, event_id) order with every field and any JSON data as written; run against every store adapter."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.core_models import Event
from shared.ports import EventLog, EventStore
from tests.contract.stores import THREADS, event, together


@pytest.fixture()
def log(store: EventStore) -> EventLog:
    """The adapter as the event log it is."""
    return store


def test_append_is_create_if_absent_and_never_overwrites(log: EventLog) -> None:
    assert log.append(event("e1", x=1)) is True
    assert log.append(event("e1", at=9.0, x=2)) is False
    loaded = log.load("inc-1")
    assert [(e.event_id, e.at, e.data) for e in loaded] == [("e1", 1.0, {"x": 1})]


def test_load_orders_by_time_then_id(log: EventLog) -> None:
    for event_id, at in [("c", 2.0), ("b", 1.0), ("a", 2.0), ("d", 0.5), ("e", 1.0000001)]:
        assert log.append(event(event_id, at))
    assert [e.event_id for e in log.load("inc-1")] == ["d", "b", "e", "a", "c"]


def test_loaded_events_keep_every_field(log: EventLog) -> None:
    original = Event(incident_id="inc-9", event_id="ev", type="FindingsRecorded", at=1700000000.123456,
                     actor="specialist:logs", data={"n": 1})
    log.append(original)
    assert log.load("inc-9") == [original]


def test_data_round_trips_exactly(log: EventLog) -> None:
    data: dict[str, Any] = {
            "nested": {"list": [1, 2.5, None, "x", {"k": [True, False]}]}, "unicode": "é ü 漢 \u0000 <script>",
            "float": 0.1 + 0.2, "big": 2**70, "neg": -(2**63) - 1, "tiny": 5e-324, "empty": {}, "emptylist": [],
            "quote": "a\"b'c\\", "slash/key": "/", "__name__": "reserved-looking key", "1": "digit key"}
    log.append(Event(incident_id="inc-1", event_id="e1", type="t", at=1.0, actor="test", data=data))
    assert _exact(log.load("inc-1")[0].data) == _exact(data)


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
def test_any_json_data_round_trips(log: EventLog, data: dict[str, Any]) -> None:
    incident = f"inc-{uuid.uuid4().hex}"
    assert log.append(Event(incident_id=incident, event_id="e", type="t", at=1.0, actor="test", data=data))
    assert _exact(log.load(incident)[0].data) == _exact(data)


def test_recorded_says_which_events_an_incident_holds_by_id(log: EventLog) -> None:
    log.append(event("e1", incident="a"))
    log.append(event("e2", incident="a"))
    log.append(event("e3", incident="b"))
    assert log.recorded("a", ["e1", "e3", "missing", "e1"]) == {"e1"}
    assert log.recorded("b", ["e3"]) == {"e3"} and log.recorded("missing", ["e1"]) == set()
    assert log.recorded("a", []) == set()
    odd = ["a/b", "..", "__x__", "~tilde", "x" * 2000]
    for event_id in odd:
        log.append(event(event_id, incident="a/b"))
    assert log.recorded("a/b", [*odd, "e1"]) == set(odd)
    many = [f"m{i}" for i in range(1200)]  # more ids than one statement or request may carry
    assert log.recorded("a", [*many, "e2"]) == {"e2"}


def test_read_by_id_gives_the_data_of_the_events_an_incident_holds(log: EventLog) -> None:
    log.append(event("e1", incident="a", x=1))
    log.append(event("e2", incident="a", nested={"k": [1, "two", None]}))
    log.append(event("e3", incident="b", x=3))
    assert log.read_by_id("a", ["e1", "e3", "missing", "e1", "e2"]) == {"e1": {"x": 1},
                                                                       "e2": {"nested": {"k": [1, "two", None]}}}
    assert log.read_by_id("b", ["e3"]) == {"e3": {"x": 3}} and log.read_by_id("missing", ["e1"]) == {}
    assert log.read_by_id("a", []) == {}
    many = [f"m{i}" for i in range(1200)]  # more ids than one statement or request may carry
    assert log.read_by_id("a", [*many, "e1"]) == {"e1": {"x": 1}}


def test_incidents_are_isolated(log: EventLog) -> None:
    log.append(event("e1", incident="a", side="a"))
    log.append(event("e1", incident="b", side="b"))
    log.append(event("e2", incident="b", side="b"))
    assert [(e.incident_id, e.data["side"]) for e in log.load("a")] == [("a", "a")]
    assert [e.event_id for e in log.load("b")] == ["e1", "e2"]
    assert log.load("missing") == []


def test_ids_that_are_not_plain_words_work(log: EventLog) -> None:
    odd = ["a/b", "..", "__x__", "~tilde", "é漢", "x" * 2000]
    for incident in odd:
        for event_id in odd:
            assert log.append(event(event_id, incident=incident)) is True
            assert log.append(event(event_id, incident=incident)) is False
    for incident in odd:
        assert sorted(e.event_id for e in log.load(incident)) == sorted(odd)
        assert {e.incident_id for e in log.load(incident)} == {incident}


def test_concurrent_appends_of_one_event_write_once(log: EventLog) -> None:
    results = together(THREADS, lambda i: log.append(event("same", writer=i)))
    assert sorted(results) == [False] * (THREADS - 1) + [True]
    loaded = log.load("inc-1")
    assert len(loaded) == 1 and loaded[0].data["writer"] == results.index(True)


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


def test_append_all_is_one_write_of_create_if_absent_appends(log: EventLog) -> None:
    """`append_all` writes several events of one incident together; each is still create-if-absent: an event
    already there is neither overwritten nor counted, the others are written."""
    assert log.append_all([]) == []
    assert log.append(event("e2", x=0)) is True
    assert log.append_all([event("e1", x=1), event("e2", x=2), event("e3", at=2.0, x=3)]) == [True, False, True]
    assert [(e.event_id, e.data) for e in log.load("inc-1")] == [("e1", {"x": 1}), ("e2", {"x": 0}),
                                                                 ("e3", {"x": 3})]
    assert log.append_all([event("e1", x=9), event("e3", x=9)]) == [False, False]  # a redelivery writes nothing
    assert log.append_all([event("e4", x=4)]) == [True]


def test_concurrent_append_alls_write_each_event_once(log: EventLog) -> None:
    results = together(THREADS, lambda i: log.append_all([event("a", writer=i), event("b", writer=i)]))
    assert sorted(r[0] for r in results) == [False] * (THREADS - 1) + [True]
    assert sorted(r[1] for r in results) == [False] * (THREADS - 1) + [True]
    loaded = {e.event_id: e.data["writer"] for e in log.load("inc-1")}
    assert loaded == {"a": [r[0] for r in results].index(True), "b": [r[1] for r in results].index(True)}


@pytest.mark.emulator
def test_a_firestore_batch_retried_after_a_lost_reply_counts_as_written(request: pytest.FixtureRequest,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    request.getfixturevalue("firestore_emulator")
    from google.api_core.exceptions import AlreadyExists
    from google.cloud.firestore_v1.batch import WriteBatch

    from shared.store.firestore import FirestoreEventStore

    store = FirestoreEventStore(request.getfixturevalue("project_id"), prefix=f"t{uuid.uuid4().hex[:8]}")
    real_commit = WriteBatch.commit

    def lost_reply(self: WriteBatch, *args: Any, **kwargs: Any) -> Any:
        real_commit(self, *args, **kwargs)  # the writes land ...
        raise AlreadyExists("the retried commit finds them")  # ... the reply is lost, the client's retry fails

    monkeypatch.setattr(WriteBatch, "commit", lost_reply)
    assert store.append_all([event("e1"), event("e2")]) == [True, True]  # our own writes, not someone else's
    monkeypatch.undo()
    assert store.append_all([event("e1"), event("e2")]) == [False, False]
    assert len(store.load("inc-1")) == 2
