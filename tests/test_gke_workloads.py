"""GKE workloads are known by cluster, namespace and workload, not by container name: two workloads whose
containers are both named `server` read and rank as two services, in the logs, the traces, the metrics and the
alert."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shared.alerts import parse_alert
from shared.telemetry.bundle import to_rfc3339
from shared.telemetry.cloud_logging import build_filter
from shared.workloads import gke_service, split_gke, workload_of_pod
from tests.http_stub import serve

WINDOW_START = 1_768_470_000.0
FRONTEND, CART = "prod/shop/frontend", "prod/shop/cartservice"


def k8s(pod: str, namespace: str = "shop") -> dict[str, str]:
    return {"project_id": "p", "location": "europe-west1", "cluster_name": "prod", "namespace_name": namespace,
            "pod_name": pod, "container_name": "server"}


def test_a_pods_generated_name_gives_its_workload() -> None:
    assert workload_of_pod("frontend-7d9c5b8f6-x2kqz") == "frontend"  # Deployment: NAME-TEMPLATEHASH-XXXXX
    assert workload_of_pod("node-exporter-4xkz9") == "node-exporter"  # DaemonSet / Job: NAME-XXXXX
    assert workload_of_pod("redis-0") == "redis"  # StatefulSet: NAME-ORDINAL
    assert workload_of_pod("standalone") == "standalone"
    assert gke_service(k8s("frontend-7d9c5b8f6-x2kqz")) == FRONTEND
    assert gke_service(k8s("frontend-7d9c5b8f6-x2kqz"), controller="web") == "prod/shop/web"
    assert gke_service({"container_name": "server"}) == ""  # no cluster: not a GKE workload
    assert split_gke(FRONTEND) == ("prod", "shop", "frontend") and split_gke("checkout") is None


def test_a_gke_alert_names_the_workload_not_the_container() -> None:
    payload = {"version": "1.2", "incident": {
        "incident_id": "i-1", "policy_name": "restarts", "state": "open", "started_at": int(WINDOW_START),
        "resource": {"type": "k8s_container", "labels": k8s("cartservice-5b8c8bc8c9-q2kx7")},
        "metric": {"type": "kubernetes.io/container/restart_count"}}}
    assert parse_alert(payload).service == CART
    aggregated = {"version": "1.2", "incident": {  # a condition grouped by workload: no pod, Monitoring names it
        **payload["incident"], "resource": {"type": "k8s_container", "labels": {
            k: v for k, v in k8s("").items() if k != "pod_name"}},
        "metadata": {"system_labels": {"top_level_controller_name": "cartservice", "node_names": ["n-1"]}}}}
    assert parse_alert(aggregated).service == CART


@pytest.fixture()
def logging_api() -> Iterator[tuple[str, Any]]:
    pytest.importorskip("google.cloud.logging")
    from tests.test_cloud_logging_source import Api

    fake = Api()
    with serve(fake) as stub:
        yield stub.url, fake


def test_logs_of_two_server_containers_are_two_workloads(logging_api: tuple[str, Any]) -> None:
    from shared.telemetry_records import Window
    from tests.test_cloud_logging_source import reader

    endpoint, fake = logging_api
    pods = ["frontend-7d9c5b8f6-x2kqz", "cartservice-5b8c8bc8c9-q2kx7", "frontend-6f7b9d8c5-bbbbb"]
    fake.entries = [{"logName": "projects/p/logs/stdout", "timestamp": to_rfc3339(WINDOW_START + i),
                     "severity": "ERROR", "insertId": f"i{i}", "textPayload": f"line {i}",
                     "resource": {"type": "k8s_container",
                                  "labels": k8s(pods[i % 3], "shop" if i % 3 < 2 else "staging")}}
                    for i in range(30)]
    window = Window(WINDOW_START, WINDOW_START + 600)
    every = reader(endpoint).logs(window)
    assert {r.service for r in every.items} == {FRONTEND, CART, "prod/staging/frontend"}
    fake.requests.clear()
    one = reader(endpoint).logs(window, [FRONTEND])
    assert {r.service for r in one.items} == {FRONTEND} and len(one.items) == 10
    sent = fake.requests[0][1]["filter"]
    assert sent == build_filter(window, [FRONTEND])
    assert ('resource.labels.cluster_name = "prod" AND resource.labels.namespace_name = "shop" AND '
            'resource.labels.pod_name =~ "^frontend(-|$)"') in sent


def test_spans_name_their_workload() -> None:
    trace_v1 = pytest.importorskip("google.cloud.trace_v1")
    from shared.telemetry.gcp import trace_span

    def span(pod: str, name: str) -> Any:
        return trace_v1.TraceSpan(span_id=1, name=name, start_time={"seconds": int(WINDOW_START)},
                                  end_time={"seconds": int(WINDOW_START) + 1},
                                  labels={"g.co/r/k8s_container/cluster_name": "prod",
                                          "g.co/r/k8s_container/namespace_name": "shop",
                                          "g.co/r/k8s_container/pod_name": pod,
                                          "g.co/r/k8s_container/container_name": "server"})

    assert trace_span("t", span("frontend-7d9c5b8f6-x2kqz", "GET /")).service == FRONTEND
    assert trace_span("t", span("cartservice-5b8c8bc8c9-q2kx7", "GetCart")).service == CART
    otel = trace_v1.TraceSpan(span_id=2, name="x", labels={"k8s.cluster.name": "prod", "k8s.namespace.name": "shop",
                                                           "k8s.deployment.name": "frontend", "service.name": "fe"})
    assert trace_span("t", otel).service == FRONTEND


def test_metrics_of_two_server_containers_are_two_workloads() -> None:
    pytest.importorskip("google.cloud.monitoring_v3")
    from google.cloud import monitoring_v3

    from shared.telemetry.gcp import CloudMonitoringReader
    from shared.telemetry_records import Window
    from tests.test_gcp_telemetry import monitoring_client, monitoring_stand_in

    metric = "kubernetes.io/container/cpu/core_usage_time"
    window = Window(WINDOW_START, WINDOW_START + 600)

    def series(pod: str, controller: str = "") -> Any:
        return monitoring_v3.TimeSeries(
            metric={"type": metric}, resource={"type": "k8s_container", "labels": k8s(pod)},
            metadata={"system_labels": {"top_level_controller_name": controller}} if controller else None,
            points=[{"interval": {"end_time": {"seconds": int(WINDOW_START) + 60}}, "value": {"double_value": 0.5}}])

    with monitoring_stand_in() as (address, current):
        fake = current[0]
        fake.kinds[metric] = ("GAUGE", "DOUBLE")
        fake.series[metric] = [series("frontend-7d9c5b8f6-x2kqz"), series("cartservice-5b8c8bc8c9-q2kx7"),
                               series("frontend-extra-0", controller="web")]
        reader = CloudMonitoringReader("p", [metric], client=monitoring_client(address))
        every = reader.metrics(window)
        # the third pod's workload is the controller Monitoring names
        assert sorted(m.service for m in every.items) == [CART, FRONTEND, "prod/shop/web"]
        fake.requests.clear()
        one = reader.metrics(window, [FRONTEND])
        assert [m.service for m in one.items] == [FRONTEND]  # not the pod frontend-extra-0 of "web"
        (request,) = fake.requests
        assert request.filter.endswith('(resource.labels.cluster_name = "prod" AND resource.labels.namespace_name = '
                                       '"shop" AND resource.labels.pod_name = starts_with("frontend")))')


def test_the_log_analytics_query_names_gke_workloads_as_the_readers_do() -> None:
    import re

    from shared.telemetry.bigquery_logs import pattern_count_query
    from shared.workloads import GENERATED_POD, ORDINAL_POD

    sql = pattern_count_query("my-project.logs_ds._AllLogs")
    assert f"r'{GENERATED_POD}'" in sql and f"r'{ORDINAL_POD}'" in sql and "resource.labels.cluster_name" in sql
    for pattern in (GENERATED_POD, ORDINAL_POD):  # REGEXP_EXTRACT returns the one capturing group
        assert re.compile(pattern).groups == 1


def test_a_gke_rollout_is_a_change_of_its_workload(logging_api: tuple[str, Any]) -> None:
    from shared.telemetry.gcp import GcpTelemetrySource
    from shared.telemetry_records import Window
    from tests.test_cloud_logging_source import reader

    endpoint, fake = logging_api

    def audit(i: int, namespace: str, kind: str, name: str) -> dict[str, Any]:
        return {"logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity", "insertId": f"a{i}",
                "timestamp": to_rfc3339(WINDOW_START + 60 + i),
                "resource": {"type": "k8s_cluster", "labels": {"project_id": "p", "location": "europe-west1",
                                                               "cluster_name": "prod"}},
                "protoPayload": {"methodName": f"io.k8s.apps.v1.{kind}.patch",
                                 "resourceName": f"apps/v1/namespaces/{namespace}/{kind}/{name}",
                                 "authenticationInfo": {"principalEmail": "ci@p.iam.gserviceaccount.com"}}}

    fake.entries = [audit(0, "shop", "deployments", "frontend"), audit(1, "shop", "deployments", "cartservice"),
                    audit(2, "staging", "deployments", "frontend"), audit(3, "shop", "statefulsets", "redis")]
    source = GcpTelemetrySource("p", reader(endpoint))
    window = Window(WINDOW_START, WINDOW_START + 600)
    every = source.changes(window)
    assert sorted(c.service for c in every.items) == [CART, FRONTEND, "prod/shop/redis", "prod/staging/frontend"]
    (rollout,) = source.changes(window, [FRONTEND]).items
    assert rollout.kind == "deploy" and "deployments/frontend" in rollout.description
    assert 'resource.labels.cluster_name = "prod" AND protoPayload.resourceName:"namespaces/shop/"' in \
        fake.requests[-1][1]["filter"]
    mixed = source.changes(window, [FRONTEND, "checkout"])  # a GKE workload beside a Cloud Run service
    assert [c.service for c in mixed.items] == [FRONTEND]
