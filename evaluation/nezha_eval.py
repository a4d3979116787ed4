"""Evaluation on labelled fault-injection cases: the pipeline sees only the alert and the telemetry.

For each Nezha case: import it into a bundle, synthesize a frontend alert (no hint of the cause), triage it
on the embedded default, and score the ranked services against label.json (never read by the product).

The inner root cause is scored where the label has one, on the true service's cause (wherever it ranks): its
rank in the cause's `inner` list (agents/ranking/inner_cause.py, what the report states broke inside the service).
A code
region "A_B" (between log statements A and B) matches a code region from step A to step B; a resource metric
matches a resource whose measure is that metric (the Nezha column name mapped as the importer maps it), and a
network metric with no column of its own matches a link to or from the service. For comparison, the older figure:
the rank of a matching finding among the evidence the cause step cites (strongest first).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from functions.local import triage
from shared.finding_details import LogFlowBreakDetails, MetricDetails
from shared.models import Finding, InnerCause, RankedCause
from shared.telemetry.bundle import BundleSource


@dataclass
class CaseScore:
    case: str
    fault_type: str
    truth: str
    inner: str
    ranked: list[str]
    seconds: float
    error: str = ""
    inner_rank: int | None = None  # rank of the labelled inner root cause in the true cause's `inner` list
    evidence_rank: int | None = None  # its rank among the true cause's cited evidence (the older figure)
    anomalous: bool = False  # some specialist recorded an anomaly (not ruled out) about the true service
    ruled_out: bool = False  # the report rules the true service out (e.g. as propagation of a callee's fault)

    @property
    def rank(self) -> int | None:
        return self.ranked.index(self.truth) + 1 if self.truth in self.ranked else None

    def hit(self, k: int) -> bool:
        r = self.rank
        return r is not None and r <= k


@dataclass(frozen=True)
class Variant:
    """A way to degrade every case's telemetry or alert: options of the import, never known to the product."""

    name: str
    description: str
    options: dict[str, Any] = field(default_factory=dict)  # keyword arguments of evaluation.nezha_import.import_case


VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("full", "every signal, baselines from the reference day"),
    Variant("no-logs", "logs removed (the bundle holds no log line)", {"logs": False}),
    Variant("no-trace-baseline", "traces' baseline removed (no spans before the case's own)",
            {"trace_baseline": False}),
    Variant("metrics-only", "metrics only (no logs, no traces)", {"logs": False, "traces": False}),
    Variant("no-logs-no-trace-baseline", "traces and metrics only, no trace baseline",
            {"logs": False, "trace_baseline": False}),
    Variant("alert-late", "alert 3 min late (180 s after the injection, not 60 s)", {"alert_delay_s": 180.0}),
)}

NOT_ANOMALIES = ("trace.topology", "log.none", "change.none")  # findings that state coverage, not an anomaly


def evaluate_nezha(cases_dir: Path, limit: int = 0, work: Path | None = None, *, alert_delay_s: float | None = None,
                   farthest_reference: bool = False, variant: str = "full") -> list[CaseScore]:
    """Score every labelled case. `alert_delay_s` (default: the importer's) and `farthest_reference` (baseline
    on another day's reference) are the robustness variations of bench/rca_accuracy.py; `variant` names one of
    VARIANTS (its options apply first, the keyword arguments given here override them)."""
    from evaluation.nezha_import import import_case

    cases = sorted(p for p in cases_dir.iterdir() if (p / "label.json").exists())
    if limit:
        cases = cases[:limit]
    if not cases:
        raise SystemExit(f"no cases (folders with label.json) under {cases_dir}")
    reference = cases_dir.parent / "reference"
    root = work or Path(tempfile.mkdtemp(prefix="autosre-eval-"))
    options = dict(VARIANTS[variant].options)
    if alert_delay_s is not None:
        options["alert_delay_s"] = alert_delay_s
    if farthest_reference:
        options["farthest_reference"] = True
    scores = []
    for case_dir in cases:
        info = import_case(case_dir, root / case_dir.name, reference if reference.exists() else None, **options)
        label = info.label
        began = time.perf_counter()
        try:
            result = triage(Path(info.alert_path).read_bytes(), BundleSource(info.bundle_dir))
            ranked = [c.service for c in result.report.causes]
            error = ""
            inner_label, truth = str(label.get("inner_root_cause", "")), str(label.get("service", ""))
            inner_rank = stated_inner_rank(inner_label, truth, result.report.causes)
            evidence_rank = _inner_rank(inner_label, truth, result.report.causes, result.state.findings)
            anomalous = any(f.service == truth and not f.ruled_out and f.kind not in NOT_ANOMALIES
                            for f in result.state.findings.values())
            ruled_out = truth in {r.service for r in result.report.ruled_out}
        except Exception as exc:  # one broken case must not hide the others' scores
            ranked, error, inner_rank, evidence_rank = [], f"{type(exc).__name__}: {exc}", None, None
            anomalous = ruled_out = False
        scores.append(CaseScore(
            case=case_dir.name, fault_type=str(label.get("fault_type", "")), truth=str(label.get("service", "")),
            inner=str(label.get("inner_root_cause", "")), ranked=ranked, seconds=time.perf_counter() - began,
            error=error, inner_rank=inner_rank, evidence_rank=evidence_rank, anomalous=anomalous,
            ruled_out=ruled_out,
        ))
    return scores


