"""Loses nothing, doubles nothing: redelivery in any order, a specialist killed mid-step, the synthesizer run
twice at once, hostile bundles. Each run is compared with a clean run of the same incident."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demo.generator import generate
from functions.pipeline import Pipeline
from functions.runtime import embedded
from shared import topics
from shared.core_models import Event
from shared.incident_state import fold
from shared.store.sqlite import SqliteEventStore
from shared.telemetry.bundle import LOGS, METRICS, SPANS, BundleError, BundleSource
from shared.telemetry_records import Window
from tests.concurrency import together


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return generate("cpu_saturation", tmp_path_factory.mktemp("demo"), seed=6)


def clean_run(scenario, store: SqliteEventStore | None = None) -> tuple[Pipeline, Any, str]:  # type: ignore[no-untyped-def]
    store = store or SqliteEventStore()
    pipeline, bus = embedded(store, BundleSource(scenario.bundle_dir))
    bus.publish(topics.ALERTS, scenario.alert_path.read_bytes())
    bus.drain()
    (summary,) = store.summaries()
    return pipeline, bus, summary["incident_id"]


def comparable(events: list[Event]) -> tuple[list[tuple[str, str]], Any]:
    state = fold(events)
    report = state.latest_report
    return sorted((e.type, e.event_id) for e in events), report.model_dump() if report else None


def test_every_message_ten_times_in_shuffled_order(scenario) -> None:  # type: ignore[no-untyped-def]
    pipeline, bus, incident_id = clean_run(scenario)
    before = comparable(pipeline.store.load(incident_id))
    replay = list(bus.published) * 10
    random.Random(10).shuffle(replay)
    for message in replay:
        bus.deliver(message)
    bus.drain()
    assert comparable(pipeline.store.load(incident_id)) == before
    assert bus.dead_letters == []


class CrashingStore(SqliteEventStore):
    """Dies (like a killed instance) on the Nth append of a specialist's findings, once."""

    def __init__(self, crash_after: int):
        super().__init__()
        self.crash_after, self.finding_appends, self.crashed = crash_after, 0, False

    def append(self, event: Event) -> bool:
        if event.type == "finding.recorded" and not self.crashed:
            self.finding_appends += 1
            if self.finding_appends == self.crash_after:
                self.crashed = True
                raise SystemExit("instance killed mid-step")  # not an Exception: nothing in-process catches it
        return super().append(event)


def test_a_specialist_killed_mid_step_is_retried_to_the_same_result(scenario) -> None:  # type: ignore[no-untyped-def]
    reference, _, ref_id = clean_run(scenario)
    store = CrashingStore(crash_after=3)
    _pipeline, bus = embedded(store, BundleSource(scenario.bundle_dir))
    bus.publish(topics.ALERTS, scenario.alert_path.read_bytes())
    with pytest.raises(SystemExit):
        bus.drain()
    assert store.crashed and fold(store.load(ref_id)).latest_report is None  # half done
    for message in list(bus.published):  # Pub/Sub redelivers everything not acked
        bus.deliver(message)
    bus.drain()
    assert comparable(store.load(ref_id)) == comparable(reference.store.load(ref_id))


class DiesAfterTheReport(SqliteEventStore):
    """Dies (like a killed instance) right after `report.published` was written: at the first proposal, once."""

    def __init__(self) -> None:
        super().__init__()
        self.crashed = False

    def append(self, event: Event) -> bool:
        if event.type == "remediation.proposed" and not self.crashed:
            self.crashed = True
            raise SystemExit("instance killed right after the report")
        return super().append(event)


class RecordingNotifier:
    channel = "chat"

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, text: str) -> tuple[bool, str]:
        self.sent.append(text)
        return True, "HTTP 200 after 1 attempt(s)"


@pytest.mark.parametrize("recovery", ["redelivery", "sweep"])
def test_a_crash_right_after_the_report_loses_no_proposal_or_notification(scenario, recovery: str) -> None:  # type: ignore[no-untyped-def]
    reference, _, ref_id = clean_run(scenario)
    expected = set(fold(reference.store.load(ref_id)).proposals)
    store, notifier = DiesAfterTheReport(), RecordingNotifier()
    pipeline, bus = embedded(store, BundleSource(scenario.bundle_dir), notifier=notifier)
    bus.publish(topics.ALERTS, scenario.alert_path.read_bytes())
    with pytest.raises(SystemExit):
        bus.drain()
    state = fold(store.load(ref_id))
    assert state.latest_report is not None and not state.proposals and not notifier.sent  # half done
    if recovery == "redelivery":  # Pub/Sub redelivers the findings message that was never acked
        for message in [m for m in bus.published if m.topic == topics.FINDINGS]:
            bus.deliver(message)
        bus.drain()
    else:
        assert pipeline.sweep() == []  # no partial report: only the undone steps are re-driven
    state = fold(store.load(ref_id))
    assert set(state.proposals) == expected and len(notifier.sent) == 1
    assert state.report_round is not None
    assert state.report_round.steps_done == {f"complete:{step.name}" for step in pipeline.after_report}
    assert {"complete:propose", "complete:notify"} <= state.report_round.steps_done
    for message in list(bus.published):  # and nothing runs twice after that
        bus.deliver(message)
    bus.drain()
    pipeline.sweep()
    assert len(notifier.sent) == 1


def test_two_synthesizers_at_once_publish_one_report(scenario, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = SqliteEventStore(str(tmp_path / "events.db"))
    _pipeline, _, incident_id = clean_run(scenario, store)
    before = comparable(store.load(incident_id))
    twins = [embedded(SqliteEventStore(str(tmp_path / "events.db")), BundleSource(scenario.bundle_dir))[0]
             for _ in range(4)]
    def synthesize(p: Pipeline) -> None:
        p.synthesize(incident_id, 1)
        p.synthesize(incident_id, 1, partial_ok=True)

    together([lambda p=p: synthesize(p) for p in twins])  # type: ignore[misc]
    assert comparable(store.load(incident_id)) == before
    reports = [e for e in store.load(incident_id) if e.type == "report.published"]
    assert len(reports) == 1


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                          HealthCheck.function_scoped_fixture])
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
                           lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
                           max_leaves=12)


@FUZZ
@given(st.sampled_from([LOGS, SPANS, METRICS]), st.one_of(json_values.map(json.dumps), st.text(max_size=60)))
def test_hostile_bundle_lines_end_as_bundle_errors(tmp_path: Path, name: str, line: str) -> None:
    folder = tmp_path / "b"
    folder.mkdir(exist_ok=True)
    (folder / "manifest.json").write_text('{"format": "autosre-bundle/1"}')
    for other in (LOGS, SPANS, METRICS, "changes.jsonl"):
        (folder / other).write_text("")
    (folder / name).write_text(line.replace("\n", " ") + "\n")
    source = BundleSource(folder)
    everything = Window(0, 4e9)
    try:
        source.logs(everything)
        source.spans(everything)
        source.metrics(everything)
    except BundleError:
        pass
