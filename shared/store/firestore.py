"""Firestore `EventStore`: events are documents created once, never updated (no hot documents).

Layout (prefix defaults to "autosre"):
- `{prefix}_incidents/{incident_id}/events/{event_id}`: one event; append = `create()` (AlreadyExists -> False)
- `{prefix}_incidents/{incident_id}`: the list-view summary (a projection) with `status`, `events` and
  `updated_at` as fields: the sweep and the web index query by status instead of reading the collection, and a
  summary folded from fewer events never overwrites a newer one (update with an update-time precondition)
- every document carries `expire_at` when a retention is set: a Firestore TTL policy on that field (infra/)
  deletes incidents past it
- `{prefix}_keys/{sha256(key)}`: {key, value}; claim = `create()` (on AlreadyExists the holder's value is read
  back), release = delete with an update-time precondition, so only the holder that still holds it frees it.
Ids that are not valid document ids as they are (a '/', `.`/`..`, `__x__`, over 1500 bytes) are stored under
"~" + their sha256 (plain ids never start with "~", so the two cannot collide); the real id is a field.
An append whose reply was lost and was retried by the client finds its own document (by a per-call writer
token) and counts as written. Event data is stored as a JSON string so that it round-trips exactly (Firestore
has no int keys, turns ints past 2**63 into errors, ...). Ordering is done here, so no composite index is needed.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.models import Event

_MAX_DOC_ID_BYTES = 1500
_RESERVED = re.compile(r"^__.*__$")


def doc_id(text: str) -> str:
    """`text` itself when it is a safe Firestore document id, else "~" + sha256(text)."""
    if (text and "/" not in text and text not in (".", "..") and not text.startswith("~")
            and not _RESERVED.match(text) and len(text.encode("utf-8")) <= _MAX_DOC_ID_BYTES):
        return text
    return "~" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def key_id(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class FirestoreEventStore:
    def __init__(self, project: str, prefix: str = "autosre", client: Any = None, database: str = "(default)",
                 retention_days: float = 0.0):
        if client is None:
            from google.cloud import firestore

            client = firestore.Client(project=project, database=database)
        from google.api_core import exceptions

        self._client = client
        self._exists = exceptions.AlreadyExists
        self._lost_race = (exceptions.FailedPrecondition, exceptions.NotFound, exceptions.Aborted)
        self._incidents = client.collection(f"{prefix}_incidents")
        self._retention = timedelta(days=retention_days) if retention_days > 0 else None
        self._keys = client.collection(f"{prefix}_keys")

    def _events(self, incident_id: str) -> Any:
        return self._incidents.document(doc_id(incident_id)).collection("events")

    def _expiry(self, at: float) -> dict[str, datetime]:
        return {"expire_at": datetime.fromtimestamp(at, UTC) + self._retention} if self._retention else {}

    def append(self, event: Event) -> bool:
        writer = uuid.uuid4().hex  # tells our own retried create apart from another delivery's
        doc = {
            "incident_id": event.incident_id,
            "event_id": event.event_id,
            "type": event.type,
            "at": float(event.at),
            "actor": event.actor,
            "data": json.dumps(event.data, sort_keys=True),
            "writer": writer,
            **self._expiry(event.at),
        }
        ref = self._events(event.incident_id).document(doc_id(event.event_id))
        try:
            ref.create(doc)
        except self._exists:
            snap = ref.get()  # a create retried after a lost reply finds the document it wrote itself
            return bool(snap.exists and (snap.to_dict() or {}).get("writer") == writer)
        return True

    def load(self, incident_id: str) -> list[Event]:
        events = [
            Event(incident_id=d["incident_id"], event_id=d["event_id"], type=d["type"], at=d["at"],
                  actor=d["actor"], data=json.loads(d["data"]))
            for d in (snap.to_dict() for snap in self._events(incident_id).stream())
        ]
        events.sort(key=lambda e: (e.at, e.event_id))
        return events

    def claim(self, key: str, value: str) -> str:
        ref = self._keys.document(key_id(key))
        while True:
            try:
                ref.create({"key": key, "value": value})
                return value
            except self._exists:
                snap = ref.get()
                if snap.exists:
                    return str(snap.to_dict()["value"])
                # released between our create and our read: the key is free again, try to take it

    def lookup(self, key: str) -> str | None:
        snap = self._keys.document(key_id(key)).get()
        return str(snap.to_dict()["value"]) if snap.exists else None

    def release(self, key: str, value: str) -> bool:
        ref = self._keys.document(key_id(key))
        snap = ref.get()
        if not snap.exists or snap.to_dict().get("value") != value:
            return False
        from google.cloud.firestore_v1 import LastUpdateOption

        try:  # deletes only the document we read: a release and re-claim in between makes this fail
            ref.delete(option=LastUpdateOption(snap.update_time))
        except self._lost_race:
            return False
        return True

    def put_summary(self, incident_id: str, summary: dict[str, Any]) -> None:
        from google.cloud.firestore_v1 import LastUpdateOption

        newer = (int(summary.get("events") or 0), float(summary.get("updated_at") or 0.0))
        doc = {"incident_id": incident_id, "summary": json.dumps(summary, sort_keys=True),
               "status": str(summary.get("status", "")), "events": newer[0], "updated_at": newer[1],
               **self._expiry(newer[1])}
        ref = self._incidents.document(doc_id(incident_id))
        for _ in range(8):  # another writer may land between the read and the write: read again
            snap = ref.get()
            if not snap.exists:
                try:
                    ref.create(doc)
                    return
                except self._exists:
                    continue
            stored = snap.to_dict() or {}
            if "summary" in stored and (int(stored.get("events") or 0), float(stored.get("updated_at") or 0.0)) > newer:
                return  # a fold of more events is stored already
            try:
                ref.update(doc, option=LastUpdateOption(snap.update_time))
                return
            except self._lost_race:
                continue

    def summaries(self, status: str | None = None) -> list[dict[str, Any]]:
        if status is None:
            snaps = self._incidents.stream()
        else:
            from google.cloud.firestore_v1.base_query import FieldFilter

            snaps = self._incidents.where(filter=FieldFilter("status", "==", status)).stream()
        docs = [d for d in (s.to_dict() for s in snaps) if d and "summary" in d]
        docs.sort(key=lambda d: str(d.get("incident_id", "")))
        return [json.loads(d["summary"]) for d in docs]
