"""The incident log owns every read and write of an incident: one load per delivered message, the state folded in
memory after each append, the summary projected by every writer, a lost race read back from the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from demo.generator import generate
from functions.runtime import embedded
from shared import events as ev
from shared import topics
from shared.core_models import Alert, Event
from shared.incident_log import IncidentLog, UnknownIncident
from shared.lifecycle_events import IncidentOpened, IncidentResolved
from shared.store.sqlite import SqliteEventStore
from shared.telemetry.bundle import BundleSource

ALERT = Alert(monitoring_incident_id="m1", policy_name="p", resource_labels={"service_name": "checkout"},
              started_at=1000.0)


class CountingStore(SqliteEventStore):
    def __init__(self) -> None:
        super().__init__(":memory:")
        self.loads = 0

    def load(self, incident_id: str) -> list[Event]:
        self.loads += 1
        return super().load(incident_id)


@pytest.mark.parametrize("fault", ["bad_deploy", "slow_dependency"])
def test_a_round_loads_the_log_at_most_once_per_delivered_message(fault: str, tmp_path: Path) -> None:
    scenario = generate(fault, tmp_path / fault, seed=7)
    store = CountingStore()
    pipeline, bus = embedded(store, BundleSource(scenario.bundle_dir))
    bus.publish(topics.ALERTS, scenario.alert_path.read_bytes())
    delivered = bus.drain()
    (summary,) = store.summaries()
    state = pipeline.log.read(summary["incident_id"])
    assert state is not None and state.latest_report is not None and state.proposals
    # 1 alert + one task and one findings message per specialist and round; the read above is the +1
    assert store.loads <= delivered + 1, (store.loads, delivered)
    assert summary == state.summary()  # the projection the writers left matches the fold


def test_appends_fold_in_memory_and_the_block_projects_the_summary() -> None:
    store = CountingStore()
    log = IncidentLog(store, clock=lambda: 5.0)
    with log.incident("i") as incident:
        assert not incident.exists
        assert incident.record(ev.INCIDENT_OPENED, (), "t", IncidentOpened(group_key="g", alert=ALERT))
        assert incident.state.status == "open"
        assert incident.record(ev.INCIDENT_RESOLVED, (), "t", IncidentResolved(by_alert="m1"))
        assert incident.state.status == "resolved"
        assert not incident.record(ev.INCIDENT_RESOLVED, (), "t", IncidentResolved(by_alert="m1"))  # redelivered
    assert store.loads == 1
    (summary,) = store.summaries()
    assert summary["status"] == "resolved" and summary["events"] == 2


def test_an_append_lost_to_another_writer_is_read_back() -> None:
    store = SqliteEventStore(":memory:")
    ours, theirs = IncidentLog(store, clock=lambda: 1.0), IncidentLog(store, clock=lambda: 2.0)
    with ours.incident("i") as incident:
        incident.record(ev.INCIDENT_OPENED, (), "t", IncidentOpened(group_key="g", alert=ALERT))
        with theirs.incident("i") as other:
            other.record(ev.INCIDENT_RESOLVED, (), "them", IncidentResolved(by_alert="theirs"))
        assert not incident.record(ev.INCIDENT_RESOLVED, (), "us", IncidentResolved(by_alert="ours"))
        state = incident.state  # reloaded: the winner's version
        assert state.status == "resolved" and state.resolved_at == 2.0


def test_an_unknown_incident_is_an_error_not_an_empty_state() -> None:
    log = IncidentLog(SqliteEventStore(":memory:"))
    assert log.read("nope") is None
    with log.incident("nope") as incident, pytest.raises(UnknownIncident):
        _ = incident.state
