"""Import a Nezha TrainTicket fault-injection case (FSE 2023 data) into a telemetry bundle.

Case layout: logs/HH_MM_log.csv, traces/HH_MM_trace.csv, metrics/<pod>.csv, metrics/front_service.csv,
label.json (the truth: written to truth.json for evaluators, never read by the product).
The case's own metrics start 30 minutes before the fault: they are the metric baseline. Its logs and traces
cover only the fault minutes, so the fault-free `reference/<day>/` logs and traces of the same system are copied
in, shifted to end 15 minutes before the case's first record; the shift is recorded in the manifest.
Nothing here knows a TrainTicket service: pods map to services by the Kubernetes pod naming rules, log levels
are read from the line, metric names come from the CSV headers.
"""

from __future__ import annotations

import csv
import json
import math
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from shared.severity import severity_of
from shared.telemetry.bundle import BundleError, BundleWriter, from_rfc3339, to_rfc3339
from shared.telemetry_records import LogRecord, MetricSeries, Span

SOURCE = "nezha-tt"
BASELINE_GAP_S = 15 * 60  # the reference logs/traces end this long before the case's first record
ALERT_DELAY_S = 60  # alerts fire after the onset
FRONTEND = "frontend"
TIME_COLUMN = "TimeStamp"  # unix seconds in every metric CSV

# Kubernetes names generated pods with rand.SafeEncodeString's alphabet (no vowels, no 0/1/3):
# Deployment pods are <deployment>-<pod-template-hash>-<5>, DaemonSet/Job pods <name>-<5>, StatefulSet <name>-<n>.
_K8S_SAFE = "bcdfghjklmnpqrstvwxz2456789"
_POD_SUFFIX = re.compile(rf"-[{_K8S_SAFE}]{{6,10}}-[{_K8S_SAFE}]{{5}}$|-[{_K8S_SAFE}]{{5}}$|-\d+$")
_UNIT = re.compile(r"^(?P<name>[^(]+?)\s*(?:\((?P<unit>[^)]*)\))?$")
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def service_of(pod: str) -> str:
    """The Kubernetes workload of a pod: the pod name without its ReplicaSet/DaemonSet/StatefulSet suffix."""
    return _POD_SUFFIX.sub("", pod) or pod


def metric_name(column: str) -> tuple[str, str]:
    """'CpuUsageRate(%)' -> ('cpu_usage_rate', '%')."""
    m = _UNIT.match(column.strip())
    name, unit = (m.group("name"), m.group("unit") or "") if m else (column, "")
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name.strip()).lower()
    return re.sub(r"[^a-z0-9]+", "_", snake).strip("_"), unit.strip()


@dataclass
class CaseInfo:
    case: str
    bundle_dir: Path
    alert_path: Path
    inject_time: float
    label: dict[str, Any] = field(default_factory=dict)
    services: list[str] = field(default_factory=list)
    truth_path: Path | None = None


