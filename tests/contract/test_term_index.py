"""The TermIndex contract (shared/ports.py): incidents are found by their signature terms, most matches first,
indexing again replaces an incident's terms, and queries span term batches and odd spellings; run against every
store adapter."""

from __future__ import annotations

import pytest

from shared.ports import EventStore, TermIndex


@pytest.fixture()
def index(store: EventStore) -> TermIndex:
    """The adapter as the search index it is."""
    return store


def test_incidents_are_found_by_their_signature_terms(index: TermIndex) -> None:
    assert index.incidents_with_terms(["a"], 5) == {}
    index.index_terms("i1", ["a", "b", "c"])
    index.index_terms("i2", ["b", "c", "d"])
    index.index_terms("i3", ["x"])
    assert index.incidents_with_terms(["b", "c", "d"], 5) == {"i2": 3, "i1": 2}
    assert list(index.incidents_with_terms(["b", "c", "d"], 5)) == ["i2", "i1"]  # the most matches first
    assert index.incidents_with_terms(["b", "c"], 1) == {"i1": 2}  # a tie goes to the smaller id
    assert index.incidents_with_terms(["nothing"], 5) == {}
    assert index.incidents_with_terms([], 5) == {}
    assert index.indexed_terms(["i1", "i3", "missing"]) == {"i1": ["a", "b", "c"], "i3": ["x"]}


def test_indexing_again_replaces_an_incidents_terms(index: TermIndex) -> None:
    index.index_terms("i1", ["a", "b"])
    index.index_terms("i1", ["a", "b"])  # a re-driven step changes nothing
    assert index.incidents_with_terms(["a", "b"], 5) == {"i1": 2}
    index.index_terms("i1", ["b", "z"])  # a later report's signature replaces the earlier one
    assert index.incidents_with_terms(["a"], 5) == {}
    assert index.incidents_with_terms(["a", "b", "z"], 5) == {"i1": 2}
    assert index.indexed_terms(["i1"]) == {"i1": ["b", "z"]}


def test_term_queries_span_more_terms_than_one_batch_and_odd_spellings(index: TermIndex) -> None:
    terms = [f"logword:w{i:03d}" for i in range(75)] + ["a/b", "..", "__x__", "é漢", "pattern:" + "p" * 1600]
    index.index_terms("odd/incident", terms)
    index.index_terms("other", terms[::2])
    assert index.incidents_with_terms(terms, 5) == {"odd/incident": len(terms), "other": len(terms[::2])}
    assert index.indexed_terms(["odd/incident"]) == {"odd/incident": sorted(terms)}


def test_an_empty_question_has_an_empty_answer(index: TermIndex) -> None:
    index.index_terms("i1", ["a"])
    assert index.incidents_with_terms(["a"], 0) == {}
    assert index.incidents_with_terms([], 5) == {}
    assert index.indexed_terms([]) == {}
    index.index_terms("i1", [])  # an incident indexed with no terms is found by none
    assert index.incidents_with_terms(["a"], 5) == {} and index.indexed_terms(["i1"]) == {"i1": []}
