"""Shared fixtures: the Google emulators (started once per session when a test needs them).

An emulator already answering at PUBSUB_EMULATOR_HOST / FIRESTORE_EMULATOR_HOST is reused; otherwise the
fixture starts one on a free port and stops it at the end of the session. Without gcloud the emulator tests
are skipped, except under CI=true, where a missing emulator is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.emulators import Emulator, EmulatorUnavailable, start


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _emulator(kind: str, env_var: str) -> Iterator[Emulator]:
    try:
        emulator = start(kind, env_var)
    except EmulatorUnavailable as exc:
        if _in_ci():
            pytest.fail(f"CI=true and the {kind} emulator is unavailable: {exc}", pytrace=False)
        pytest.skip(f"the {kind} emulator is unavailable ({exc}); CI runs these tests")
    previous = os.environ.get(env_var)
    os.environ[env_var] = emulator.host
    try:
        yield emulator
    finally:
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
