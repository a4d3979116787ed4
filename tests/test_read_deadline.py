"""A specialist run's reads share one deadline well inside the function's 300 s timeout: each read's time budget is
cut to what is left of it, and past it the meter refuses further reads, so the specialist reports what it read with
a note instead of being killed by the timeout (its task retried into the same wall until the dead letter)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from demo.generator import generate
from functions.runtime import embedded
from shared import topics
from shared.config import Settings
from shared.incident_state import fold
from shared.read_deadline import read_deadline, time_left
from shared.store.sqlite import SqliteEventStore
from shared.telemetry.bundle import BundleSource
from shared.telemetry.metered import MeteredSource
from shared.telemetry_records import Window
from tests.test_infra import resources

SLOW_S = 0.15


class SlowSource:
    """A source whose every read takes SLOW_S (a busy API), delegating to a real bundle."""

    def __init__(self, inner: BundleSource):
        self.inner, self.log_counter, self.reads = inner, None, 0

    def _slow(self, read: Any, *args: Any) -> Any:
        self.reads += 1
        time.sleep(SLOW_S)
        return read(*args)

    def logs(self, window: Window, services: list[str] | None = None) -> Any:
        return self._slow(self.inner.logs, window, services)

    def spans(self, window: Window, services: list[str] | None = None) -> Any:
        return self._slow(self.inner.spans, window, services)

    def metrics(self, window: Window, services: list[str] | None = None) -> Any:
        return self._slow(self.inner.metrics, window, services)

    def changes(self, window: Window, services: list[str] | None = None) -> Any:
        return self._slow(self.inner.changes, window, services)

    def dependencies(self) -> Any:
        return self.inner.dependencies()

    def describe(self) -> dict[str, str]:
        return {"source": "slow"}


def test_time_left_is_the_reads_own_budget_or_what_is_left_of_the_shared_deadline() -> None:
    assert time_left(90.0) == 90.0  # no shared deadline: the read's own
    with read_deadline(0.5):
        assert 0.4 < time_left(90.0) <= 0.5 and time_left(0.1) == 0.1
        time.sleep(0.5)
        assert time_left(90.0) == 0.0
    assert time_left(90.0) == 90.0
    with pytest.raises(ValueError), read_deadline(0):
        pass


def test_past_the_deadline_the_meter_refuses_reads_with_a_note(tmp_path: Path) -> None:
    scenario = generate("bad_deploy", tmp_path / "demo", seed=3)
    slow = SlowSource(BundleSource(scenario.bundle_dir))
    meter = MeteredSource(slow)
    everything = Window(0, 2**40)
    with read_deadline(SLOW_S / 2):
        first = meter.logs(everything)  # started in time: it runs (an API read's own budget is cut to what is left)
        second = meter.metrics(everything)
    assert first.items and not first.sampled
    assert second.items == [] and second.sampled and "read deadline" in second.note
    assert slow.reads == 1 and meter.counts.refused == 1


def test_a_slow_investigation_reports_what_it_read_instead_of_dying(tmp_path: Path) -> None:
    scenario = generate("bad_deploy", tmp_path / "demo", seed=3)
    store = SqliteEventStore()
    settings = Settings(read_deadline_s=SLOW_S * 1.5)  # room for one read a specialist, not for all of them
    pipeline, bus = embedded(store, SlowSource(BundleSource(scenario.bundle_dir)), settings=settings)  # type: ignore[arg-type]
    bus.publish(topics.ALERTS, scenario.alert_path.read_bytes())
    bus.drain()
    (summary,) = store.summaries()
    state = fold(store.load(summary["incident_id"]))
    first = state.rounds[1]
    assert not first.failed and set(first.reported) == set(pipeline.specialists)  # nobody died
    notes = " ".join(n for ns in first.notes.values() for n in ns)
    assert "read deadline" in notes
    assert state.latest_report is not None


def test_the_deadline_is_well_inside_the_function_timeout() -> None:
    (fn,) = resources("main.tf", "google_cloudfunctions2_function").values()
    timeout = fn["service_config"][0]["timeout_seconds"]
    assert Settings().read_deadline_s <= 0.8 * timeout  # analysis and writes need the rest
