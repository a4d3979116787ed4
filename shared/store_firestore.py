"""Firestore `EventStore`: events are documents created once, never updated (no hot documents).

Layout (prefix defaults to "autosre"):
- `{prefix}_incidents/{incident_id}/events/{event_id}`: one event; append = `create()` (AlreadyExists -> no-op)
- `{prefix}_incidents/{incident_id}`: the list-view summary (a projection, overwritten)
- `{prefix}_keys/{sha256(key)}`: {key, value}; claim = `create()`, release = delete with an update-time
  precondition, so a key is only freed by the holder that still holds it.
Event data is stored as a JSON string so that it round-trips exactly (Firestore has no tuple, int keys, ...).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from shared.models import Event


class FirestoreEventStore:
    def __init__(self, project: str, prefix: str = "autosre", client: Any = None, database: str = "(default)"):
        if client is None:
            from google.cloud import firestore

            client = firestore.Client(project=project, database=database)
        from google.api_core import exceptions

        self._client = client
        self._exists = exceptions.AlreadyExists
        self._precondition = (exceptions.FailedPrecondition, exceptions.NotFound, exceptions.Aborted)
        self._incidents = client.collection(f"{prefix}_incidents")
        self._keys = client.collection(f"{prefix}_keys")

    def _events(self, incident_id: str) -> Any:
        return self._incidents.document(incident_id).collection("events")

    def append(self, event: Event) -> bool:
        doc = {
            "incident_id": event.incident_id,
            "event_id": event.event_id,
            "type": event.type,
            "at": event.at,
            "actor": event.actor,
            "data": json.dumps(event.data, sort_keys=True),
        }
        try:
            self._events(event.incident_id).document(event.event_id).create(doc)
        except self._exists:
            return False
        return True

    def load(self, incident_id: str) -> list[Event]:
        events = [
            Event(incident_id=d["incident_id"], event_id=d["event_id"], type=d["type"], at=d["at"],
                  actor=d["actor"], data=json.loads(d["data"]))
            for d in (snap.to_dict() for snap in self._events(incident_id).stream())
        ]
        events.sort(key=lambda e: (e.at, e.event_id))
        return events

    @staticmethod
    def _key_id(key: str) -> str:
        return hashlib.sha256(key.encode("utf-8")).hexdigest()

    def claim(self, key: str, value: str) -> str:
        ref = self._keys.document(self._key_id(key))
        try:
            ref.create({"key": key, "value": value})
            return value
        except self._exists:
            snap = ref.get()
            if snap.exists:
                return str(snap.to_dict()["value"])
            return self.claim(key, value)  # released between our create and get: try again

    def lookup(self, key: str) -> str | None:
        snap = self._keys.document(self._key_id(key)).get()
        return str(snap.to_dict()["value"]) if snap.exists else None

    def release(self, key: str, value: str) -> bool:
        ref = self._keys.document(self._key_id(key))
        snap = ref.get()
        if not snap.exists or snap.to_dict().get("value") != value:
            return False
        from google.cloud.firestore_v1 import LastUpdateOption

        try:
            ref.delete(option=LastUpdateOption(snap.update_time))
        except self._precondition:
            return False
        return True

    def put_summary(self, incident_id: str, summary: dict[str, Any]) -> None:
        self._incidents.document(incident_id).set({"summary": json.dumps(summary, sort_keys=True),
                                                   "incident_id": incident_id})

    def summaries(self) -> list[dict[str, Any]]:
        out = [json.loads(d["summary"]) for d in (s.to_dict() for s in self._incidents.stream()) if "summary" in d]
        out.sort(key=lambda s: s["incident_id"])
        return out
