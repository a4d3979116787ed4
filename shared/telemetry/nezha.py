"""Import a Nezha TrainTicket fault-injection case (FSE 2023 data) into a telemetry bundle.

Case layout: logs/HH_MM_log.csv, traces/HH_MM_trace.csv, metrics/<pod>.csv, metrics/front_service.csv,
label.json (the truth: written to truth.json for evaluators, never read by the product).
The case's own metrics start 30 minutes before the fault: they are the metric baseline. Its logs and traces
cover only the fault minutes, so the fault-free `reference/` logs and traces of the same system are copied in,
shifted to end 15 minutes before the case's first record; the shift is recorded in the manifest.
"""

from __future__ import annotations

import csv
import json
import math
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from shared.telemetry.bundle import BundleWriter
from shared.telemetry.models import LogRecord, MetricSeries, Span

BASELINE_GAP_S = 15 * 60
ALERT_DELAY_S = 60
FRONTEND = "frontend"
_POD_SUFFIX = re.compile(r"-[a-z0-9]{6,10}-[a-z0-9]{5}$|-[a-z0-9]{5}$|-\d+$")
_UNIT = re.compile(r"^(?P<name>[^(]+?)\s*(?:\((?P<unit>[^)]*)\))?$")
_SKIP_COLUMNS = {"Time", "TimeStamp", "PodName", "ServiceName"}

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def service_of(pod: str) -> str:
    """The Kubernetes workload of a pod: the pod name without its ReplicaSet/ordinal suffix."""
    return _POD_SUFFIX.sub("", pod) or pod


def metric_name(column: str) -> tuple[str, str]:
    """'CpuUsageRate(%)' -> ('cpu_usage_rate', '%')."""
    m = _UNIT.match(column.strip())
    name, unit = (m.group("name"), m.group("unit") or "") if m else (column, "")
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name.strip()).lower()
    return re.sub(r"[^a-z0-9]+", "_", snake).strip("_"), unit


@dataclass
class CaseInfo:
    case: str
    bundle_dir: Path
    alert_path: Path
    inject_time: float
    label: dict[str, Any] = field(default_factory=dict)
    services: list[str] = field(default_factory=list)


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        yield from csv.DictReader(f)


def _logs(folder: Path) -> Iterator[LogRecord]:
    for path in sorted(folder.glob("*.csv")):
        for row in _rows(path):
            raw = row.get("Log") or ""
            try:
                doc = json.loads(raw)
                message = str(doc.get("log", raw)) if isinstance(doc, dict) else raw
            except ValueError:
                message = raw
            pod = row.get("PodName", "")
            yield LogRecord(timestamp=int(row["TimeUnixNano"]) / 1e9, service=service_of(pod), message=message.strip(),
                            instance=pod, trace_id=row.get("TraceID", ""), span_id=row.get("SpanID", ""))


def _spans(folder: Path) -> Iterator[Span]:
    for path in sorted(folder.glob("*.csv")):
        for row in _rows(path):
            pod = row["PodName"]
            parent = row.get("ParentID", "")
            yield Span(trace_id=row["TraceID"], span_id=row["SpanID"], parent_id="" if parent == "root" else parent,
                       service=service_of(pod), name=row.get("OperationName", ""),
                       start=int(row["StartTimeUnixNano"]) / 1e9, end=int(row["EndTimeUnixNano"]) / 1e9, instance=pod)


def _series(path: Path) -> list[MetricSeries]:
    rows = list(_rows(path))
    if not rows:
        return []
    frontend = "ServiceName" in rows[0] and "PodName" not in rows[0]
    pod = "" if frontend else rows[0].get("PodName", path.stem)
    service = (rows[0].get("ServiceName") or FRONTEND).lower() if frontend else service_of(pod)
    prefix = "nezha.frontend/" if frontend else "nezha.pod/"
    out = []
    for column in rows[0]:
        if column in _SKIP_COLUMNS:
            continue
        points = []
        for row in rows:
            try:
                t, v = float(row["TimeStamp"]), float(row[column])
            except (TypeError, ValueError, KeyError):
                continue
            if math.isfinite(v):
                points.append((t, v))
        if points:
            name, unit = metric_name(column)
            out.append(MetricSeries(prefix + name, service, tuple(sorted(points)), pod, unit))
    return out


