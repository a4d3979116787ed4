"""Import a PetShop issue (Hardt et al., "The PetShop Dataset — Finding Causes of Performance Issues across
Microservices", CLeaR 2024; data CC-BY-4.0) into a telemetry bundle.

A scenario folder holds `graph.csv` (the call graph as an adjacency matrix: row calls column), optionally
`noissue/metrics.csv` (hours of normal operation) and `train|test/issue_N/` with `metrics.csv` (the rows around one
injected issue) and `target.json` (the alerting node, metric, statistic and time; the injected root cause).
A metrics CSV has three header rows (node, metric, statistic), a `unix_timestamp` marker row, then one row per
5-minute period.

The bundle holds every node's series (`<metric>_<statistic>`, e.g. `latency_p90`, with its unit), the call graph as
the bundle's declared graph (graph.jsonl), and, when the scenario has normal operation, that period as the
baseline, shifted to end one period before the issue's first row (the shift is in the manifest). The alert is a
Cloud Monitoring v1.2 notification on the target node's metric at the target's time: it names the alerting node
and nothing of the cause. The root cause goes to truth.json for evaluators; the product never reads it.
Nothing here names a PetShop node: nodes, metrics and units come from the files.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from shared.event_types import stable_id
from shared.telemetry.bundle import BundleWriter, to_rfc3339
from shared.telemetry_records import Dependency, MetricSeries

SOURCE = "petshop"
UNITS = {"latency": "s", "availability": "%", "requests": "1"}  # CloudWatch's units for X-Ray's node figures
ALERT_ON = ("target", "cause", "callers")  # where an evaluation's alert fires: evaluation/petshop_eval.py
STEP_S = 300.0  # the dataset's resolution, used only where a file has a single row to tell it from


@dataclass(frozen=True)
class IssueInfo:
    scenario: str
    issue: str
    bundle_dir: Path
    alert_path: Path
    truth_path: Path
    target: dict[str, Any]  # the alerting node, metric, statistic ("agg") and time
    root_cause: str
    has_baseline: bool

    @property
    def name(self) -> str:
        return f"{self.scenario}/{self.issue}"


def metric_of(metric: str, statistic: str) -> str:
    """('latency', 'p90') -> 'latency_p90'."""
    return f"{metric}_{statistic}".lower().replace(" ", "_")


def read_metrics(path: Path) -> tuple[list[float], dict[tuple[str, str, str], list[tuple[float, float]]]]:
    """(the row times, {(node, metric, statistic): [(time, value), ...]}); empty and non-finite cells are gaps."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if len(rows) < 4:
        raise ValueError(f"{path}: expected three header rows and a unix_timestamp row")
    columns = list(zip(rows[0][1:], rows[1][1:], rows[2][1:], strict=True))
    times: list[float] = []
    series: dict[tuple[str, str, str], list[tuple[float, float]]] = {c: [] for c in columns}
    for row in rows[3:]:
        try:
            t = float(row[0])
        except ValueError:
            continue  # the unix_timestamp marker row
        times.append(t)
        for column, cell in zip(columns, row[1:], strict=False):
            try:
                v = float(cell)
            except ValueError:
                continue
            if math.isfinite(v):
                series[column].append((t, v))
    return times, series


