"""The local runner: one alert through the whole pipeline in this process (embedded default)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from functions.runtime import embedded
from shared import events as ev
from shared import topics
from shared.alerts import parse_alert
from shared.events import AlertRejected
from shared.incident_state import IncidentState
from shared.incidents import monitoring_key
from shared.models import Event, Report
from shared.ports import EventStore, TelemetrySource
from shared.store.sqlite import SqliteEventStore


class TriageError(RuntimeError):
    """The alert was rejected or no report came out; the message says why."""


@dataclass
class TriageResult:
    incident_id: str
    state: IncidentState
    report: Report


def triage(alert_payload: bytes, source: TelemetrySource, store: EventStore | None = None,
           observers: list[Callable[[Event], None]] | None = None) -> TriageResult:
    store = store if store is not None else SqliteEventStore(":memory:")
    pipeline, bus = embedded(store, source)
    rejected: list[str] = []

    def track(event: Event) -> None:
        if event.type == ev.ALERT_REJECTED:
            rejected.append(AlertRejected.model_validate(event.data).error)

    pipeline.observers += [track, *(observers or [])]
    bus.publish(topics.ALERTS, alert_payload)
    bus.drain()
    if rejected:
        raise TriageError(f"alert rejected: {rejected[0]}")
    incident_id = store.lookup(monitoring_key(parse_alert(alert_payload)))
    if incident_id is None:
        raise TriageError("the alert opened no incident")
    state = pipeline.log.read(incident_id)
    assert state is not None  # the incident's events were just written
    report = state.latest_report
    if report is None:
        raise TriageError(f"incident {incident_id} has no report (status {state.status}; "
                          "a closed alert opens no investigation)")
    return TriageResult(incident_id, state, report)
