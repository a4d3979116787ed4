"""The SLOs of services from Cloud Monitoring's service monitoring API (`google-cloud-monitoring`, imported on
first use): `services.list` finds the Monitoring services that are the alerting service (by id, display name or the
name of the Cloud Run, GKE, Istio, App Engine or Endpoints service it describes), `serviceLevelObjectives.list` their
SLOs, and `timeSeries.list` with the SLO selectors their current figures: `select_slo_burn_rate(SLO, "<n>m")` over
5 min, 1 h and 6 h and `select_slo_budget_fraction(SLO)`, the latest point at or before the moment asked.
Needs monitoring.services.list, monitoring.slos.list and monitoring.timeSeries.list (roles/monitoring.viewer)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.read_limit import call_refused
from shared.slo import BURN_WINDOWS_S
from shared.telemetry_records import ReadCost, ReadResult, SloStatus

CALENDAR_DAYS = {"DAY": 1, "WEEK": 7, "FORTNIGHT": 14, "MONTH": 30}  # a calendar period, as its longest rolling span
READ_BACK_S = 600  # SLO series are written about once a minute: the latest point within this long before `at`


def names_of(service: Any) -> set[str]:
    """The names a Monitoring service answers to: its id and display name, and the service it describes."""
    out = {service.name.rsplit("/", 1)[-1], service.display_name}
    for part, field in (("cloud_run", "service_name"), ("gke_service", "service_name"),
                        ("cluster_istio", "service_name"), ("mesh_istio", "service_name"),
                        ("istio_canonical_service", "canonical_service"), ("app_engine", "module_id"),
                        ("cloud_endpoints", "service"), ("gke_workload", "top_level_controller_name")):
        if part in service:
            out.add(getattr(getattr(service, part), field))
    if "basic_service" in service:
        out |= set(service.basic_service.service_labels.values())
    return {n for n in out if n}


def _calendar(value: Any) -> str:
    from google.type import calendar_period_pb2

    return str(calendar_period_pb2.CalendarPeriod.Name(int(value)))


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, tz=UTC)


class CloudSloReader:
    """The `SloReader` of a project on Google Cloud."""

    def __init__(self, project: str, services_client: Any = None, metrics_client: Any = None,
                 timeout_s: float = 20.0):
        if services_client is None or metrics_client is None:
            from google.cloud import monitoring_v3

            services_client = services_client or monitoring_v3.ServiceMonitoringServiceClient()
            metrics_client = metrics_client or monitoring_v3.MetricServiceClient()
        self.project, self.services, self.metrics, self.timeout_s = project, services_client, metrics_client, timeout_s

    def _latest(self, selector: str, at: float) -> tuple[float | None, int]:
        from google.cloud import monitoring_v3

        request = monitoring_v3.ListTimeSeriesRequest(
            name=f"projects/{self.project}", filter=selector,
            interval=monitoring_v3.TimeInterval(start_time=_dt(at - READ_BACK_S), end_time=_dt(at)),
            view=monitoring_v3.ListTimeSeriesRequest.TimeSeriesView.FULL)
        best: tuple[float, float] | None = None
        series = 0
        for ts in self.metrics.list_time_series(request=request, timeout=self.timeout_s):
            series += 1
            for p in ts.points:
                t = p.interval.end_time.timestamp()
                if best is None or t > best[0]:
                    best = (t, p.value.double_value)
        return (None if best is None else best[1]), series

    def slo_status(self, at: float, services: list[str]) -> ReadResult[SloStatus]:
        """Each request (the services, each service's SLOs, each burn rate and budget) is paid for from what is left
        of the investigation's API-call budget first; when it refuses, the read stops with what it has and says so."""
        from google.cloud import monitoring_v3

        wanted = set(services)
        found: list[SloStatus] = []
        calls = series = 0

        def stopped(unpaid: str) -> ReadResult[SloStatus]:
            return ReadResult(found, True, f"SLOs: stopped after {len(found)} SLOs, the investigation's read budget "
                                           f"is spent ({unpaid})", ReadCost(api_calls=calls, billed_series=series))

        if unpaid := call_refused():
            return stopped(unpaid)
        calls += 1
        for svc in self.services.list_services(request=monitoring_v3.ListServicesRequest(
                parent=f"projects/{self.project}"), timeout=self.timeout_s):
            hit = names_of(svc) & wanted
            if not hit:
                continue
            if unpaid := call_refused():
                return stopped(unpaid)
            calls += 1
            slos = self.services.list_service_level_objectives(request=monitoring_v3.ListServiceLevelObjectivesRequest(
                parent=svc.name), timeout=self.timeout_s)
            for slo in slos:
                burns = []
                for selector in [*(f'select_slo_burn_rate("{slo.name}", "{int(w // 60)}m")' for w in BURN_WINDOWS_S),
                                 f'select_slo_budget_fraction("{slo.name}")']:
                    if unpaid := call_refused():
                        return stopped(unpaid)
                    rate, n = self._latest(selector, at)
                    burns.append(rate)
                    calls, series = calls + 1, series + n
                left = burns.pop()
                period = (slo.rolling_period.total_seconds() if "rolling_period" in slo else
                          86400.0 * CALENDAR_DAYS.get(_calendar(slo.calendar_period), 30))
                found.append(SloStatus(slo=slo.name, service=sorted(hit)[0], display_name=slo.display_name or
                                       slo.name.rsplit("/", 1)[-1], goal=slo.goal, period_s=period, at=at,
                                       burn=tuple(zip(BURN_WINDOWS_S, burns, strict=True)), budget_left=left,
                                       budget_span_s=period))
        return ReadResult(found, cost=ReadCost(api_calls=calls, billed_series=series))
