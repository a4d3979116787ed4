"""The composite EventStore (shared/ports.py): one adapter holds all four capabilities over one database, and none
sees another's data (an incident's events, its summary, the claims' keys and the term index are apart); run
against every store adapter. Each capability has its own suite beside this one."""

from __future__ import annotations

from shared.ports import EventStore
from tests.contract.stores import event


def test_summaries_and_events_do_not_mix(store: EventStore) -> None:
    store.append(event("e1", incident="only-events"))
    store.put_summary("only-summary", {"incident_id": "only-summary"})
    assert store.summaries() == [{"incident_id": "only-summary"}]
    assert store.load("only-summary") == []
    assert len(store.load("only-events")) == 1


def test_the_term_index_is_neither_an_incidents_events_nor_its_summary(store: EventStore) -> None:
    terms = [f"logword:w{i:03d}" for i in range(75)] + ["a/b", "..", "__x__", "é漢", "pattern:" + "p" * 1600]
    store.index_terms("odd/incident", terms)
    assert store.load("odd/incident") == [] and store.summaries() == []  # the index is not an incident's events
    assert store.lookup("odd/incident") is None


def test_claims_are_neither_events_nor_summaries_nor_terms(store: EventStore) -> None:
    assert store.claim("inc-1", "held") == "held"
    assert store.claim("open:policy|res", "inc-1") == "inc-1"
    assert store.load("inc-1") == [] and store.summaries() == []
    assert store.incidents_with_terms(["inc-1", "held"], 5) == {} and store.indexed_terms(["inc-1"]) == {}
    store.append(event("e1", incident="inc-1"))
    assert store.lookup("inc-1") == "held" and [e.event_id for e in store.load("inc-1")] == ["e1"]