def _reference_day(reference_dir: Path, case_day: str) -> Path | None:
    days = sorted(p for p in reference_dir.iterdir() if p.is_dir())
    if not days:
        return None
    exact = [d for d in days if d.name == case_day]
    if exact:
        return exact[0]
    target = datetime.fromisoformat(case_day)
    return min(days, key=lambda d: abs((datetime.fromisoformat(d.name) - target).total_seconds()))


def import_case(case_dir: Path, out_dir: Path, reference_dir: Path | None = None) -> CaseInfo:
    case_dir, out_dir = Path(case_dir), Path(out_dir)
    label = json.loads((case_dir / "label.json").read_text())
    inject = datetime.fromisoformat(label["inject_time"]).timestamp()
    logs = list(_logs(case_dir / "logs"))
    spans = list(_spans(case_dir / "traces"))
    first = min([r.timestamp for r in logs] + [s.start for s in spans], default=inject)
    manifest: dict[str, Any] = {"name": case_dir.name, "source": "nezha-tt",
                                "metrics_baseline": "the case's own metrics (30 min before the fault); "
                                                    "reference metrics are not imported"}
    base_logs: list[LogRecord] = []
    base_spans: list[Span] = []
    day = _reference_day(reference_dir, label["inject_time"][:10]) if reference_dir else None
    if day is not None:
        ref_logs = list(_logs(day / "log"))
        ref_spans = list(_spans(day / "trace"))
        last = max([r.timestamp for r in ref_logs] + [s.end for s in ref_spans], default=0.0)
        if last:
            shift = (first - BASELINE_GAP_S) - last
            base_logs = [LogRecord(r.timestamp + shift, r.service, r.message, r.severity, r.instance, r.trace_id,
                                   r.span_id) for r in ref_logs]
            base_spans = [Span(s.trace_id, s.span_id, s.parent_id, s.service, s.name, s.start + shift, s.end + shift,
                               s.instance, s.error, s.status_message) for s in ref_spans]
            manifest["baseline_shift_s"] = round(shift, 3)
            manifest["baseline_source"] = f"reference/{day.name} logs and traces, shifted to end "\
                                          f"{BASELINE_GAP_S // 60} min before the case's first record"
    series = [m for path in sorted((case_dir / "metrics").glob("*.csv")) for m in _series(path)]
    services = sorted({r.service for r in logs} | {s.service for s in spans} | {m.service for m in series})
    manifest["services"] = services
    bundle = out_dir / "bundle"
    with BundleWriter(bundle, manifest) as w:
        for r in sorted(base_logs + logs, key=lambda r: r.timestamp):
            w.log(r)
        for s in sorted(base_spans + spans, key=lambda s: s.start):
            w.span(s)
        for m in series:
            w.series(m)
    info = CaseInfo(case_dir.name, bundle, out_dir / "alert.json", inject, label, services)
    info.alert_path.write_text(json.dumps(synthesize_frontend_alert(info), indent=2) + "\n")
    (out_dir / "truth.json").write_text(json.dumps(label, indent=2) + "\n")
    return info


def synthesize_frontend_alert(info: CaseInfo) -> dict[str, Any]:
    """A Cloud Monitoring v1.2 notification on the frontend's latency SLO: no hint of the cause."""
    return {
        "incident": {
            "incident_id": f"0.nezha-{info.case}", "scoping_project_id": "trainticket",
            "started_at": int(info.inject_time + ALERT_DELAY_S), "ended_at": None, "state": "open",
            "resource_name": FRONTEND, "resource_display_name": FRONTEND,
            "resource": {"type": "k8s_container", "labels": {"project_id": "trainticket", "container_name": FRONTEND}},
            "metric": {"type": "nezha.frontend/latency_p90", "displayName": "Frontend latency p90"},
            "policy_name": "Frontend SLO burn", "condition_name": "latency p90 or success rate out of SLO",
            "summary": "The frontend's latency/success SLO is burning.", "severity": "Error",
        },
        "version": "1.2",
    }
