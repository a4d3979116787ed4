"""SQLite `EventStore` (the event log, claims, summaries and the term index in one file): the embedded default. One
file (or ":memory:"), safe across threads of one process."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Collection
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from shared.paging import ListFilter, check_limit, decode_cursor, encode_cursor, narrowing

if TYPE_CHECKING:
    from shared.core_models import Event

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    incident_id TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    type        TEXT NOT NULL,
    at          REAL NOT NULL,
    actor       TEXT NOT NULL,
    data        TEXT NOT NULL,
    PRIMARY KEY (incident_id, event_id)
);
CREATE TABLE IF NOT EXISTS keys (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS summaries (incident_id TEXT PRIMARY KEY, summary TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS terms (term TEXT NOT NULL, incident_id TEXT NOT NULL, PRIMARY KEY (term, incident_id))
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS signatures (incident_id TEXT PRIMARY KEY, terms TEXT NOT NULL);
"""


def _use_wal(db: sqlite3.Connection, tries: int = 50) -> None:
    """Switch the file to WAL (a persistent setting). Connections opening one new file at once race for that switch,
    and SQLite answers the losers "database is locked" without waiting on its busy timeout: retry until the file is
    in WAL (the winner's switch counts), so opening a store never fails for a concurrent open."""
    for attempt in range(tries):
        try:
            if str(db.execute("PRAGMA journal_mode").fetchone()[0]).lower() in ("wal", "memory"):
                return
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == tries - 1:
                raise
            time.sleep(0.01 * (attempt + 1))