@dataclass
class _Stats:
    """What the import had to repair or leave out, for the manifest."""

    log_times_from_text: int = 0
    dropped_logs: int = 0
    dropped_spans: int = 0
    dropped_columns: set[str] = field(default_factory=set)

    def notes(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.log_times_from_text:
            out["log_times_from_text"] = {
                "count": self.log_times_from_text,
                "reason": "TimeUnixNano was not a positive integer; the row's Timestamp (or docker time) was used",
            }
        if self.dropped_logs or self.dropped_spans:
            out["dropped"] = {"logs": self.dropped_logs, "spans": self.dropped_spans,
                              "reason": "no usable time on the row"}
        if self.dropped_columns:
            out["non_numeric_metric_columns"] = sorted(self.dropped_columns)
        return out


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        yield from csv.DictReader(f)


def _unix_ns(raw: str | None) -> float | None:
    try:
        ns = int(raw or "")
    except ValueError:
        return None
    return ns / 1e9 if ns > 0 else None


def _text_time(*candidates: str | None) -> float | None:
    for text in candidates:
        if text:
            try:
                return from_rfc3339(text)
            except BundleError:
                continue
    return None


def _logs(folder: Path, stats: _Stats) -> Iterator[LogRecord]:
    for path in sorted(folder.glob("*.csv")):
        for row in _rows(path):
            raw = row.get("Log") or ""
            docker: dict[str, Any] = {}
            try:
                doc = json.loads(raw)
                docker = doc if isinstance(doc, dict) else {}
            except ValueError:
                pass
            message = str(docker.get("log", raw)).strip()
            t = _unix_ns(row.get("TimeUnixNano"))
            if t is None:
                t = _text_time(row.get("Timestamp"), str(docker.get("time") or ""))
                if t is None:
                    stats.dropped_logs += 1
                    continue
                stats.log_times_from_text += 1
            pod = row.get("PodName") or ""
            yield LogRecord(timestamp=t, service=service_of(pod), message=message, severity=severity_of(message),
                            instance=pod, trace_id=row.get("TraceID") or "", span_id=row.get("SpanID") or "")


def _spans(folder: Path, stats: _Stats) -> Iterator[Span]:
    for path in sorted(folder.glob("*.csv")):
        for row in _rows(path):
            start, end = _unix_ns(row.get("StartTimeUnixNano")), _unix_ns(row.get("EndTimeUnixNano"))
            if start is None or end is None or end < start or not row.get("TraceID") or not row.get("SpanID"):
                stats.dropped_spans += 1
                continue
            pod = row.get("PodName") or ""
            parent = row.get("ParentID") or ""
            yield Span(trace_id=row["TraceID"], span_id=row["SpanID"], parent_id="" if parent == "root" else parent,
                       service=service_of(pod), name=row.get("OperationName") or "", start=start, end=end,
                       instance=pod)


def _series(path: Path, stats: _Stats) -> list[MetricSeries]:
    """One series per numeric column: a column with any non-numeric value (names, text times) is not a metric."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        columns = [c for c in (reader.fieldnames or []) if c != TIME_COLUMN]
        numeric = set(columns)
        points: dict[str, list[tuple[float, float]]] = {c: [] for c in columns}
        first: dict[str, str] = {}
        for row in reader:
            first = first or row
            try:
                t = float(row.get(TIME_COLUMN) or "")
            except ValueError:
                continue
            for c in list(numeric):
                text = (row.get(c) or "").strip()
                if not text:
                    continue
                try:
                    v = float(text)
                except ValueError:
                    numeric.discard(c)
                    continue
                if math.isfinite(v):
                    points[c].append((t, v))
    if not first:
        return []
    frontend = "ServiceName" in first and "PodName" not in first
    pod = "" if frontend else (first.get("PodName") or path.stem)
    service = (first.get("ServiceName") or FRONTEND).lower() if frontend else service_of(pod)
    prefix = "nezha.frontend/" if frontend else "nezha.pod/"
    stats.dropped_columns.update(c for c in columns if c not in numeric)
    out = []
    for c in columns:
        if c in numeric and points[c]:
            name, unit = metric_name(c)
            out.append(MetricSeries(prefix + name, service, tuple(sorted(points[c])), pod, unit))
    return out


def _reference_day(reference_dir: Path, case_day: date, farthest: bool = False) -> Path | None:
    """The reference day of the case's date, else the nearest one (the farthest, for robustness checks); folders
    not named by a date are ignored."""
    if not reference_dir.is_dir():
        return None
    days: list[tuple[int, str, Path]] = []
    for p in reference_dir.iterdir():
        try:
            day = date.fromisoformat(p.name)
        except ValueError:
            continue
        if p.is_dir():
            days.append((abs((day - case_day).days), p.name, p))
    if not days:
        return None
    return (max(days, key=lambda d: (d[0], d[1])) if farthest else min(days))[2]


def _shift_log(r: LogRecord, by: float) -> LogRecord:
    return replace(r, timestamp=r.timestamp + by)


def _shift_span(s: Span, by: float) -> Span:
    return replace(s, start=s.start + by, end=s.end + by)


def _baseline(reference_dir: Path, case_day: date, first: float, stats: _Stats, farthest: bool = False,
              ) -> tuple[list[LogRecord], list[Span], dict[str, Any]]:
    day = _reference_day(reference_dir, case_day, farthest)
    if day is None:
        return [], [], {"baseline": f"no reference day under {reference_dir}: logs and traces have no baseline"}
    ref_logs = list(_logs(day / "log", stats))
    ref_spans = list(_spans(day / "trace", stats))
    last = max([r.timestamp for r in ref_logs] + [s.end for s in ref_spans], default=None)
    if last is None:
        return [], [], {"baseline": f"reference/{day.name} holds no logs or traces: they have no baseline"}
    shift = round((first - BASELINE_GAP_S) - last, 3)
    notes = {
        "baseline_shift_s": shift,
        "baseline_source": f"reference/{day.name}/log and /trace",
        "baseline_reason": (
            "the case's logs and traces cover only the fault minutes, so fault-free reference logs and traces of "
            f"the same system are copied in, shifted in time (relative timing kept) to end {BASELINE_GAP_S // 60} "
            "min before the case's first log/trace record"
        ),
    }
    return [_shift_log(r, shift) for r in ref_logs], [_shift_span(s, shift) for s in ref_spans], notes


def _time_range(logs: Iterable[LogRecord], spans: Iterable[Span], series: Iterable[MetricSeries]) -> dict[str, str]:
    times = [r.timestamp for r in logs]
    for s in spans:
        times += (s.start, s.end)
    for m in series:
        times += (m.points[0][0], m.points[-1][0])
    return {"start": to_rfc3339(min(times)), "end": to_rfc3339(max(times))} if times else {}


def import_case(case_dir: Path, out_dir: Path, reference_dir: Path | None = None, *,
                alert_delay_s: float | None = None, farthest_reference: bool = False, logs: bool = True,
                traces: bool = True, trace_baseline: bool = True) -> CaseInfo:
    """Write `out_dir/bundle/` (the telemetry), `out_dir/alert.json` (a frontend alert, `alert_delay_s` after
    the injection) and `out_dir/truth.json`. `farthest_reference` baselines on the reference day farthest from
    the case's (a robustness check: the baseline then comes from another day). For degraded-telemetry checks,
    `logs=False` / `traces=False` leave that signal out of the bundle, and `trace_baseline=False` leaves out the
    reference spans (no spans before the case's own)."""
    case_dir, out_dir = Path(case_dir), Path(out_dir)
    label = json.loads((case_dir / "label.json").read_text(encoding="utf-8"))
    inject = from_rfc3339(str(label["inject_time"]))
    stats = _Stats()
    case_logs = list(_logs(case_dir / "logs", stats))
    spans = list(_spans(case_dir / "traces", stats))
    series = [m for path in sorted((case_dir / "metrics").glob("*.csv")) for m in _series(path, stats)]
    first = min([r.timestamp for r in case_logs] + [s.start for s in spans], default=inject)
    base_logs: list[LogRecord] = []
    base_spans: list[Span] = []
    baseline_notes: dict[str, Any] = {"baseline": "no reference folder given: logs and traces have no baseline"}
    if reference_dir is not None:
        case_day = datetime.fromtimestamp(inject, UTC).date()
        base_logs, base_spans, baseline_notes = _baseline(Path(reference_dir), case_day, first, stats,
                                                          farthest_reference)
    # a left-out signal is dropped after the baseline's shift is set, so what remains is timed as in the full case
    case_logs, base_logs = (case_logs, base_logs) if logs else ([], [])
    spans, base_spans = (spans, base_spans if trace_baseline else []) if traces else ([], [])
    services = sorted({r.service for r in case_logs} | {s.service for s in spans} | {m.service for m in series})
    all_logs = sorted(base_logs + case_logs, key=lambda r: r.timestamp)
    all_spans = sorted(base_spans + spans, key=lambda s: s.start)
    manifest: dict[str, Any] = {
        "name": case_dir.name,
        "source": SOURCE,
        "services": services,
        "time_range": _time_range(all_logs, all_spans, series),
        **baseline_notes,
        "metrics_baseline": "the case's own metrics, which start 30 min before the fault; the reference "
                            "metrics are not imported",
        **stats.notes(),
    }
    bundle = out_dir / "bundle"
    with BundleWriter(bundle, manifest) as w:
        for r in all_logs:
            w.log(r)
        for s in all_spans:
            w.span(s)
        for m in series:
            w.series(m)
    info = CaseInfo(case_dir.name, bundle, out_dir / "alert.json", inject, label, services, out_dir / "truth.json")
    write_alert(info, delay_s=ALERT_DELAY_S if alert_delay_s is None else alert_delay_s)
    (out_dir / "truth.json").write_text(json.dumps(label, indent=2) + "\n", encoding="utf-8")
    return info


def import_all(cases_dir: Path, out_root: Path, reference_dir: Path | None = None) -> list[CaseInfo]:
    """Import every case folder (one with a label.json) under `cases_dir` into `out_root/<case>/`.

    The reference defaults to `cases_dir/../reference` when that folder exists."""
    cases_dir, out_root = Path(cases_dir), Path(out_root)
    if reference_dir is None and (cases_dir.parent / "reference").is_dir():
        reference_dir = cases_dir.parent / "reference"
    cases = sorted(p for p in cases_dir.iterdir() if (p / "label.json").is_file())
    return [import_case(case, out_root / case.name, reference_dir) for case in cases]


def synthesize_frontend_alert(info: CaseInfo, delay_s: float = ALERT_DELAY_S) -> dict[str, Any]:
    """A Cloud Monitoring v1.2 notification on the frontend's latency SLO, fired `delay_s` after the onset.

    It names only the frontend: no service, pod or fault of the case."""
    started = int(info.inject_time + delay_s)
    project = "trainticket"
    return {
        "incident": {
            "incident_id": f"0.nezha-{info.case}",
            "scoping_project_id": project,
            "url": "",
            "started_at": started,
            "ended_at": None,
            "state": "open",
            "summary": "Frontend latency p90 is above its SLO and the error budget is burning.",
            "resource": {"type": "k8s_container", "labels": {"project_id": project, "service_name": FRONTEND}},
            "resource_type_display_name": "Kubernetes Container",
            "resource_name": FRONTEND,
            "resource_display_name": FRONTEND,
            "metric": {"type": "nezha.frontend/latency_p90", "displayName": "Frontend latency p90", "labels": {}},
            "policy_name": "Frontend SLO burn",
            "policy_user_labels": {},
            "condition_name": "Frontend latency p90 above SLO",
            "condition": {"displayName": "Frontend latency p90 above SLO"},
            "severity": "Error",
        },
        "version": "1.2",
    }


def write_alert(info: CaseInfo, path: Path | None = None, delay_s: float = ALERT_DELAY_S) -> Path:
    """Write the synthesized frontend alert (to `info.alert_path` unless told otherwise); return where."""
    target = Path(path) if path is not None else info.alert_path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(synthesize_frontend_alert(info, delay_s), indent=2) + "\n", encoding="utf-8")
    return target