def read_graph(path: Path) -> list[Dependency]:
    """Edges of the adjacency matrix (row calls column, any non-zero cell), self-calls left out."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    callees = rows[0][1:]
    edges = []
    for row in rows[1:]:
        for callee, cell in zip(callees, row[1:], strict=False):
            if cell.strip() and float(cell) != 0 and row[0] != callee:
                edges.append(Dependency(row[0], callee))
    return edges


def _step(times: list[float]) -> float:
    gaps = sorted(b - a for a, b in pairwise(times) if b > a)
    return gaps[len(gaps) // 2] if gaps else STEP_S


def import_issue(issue_dir: Path, out_dir: Path, alert_delay_s: float = 0.0) -> IssueInfo:
    """Write `out_dir/bundle/`, `out_dir/alert.json` and `out_dir/truth.json` for one issue folder; the alert
    starts `alert_delay_s` after the target's time (a policy that waits before it fires)."""
    issue_dir, out_dir = Path(issue_dir), Path(out_dir)
    scenario_dir = issue_dir.parent.parent
    target_file = json.loads((issue_dir / "target.json").read_text(encoding="utf-8"))
    target, root = dict(target_file["target"]), str(target_file["root_cause"]["node"])
    times, issue_series = read_metrics(issue_dir / "metrics.csv")
    if not times:
        raise ValueError(f"{issue_dir / 'metrics.csv'}: no rows")
    step = _step(times)
    normal = scenario_dir / "noissue" / "metrics.csv"
    base_series: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
    manifest: dict[str, Any] = {"name": f"{scenario_dir.name}/{issue_dir.name}", "source": SOURCE,
                                "resolution_s": step}
    if normal.is_file():
        base_times, base_series = read_metrics(normal)
        shift = (times[0] - step) - max(base_times)
        base_series = {k: [(t + shift, v) for t, v in pts] for k, pts in base_series.items()}
        manifest["baseline"] = (f"the scenario's normal operation ({len(base_times)} rows, recorded at another time), "
                                f"shifted by {shift:.0f} s to end one period before the issue's first row")
        manifest["baseline_shift_s"] = shift
    else:
        manifest["baseline"] = "none: the scenario has no normal-operation file; only the issue's own rows"
    graph = read_graph(scenario_dir / "graph.csv")
    nodes: set[str] = set()
    bundle = out_dir / "bundle"
    all_times = list(times)
    with BundleWriter(bundle, manifest) as w:
        for key in sorted(set(issue_series) | set(base_series)):
            node, metric, statistic = key
            points = sorted(base_series.get(key, []) + issue_series.get(key, []))
            if not points:
                continue
            nodes.add(node)
            all_times += [points[0][0], points[-1][0]]
            w.series(MetricSeries(metric_of(metric, statistic), node, tuple(points), unit=UNITS.get(metric, "")))
        for edge in graph:
            w.dependency(edge)
    meta = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    meta.update({"services": sorted(nodes), "time_range": {"start": to_rfc3339(min(all_times)),
                                                           "end": to_rfc3339(max(all_times))}})
    (bundle / "manifest.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    info = IssueInfo(scenario_dir.name, issue_dir.name, bundle, out_dir / "alert.json", out_dir / "truth.json",
                     target, root, bool(base_series))
    write_alert(info, alert_delay_s)
    info.truth_path.write_text(json.dumps(target_file.get("root_cause", {}), indent=2) + "\n", encoding="utf-8")
    return info


def write_alert(info: IssueInfo, delay_s: float = 0.0, node: str = "") -> Path:
    """Write `alert_for(info, delay_s, node)` beside the bundle: the issue's alert.json for its target node,
    alert-<node's id>.json for another node; returns its path."""
    node = node or str(info.target["node"])
    path = (info.alert_path if node == info.target["node"]
            else info.alert_path.with_name(f"alert-{stable_id(node, length=8)}.json"))
    path.write_text(json.dumps(alert_for(info, delay_s, node), indent=2) + "\n", encoding="utf-8")
    return path


def alert_for(info: IssueInfo, delay_s: float = 0.0, node: str = "") -> dict[str, Any]:
    """A Cloud Monitoring v1.2 notification on the target node's metric, started at the target's time (`delay_s`
    later for a late alert); `node`: the same metric's alert on another node."""
    node, metric = node or str(info.target["node"]), metric_of(str(info.target["metric"]), str(info.target["agg"]))
    project = SOURCE
    at = "" if node == info.target["node"] else f"-at-{stable_id(node, length=8)}"
    return {
        "incident": {
            "incident_id": f"0.{SOURCE}-{info.scenario}-{info.issue}{at}",
            "scoping_project_id": project,
            "url": "",
            "started_at": int(float(info.target["timestamp"]) + delay_s),
            "ended_at": None,
            "state": "open",
            "summary": f"{metric} of {node} is outside its normal range.",
            "resource": {"type": "generic_node", "labels": {"project_id": project, "service_name": node}},
            "resource_type_display_name": "Generic Node",
            "resource_name": node,
            "resource_display_name": node,
            "metric": {"type": f"custom.googleapis.com/{SOURCE}/{metric}", "displayName": metric, "labels": {}},
            "policy_name": f"{node} {metric}",
            "policy_user_labels": {},
            "condition_name": f"{metric} of {node}",
            "condition": {"displayName": f"{metric} of {node}"},
            "severity": "Error",
        },
        "version": "1.2",
    }


def issue_dirs(root: Path, split: str = "train") -> list[Path]:
    """Every `<scenario>/<split>/issue_N` folder with a target.json under `root`, in name order."""
    return sorted(p.parent for p in Path(root).glob(f"*/{split}/issue_*/target.json"))
