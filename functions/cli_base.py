"""What every `autosre` command shares: the exit codes, the one-line error, the event store a --db names. (Its
own module: `python -m functions.cli` runs cli.py as __main__, and a command module importing these from
functions.cli would get a second CliError that main() does not catch.)"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from functions.runtime import make_store
from shared.config import Settings
from shared.ports import EventStore

COMPLETE, FAILED, BAD_INPUT, PARTIAL = 0, 1, 2, 3
SQLITE_MAGIC = b"SQLite format 3\x00"


class CliError(Exception):
    """A one-line error for the user, with the exit code it ends the command with."""

    def __init__(self, message: str, code: int = BAD_INPUT):
        super().__init__(message)
        self.code = code


def open_store(db: str | None, create: bool = True) -> EventStore:
    """The event store: in memory without --db; else the SQLite file, created when absent only if `create`."""
    if not db:
        return make_store(Settings(store="sqlite", sqlite_path=":memory:"))
    path = Path(db)
    if path.is_dir():
        raise CliError(f"--db {db} is a folder, not a SQLite file")
    if not path.exists():
        if not path.parent.is_dir():
            raise CliError(f"--db {db}: no folder {path.parent}")
        if not create:
            raise CliError(f"--db {db} does not exist (give --create to start an empty store there)")
    else:
        try:
            with open(path, "rb") as f:
                head = f.read(len(SQLITE_MAGIC))
        except OSError as exc:
            raise CliError(f"--db {db}: {exc.strerror or exc}") from exc
        if head and head != SQLITE_MAGIC:
            raise CliError(f"--db {db} is not a SQLite database")
    try:
        return make_store(Settings(store="sqlite", sqlite_path=str(path)))
    except sqlite3.Error as exc:
        raise CliError(f"--db {db}: {exc}") from exc
