"""Importing a real Nezha TrainTicket case into a bundle: what lands where, and what the alert does not say."""

from __future__ import annotations

import csv
import json
import math
import statistics
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.context import plan_windows
from evaluation.datasets import datasets_dir
from evaluation.nezha_import import (
    CaseInfo,
    import_all,
    import_case,
    metric_name,
    service_of,
    severity_of,
    synthesize_frontend_alert,
    write_alert,
)
from shared.alerts import parse_alert
from shared.telemetry.bundle import BundleSource
from shared.telemetry_records import Window
from tests.data import nezha_dir

# A "return" fault whose log CSVs also hold rows with a broken TimeUnixNano (the importer must place them by
# their text timestamp); its metrics cover 30 min before the fault to 5 min after, one row a minute.
CASE = "tt-20230129-093419"
EVERYTHING = Window(0, 4e9)


def rows(folder: Path) -> Iterator[dict[str, str]]:
    for path in sorted(folder.glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as f:
            yield from csv.DictReader(f)


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> CaseInfo:
    root = nezha_dir()
    return import_case(root / "cases" / CASE, tmp_path_factory.mktemp("nezha"), root / "reference")


@pytest.fixture(scope="module")
def source(imported: CaseInfo) -> BundleSource:
    return BundleSource(imported.bundle_dir)


def test_pod_names_map_to_workloads_by_the_kubernetes_rules() -> None:
    assert service_of("ts-contacts-service-866bd68c97-xcqfx") == "ts-contacts-service"  # Deployment
    assert service_of("ts-station-food-service-dc4d75dd-fw6ft") == "ts-station-food-service"
    assert service_of("node-exporter-x7k2p") == "node-exporter"  # DaemonSet
    assert service_of("redis-0") == "redis"  # StatefulSet
    assert service_of("payments-cache") == "payments-cache"  # a word is not a generated suffix
    assert service_of("checkout") == "checkout"


def test_column_names_and_log_levels() -> None:
    assert metric_name("CpuUsageRate(%)") == ("cpu_usage_rate", "%")
    assert metric_name("PodClientLatencyP90(s)") == ("pod_client_latency_p90", "s")
    assert metric_name("SyscallRead") == ("syscall_read", "")
    assert severity_of("16:51:24.967 INFO  u.c.UserController#48 TraceID: x") == "INFO"
    assert severity_of("17:33:14.720 ERROR o.a.c.c.C.[dispatcherServlet]#175 Servlet.service()") == "ERROR"
    assert severity_of("2023-01-29 WARN low disk") == "WARNING"
    assert severity_of("\tat java.base/java.lang.Thread.run(Thread.java:829)") == "DEFAULT"
    assert severity_of("user typed the word error in lower case") == "DEFAULT"


def test_services_are_workloads_and_include_the_root_cause(imported: CaseInfo, source: BundleSource) -> None:
    logs, spans = source.logs(EVERYTHING).items, source.spans(EVERYTHING).items
    series = source.metrics(EVERYTHING).items
    assert all(r.service == service_of(r.instance) for r in logs)
    assert all(s.service == service_of(s.instance) for s in spans)
    assert all(m.service == service_of(m.instance) for m in series if m.instance)
    assert imported.label["service"] in imported.services
    assert imported.label["pod"] in {m.instance for m in series}
    assert "frontend" in imported.services
    assert imported.services == sorted({r.service for r in logs} | {s.service for s in spans}
                                       | {m.service for m in series})


def test_incident_records_are_the_case_rows_and_the_baseline_comes_before(imported: CaseInfo,
                                                                           source: BundleSource) -> None:
    root = nezha_dir()
    case_logs, case_spans = list(rows(root / "cases" / CASE / "logs")), list(rows(root / "cases" / CASE / "traces"))
    day = root / "reference" / "2023-01-29"  # the case's own date
    ref_logs, ref_spans = sum(1 for _ in rows(day / "log")), sum(1 for _ in rows(day / "trace"))
    incident, baseline = plan_windows(imported.inject_time + 60)
    assert len(source.logs(incident).items) == len(case_logs)
    assert len(source.spans(incident).items) == len(case_spans)
    assert len(source.logs(baseline).items) == ref_logs
    assert len(source.spans(baseline).items) == ref_spans
    assert len(source.logs(EVERYTHING).items) == len(case_logs) + ref_logs
    first = min(r.timestamp for r in source.logs(incident).items)
    assert max(r.timestamp for r in source.logs(baseline).items) == pytest.approx(first - 15 * 60, abs=120)
    broken = sum(1 for r in case_logs if not r["TimeUnixNano"].isdigit())
    manifest = json.loads((imported.bundle_dir / "manifest.json").read_text())
    assert broken and manifest["log_times_from_text"]["count"] == broken
    assert manifest["baseline_source"].startswith("reference/2023-01-29")
    assert isinstance(manifest["baseline_shift_s"], float) and manifest["baseline_reason"]
    assert "not imported" in manifest["metrics_baseline"]
    assert manifest["name"] == CASE and manifest["source"] == "nezha-tt" and manifest["services"] == imported.services
    assert manifest["counts"]["logs"] == len(case_logs) + ref_logs


def test_log_and_span_fields(source: BundleSource) -> None:
    logs = source.logs(EVERYTHING).items
    assert {r.severity for r in logs} >= {"INFO", "WARNING", "ERROR"}
    assert all(r.message and not r.message.startswith('{"log"') and r.message == r.message.strip() for r in logs)
    assert all(r.trace_id and r.span_id for r in logs)
    spans = source.spans(EVERYTHING).items
    assert all(not s.error for s in spans)  # the data has no status: none is invented
    roots = [s for s in spans if not s.parent_id]
    assert roots and all(s.parent_id != "root" for s in spans)
    assert all(s.end >= s.start for s in spans)


def test_metrics_are_the_case_own_with_about_35_points(imported: CaseInfo, source: BundleSource) -> None:
    metrics_dir = nezha_dir() / "cases" / CASE / "metrics"
    series = source.metrics(EVERYTHING).items
    cells = [float(v) for r in rows(metrics_dir) for c, v in r.items() if c not in ("Time", "TimeStamp", "PodName",
                                                                                   "ServiceName")]
    assert sum(len(m.points) for m in series) == sum(1 for v in cells if math.isfinite(v))
    pod_files = [p for p in metrics_dir.glob("*.csv") if p.name != "front_service.csv"]
    pod_series = [m for m in series if m.metric.startswith("nezha.pod/")]
    assert len({m.instance for m in pod_series}) == len(pod_files)
    assert statistics.median(len(m.points) for m in series) == 35
    assert max(len(m.points) for m in series) <= 35
    cpu = next(m for m in pod_series if m.instance == imported.label["pod"] and m.metric == "nezha.pod/cpu_usage_rate")
    assert cpu.unit == "%" and cpu.service == imported.label["service"]
    values = {float(r["CpuUsageRate(%)"]) for r in rows(metrics_dir) if r.get("PodName") == imported.label["pod"]}
    assert {v for _, v in cpu.points} == {v for v in values if math.isfinite(v)}
    first_row = min(float(r["TimeStamp"]) for r in rows(metrics_dir))
    assert min(p[0] for m in series for p in m.points) == first_row  # no reference metric was imported
    frontend = {m.metric: m for m in series if m.service == "frontend"}
    assert frontend["nezha.frontend/latency_p90"].unit == "s" and "nezha.frontend/success_rate" in frontend
    incident, baseline = plan_windows(imported.inject_time + 60)
    assert source.metrics(baseline, ["frontend"]).items and source.metrics(incident, ["frontend"]).items


def test_alert_and_truth(imported: CaseInfo, tmp_path: Path) -> None:
    text = Path(imported.alert_path).read_text()
    doc = json.loads(text)
    assert doc["version"] == "1.2" and doc["incident"]["policy_name"] == "Frontend SLO burn"
    for name in [*imported.services, imported.label["pod"], imported.label["fault_type"]]:
        if name != "frontend":
            assert name not in text
    alert = parse_alert(text)
    assert alert.service == "frontend" and alert.state == "open"
    assert alert.started_at == imported.inject_time + 60 and alert.metric_type.startswith("nezha.frontend/")
    assert imported.truth_path is not None and json.loads(imported.truth_path.read_text()) == imported.label
    again = write_alert(imported, tmp_path / "copy" / "alert.json")
    assert json.loads(again.read_text()) == synthesize_frontend_alert(imported) == doc


def test_import_all_takes_the_nearest_reference_day(tmp_path: Path) -> None:
    root = nezha_dir()
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / CASE).symlink_to(root / "cases" / CASE)
    (tmp_path / "cases" / "README").write_text("not a case")
    (tmp_path / "reference").mkdir()
    (tmp_path / "reference" / "2023-02-10").symlink_to(root / "reference" / "2023-01-30")  # 12 days after
    (tmp_path / "reference" / "2023-01-01").symlink_to(root / "reference" / "2023-01-29")  # 28 days before
    (tmp_path / "reference" / "notes").mkdir()  # not a day: ignored
    (info,) = import_all(tmp_path / "cases", tmp_path / "out")
    assert info.case == CASE and info.bundle_dir == tmp_path / "out" / CASE / "bundle"
    manifest = json.loads((info.bundle_dir / "manifest.json").read_text())
    assert manifest["baseline_source"].startswith("reference/2023-02-10")


def test_the_datasets_folder_is_found_like_the_tests_find_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert datasets_dir() == nezha_dir().parent
    monkeypatch.setenv("AUTOSRE_DATASETS", str(tmp_path))
    assert datasets_dir() == tmp_path
    monkeypatch.setenv("AUTOSRE_DATASETS", str(tmp_path / "absent"))
    assert datasets_dir() is None


def test_robustness_variations_move_the_alert_and_take_another_day_as_baseline(tmp_path: Path) -> None:
    root = nezha_dir()
    case = root / "cases" / "tt-20230129-105016"
    usual = import_case(case, tmp_path / "usual", root / "reference")
    late = import_case(case, tmp_path / "late", root / "reference", alert_delay_s=180)
    other = import_case(case, tmp_path / "other", root / "reference", farthest_reference=True)
    started = [json.loads(i.alert_path.read_text())["incident"]["started_at"] for i in (usual, late)]
    assert started[1] - started[0] == 120
    manifests = [json.loads((i.bundle_dir / "manifest.json").read_text()) for i in (usual, other)]
    assert manifests[0]["baseline_source"].startswith("reference/2023-01-29")
    assert manifests[1]["baseline_source"].startswith("reference/2023-01-30")
