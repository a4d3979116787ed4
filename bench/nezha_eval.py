"""Evaluation on labelled fault-injection cases: the pipeline sees only the alert and the telemetry.

For each Nezha case: import it into a bundle, synthesize a frontend alert (no hint of the cause), triage it
on the embedded default, and score the ranked services against label.json (never read by the product).

The inner root cause is scored where the label has one, on the true service's cause (wherever it ranks): its
rank among the evidence the cause step cites (strongest first). A code region "A_B" (between log statements A
and B) matches a broken code path from step A to step B; a resource metric matches an anomaly of that metric
(the Nezha column name mapped as the importer maps it), and a network metric with no column of its own matches
the delay callers see on the wire to the service.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from functions.local import triage
from shared.models import Finding, RankedCause
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
    inner_rank: int | None = None  # rank of the inner root cause among the true cause's cited evidence

    @property
    def rank(self) -> int | None:
        return self.ranked.index(self.truth) + 1 if self.truth in self.ranked else None

    def hit(self, k: int) -> bool:
        r = self.rank
        return r is not None and r <= k


def evaluate_nezha(cases_dir: Path, limit: int = 0, work: Path | None = None, *, alert_delay_s: float | None = None,
                   farthest_reference: bool = False) -> list[CaseScore]:
    """Score every labelled case. `alert_delay_s` (default: the importer's) and `farthest_reference` (baseline
    on another day's reference) are the robustness variations of bench/rca_accuracy.py."""
    from bench.nezha_import import import_case

    cases = sorted(p for p in cases_dir.iterdir() if (p / "label.json").exists())
    if limit:
        cases = cases[:limit]
    if not cases:
        raise SystemExit(f"no cases (folders with label.json) under {cases_dir}")
    reference = cases_dir.parent / "reference"
    root = work or Path(tempfile.mkdtemp(prefix="autosre-eval-"))
    scores = []
    for case_dir in cases:
        info = import_case(case_dir, root / case_dir.name, reference if reference.exists() else None,
                           alert_delay_s=alert_delay_s, farthest_reference=farthest_reference)
        label = info.label
        began = time.perf_counter()
        try:
            result = triage(Path(info.alert_path).read_bytes(), BundleSource(info.bundle_dir))
            ranked = [c.service for c in result.report.causes]
            error = ""
            inner_rank = _inner_rank(str(label.get("inner_root_cause", "")), str(label.get("service", "")),
                                     result.report.causes, result.state.findings)
        except Exception as exc:  # one broken case must not hide the others' scores
            ranked, error, inner_rank = [], f"{type(exc).__name__}: {exc}", None
        scores.append(CaseScore(
            case=case_dir.name, fault_type=str(label.get("fault_type", "")), truth=str(label.get("service", "")),
            inner=str(label.get("inner_root_cause", "")), ranked=ranked, seconds=time.perf_counter() - began,
            error=error, inner_rank=inner_rank,
        ))
    return scores


def inner_matches(inner: str, f: Finding) -> bool:
    """Does a finding name the labelled inner root cause (a code region "A_B" or a metric column)?"""
    from bench.nezha_import import metric_name

    d = f.details
    if f.kind == "log.flow_break":
        before, expected = str(d.get("before", "")), str(d.get("expected", ""))
        return any(before.startswith(inner[:i]) and expected.startswith(inner[i + 1:])
                   for i, ch in enumerate(inner) if ch == "_" and 0 < i < len(inner) - 1)
    if "_" in inner and "(" not in inner:
        return False
    name, _ = metric_name(inner)
    if f.kind in ("metric.anomaly", "metric.fleet_outlier"):
        return str(d.get("metric", "")).rsplit("/", 1)[-1] == name  # metric types may carry a domain prefix
    return name.startswith("network") and f.kind == "trace.wire_delay"


def _inner_rank(inner: str, truth: str, causes: list[RankedCause], findings: dict[str, Finding]) -> int | None:
    cause = next((c for c in causes if c.service == truth), None)
    if not inner or cause is None or not cause.chain:
        return None
    cited = [findings[i] for i in cause.chain[0].evidence if i in findings]
    return next((n for n, f in enumerate(cited, 1) if inner_matches(inner, f)), None)


def summarize(scores: list[CaseScore]) -> dict[str, float]:
    n = len(scores) or 1
    labelled = [s for s in scores if s.inner]
    m = len(labelled) or 1
    return {
        "cases": float(len(scores)),
        "AS@1": sum(s.hit(1) for s in scores) / n,
        "AS@3": sum(s.hit(3) for s in scores) / n,
        "AS@5": sum(s.hit(5) for s in scores) / n,
        "inner_cases": float(len(labelled)),
        "inner@1": sum(s.inner_rank is not None and s.inner_rank <= 1 for s in labelled) / m,
        "inner@3": sum(s.inner_rank is not None and s.inner_rank <= 3 for s in labelled) / m,
        "mean_seconds": sum(s.seconds for s in scores) / n,
        "max_seconds": max((s.seconds for s in scores), default=0.0),
    }


def print_table(scores: list[CaseScore]) -> None:
    print(f"{'case':<22}{'fault':<16}{'label':<30}{'rank':>5}  {'inner root cause (label)':<56}{'inner':>6}  top 3")
    for s in scores:
        rank = "-" if s.rank is None else str(s.rank)
        inner = "-" if s.inner_rank is None else str(s.inner_rank)
        top = ", ".join(s.ranked[:3]) if not s.error else f"ERROR {s.error}"
        print(f"{s.case:<22}{s.fault_type:<16}{s.truth:<30}{rank:>5}  {s.inner[:55]:<56}{inner:>6}  {top}")
    m = summarize(scores)
    print(f"\nservice-level  AS@1 {m['AS@1']:.3f}   AS@3 {m['AS@3']:.3f}   AS@5 {m['AS@5']:.3f}   "
          f"over {int(m['cases'])} cases")
    print(f"inner root cause (rank among the true cause's evidence)  @1 {m['inner@1']:.3f}   @3 {m['inner@3']:.3f}   "
          f"over {int(m['inner_cases'])} labelled cases")
    print(f"time per case  mean {m['mean_seconds']:.2f} s   max {m['max_seconds']:.2f} s")
