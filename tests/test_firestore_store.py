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
