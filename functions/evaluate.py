"""Evaluation on labelled fault-injection cases: the pipeline sees only the alert and the telemetry.

For each Nezha case: import it into a bundle, synthesize a frontend alert (no hint of the cause), triage it
on the embedded default, and score the ranked services against label.json (never read by the product).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from functions.local import triage
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

    @property
    def rank(self) -> int | None:
        return self.ranked.index(self.truth) + 1 if self.truth in self.ranked else None

    def hit(self, k: int) -> bool:
        r = self.rank
        return r is not None and r <= k


def evaluate_nezha(cases_dir: Path, limit: int = 0, work: Path | None = None) -> list[CaseScore]:
    from shared.telemetry.nezha import import_case

    cases = sorted(p for p in cases_dir.iterdir() if (p / "label.json").exists())
    if limit:
        cases = cases[:limit]
    if not cases:
        raise SystemExit(f"no cases (folders with label.json) under {cases_dir}")
    reference = cases_dir.parent / "reference"
    root = work or Path(tempfile.mkdtemp(prefix="autosre-eval-"))
    scores = []
    for case_dir in cases:
        info = import_case(case_dir, root / case_dir.name, reference if reference.exists() else None)
        label = info.label
        began = time.perf_counter()
        try:
            result = triage(Path(info.alert_path).read_bytes(), BundleSource(info.bundle_dir))
            ranked = [c.service for c in result.report.causes]
            error = ""
        except Exception as exc:  # one broken case must not hide the others' scores
            ranked, error = [], f"{type(exc).__name__}: {exc}"
        scores.append(CaseScore(
            case=case_dir.name, fault_type=str(label.get("fault_type", "")), truth=str(label.get("service", "")),
            inner=str(label.get("inner_root_cause", "")), ranked=ranked, seconds=time.perf_counter() - began,
            error=error,
        ))
    return scores


def summarize(scores: list[CaseScore]) -> dict[str, float]:
    n = len(scores) or 1
    return {
        "cases": float(len(scores)),
        "AS@1": sum(s.hit(1) for s in scores) / n,
        "AS@3": sum(s.hit(3) for s in scores) / n,
        "AS@5": sum(s.hit(5) for s in scores) / n,
        "mean_seconds": sum(s.seconds for s in scores) / n,
    }


def print_table(scores: list[CaseScore]) -> None:
    print(f"{'case':<22}{'fault':<16}{'label':<30}{'rank':>5}  top 5")
    for s in scores:
        rank = "-" if s.rank is None else str(s.rank)
        top = ", ".join(s.ranked[:5]) if not s.error else f"ERROR {s.error}"
        print(f"{s.case:<22}{s.fault_type:<16}{s.truth:<30}{rank:>5}  {top}")
    m = summarize(scores)
    print(f"\nservice-level  AS@1 {m['AS@1']:.3f}   AS@3 {m['AS@3']:.3f}   AS@5 {m['AS@5']:.3f}   "
          f"mean time per case {m['mean_seconds']:.2f} s over {int(m['cases'])} cases")
