"""The APIs' read quotas are the project's, so they are counted in the store across every instance: two instances
(two StoreQuota on one store) together never send more than the quota in any rolling minute, and the deployed
runtime gives its readers the store's quota when the store is shared (Firestore)."""

from __future__ import annotations

from typing import Any

import pytest

import functions.runtime as runtime
from shared.config import Settings
from shared.incident_state import IncidentState
from shared.quota import StoreQuota
from shared.store.sqlite import SqliteEventStore
from shared.telemetry.cloud_logging import READS_PER_MINUTE, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def busiest_minute(times: list[float]) -> int:
    times = sorted(times)
    return max(sum(1 for u in times if t <= u < t + 60.0) for t in times)


def run(quotas: list[Any], clock: Clock, minutes: float) -> list[float]:
    """Instances taking turns, each wanting a request as soon as it can (they share one clock: one timeline)."""
    granted: list[float] = []
    end = clock.now + minutes * 60
    while clock.now < end:
        for q in quotas:
            if q.acquire(deadline=clock.now + 600):
                granted.append(clock.now)
        clock.now += 0.05
    return granted


def test_instances_sharing_the_store_keep_to_the_projects_quota_together() -> None:
    store, clock = SqliteEventStore(), Clock()
    instances = [StoreQuota(store, "logging:p", READS_PER_MINUTE, clock=clock, sleep=clock.sleep) for _ in range(3)]
    granted = run(instances, clock, minutes=5)
    assert busiest_minute(granted) <= READS_PER_MINUTE
    assert len(granted) >= 5 * 0.75 * READS_PER_MINUTE  # most of the quota is used


def test_buckets_in_memory_would_each_spend_the_whole_quota() -> None:
    """What the store's quota replaces: per process buckets let three instances send three times the quota."""
    clock = Clock()
    buckets = [TokenBucket(READS_PER_MINUTE, clock=clock, sleep=clock.sleep) for _ in range(3)]
    assert busiest_minute(run(buckets, clock, minutes=2)) > 2 * READS_PER_MINUTE


def test_a_quota_that_cannot_be_cut_into_windows_is_refused() -> None:
    with pytest.raises(ValueError):
        StoreQuota(SqliteEventStore(), "trace:p", 12, windows=12)


def test_the_deployment_counts_its_read_quotas_in_the_store(monkeypatch: pytest.MonkeyPatch) -> None:
    wired: list[Any] = []
    real = runtime.make_telemetry
    monkeypatch.setattr(runtime, "make_telemetry", lambda settings, quotas=None: wired.append(quotas) or
                        real(settings, quotas))
    store = SqliteEventStore()
    runtime.from_settings(Settings(store="firestore", telemetry="gcp", project="p"), store=store)
    runtime.from_settings(Settings(store="sqlite", telemetry="gcp", project="p"), store=store)
    assert wired == [store, None]  # shared by many instances: in the store; one process: its own buckets
    built: list[Any] = []
    monkeypatch.setattr(runtime, "gcp_source", lambda settings, project, quotas=None: built.append(quotas) or object())
    real(Settings(telemetry="gcp", project="p"), store)(IncidentState(incident_id="i"))
    assert built == [store]