def inner_matches(inner: str, f: Finding) -> bool:
    """Does a finding name the labelled inner root cause (a code region "A_B" or a metric column)?"""
    from evaluation.nezha_import import metric_name

    d = f.details
    if isinstance(d, LogFlowBreakDetails):
        return any(d.before.startswith(a) and d.expected.startswith(b) for a, b in _regions(inner))
    if "_" in inner and "(" not in inner:
        return False
    name, _ = metric_name(inner)
    if isinstance(d, MetricDetails):
        return d.metric.rsplit("/", 1)[-1] == name  # metric types may carry a domain prefix
    return name.startswith("network") and f.kind == "trace.wire_delay"


def _regions(inner: str) -> list[tuple[str, str]]:
    """The ways to read "A_B" as (step A, step B): at each underscore (statement names may hold some)."""
    return [(inner[:i], inner[i + 1:]) for i, ch in enumerate(inner) if ch == "_" and 0 < i < len(inner) - 1]


def inner_cause_matches(inner: str, cause: InnerCause) -> bool:
    """Does a stated inner cause name the labelled inner root cause (a code region "A_B" or a metric column)?"""
    from evaluation.nezha_import import metric_name

    if cause.kind == "code_region":
        return bool(cause.end) and any(cause.start.startswith(a) and cause.end.startswith(b)
                                       for a, b in _regions(inner))
    if "_" in inner and "(" not in inner:
        return False
    name, _ = metric_name(inner)
    if cause.kind == "resource":
        return cause.measure.rsplit("/", 1)[-1] == name  # metric types may carry a domain prefix
    return name.startswith("network") and cause.kind == "link"


def stated_inner_rank(inner: str, truth: str, causes: list[RankedCause]) -> int | None:
    """The labelled inner root cause's rank in the true service's cause's `inner` list (None: absent)."""
    cause = next((c for c in causes if c.service == truth), None)
    if not inner or cause is None:
        return None
    return next((n for n, c in enumerate(cause.inner, 1) if inner_cause_matches(inner, c)), None)


def _inner_rank(inner: str, truth: str, causes: list[RankedCause], findings: dict[str, Finding]) -> int | None:
    cause = next((c for c in causes if c.service == truth), None)
    if not inner or cause is None or not cause.chain:
        return None
    cited = [findings[i] for i in cause.chain[0].evidence if i in findings]
    return next((n for n, f in enumerate(cited, 1) if inner_matches(inner, f)), None)


def _at(ranks: list[int | None], k: int) -> float:
    return sum(r is not None and r <= k for r in ranks) / (len(ranks) or 1)


def summarize(scores: list[CaseScore]) -> dict[str, float]:
    n = len(scores) or 1
    labelled = [s for s in scores if s.inner]
    by_type: dict[str, float] = {}
    for fault in sorted({s.fault_type for s in labelled}):
        ranks = [s.inner_rank for s in labelled if s.fault_type == fault]
        by_type |= {f"inner@1 {fault}": _at(ranks, 1), f"inner@3 {fault}": _at(ranks, 3),
                    f"inner_cases {fault}": float(len(ranks))}
    return {
        "cases": float(len(scores)),
        "AS@1": sum(s.hit(1) for s in scores) / n,
        "AS@3": sum(s.hit(3) for s in scores) / n,
        "AS@5": sum(s.hit(5) for s in scores) / n,
        "inner_cases": float(len(labelled)),
        "inner@1": _at([s.inner_rank for s in labelled], 1),
        "inner@3": _at([s.inner_rank for s in labelled], 3),
        "evidence_inner@1": _at([s.evidence_rank for s in labelled], 1),
        "evidence_inner@3": _at([s.evidence_rank for s in labelled], 3),
        **by_type,
        "dropped": float(sum(s.anomalous and s.rank is None for s in scores)),  # anomalous yet not ranked
        "mean_seconds": sum(s.seconds for s in scores) / n,
        "max_seconds": max((s.seconds for s in scores), default=0.0),
    }


def print_table(scores: list[CaseScore]) -> None:
    print(f"{'case':<22}{'fault':<16}{'label':<30}{'rank':>5}  {'inner root cause (label)':<56}{'inner':>6}"
          f"{'evid.':>6}  top 3")
    for s in scores:
        rank = "-" if s.rank is None else str(s.rank)
        inner = "-" if s.inner_rank is None else str(s.inner_rank)
        evidence = "-" if s.evidence_rank is None else str(s.evidence_rank)
        top = ", ".join(s.ranked[:3]) if not s.error else f"ERROR {s.error}"
        print(f"{s.case:<22}{s.fault_type:<16}{s.truth:<30}{rank:>5}  {s.inner[:55]:<56}{inner:>6}{evidence:>6}  {top}")
    m = summarize(scores)
    print(f"\nservice-level  AS@1 {m['AS@1']:.3f}   AS@3 {m['AS@3']:.3f}   AS@5 {m['AS@5']:.3f}   "
          f"over {int(m['cases'])} cases")
    print(f"inner root cause (rank in the true cause's stated inner causes)  @1 {m['inner@1']:.3f}   "
          f"@3 {m['inner@3']:.3f}   over {int(m['inner_cases'])} labelled cases")
    for fault in sorted({s.fault_type for s in scores if s.inner}):
        print(f"  {fault:<16}@1 {m[f'inner@1 {fault}']:.3f}   @3 {m[f'inner@3 {fault}']:.3f}   "
              f"over {int(m[f'inner_cases {fault}'])} cases")
    print(f"inner root cause (older figure: rank among the true cause's cited evidence)  "
          f"@1 {m['evidence_inner@1']:.3f}   @3 {m['evidence_inner@3']:.3f}")
    print(f"time per case  mean {m['mean_seconds']:.2f} s   max {m['max_seconds']:.2f} s")
