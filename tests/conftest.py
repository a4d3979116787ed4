"""Shared fixtures: the Google emulators (started once per session when a test needs them)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.emulators import Emulator, start


def _emulator(kind: str, env_var: str) -> Iterator[Emulator]:
    try:
        emulator = start(kind, env_var)
    except RuntimeError as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(str(exc))
    previous = os.environ.get(env_var)
    os.environ[env_var] = emulator.host
    yield emulator
    if previous is None:
        os.environ.pop(env_var, None)
    else:
        os.environ[env_var] = previous
    emulator.stop()


@pytest.fixture(scope="session")
def pubsub_emulator() -> Iterator[Emulator]:
    yield from _emulator("pubsub", "PUBSUB_EMULATOR_HOST")


@pytest.fixture(scope="session")
def firestore_emulator() -> Iterator[Emulator]:
    yield from _emulator("firestore", "FIRESTORE_EMULATOR_HOST")


@pytest.fixture()
def project_id() -> str:
    """A project id of its own per test, so tests never see each other's topics or documents."""
    return f"autosre-test-{uuid.uuid4().hex[:10]}"
