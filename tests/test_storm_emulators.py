"""An alert storm on the emulators at a size that fits CI (the full 1,000 alerts run in bench/storm.py)."""

from __future__ import annotations

import pytest

from bench.storm import storm

pytestmark = pytest.mark.emulator


def test_storm_loses_nothing_and_doubles_nothing(pubsub_emulator: object, firestore_emulator: object) -> None:
    result = storm(n_alerts=150, n_policies=10, timeout_s=300)
    assert result.incidents == 10  # alerts of one policy on one resource group into one incident
    assert result.recorded_alerts == result.alerts and result.duplicated_alerts == 0 and result.lost == 0
    assert result.rejected == result.poison == 3
    assert result.reports == result.incidents
