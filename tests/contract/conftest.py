"""`store`: every store adapter (SQLite file, SQLite memory, the Firestore emulator), each implementing the whole
`EventStore`, for the suite of each capability (event log, claims, summaries, term index) and of the composite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.ports import EventStore
from shared.store.sqlite import SqliteEventStore


@pytest.fixture(params=["sqlite-file", "sqlite-memory", pytest.param("firestore", marks=pytest.mark.emulator)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    if request.param == "sqlite-file":
        sqlite = SqliteEventStore(str(tmp_path / "events.db"))
        yield sqlite
        sqlite.close()
    elif request.param == "sqlite-memory":
        memory = SqliteEventStore(":memory:")
        yield memory
        memory.close()
    else:
        request.getfixturevalue("firestore_emulator")
        from shared.store.firestore import FirestoreEventStore

        yield FirestoreEventStore(request.getfixturevalue("project_id"))
