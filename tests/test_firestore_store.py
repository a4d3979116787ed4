"""Firestore specifics against the emulator (the real API's rules: update-time preconditions, TTL fields): a summary
that loses every race says so instead of vanishing, and claim keys carry the expiry the TTL policy deletes on."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

pytestmark = pytest.mark.emulator


class Interloper:
    """Wraps the summaries collection: after each read of a summary, another writer stores a newer one, so our
    conditional write fails on Firestore's own update-time precondition."""

    def __init__(self, collection: Any, other: Any):
        self._collection, self._other = collection, other
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)

    def document(self, name: str) -> Any:
        ref, outer = self._collection.document(name), self

        class Ref:
            def __getattr__(self, attr: str) -> Any:
                return getattr(ref, attr)

            def get(self) -> Any:
                snap = ref.get()
                outer.writes += 1
                outer._other.put_summary(name, {"incident_id": name, "status": "open", "events": 1,
                                                "updated_at": float(outer.writes)})
                return snap

        return Ref()


def test_a_summary_that_loses_every_race_is_reported(firestore_emulator: Any, project_id: str,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    from shared.store.firestore import SUMMARY_ATTEMPTS, FirestoreEventStore, SummaryContention

    ours, theirs = FirestoreEventStore(project_id), FirestoreEventStore(project_id)
    theirs.put_summary("inc", {"incident_id": "inc", "status": "open", "events": 1, "updated_at": 0.0})
    ours._incidents = Interloper(ours._incidents, theirs)
    with pytest.raises(SummaryContention):
        ours.put_summary("inc", {"incident_id": "inc", "status": "resolved", "events": 2, "updated_at": 99.0})
    assert ours._incidents.writes == SUMMARY_ATTEMPTS
    assert any("not stored" in r.getMessage() for r in caplog.records)


def test_claim_keys_carry_the_retention_expiry(firestore_emulator: Any, project_id: str) -> None:
    from shared.store.firestore import FirestoreEventStore, key_id

    store = FirestoreEventStore(project_id, retention_days=400)
    assert store.claim("token:abc", "me") == "me"
    doc = store._keys.document(key_id("token:abc")).get().to_dict()
    assert isinstance(doc["expire_at"], datetime)
    assert (doc["expire_at"] - datetime.now(doc["expire_at"].tzinfo)).days in (399, 400)
    kept = FirestoreEventStore(project_id, prefix="keep")  # no retention: no expiry
    kept.claim("k", "v")
    assert "expire_at" not in kept._keys.document(key_id("k")).get().to_dict()


def test_a_claim_with_its_own_expiry_expires_then(firestore_emulator: Any, project_id: str) -> None:
    """Read-quota slots (shared/quota.py) last an hour, not the incidents' retention."""
    from shared.store.firestore import FirestoreEventStore, key_id

    store = FirestoreEventStore(project_id, retention_days=400)
    assert store.claim("quota:logging:p:1:0", "me", expires_in_s=3600) == "me"
    assert store.claim("quota:logging:p:1:0", "other", expires_in_s=3600) == "me"  # won once
    doc = store._keys.document(key_id("quota:logging:p:1:0")).get().to_dict()
    left = (doc["expire_at"] - datetime.now(doc["expire_at"].tzinfo)).total_seconds()
    assert 3500 < left <= 3600


def test_a_filtered_page_reads_a_bounded_number_of_rows_and_says_where_it_stopped(
        firestore_emulator: Any, project_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Firestore filters after reading (no composite index): a filtered page reads at most FILTER_SCAN rows, so it
    may hold fewer matches than asked, with a cursor that goes on from the last row read; paging on finds the
    rest, in order."""
    from shared.paging import ListFilter
    from shared.store import firestore
    from shared.store.firestore import FirestoreEventStore

    monkeypatch.setattr(firestore, "FILTER_SCAN", 4)
    store = FirestoreEventStore(project_id)
    for n in range(10):
        store.put_summary(f"i{n}", {"incident_id": f"i{n}", "status": "open" if n in (0, 9) else "resolved",
                                    "events": 1, "updated_at": float(n)})
    where = ListFilter(status="open")
    page, cursor = store.summaries_page(5, "", where)
    assert [s["incident_id"] for s in page] == ["i9"] and cursor  # read i9..i6, then stopped
    seen = [s["incident_id"] for s in page]
    while cursor:
        page, cursor = store.summaries_page(5, cursor, where)
        seen += [s["incident_id"] for s in page]
    assert seen == ["i9", "i0"]


def test_a_claim_this_store_created_is_released_without_reading_it(firestore_emulator: Any, project_id: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from google.cloud.firestore_v1.document import DocumentReference

    from shared.store.firestore import FirestoreEventStore

    ours, theirs = FirestoreEventStore(project_id), FirestoreEventStore(project_id)
    reads: list[str] = []
    get = DocumentReference.get
    monkeypatch.setattr(DocumentReference, "get", lambda self, *a, **k: reads.append(self.id) or get(self, *a, **k))
    assert ours.claim("members:inc-1", "lease") == "lease"
    assert ours.release("members:inc-1", "lease") is True and reads == []  # its own create: deleted as created
    assert ours.lookup("members:inc-1") is None
    # released and claimed again elsewhere with the same value: read, compared and freed, as any holder's
    assert ours.claim("open:k", "inc-a") == "inc-a"
    assert theirs.release("open:k", "inc-a") is True and theirs.claim("open:k", "inc-a") == "inc-a"
    assert ours.release("open:k", "inc-a") is True and ours.lookup("open:k") is None
    assert ours.claim("open:k", "inc-a") == "inc-a"  # taken over by another holder: not freed
    assert theirs.release("open:k", "inc-a") is True and theirs.claim("open:k", "inc-b") == "inc-b"
    assert ours.release("open:k", "inc-a") is False and ours.lookup("open:k") == "inc-b"
