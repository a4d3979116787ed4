"""Demo incidents triaged once per test process for the conversation tests (tests/test_answers.py,
tests/test_steering.py, tests/test_free_answers.py, tests/test_mcp_server.py, tests/test_web_api.py): each test
copies the SQLite file, so what one records never leaks into another."""

from __future__ import annotations

import atexit
import functools
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from demo.generator import Scenario, generate
from functions.local import triage
from functions.runtime import bundle_source, make_store
from shared.config import Settings
from shared.ports import EventStore

SEED = 7


@dataclass(frozen=True)
class Triaged:
    scenario: Scenario
    db: Path  # the SQLite file the triage wrote (copy it before writing)
    incident_id: str


@functools.cache
def triaged(fault: str) -> Triaged:
    root = Path(tempfile.mkdtemp(prefix=f"autosre-talk-{fault}-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    scenario = generate(fault, root / fault, seed=SEED)
    db = root / "store.db"
    result = triage(Path(scenario.alert_path).read_bytes(), bundle_source(scenario.bundle_dir),
                    store=store_at(db))
    return Triaged(scenario, db, result.incident_id)


def store_at(db: Path) -> EventStore:
    return make_store(Settings(store="sqlite", sqlite_path=str(db)))


def copy_of(fault: str, folder: Path) -> tuple[Triaged, Path]:
    """The triaged demo incident and a fresh copy of its store in `folder`."""
    t = triaged(fault)
    db = folder / "store.db"
    source, target = sqlite3.connect(t.db), sqlite3.connect(db)
    try:
        source.backup(target)  # the store keeps a write-ahead log: a file copy could miss its last writes
    finally:
        source.close()
        target.close()
    return t, db