class SqliteEventStore:
    def __init__(self, path: str = ":memory:"):
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        _use_wal(self._db)
        self._db.executescript(_SCHEMA)
        self._db.create_function("list_filter_matches", 2, _matches, deterministic=True)

    # EventLog

    def append(self, event: Event) -> bool:
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?)",
                (event.incident_id, event.event_id, event.type, event.at, event.actor,
                 json.dumps(event.data, sort_keys=True)),
            )
            return cur.rowcount == 1

    def append_all(self, events: list[Event]) -> list[bool]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")  # one transaction: written together or not at all
            try:
                written = [self._db.execute(
                    "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?)",
                    (e.incident_id, e.event_id, e.type, e.at, e.actor, json.dumps(e.data, sort_keys=True))
                ).rowcount == 1 for e in events]
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return written

    def load(self, incident_id: str) -> list[Event]:
        from shared.core_models import Event  # imported on the first load: a read by id or of the summaries needs none

        with self._lock:
            rows = self._db.execute(
                "SELECT incident_id, event_id, type, at, actor, data FROM events "
                "WHERE incident_id = ? ORDER BY at, event_id",
                (incident_id,),
            ).fetchall()
        return [Event(incident_id=r[0], event_id=r[1], type=r[2], at=r[3], actor=r[4], data=json.loads(r[5]))
                for r in rows]

    def recorded(self, incident_id: str, event_ids: Collection[str]) -> set[str]:
        return {r[0] for r in self._by_id("event_id", incident_id, event_ids)}

    def read_by_id(self, incident_id: str, event_ids: Collection[str]) -> dict[str, dict[str, Any]]:
        return {r[0]: json.loads(r[1]) for r in self._by_id("event_id, data", incident_id, event_ids)}

    def _by_id(self, columns: str, incident_id: str, event_ids: Collection[str]) -> list[tuple[Any, ...]]:
        return self._where_in(f"SELECT {columns} FROM events WHERE incident_id = ? AND event_id IN ({{}})",
                              (incident_id,), event_ids)

    def _where_in(self, query: str, fixed: tuple[Any, ...], values: Collection[str]) -> list[tuple[Any, ...]]:
        """The rows of `query` (its `{}` the IN list's placeholders, after the `fixed` parameters) for each distinct
        value, in chunks under SQLite's limit of variables per statement."""
        wanted = list(dict.fromkeys(values))
        rows: list[tuple[Any, ...]] = []
        with self._lock:
            for i in range(0, len(wanted), 500):
                chunk = wanted[i:i + 500]
                rows.extend(self._db.execute(query.format(",".join("?" * len(chunk))), (*fixed, *chunk)))
        return rows

    # Claims

    def claim(self, key: str, value: str, expires_in_s: float = 0.0) -> str:  # kept: a local file keeps them all
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO keys VALUES (?, ?)", (key, value))
            row = self._db.execute("SELECT value FROM keys WHERE key = ?", (key,)).fetchone()
        return str(row[0])

    def lookup(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM keys WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def lookup_all(self, keys: Collection[str]) -> dict[str, str]:
        return {str(k): str(v) for k, v in self._where_in("SELECT key, value FROM keys WHERE key IN ({})", (), keys)}

    def release(self, key: str, value: str) -> bool:
        with self._lock:
            cur = self._db.execute("DELETE FROM keys WHERE key = ? AND value = ?", (key, value))
            return cur.rowcount == 1

    # Summaries

    def put_summary(self, incident_id: str, summary: dict[str, Any]) -> None:
        with self._lock:  # a fold of fewer events (or an older one of as many) never overwrites a newer one
            self._db.execute(
                "INSERT INTO summaries VALUES (?, ?) ON CONFLICT(incident_id) DO UPDATE SET summary = excluded.summary "
                "WHERE coalesce(json_extract(excluded.summary, '$.events'), 0) > "
                "coalesce(json_extract(summaries.summary, '$.events'), 0) OR ("
                "coalesce(json_extract(excluded.summary, '$.events'), 0) = "
                "coalesce(json_extract(summaries.summary, '$.events'), 0) AND "
                "coalesce(json_extract(excluded.summary, '$.updated_at'), 0) >= "
                "coalesce(json_extract(summaries.summary, '$.updated_at'), 0))",
                (incident_id, json.dumps(summary, sort_keys=True)),
            )

    def summaries(self, status: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            if status is None:
                rows = self._db.execute("SELECT summary FROM summaries ORDER BY incident_id").fetchall()
            else:
                rows = self._db.execute("SELECT summary FROM summaries WHERE json_extract(summary, '$.status') = ? "
                                        "ORDER BY incident_id", (status,)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def summaries_page(self, limit: int, cursor: str = "",
                       where: ListFilter | None = None) -> tuple[list[dict[str, Any]], str]:
        check_limit(limit)
        order = "coalesce(json_extract(summary, '$.updated_at'), 0)"
        clauses: list[str] = []
        args: tuple[object, ...] = ()
        if cursor:
            updated_at, incident_id = decode_cursor(cursor)
            clauses, args = [f"({order}, incident_id) < (?, ?)"], (updated_at, incident_id)
        active = narrowing(where)
        if active is not None:  # in the query, so LIMIT counts matches: a filtered page is as full as an unfiltered one
            clauses.append("list_filter_matches(summary, ?)")
            args = (*args, active.model_dump_json())
        condition = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            rows = self._db.execute(f"SELECT incident_id, {order}, summary FROM summaries {condition} "
                                    f"ORDER BY {order} DESC, incident_id DESC LIMIT ?", (*args, limit)).fetchall()
        page = [json.loads(r[2]) for r in rows]
        return page, encode_cursor(float(rows[-1][1]), str(rows[-1][0])) if len(rows) == limit else ""

    # TermIndex

    def index_terms(self, incident_id: str, terms: Collection[str]) -> None:
        wanted = sorted(set(terms))
        with self._lock:  # one transaction: a reader sees the old terms or the new ones, never a mix
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT terms FROM signatures WHERE incident_id = ?", (incident_id,)).fetchone()
                stale = set(json.loads(row[0])) - set(wanted) if row else set()
                self._db.executemany("DELETE FROM terms WHERE term = ? AND incident_id = ?",
                                     [(t, incident_id) for t in sorted(stale)])
                self._db.executemany("INSERT OR IGNORE INTO terms VALUES (?, ?)", [(t, incident_id) for t in wanted])
                self._db.execute("INSERT INTO signatures VALUES (?, ?) ON CONFLICT(incident_id) DO UPDATE SET "
                                 "terms = excluded.terms", (incident_id, json.dumps(wanted)))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def incidents_with_terms(self, terms: Collection[str], limit: int) -> dict[str, int]:
        if not terms or limit <= 0:
            return {}
        with self._lock:
            rows = self._db.execute(
                "SELECT incident_id, count(*) AS n FROM terms WHERE term IN (SELECT value FROM json_each(?)) "
                "GROUP BY incident_id ORDER BY n DESC, incident_id LIMIT ?",
                (json.dumps(sorted(set(terms))), limit)).fetchall()
        return {str(r[0]): int(r[1]) for r in rows}

    def indexed_terms(self, incident_ids: Collection[str]) -> dict[str, list[str]]:
        if not incident_ids:
            return {}
        with self._lock:
            rows = self._db.execute("SELECT incident_id, terms FROM signatures WHERE incident_id IN "
                                    "(SELECT value FROM json_each(?))", (json.dumps(sorted(set(incident_ids))),)
                                    ).fetchall()
        return {str(r[0]): list(json.loads(r[1])) for r in rows}

    def close(self) -> None:
        with self._lock:
            self._db.close()


@lru_cache(maxsize=64)
def _filter(where: str) -> ListFilter:
    return ListFilter.model_validate_json(where)


def _matches(summary: str, where: str) -> bool:
    """The list filter inside SQLite's query (one definition of a match for every store: `ListFilter.matches`)."""
    return _filter(where).matches(json.loads(summary))
