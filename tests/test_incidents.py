"""Alerts group into incidents: same policy + resource while open; a redelivery maps to the same incident."""

from __future__ import annotations

from shared.core_models import Alert
from shared.incidents import release_open, route_alert
from shared.store.sqlite import SqliteEventStore
from tests.concurrency import n_times


def alert(mon: str, resource: str = "checkout", policy: str = "5xx") -> Alert:
    return Alert(monitoring_incident_id=mon, policy_name=policy, resource_type="cloud_run_revision",
                 resource_name=resource, project_id="p")


def test_same_policy_and_resource_group_while_open() -> None:
    store = SqliteEventStore()
    first = route_alert(store, alert("m1"))
    assert route_alert(store, alert("m2")) == first
    assert route_alert(store, alert("m3", resource="cart")) != first
    assert route_alert(store, alert("m4", policy="latency")) != first


def test_redelivery_maps_to_same_incident_even_after_release() -> None:
    store = SqliteEventStore()
    first = route_alert(store, alert("m1"))
    assert release_open(store, alert("m1"), first)
    assert route_alert(store, alert("m1")) == first  # the same Monitoring incident, redelivered
    second = route_alert(store, alert("m2"))  # a new Monitoring incident after resolution opens a new one
    assert second != first


def test_concurrent_alerts_agree_on_one_incident(tmp_path) -> None:
    store = SqliteEventStore(str(tmp_path / "s.db"))
    results = n_times(16, lambda i: route_alert(store, alert(f"m{i}")))
    assert len(set(results)) == 1
