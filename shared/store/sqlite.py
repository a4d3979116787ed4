"""SQLite `EventStore`: the embedded default. One file (or ":memory:"), safe across threads of one process."""

from __future__ import annotations

import json
import sqlite3
import threading
from typing import Any

from shared.models import Event

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
"""


class SqliteEventStore:
    def __init__(self, path: str = ":memory:"):
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def append(self, event: Event) -> bool:
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?)",
                (event.incident_id, event.event_id, event.type, event.at, event.actor,
                 json.dumps(event.data, sort_keys=True)),
            )
            return cur.rowcount == 1

    def load(self, incident_id: str) -> list[Event]:
        with self._lock:
            rows = self._db.execute(
                "SELECT incident_id, event_id, type, at, actor, data FROM events "
                "WHERE incident_id = ? ORDER BY at, event_id",
                (incident_id,),
            ).fetchall()
        return [Event(incident_id=r[0], event_id=r[1], type=r[2], at=r[3], actor=r[4], data=json.loads(r[5]))
                for r in rows]

    def claim(self, key: str, value: str) -> str:
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO keys VALUES (?, ?)", (key, value))
            row = self._db.execute("SELECT value FROM keys WHERE key = ?", (key,)).fetchone()
        return str(row[0])

    def lookup(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM keys WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def release(self, key: str, value: str) -> bool:
        with self._lock:
            cur = self._db.execute("DELETE FROM keys WHERE key = ? AND value = ?", (key, value))
            return cur.rowcount == 1

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

    def close(self) -> None:
        with self._lock:
            self._db.close()
