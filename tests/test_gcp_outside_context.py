"""The Google Cloud readers of outside context, against stand-ins that enforce the APIs' documented request rules:
Service Health's ListEvents (parent projects/P/locations/L, page_size 1-100, filters on category, state,
update_time and event_impacts.product.product_name only) and Cloud Monitoring's service monitoring API (services and
SLOs by their resource names, SLO data only through select_slo_* selectors with a duration lookback)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from google.api_core.exceptions import InvalidArgument, NotFound
from google.cloud import monitoring_v3, servicehealth_v1

from shared.telemetry.gcp import GcpTelemetrySource
from shared.telemetry.gcp_slo import CloudSloReader
from shared.telemetry.service_health import OutsideCauses, ServiceHealthReader
from shared.telemetry_records import Placement, Window

AT = 1_768_471_200.0
FILTER_FIELDS = ("category", "state", "update_time", "event_impacts.product.product_name")


def dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, tz=UTC)


class ServiceHealthStandIn:
    def __init__(self, events: list[servicehealth_v1.Event]):
        self.events, self.requests = events, []

    def list_events(self, request: servicehealth_v1.ListEventsRequest, timeout: float = 0) -> list[Any]:
        assert isinstance(request, servicehealth_v1.ListEventsRequest)
        self.requests.append(request)
        if not re.fullmatch(r"projects/[^/]+/locations/[^/]+", request.parent):
            raise InvalidArgument(f"parent {request.parent!r} is not projects/*/locations/*")
        if not 0 <= request.page_size <= 100:
            raise InvalidArgument("page_size must be 1 to 100")
        for term in re.findall(r"([a-z_.]+)\s*(?:>=|<=|=|<|>|:)", request.filter):
            if term not in FILTER_FIELDS:
                raise InvalidArgument(f"filter on {term} is not supported")
        since = re.search(r'update_time>="([^"]+)"', request.filter)
        t0 = datetime.fromisoformat(since.group(1).replace("Z", "+00:00")) if since else None
        return [e for e in self.events if e.category == servicehealth_v1.Event.EventCategory.INCIDENT
                and (e.state == servicehealth_v1.Event.State.ACTIVE or t0 is None or e.update_time >= t0)]


def event(n: int, product: str, location: str, state: str = "ACTIVE", updated: float = AT) -> servicehealth_v1.Event:
    return servicehealth_v1.Event(
        name=f"projects/p/locations/global/events/e{n}", title=f"{product} trouble", category="INCIDENT",
        state=state, detailed_state="CONFIRMED", start_time=dt(AT - 600), update_time=dt(updated),
        end_time=dt(AT - 300) if state == "CLOSED" else None,
        event_impacts=[{"product": {"product_name": product}, "location": {"location_name": location}}])


def test_service_health_incidents_touching_the_placements_become_changes() -> None:
    standin = ServiceHealthStandIn([event(1, "Cloud SQL", "us-central1"), event(2, "Cloud SQL", "europe-west1"),
                                    event(3, "Cloud SQL", "us-central1", "CLOSED", updated=AT - 86400)])
    outside = OutsideCauses(ServiceHealthReader("p", client=standin),
                            [Placement("orders-db", "Cloud SQL", "us-central1")])
    source = GcpTelemetrySource("p", outside=outside)  # no log reader: only Google's incidents
    read = outside.changes(Window(AT - 7200, AT + 300))
    assert [(c.service, c.kind, dict(c.details)["event"]) for c in read.items] == [
        ("orders-db", "provider_incident", "projects/p/locations/global/events/e1")]
    assert standin.requests[0].parent == "projects/p/locations/global"
    assert source.changes(Window(AT - 7200, AT + 300)).note == "no log reader for audit logs"
    with pytest.raises(InvalidArgument):
        ServiceHealthReader("p/x", client=standin).incidents(Window(AT - 60, AT))


class MonitoringStandIn:
    """services.list, serviceLevelObjectives.list and timeSeries.list with select_slo_* selectors."""

    def __init__(self, services: list[monitoring_v3.Service],
                 slos: dict[str, list[monitoring_v3.ServiceLevelObjective]], values: dict[str, float]):
        self.services, self.slos, self.values, self.filters = services, slos, values, []

    def list_services(self, request: monitoring_v3.ListServicesRequest, timeout: float = 0) -> list[Any]:
        if not re.fullmatch(r"projects/[^/]+", request.parent):
            raise InvalidArgument("parent must be projects/[PROJECT_ID_OR_NUMBER]")
        return list(self.services)

    def list_service_level_objectives(self, request: monitoring_v3.ListServiceLevelObjectivesRequest,
                                      timeout: float = 0) -> list[Any]:
        if not re.fullmatch(r"projects/[^/]+/services/[^/]+", request.parent):
            raise InvalidArgument("parent must be projects/P/services/S")
        if request.parent not in self.slos:
            raise NotFound(request.parent)
        return list(self.slos[request.parent])

    def list_time_series(self, request: monitoring_v3.ListTimeSeriesRequest, timeout: float = 0) -> list[Any]:
        self.filters.append(request.filter)
        m = re.fullmatch(r'(select_slo_burn_rate|select_slo_budget_fraction)\("([^"]+)"(?:, "(\d+[smhd])")?\)',
                         request.filter)
        if m is None or (m.group(1) == "select_slo_burn_rate") != (m.group(3) is not None):
            raise InvalidArgument(f"not an SLO selector: {request.filter}")
        if not any(s.name == m.group(2) for slos in self.slos.values() for s in slos):
            raise NotFound(m.group(2))
        end = request.interval.end_time
        if end is None or request.interval.start_time > end:
            raise InvalidArgument("interval.end_time is required and must not precede start_time")
        key = m.group(1) + (f":{m.group(3)}" if m.group(3) else "")
        if key not in self.values:
            return []
        return [monitoring_v3.TimeSeries(points=[
            {"interval": {"end_time": dt(end.timestamp() - 120)}, "value": {"double_value": 0.0}},
            {"interval": {"end_time": end}, "value": {"double_value": self.values[key]}}])]


def test_slo_burn_comes_from_the_service_monitoring_api() -> None:
    run = monitoring_v3.Service(name="projects/p/services/abc", display_name="Checkout (Cloud Run)",
                                cloud_run={"service_name": "checkout", "location": "us-central1"})
    other = monitoring_v3.Service(name="projects/p/services/def", custom={}, display_name="billing")
    slo = monitoring_v3.ServiceLevelObjective(name="projects/p/services/abc/serviceLevelObjectives/avail",
                                              display_name="Checkout availability", goal=0.995,
                                              rolling_period={"seconds": 28 * 86400})
    standin = MonitoringStandIn([run, other], {run.name: [slo], other.name: []},
                                {"select_slo_burn_rate:5m": 20.0, "select_slo_burn_rate:60m": 4.5,
                                 "select_slo_burn_rate:360m": 0.8, "select_slo_budget_fraction": 0.62})
    read = CloudSloReader("p", standin, standin).slo_status(AT, ["checkout"])
    [status] = read.items
    assert (status.service, status.display_name, status.goal, status.period_s) == (
        "checkout", "Checkout availability", 0.995, 28 * 86400)
    assert status.burn == ((300.0, 20.0), (3600.0, 4.5), (21600.0, 0.8)) and status.budget_left == 0.62
    assert read.cost.billed_series == 4 and read.cost.api_calls == 6  # services, SLOs, 3 burn rates, budget
    assert CloudSloReader("p", standin, standin).slo_status(AT, ["payments"]).items == []
    from shared.read_limit import call_payer

    paid: list[int] = []

    def pay() -> str:  # three calls, then the cap
        paid.append(1)
        return "" if len(paid) <= 3 else "API calls: 3 of a budget of 3"

    with call_payer(pay):
        cut = CloudSloReader("p", standin, standin).slo_status(AT, ["checkout"])
    assert cut.items == [] and cut.sampled and "API calls: 3" in cut.note and cut.cost.api_calls == 3
    with pytest.raises(InvalidArgument):
        standin.list_time_series(monitoring_v3.ListTimeSeriesRequest(
            name="projects/p", filter='select_slo_burn_rate("projects/p/services/abc/serviceLevelObjectives/avail")',
            interval={"end_time": dt(AT)}))
