"""Google Cloud's incidents from the Service Health API (`google-cloud-servicehealth`, imported on first use):
ListEvents on `projects/<p>/locations/global` with category INCIDENT, active or updated since the window's start,
as `ProviderIncident` records; `OutsideCauses` turns those touching the declared placements into changes
(shared/telemetry/provider_incidents.py). Needs the Service Health API enabled and `servicehealth.events.list`
(roles/servicehealth.viewer) on the project."""

from __future__ import annotations

from typing import Any

from shared.telemetry.bundle_codec import to_rfc3339
from shared.telemetry.provider_incidents import touching
from shared.telemetry_records import ChangeEvent, Placement, ProviderIncident, ReadCost, ReadResult, Window

PAGE_SIZE = 100  # ListEvents accepts 1 to 100
MAX_EVENTS = 500


def _time(value: Any) -> float | None:
    return None if value is None else float(value.timestamp())


def from_event(e: Any) -> ProviderIncident:
    """A servicehealth_v1.Event -> `ProviderIncident`."""
    start = _time(e.start_time)
    return ProviderIncident(
        event=e.name, title=e.title, start=start if start is not None else float(e.update_time.timestamp()),
        state="CLOSED" if e.state.name == "CLOSED" else "ACTIVE", end=_time(e.end_time),
        impacts=tuple((i.product.product_name, i.location.location_name) for i in e.event_impacts),
        description=e.description, detailed_state=e.detailed_state.name)


class ServiceHealthReader:
    """The project's Google Cloud incidents active in, or updated since the start of, a window."""

    def __init__(self, project: str, client: Any = None, timeout_s: float = 20.0, max_events: int = MAX_EVENTS):
        if client is None:
            from google.cloud import servicehealth_v1

            client = servicehealth_v1.ServiceHealthClient()
        self.project, self.client, self.timeout_s, self.max_events = project, client, timeout_s, max_events

    def request(self, window: Window) -> Any:
        from google.cloud import servicehealth_v1

        return servicehealth_v1.ListEventsRequest(
            parent=f"projects/{self.project}/locations/global", page_size=PAGE_SIZE,
            filter=f'category=INCIDENT AND (state=ACTIVE OR update_time>="{to_rfc3339(window.start)}")')

    def incidents(self, window: Window) -> ReadResult[ProviderIncident]:
        out: list[ProviderIncident] = []
        pager = self.client.list_events(request=self.request(window), timeout=self.timeout_s)
        for event in pager:
            if len(out) >= self.max_events:
                return ReadResult(out, sampled=True, note=f"Service Health: the first {self.max_events} events read",
                                  cost=ReadCost(api_calls=-(-len(out) // PAGE_SIZE)))
            out.append(from_event(event))
        return ReadResult(out, cost=ReadCost(api_calls=max(1, -(-len(out) // PAGE_SIZE))))


class OutsideCauses:
    """Google Cloud's incidents that touch where the services run, as changes (kind `provider_incident`). A
    failed read is a note: the project's own changes are still read."""

    def __init__(self, reader: ServiceHealthReader, placements: list[Placement]):
        self.reader, self.placements = reader, placements

    def changes(self, window: Window, services: list[str] | None = None) -> ReadResult[ChangeEvent]:
        from google.api_core.exceptions import GoogleAPICallError

        try:
            read = self.reader.incidents(window)
        except GoogleAPICallError as exc:
            return ReadResult([], sampled=True, note=f"Service Health not read: {str(exc)[:200]}")
        return ReadResult(touching(read.items, self.placements, window, services), read.sampled, read.note, read.cost)
