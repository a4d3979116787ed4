"""The embedded store file opened by several functions at once: each run of the concurrent specialists opens its
own connection to one new file, and every one of them must open it (SQLite answers the losers of the switch to WAL
"database is locked" at once, without waiting on its busy timeout)."""

from __future__ import annotations

from pathlib import Path

from shared.store.sqlite import SqliteEventStore
from tests.concurrency import n_times

ROUNDS, OPENERS = 60, 8  # before the retry, about 1 round in 15 of 4 openers failed on this machine


def test_every_concurrent_open_of_a_new_store_file_succeeds_and_the_file_is_in_wal(tmp_path: Path) -> None:
    for n in range(ROUNDS):
        path = str(tmp_path / f"events-{n}.db")
        stores = n_times(OPENERS, lambda i, path=path: SqliteEventStore(path))  # type: ignore[misc]
        modes = {s._db.execute("PRAGMA journal_mode").fetchone()[0] for s in stores}
        assert modes == {"wal"}
        for s in stores:
            s.close()
