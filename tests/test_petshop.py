"""The PetShop importer and evaluation (evaluation/petshop_import.py, evaluation/petshop_eval.py): on a small
scenario written here in the dataset's layout (three header rows, a unix_timestamp marker row, 5-minute rows; an
adjacency-matrix graph), and, when the team's datasets are present, on the real train split."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import pytest

from evaluation.petshop_eval import evaluate, summarize
from evaluation.petshop_import import import_issue, issue_dirs, read_graph
from functions.local import triage
from shared.telemetry.bundle import BundleSource
from shared.telemetry_records import Window
from tests.data import datasets_dir

NODES = ("site", "search", "db")
T0 = 1_700_000_000.0


def _write_metrics(path: Path, rows: list[tuple[float, dict[tuple[str, str, str], float]]]) -> None:
    columns = [(n, m, a) for n in NODES for m, a in (("latency", "Average"), ("availability", "Average"),
                                                      ("requests", "Sum"))]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["microservice", *[c[0] for c in columns]])
        w.writerow(["metric", *[c[1] for c in columns]])
        w.writerow(["statistic", *[c[2] for c in columns]])
        w.writerow(["unix_timestamp", *["" for _ in columns]])
        for t, values in rows:
            w.writerow([t, *[values.get(c, "") for c in columns]])


def _normal(t: float, slow: str = "") -> dict[tuple[str, str, str], float]:
    wiggle = 1 + 0.03 * ((int(t) // 300) % 5 - 2) / 2
    base = {"site": 0.09, "search": 0.006, "db": 0.004}
    out: dict[tuple[str, str, str], float] = {}
    for n in NODES:
        latency = base[n] * wiggle + (0.03 if n in (slow, "site") and slow else 0.0)
        out[(n, "latency", "Average")] = latency
        out[(n, "availability", "Average")] = 100.0
        out[(n, "requests", "Sum")] = 120.0 * wiggle
    return out


@pytest.fixture()
def scenario(tmp_path: Path) -> Path:
    root = tmp_path / "petshop" / "steady"
    root.mkdir(parents=True)
    with open(root / "graph.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["", *NODES])
        edges = {("site", "search"), ("search", "db")}
        for a in NODES:
            w.writerow([a, *["1.0" if (a, b) in edges else "0.0" for b in NODES]])
    _write_metrics(root / "noissue" / "metrics.csv", [(T0 - 86400 + i * 300, _normal(T0 - 86400 + i * 300))
                                                      for i in range(60)])
    issue = root / "train" / "issue_0"
    _write_metrics(issue / "metrics.csv", [(T0 + i * 300, _normal(T0 + i * 300, slow="search" if i >= 2 else ""))
                                           for i in range(5)])
    (issue / "target.json").write_text(json.dumps({
        "target": {"node": "site", "metric": "latency", "agg": "Average", "timestamp": T0 + 600},
        "root_cause": {"node": "search", "metric": None}}), encoding="utf-8")
    return root.parent


def test_the_importer_writes_series_graph_baseline_alert_and_truth(scenario: Path, tmp_path: Path) -> None:
    [issue_dir] = issue_dirs(scenario)
    info = import_issue(issue_dir, tmp_path / "out")
    source = BundleSource(info.bundle_dir)
    assert [(d.caller, d.callee) for d in source.dependencies().items] == [("search", "db"), ("site", "search")]
    manifest = json.loads((info.bundle_dir / "manifest.json").read_text())
    assert manifest["baseline_shift_s"] > 0 and manifest["resolution_s"] == 300
    alert = json.loads(info.alert_path.read_text())["incident"]
    assert alert["resource"]["labels"]["service_name"] == "site" and "search" not in json.dumps(alert)
    assert json.loads(info.truth_path.read_text())["node"] == "search"
    units = {m.metric: m.unit for m in source.metrics(source_window(source)).items}
    assert units == {"latency_average": "s", "availability_average": "%", "requests_sum": "1"}
    # the normal operation ends one period before the issue's first row
    points = next(m for m in source.metrics(source_window(source)).items if m.service == "search").points
    gaps = {round(b[0] - a[0]) for a, b in pairwise(points)}
    assert gaps == {300}


def test_a_late_alert_starts_after_the_target_and_still_finds_the_slow_dependency(scenario: Path,
                                                                                  tmp_path: Path) -> None:
    [issue_dir] = issue_dirs(scenario)
    on_time = json.loads(import_issue(issue_dir, tmp_path / "on-time").alert_path.read_text())["incident"]
    late = json.loads(import_issue(issue_dir, tmp_path / "late", 300).alert_path.read_text())["incident"]
    assert late["started_at"] == on_time["started_at"] + 300
    [score] = evaluate(scenario, work=tmp_path / "work", alert_delay_s=300)
    assert score.error == "" and score.ranked[0] == "search"


def test_an_alert_on_the_cause_or_on_its_callers_names_the_cause(scenario: Path, tmp_path: Path) -> None:
    [on_cause] = evaluate(scenario, work=tmp_path / "cause", alert_on="cause")
    assert on_cause.baselines["alerting node"] == ["search"] and on_cause.name.endswith("@search")
    assert on_cause.error == "" and on_cause.ranked[0] == "search"
    [on_caller] = evaluate(scenario, work=tmp_path / "callers", alert_on="callers")  # site is search's one caller
    assert on_caller.baselines["alerting node"] == ["site"] and on_caller.ranked[0] == "search"


def source_window(source: BundleSource) -> Window:
    span = source.time_range()
    assert span is not None
    return Window(span[0], span[1] + 1)


def test_the_product_localizes_the_slow_dependency_from_metrics_and_the_graph(scenario: Path,
                                                                            tmp_path: Path) -> None:
    [score] = evaluate(scenario, work=tmp_path / "work")
    assert score.error == "" and score.ranked[0] == "search"
    assert score.baselines["alerting node"] == ["site"]
    row = summarize([score])["all"]
    assert row["product top-1"] == 1.0


def test_a_scenario_without_normal_operation_gives_a_partial_report(scenario: Path, tmp_path: Path) -> None:
    for f in (scenario / "steady" / "noissue").iterdir():
        f.unlink()
    [issue_dir] = issue_dirs(scenario)
    info = import_issue(issue_dir, tmp_path / "out")
    result = triage(info.alert_path.read_bytes(), BundleSource(info.bundle_dir))
    assert result.report.partial and not result.complete


def test_eval_petshop_on_a_missing_folder_is_bad_input(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "functions.cli", "eval", "petshop", str(tmp_path / "nothing")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "no folder" in run.stderr and run.stdout == ""


def test_the_real_train_split_imports(tmp_path: Path) -> None:
    root = datasets_dir() / "petshop"
    dirs = issue_dirs(root)
    assert len(dirs) == 20
    graph = read_graph(dirs[0].parent.parent / "graph.csv")
    assert len(graph) > 30 and all(d.caller != d.callee for d in graph)
    info = import_issue(dirs[0], tmp_path / "issue")
    assert BundleSource(info.bundle_dir).dependencies().items and info.has_baseline == (
        dirs[0].parent.parent / "noissue" / "metrics.csv").is_file()
