"""Firestore `EventStore`: events are documents created once, never updated (no hot documents).

Layout (prefix defaults to "autosre"):
- `{prefix}_incidents/{incident_id}/events/{event_id}`: one event; append = `create()` (AlreadyExists -> False)
- `{prefix}_incidents/{incident_id}`: the list-view summary (a projection) with `status`, `events` and
  `updated_at` as fields: the sweep and the web index query by status instead of reading the collection, and a
  summary folded from fewer events never overwrites a newer one (update with an update-time precondition)
- every document carries `expire_at` when a retention is set: a Firestore TTL policy on that field (infra/)
  deletes incidents past it
- `{prefix}_keys/{sha256(key)}`: {key, value, expire_at}; claim = `create()` (on AlreadyExists the holder's value
  is read back), release = delete with an update-time precondition, so only the holder that still holds it frees
  it. A claim expires with the retention like the incident it guards (a token used, an action run).
- the list view pages newest first (`summaries_page`: `updated_at` then document id, both descending: served by
  Firestore's single-field indexes, no composite index); the cursor is the last row's (updated_at, id) as JSON.
  A filtered page (status, service, severity, words) is filtered here, after reading, not by the query (a filter
  on `status` ordered by `updated_at` would need a composite index, and service, severity and words are inside the
  summary): a filtered page reads at most FILTER_SCAN rows in that order and may hold fewer matches than asked,
  with the cursor of the last row read so the next page goes on from there.
- `{prefix}_terms/{sha256(term, incident)}`: {term, incident_id}, one document per signature term of an incident
  (an inverted index; a term over 512 bytes is stored as "~" + its sha256): `incidents_with_terms` queries
  `term in [...]` in batches of 30 (Firestore's limit for `in`) and reads only the postings of those terms,
  projected to `incident_id`. `{prefix}_signatures/{incident}`: {incident_id, terms}, the incident's whole
  signature, read by `indexed_terms` with one batched get.
Ids that are not valid document ids as they are (a '/', `.`/`..`, `__x__`, over 1500 bytes) are stored under
"~" + their sha256 (plain ids never start with "~", so the two cannot collide); the real id is a field.
An append whose reply was lost and was retried by the client finds its own document (by a per-call writer
token) and counts as written. Event data is stored as a JSON string so that it round-trips exactly (Firestore
has no int keys, turns ints past 2**63 into errors, ...). Ordering is done here, so no composite index is needed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.paging import ListFilter, check_limit, decode_cursor, encode_cursor, narrowing

if TYPE_CHECKING:
    from shared.core_models import Event

_MAX_DOC_ID_BYTES = 1500
_RESERVED = re.compile(r"^__.*__$")
_MAX_TERM_BYTES = 512
IN_BATCH = 30  # the most values one `in` filter may hold
WRITE_BATCH = 400  # writes per batch (Firestore allows 500)
GET_BATCH = 100  # documents per batched get
FILTER_SCAN = 1000  # rows one filtered page reads at most (it may then hold fewer matches than asked)
SUMMARY_ATTEMPTS = 8  # reads and conditional writes of one summary before put_summary gives up (and says so)
log = logging.getLogger("autosre.store")


class SummaryContention(RuntimeError):
    """Another writer kept replacing an incident's summary between our read and our write: ours was not stored.
    The next event of the incident folds a summary again; raising lets the message be retried meanwhile."""


def doc_id(text: str) -> str:
    """`text` itself when it is a safe Firestore document id, else "~" + sha256(text)."""
    if (text and "/" not in text and text not in (".", "..") and not text.startswith("~")
            and not _RESERVED.match(text) and len(text.encode("utf-8")) <= _MAX_DOC_ID_BYTES):
        return text
    return "~" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def term_key(term: str) -> str:
    """A term as the index stores and queries it: itself when short, else "~" + sha256 (a query value must be
    small: Firestore refuses long ones)."""
    if len(term.encode("utf-8")) <= _MAX_TERM_BYTES and not term.startswith("~"):
        return term
    return "~" + hashlib.sha256(term.encode("utf-8")).hexdigest()


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
        self._terms = client.collection(f"{prefix}_terms")
        self._signatures = client.collection(f"{prefix}_signatures")
        # incidents a load found without events: their summary is created, not read first (one round trip less
        # for a new incident; a summary another writer created meanwhile fails the create and is compared as usual)
        self._new: set[str] = set()
        # the claims this store created, with their documents' update times: released without a read first (a
        # document replaced since fails the delete's precondition, and is then read and compared as usual)
        self._created: dict[str, tuple[str, datetime]] = {}

    def _events(self, incident_id: str) -> Any:
        return self._incidents.document(doc_id(incident_id)).collection("events")

    def _expiry(self, at: float) -> dict[str, datetime]:
        return {"expire_at": datetime.fromtimestamp(at, UTC) + self._retention} if self._retention else {}

    # EventLog

    def _event_doc(self, event: Event, writer: str) -> tuple[Any, dict[str, Any]]:
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
        return self._events(event.incident_id).document(doc_id(event.event_id)), doc

    def append(self, event: Event) -> bool:
        return self._create(event, uuid.uuid4().hex)  # the writer tells our own retried create from another's

    def _create(self, event: Event, writer: str) -> bool:
        ref, doc = self._event_doc(event, writer)
        try:
            ref.create(doc)
        except self._exists:
            return self._written_by(ref, writer)
        return True

    def _written_by(self, ref: Any, writer: str) -> bool:
        snap = ref.get()  # a create retried after a lost reply finds the document it wrote itself
        return bool(snap.exists and (snap.to_dict() or {}).get("writer") == writer)

    def append_all(self, events: list[Event]) -> list[bool]:
        """One commit of create-if-absent writes. A commit fails whole when one of its events exists (a
        redelivery, another writer): the events are then appended one by one, under the same writer, so an event
        of a commit whose reply was lost still counts as this call's."""
        if len(events) < 2:
            return [self.append(e) for e in events]
        if len(events) > WRITE_BATCH:
            return [w for i in range(0, len(events), WRITE_BATCH) for w in self.append_all(events[i:i + WRITE_BATCH])]
        writer = uuid.uuid4().hex
        batch = self._client.batch()
        for event in events:
            batch.create(*self._event_doc(event, writer))
        try:
            batch.commit()
        except self._exists:
            return [self._create(e, writer) for e in events]
        return [True] * len(events)

    def load(self, incident_id: str) -> list[Event]:
        from shared.core_models import Event  # imported on the first load: a read by id or of the summaries needs none

        events = [
            Event(incident_id=d["incident_id"], event_id=d["event_id"], type=d["type"], at=d["at"],
                  actor=d["actor"], data=json.loads(d["data"]))
            for d in (snap.to_dict() for snap in self._events(incident_id).stream())
        ]
        events.sort(key=lambda e: (e.at, e.event_id))
        if events:
            self._new.discard(incident_id)
        elif len(self._new) < 4096:
            self._new.add(incident_id)
        return events

    def recorded(self, incident_id: str, event_ids: Collection[str]) -> set[str]:
        """One batched get of the events' documents (their ids only), per GET_BATCH ids."""
        return set(self._by_id(incident_id, event_ids, ["event_id"]))

    def read_by_id(self, incident_id: str, event_ids: Collection[str]) -> dict[str, dict[str, Any]]:
        """One batched get of the events' documents (their ids and data), per GET_BATCH ids."""
        return {e: json.loads(d["data"]) for e, d in self._by_id(incident_id, event_ids, ["event_id", "data"]).items()}

    def _by_id(self, incident_id: str, event_ids: Collection[str], fields: list[str]) -> dict[str, dict[str, Any]]:
        return self._get_all(self._events(incident_id), {doc_id(e): e for e in event_ids}, fields)

    def _get_all(self, collection: Any, by_doc: dict[str, str], fields: list[str]) -> dict[str, dict[str, Any]]:
        """The fields of those of a collection's documents that exist, by the name each document id stands for
        (`by_doc`): one batched get per GET_BATCH documents."""
        docs, found = list(by_doc), dict[str, dict[str, Any]]()
        for i in range(0, len(docs), GET_BATCH):
            refs = [collection.document(d) for d in docs[i:i + GET_BATCH]]
            found.update((by_doc[snap.id], snap.to_dict() or {})
                         for snap in self._client.get_all(refs, field_paths=fields) if snap.exists)
        return found

    # Claims

    def claim(self, key: str, value: str, expires_in_s: float = 0.0) -> str:
        ref = self._keys.document(key_id(key))
        now = time.time()
        expiry = {"expire_at": datetime.fromtimestamp(now + expires_in_s, UTC)} if expires_in_s > 0 else \
            self._expiry(now)
        while True:
            try:
                written = ref.create({"key": key, "value": value, **expiry})
                if len(self._created) >= 4096:  # a bound: a claim forgotten here is released with a read
                    self._created.clear()
                self._created[key] = (value, written.update_time)
                return value
            except self._exists:
                snap = ref.get()
                if snap.exists:
                    return str(snap.to_dict()["value"])
                # released between our create and our read: the key is free again, try to take it

    def lookup(self, key: str) -> str | None:
        snap = self._keys.document(key_id(key)).get()
        return str(snap.to_dict()["value"]) if snap.exists else None

    def lookup_all(self, keys: Collection[str]) -> dict[str, str]:
        """One batched get of the keys' documents, per GET_BATCH keys."""
        found = self._get_all(self._keys, {key_id(k): k for k in keys}, ["value"])
        return {k: str(doc["value"]) for k, doc in found.items()}

    def release(self, key: str, value: str) -> bool:
        from google.cloud.firestore_v1 import LastUpdateOption

        ref = self._keys.document(key_id(key))
        created = self._created.pop(key, None)
        if created is not None and created[0] == value:
            try:  # the document this store created, unchanged since: one round trip
                ref.delete(option=LastUpdateOption(created[1]))
                return True
            except self._lost_race:
                pass  # released, expired or claimed again since: read what holds it now, as below
        snap = ref.get()
        if not snap.exists or snap.to_dict().get("value") != value:
            return False
        try:  # deletes only the document we read: a release and re-claim in between makes this fail
            ref.delete(option=LastUpdateOption(snap.update_time))
        except self._lost_race:
            return False
        return True

    # Summaries

    def put_summary(self, incident_id: str, summary: dict[str, Any]) -> None:
        from google.cloud.firestore_v1 import LastUpdateOption

        newer = (int(summary.get("events") or 0), float(summary.get("updated_at") or 0.0))
        doc = {"incident_id": incident_id, "summary": json.dumps(summary, sort_keys=True),
               "status": str(summary.get("status", "")), "events": newer[0], "updated_at": newer[1],
               **self._expiry(newer[1])}
        ref = self._incidents.document(doc_id(incident_id))
        if incident_id in self._new:
            self._new.discard(incident_id)
            try:
                ref.create(doc)
                return
            except self._exists:
                pass  # another writer projected it first: compare with theirs below
        for _ in range(SUMMARY_ATTEMPTS):  # another writer may land between the read and the write: read again
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
        log.error("summary of %s not stored: %d writes lost to other writers", incident_id, SUMMARY_ATTEMPTS,
                  extra={"json_fields": {"incident_id": incident_id, "events": newer[0]}})
        raise SummaryContention(f"the summary of {incident_id} was not stored: another writer replaced it "
                                f"{SUMMARY_ATTEMPTS} times between our read and our write")

    def summaries(self, status: str | None = None) -> list[dict[str, Any]]:
        if status is None:
            snaps = self._incidents.stream()
        else:
            from google.cloud.firestore_v1.base_query import FieldFilter

            snaps = self._incidents.where(filter=FieldFilter("status", "==", status)).stream()
        docs = [d for d in (s.to_dict() for s in snaps) if d and "summary" in d]
        docs.sort(key=lambda d: str(d.get("incident_id", "")))
        return [json.loads(d["summary"]) for d in docs]

    def summaries_page(self, limit: int, cursor: str = "",
                       where: ListFilter | None = None) -> tuple[list[dict[str, Any]], str]:
        check_limit(limit)
        from google.cloud.firestore_v1 import Query

        ordered = (self._incidents.order_by("updated_at", direction=Query.DESCENDING)
                   .order_by("__name__", direction=Query.DESCENDING))
        after = decode_cursor(cursor) if cursor else None
        page: list[dict[str, Any]] = []
        active = narrowing(where)
        budget = FILTER_SCAN if active is not None else limit
        while budget > 0:
            want = min(limit, budget)
            query = ordered.start_after({"updated_at": after[0], "__name__": after[1]}) if after else ordered
            snaps = list(query.limit(want).stream())
            for snap in snaps:
                doc = snap.to_dict() or {}
                after, budget = (float(doc.get("updated_at") or 0.0), snap.id), budget - 1
                summary = json.loads(doc["summary"]) if "summary" in doc else None
                if summary is not None and (active is None or active.matches(summary)):
                    page.append(summary)
                    if len(page) == limit:
                        return page, encode_cursor(*after)
            if len(snaps) < want:
                return page, ""  # read to the end
        return page, encode_cursor(*after) if after else ""

    # TermIndex

    def _posting(self, term: str, incident_id: str) -> Any:
        return self._terms.document(key_id(f"{term}\x1f{incident_id}"))

    def index_terms(self, incident_id: str, terms: Collection[str]) -> None:
        wanted = sorted(set(terms))
        ref = self._signatures.document(doc_id(incident_id))
        snap = ref.get()
        before = set((snap.to_dict() or {}).get("terms") or []) if snap.exists else set()
        expiry = self._expiry(time.time())
        writes: list[tuple[str, Any, dict[str, Any] | None]] = [
            ("delete", self._posting(t, incident_id), None) for t in sorted(before - set(wanted))]
        writes += [("set", self._posting(t, incident_id),
                    {"term": term_key(t), "incident_id": incident_id, **expiry}) for t in wanted if t not in before]
        writes.append(("set", ref, {"incident_id": incident_id, "terms": wanted, **expiry}))  # last: the record
        for start in range(0, len(writes), WRITE_BATCH):
            batch = self._client.batch()
            for op, doc, data in writes[start:start + WRITE_BATCH]:
                if op == "delete":
                    batch.delete(doc)
                else:
                    batch.set(doc, data)
            batch.commit()

    def incidents_with_terms(self, terms: Collection[str], limit: int) -> dict[str, int]:
        if not terms or limit <= 0:
            return {}
        from google.cloud.firestore_v1.base_query import FieldFilter

        wanted = sorted({term_key(t) for t in terms})
        counts: dict[str, int] = {}
        for start in range(0, len(wanted), IN_BATCH):
            query = self._terms.where(filter=FieldFilter("term", "in", wanted[start:start + IN_BATCH]))
            for snap in query.select(["incident_id"]).stream():
                incident = str((snap.to_dict() or {}).get("incident_id", ""))
                if incident:
                    counts[incident] = counts.get(incident, 0) + 1
        best = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        return dict(best)

    def indexed_terms(self, incident_ids: Collection[str]) -> dict[str, list[str]]:
        refs = [self._signatures.document(doc_id(i)) for i in sorted(set(incident_ids))]
        out: dict[str, list[str]] = {}
        for snap in self._client.get_all(refs) if refs else []:
            doc = snap.to_dict() if snap.exists else None
            if doc and "incident_id" in doc:
                out[str(doc["incident_id"])] = sorted(str(t) for t in doc.get("terms") or [])
        return out
