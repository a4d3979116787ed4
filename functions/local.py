"""The local runner: one alert through the whole pipeline in this process (embedded default)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from functions.report_view import no_start_time
from functions.runtime import embedded, make_store
from shared import events as ev
from shared import topics
from shared.alerts import parse_alert
from shared.analysis_events import ReportChecked
from shared.config import Settings
from shared.core_models import Alert, Event
from shared.incident_state import IncidentState
from shared.incidents import monitoring_key
from shared.lifecycle_events import AlertRejected
from shared.models import Report
from shared.ports import EventStore, TelemetrySource
from shared.telemetry_records import Window
from shared.timefmt import utc_text


class SkippedLines(Protocol):
    def note(self, name: str) -> str: ...


@runtime_checkable
class KnowsItsData(Protocol):
    """A source that knows the time range it holds and the corrupt lines it skipped (a bundle folder)."""

    skipped: Mapping[str, SkippedLines]  # file name -> the corrupt lines skipped in it

    def time_range(self) -> tuple[float, float] | None: ...


class TriageError(RuntimeError):
    """The alert was rejected or no report came out; the message says why."""


@dataclass
class TriageResult:
    incident_id: str
    state: IncidentState
    report: Report
    warnings: list[str] = field(default_factory=list)  # what makes the report weaker than it looks (see check)
    no_data: bool = False  # the source holds no telemetry at all in the incident window

    @property
    def complete(self) -> bool:
        """Every specialist answered, and there was telemetry to answer from."""
        return not (self.report.partial or self.report.failed_specialists or self.no_data)


def triage(alert_payload: bytes, source: TelemetrySource, store: EventStore | None = None,
           observers: list[Callable[[Event], None]] | None = None) -> TriageResult:
    store = store if store is not None else make_store(Settings(store="sqlite", sqlite_path=":memory:"))
    pipeline, bus = embedded(store, source, settings=budget_settings())
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
    result = TriageResult(incident_id, state, report)
    check(result, state.first_alert, source)
    if result.warnings or result.no_data:  # in the incident's log, so the web page says them too
        with pipeline.log.incident(incident_id) as incident:
            incident.record(ev.REPORT_CHECKED, (report.round,), "triage", ReportChecked(
                round=report.round, warnings=result.warnings, no_data=result.no_data))
        result.state = pipeline.log.read(incident_id) or state
    return result


_ts = utc_text


def budget_settings() -> Settings:
    """The read budget from AUTOSRE_BUDGET_*, as every entry point takes it (the rest of a local run's settings
    are its own: the given source and store, no LLM)."""
    env = Settings.from_env()
    return Settings(budget_api_calls=env.budget_api_calls, budget_log_entries=env.budget_log_entries,
                    budget_bytes_billed=env.budget_bytes_billed)


def _records(source: TelemetrySource, window: Window, services: list[str] | None = None) -> int:
    return (len(source.logs(window, services).items) + len(source.spans(window, services).items)
            + len(source.metrics(window, services).items) + len(source.changes(window, services).items))


def check(result: TriageResult, alert: Alert | None, source: TelemetrySource) -> None:
    """Add the warnings a report cannot show by itself: an alert with no start time (its windows were placed at
    the time of triage), no telemetry in the incident or baseline window (an alert outside the data's time
    range), no telemetry for the alert's service. A source that cannot be read here is left to the specialists,
    whose failure the report already names."""
    rnd = result.state.report_round
    if rnd is None:
        return
    w = rnd.window
    if alert is not None and alert.started_at is None:
        result.warnings.append(no_start_time(w.onset))
    incident, baseline = Window(w.start, w.end), Window(w.baseline_start, w.baseline_end)
    service = alert.service if alert is not None else ""
    bundle = source if isinstance(source, KnowsItsData) else None  # a bundle knows its time range and corrupt lines
    time_range = bundle.time_range if bundle is not None else None
    try:
        in_incident, in_baseline = _records(source, incident), _records(source, baseline)
        for_service = _records(source, incident, [service]) + _records(source, baseline, [service]) if service else 1
        span = time_range() if callable(time_range) and not (in_incident and in_baseline) else None
    except Exception:  # the specialists read the same source and the report names their failure
        return
    if bundle is not None:  # the corrupt lines it skipped (Skipped.note)
        from shared.redaction import redact_text  # a corrupt line's note quotes the line

        result.warnings += [redact_text(f"corrupt telemetry: {bundle.skipped[name].note(name)}")
                            for name in sorted(bundle.skipped)]
    held = ("" if not callable(time_range) else f"; the telemetry runs from {_ts(span[0])} to {_ts(span[1])}"
            if span else "; the telemetry holds no record at all")
    if not in_incident:
        result.no_data = True
        result.warnings.append(f"no telemetry in the incident window ({_ts(incident.start)} to {_ts(incident.end)})"
                               f"{held}: nothing could be analysed (is the alert's start time right?)")
    elif not in_baseline:
        result.warnings.append(f"no telemetry in the baseline window ({_ts(baseline.start)} to {_ts(baseline.end)})"
                               f"{held}: nothing to compare the incident with")
    if in_incident and not for_service:
        result.warnings.append(f"no telemetry for {service} in the incident or baseline window: no log, span, "
                               "metric or change names it (is the alert's service named as in the telemetry?)")
