"""The local runner: one alert through the whole pipeline in this process (embedded default)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from functions.pipeline import TOPIC_ALERTS
from functions.runtime import embedded
from shared import events as ev
from shared.alerts import parse_alert
from shared.events import IncidentState, fold
from shared.incidents import monitoring_key
from shared.models import Event, Report
from shared.ports import EventStore
from shared.store_sqlite import SqliteEventStore
from shared.telemetry.models import TelemetrySource


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
            rejected.append(str(event.data.get("error")))

    pipeline.observers += [track, *(observers or [])]
    bus.publish(TOPIC_ALERTS, alert_payload)
    bus.drain()
    if rejected:
        raise TriageError(f"alert rejected: {rejected[0]}")
    incident_id = store.lookup(monitoring_key(parse_alert(alert_payload)))
    if incident_id is None:
        raise TriageError("the alert opened no incident")
    state = fold(store.load(incident_id))
    report = state.latest_report
    if report is None:
        raise TriageError(f"incident {incident_id} has no report (status {state.status}; "
                          "a closed alert opens no investigation)")
    return TriageResult(incident_id, state, report)
