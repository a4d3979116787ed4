"""Importing a real Nezha TrainTicket case into a bundle."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from shared.alerts import parse_alert
from shared.telemetry.bundle import BundleSource
from shared.telemetry.models import Window
from shared.telemetry.nezha import import_case, metric_name, service_of
from tests.data import nezha_dir

CASE = "tt-20230129-085206"


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = nezha_dir()
    return import_case(root / "cases" / CASE, tmp_path_factory.mktemp("nezha"), root / "reference")


def test_pod_names_map_to_workloads() -> None:
    assert service_of("ts-contacts-service-866bd68c97-xcqfx") == "ts-contacts-service"
    assert service_of("redis-0") == "redis"
    assert metric_name("CpuUsageRate(%)") == ("cpu_usage_rate", "%")
    assert metric_name("PodClientLatencyP90(s)") == ("pod_client_latency_p90", "s")


def test_counts_services_and_baseline(imported) -> None:  # type: ignore[no-untyped-def]
    case = nezha_dir() / "cases" / CASE
    src = BundleSource(imported.bundle_dir)
    everything = Window(0, 4e9)
    rows = 0
    for path in (case / "logs").glob("*.csv"):
        with open(path, newline="") as f:
            rows += sum(1 for _ in csv.DictReader(f))
    incident_logs = [r for r in src.logs(everything).items if r.timestamp >= imported.inject_time - 600]
    assert len(incident_logs) == rows
    assert imported.label["service"] in imported.services
    manifest = json.loads((imported.bundle_dir / "manifest.json").read_text())
    assert manifest["baseline_shift_s"] < 0
    baseline = [r for r in src.logs(everything).items if r.timestamp < imported.inject_time - 600]
    assert baseline and max(r.timestamp for r in baseline) < imported.inject_time - 15 * 60 + 120
    series = src.metrics(everything).items
    cpu = [m for m in series if m.metric == "nezha.pod/cpu_usage_rate" and m.service == imported.label["service"]]
    assert cpu and len(cpu[0].points) >= 10  # one point a minute, from before the fault to after it
    assert any(m.service == "frontend" for m in series)


def test_alert_carries_no_hint_of_the_cause(imported) -> None:  # type: ignore[no-untyped-def]
    text = Path(imported.alert_path).read_text()
    assert imported.label["service"] not in text and imported.label["pod"] not in text
    alert = parse_alert(text)
    assert alert.service == "frontend" and alert.started_at == imported.inject_time + 60
