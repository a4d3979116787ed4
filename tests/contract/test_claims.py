"""The Claims contract (shared/ports.py): claim is create-if-absent and answers the winner's value, release frees a
key only for its holder, keys of any shape are distinct, concurrent callers agree; run against every store
adapter."""

from __future__ import annotations

import pytest

from shared.ports import Claims, EventStore
from tests.contract.stores import THREADS, together


@pytest.fixture()
def claims(store: EventStore) -> Claims:
    """The adapter as the key index it is."""
    return store


def test_claim_lookup_release(claims: Claims) -> None:
    key = "open:policy|res/with/slashes"
    assert claims.lookup(key) is None
    assert claims.release(key, "inc-a") is False  # nothing to release
    assert claims.claim(key, "inc-a") == "inc-a"
    assert claims.claim(key, "inc-b") == "inc-a"
    assert claims.lookup(key) == "inc-a"
    assert claims.release(key, "inc-b") is False  # not the holder
    assert claims.lookup(key) == "inc-a"
    assert claims.release(key, "inc-a") is True
    assert claims.lookup(key) is None
    assert claims.release(key, "inc-a") is False  # already free
    assert claims.claim(key, "inc-b") == "inc-b"
    assert claims.release(key, "inc-a") is False  # a stale holder cannot free the new holder's key
    assert claims.lookup(key) == "inc-b"


def test_keys_of_any_shape_are_distinct(claims: Claims) -> None:
    keys = ["k" * 5000, "k" * 4999, "a/b", "a_b", "", "é", "..", "__x__"]
    for i, key in enumerate(keys):
        assert claims.claim(key, f"v{i}") == f"v{i}"
    assert [claims.lookup(key) for key in keys] == [f"v{i}" for i in range(len(keys))]


def test_concurrent_claims_agree_on_one_winner(claims: Claims) -> None:
    seen = together(THREADS, lambda i: claims.claim("key", f"v{i}"))
    assert len(seen) == THREADS and len(set(seen)) == 1
    assert claims.lookup("key") == seen[0]


def test_concurrent_releases_free_the_key_once(claims: Claims) -> None:
    claims.claim("key", "holder")
    released = together(THREADS, lambda i: claims.release("key", "holder"))
    assert sorted(released) == [False] * (THREADS - 1) + [True]
    assert claims.lookup("key") is None


def test_lookup_all_reads_the_keys_that_hold_a_value_at_once(claims: Claims) -> None:
    keys = ["action-slot:0", "action-slot:1", "k" * 5000, "a/b", "é"]
    claims.claim(keys[1], "held")
    claims.claim(keys[2], "long")
    claims.claim(keys[4], "accent")
    assert claims.lookup_all(keys) == {keys[1]: "held", keys[2]: "long", keys[4]: "accent"}
    assert claims.lookup_all([]) == {}
    claims.release(keys[1], "held")
    assert claims.lookup_all(keys[:2]) == {}
