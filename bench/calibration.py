"""Is the report's confidence a probability? Every labelled case available, triaged end to end, then scored:

- the demo generator over seeds (default 0-4) and every fault kind, the adversarial scenarios included;
- the Nezha TrainTicket dev cases, when the datasets folder exists (evaluation/datasets.py; skipped with a message).

For each case the report's top cause and its confidence: "correct" when the top cause is the (or one of the)
injected service(s). An alert on noise (noisy_healthy) has no right cause: its top cause, if any, is wrong, so a
calibrated report gives it a low confidence (the goal table also counts "no cause above 50%" for it). A case
with no ranked cause counts as confidence 0, not correct.

Printed: a reliability table (confidence bucket -> count, mean confidence, fraction correct), the Brier score
and the expected calibration error (ECE, 10 equal-width bins), on every case and per split: the split the
calibration of agents/ranking/calibration.py was fitted on (demo seeds 0-2 and the Nezha dev cases), and the
held-out ones (demo seeds 3-4, PetShop); for Nezha also each case scored by a map fitted without it (leave-one-out);
then the adversarial goals. `--raw` scores the uncalibrated confidence instead (the figures before calibration);
`--fit` refits the calibration on the fitting split and prints its constants.

Responder feedback (`--feedback STORE`, an embedded store's SQLite file) adds a split of its own: each incident
whose named cause a responder confirmed or rejected, re-ranked from its findings and scored against their word.

Run: python bench/calibration.py [--seeds 5] [--nezha DIR] [--cache FILE] [--raw] [--fit] [--feedback FILE]
"""

from __future__ import annotations

import argparse
import math
import pickle
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agents.context import AnalysisContext
from agents.ranking.calibration import CONFIDENT, RAW_TO_PROBABILITY, calibrated
from agents.ranking.rca import headline, rank
from agents.remediation.catalog import propose
from agents.reporting.followup import merged
from evaluation.datasets import datasets_dir
from shared.incident_state import IncidentState
from shared.models import Finding, Report
from shared.ports import EventStore

BINS = 10
FIT_SEEDS = (0, 1, 2)  # the demo seeds the calibration in agents/ranking/calibration.py was fitted on ...
FIT_SPLITS = ("fit", "nezha")  # ... with the Nezha dev cases


@dataclass
class Case:
    """One triaged, labelled incident: what the specialists found, and the truth."""

    source: str  # demo | nezha | petshop | feedback
    kind: str  # the demo fault kind, or the Nezha fault type
    name: str
    seed: int | None
    truth: tuple[str, ...]  # the faulty services (none: nothing was wrong)
    findings: list[Finding]
    ctx: AnalysisContext
    herring: str = ""
    recovered: bool = False

    @property
    def split(self) -> str:
        if self.source in ("nezha", "petshop", "feedback"):
            return self.source
        return "fit" if self.seed in FIT_SEEDS else "held-out"


@dataclass
class Outcome:
    case: Case
    ranked: list[str]
    confidence: float  # the top cause's (0 with no cause)
    raw: float  # the same before calibration
    correct: bool
    report: Report
    proposals: int
    details: dict[str, float] = field(default_factory=dict)


# ------------------------------------------------------------------ calibration math


def brier(pairs: Sequence[tuple[float, bool]]) -> float:
    """Mean squared difference between confidence and outcome (0 best; 0.25 for always saying 50%)."""
    return sum((p - float(y)) ** 2 for p, y in pairs) / len(pairs) if pairs else 0.0


def bin_of(p: float, bins: int = BINS) -> int:
    """Equal-width bins over [0, 1]; 1.0 falls in the last."""
    return min(bins - 1, max(0, int(p * bins)))


def reliability(pairs: Sequence[tuple[float, bool]], bins: int = BINS) -> list[tuple[int, int, float, float]]:
    """(bin, count, mean confidence, fraction correct) for every non-empty bin, lowest first."""
    groups: dict[int, list[tuple[float, bool]]] = {}
    for p, y in pairs:
        groups.setdefault(bin_of(p, bins), []).append((p, y))
    return [(b, len(g), sum(p for p, _ in g) / len(g), sum(y for _, y in g) / len(g))
            for b, g in sorted(groups.items())]


def ece(pairs: Sequence[tuple[float, bool]], bins: int = BINS) -> float:
    """Expected calibration error: the count-weighted mean |fraction correct - mean confidence| over the bins."""
    n = len(pairs)
    return sum(count / n * abs(acc - conf) for _, count, conf, acc in reliability(pairs, bins)) if n else 0.0


def fit_platt(pairs: Sequence[tuple[float, bool]], iterations: int = 200) -> tuple[float, float]:
    """(a, b) of p = sigmoid(a * logit(x) + b), fitted by Newton's method on the log loss against Platt's (1999)
    smoothed targets, (N+ + 1) / (N+ + 2) for a right case and 1 / (N- + 2) for a wrong one: finite when the
    cases separate, and no more sure than so few cases allow. With a > 0 the map is monotone; a <= 0 (more raw
    confidence, less often right) is refused: a = 0, b the smoothed base rate's logit."""
    xs = [_logit(x) for x, _ in pairs]
    hits = sum(1 for _, y in pairs if y)
    high, low = (hits + 1) / (hits + 2), 1 / (len(pairs) - hits + 2)
    ts = [high if y else low for _, y in pairs]
    a, b = 1.0, 0.0
    for _ in range(iterations):
        ga = gb = haa = hab = hbb = 0.0
        for x, t in zip(xs, ts, strict=True):
            p = _sigmoid(a * x + b)
            w = max(p * (1 - p), 1e-12)
            ga, gb = ga + (p - t) * x, gb + (p - t)
            haa, hab, hbb = haa + w * x * x, hab + w * x, hbb + w
        det = haa * hbb - hab * hab
        if det <= 1e-12:
            break
        da, db = (hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det
        a, b = a - da, b - db
        if abs(da) + abs(db) < 1e-10:
            break
    if a <= 0:
        return 0.0, round(_logit((hits + 1) / (len(pairs) + 2)), 4)
    return round(a, 4), round(b, 4)


def _logit(p: float) -> float:
    p = min(1 - 1e-4, max(1e-4, p))
    return math.log(p / (1 - p))


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


# ------------------------------------------------------------------ the cases


def _triaged(alert: bytes, bundle: Path) -> tuple[list[Finding], AnalysisContext]:
    from functions.local import triage
    from shared.telemetry.bundle import BundleSource

    result = triage(alert, BundleSource(bundle))
    return inputs_of(result.state, result.report.round)


def inputs_of(state: IncidentState, number: int) -> tuple[list[Finding], AnalysisContext]:
    """What round `number`'s report was ranked from: its investigation's findings, merged, and its context."""
    from functions.pipeline import analysis_context

    per_round = [[state.findings[fid] for name in r.specialists for fid in r.completed.get(name, [])
                  if fid in state.findings] for r in state.investigation(number)]
    return merged(per_round), analysis_context(state, number)


def feedback_cases(store: EventStore) -> list[Case]:
    """Incidents whose named cause a responder confirmed or rejected, as labelled cases: the truth is the named
    service when confirmed, the service they said when rejected (unknown when they said none: the top cause is
    then wrong whatever it is)."""
    from shared.incident_log import IncidentLog

    log = IncidentLog(store)
    out = []
    for summary in store.summaries():
        if not summary.get("cause_feedback"):
            continue
        state = log.read(str(summary["incident_id"]))
        word = state.cause_verdict if state is not None else None
        if state is None or word is None or word.round not in state.rounds:
            continue
        truth = (word.cause_service,) if word.verdict == "confirmed" else (word.true_service or "(unknown)",)
        findings, ctx = inputs_of(state, word.round)
        out.append(Case("feedback", word.cause_kind, state.incident_id, None, truth, findings, ctx))
    return out


def demo_cases(seeds: Sequence[int], work: Path) -> list[Case]:
    from demo.generator import ALL_KINDS, generate

    out = []
    for kind in ALL_KINDS:
        for seed in seeds:
            s = generate(kind, work / f"{kind}-{seed}", seed=seed)
            findings, ctx = _triaged(s.alert_path.read_bytes(), s.bundle_dir)
            out.append(Case("demo", kind, f"{kind}/{seed}", seed, s.root_services, findings, ctx,
                            str(s.truth.get("red_herring", "")), s.recovered))
    return out


def nezha_cases(cases_dir: Path, work: Path) -> list[Case]:
    from evaluation.nezha_import import import_case

    reference = cases_dir.parent / "reference"
    out = []
    for case_dir in sorted(p for p in cases_dir.iterdir() if (p / "label.json").exists()):
        info = import_case(case_dir, work / case_dir.name, reference if reference.exists() else None)
        findings, ctx = _triaged(Path(info.alert_path).read_bytes(), Path(info.bundle_dir))
        out.append(Case("nezha", str(info.label.get("fault_type", "")), case_dir.name, None,
                        (str(info.label.get("service", "")),), findings, ctx))
    return out


def petshop_cases(root: Path, work: Path) -> list[Case]:
    from evaluation.petshop_import import import_issue, issue_dirs

    out = []
    for issue_dir in issue_dirs(root):
        info = import_issue(issue_dir, work / issue_dir.parent.parent.name / issue_dir.name)
        findings, ctx = _triaged(info.alert_path.read_bytes(), info.bundle_dir)
        out.append(Case("petshop", str(info.target.get("metric", "")), info.name, None, (info.root_cause,),
                        findings, ctx))
    return out


def judge_case(case: Case, raw: bool = False) -> Outcome:
    """Rank the case's findings as the synthesizer does and score the top cause."""
    result = rank(case.findings, case.ctx)
    title, summary = headline(result, case.ctx)
    top = result.causes[0] if result.causes else None
    report = Report(incident_id=case.name, headline=title, summary=summary, causes=result.causes,
                    ruled_out=result.ruled_out, confident=top is not None and top.confidence >= CONFIDENT,
                    recovered=result.recovered, recovery=result.recovery)
    confidence = 0.0 if top is None else (top.raw_confidence if raw else top.confidence)
    found = {f.finding_id: f for f in case.findings}
    return Outcome(case, [c.service for c in result.causes], confidence, 0.0 if top is None else top.raw_confidence,
                   top is not None and top.service in case.truth, report, len(propose(report, found)))


# ------------------------------------------------------------------ printing


def print_reliability(title: str, outcomes: Sequence[Outcome]) -> None:
    pairs = [(o.confidence, o.correct) for o in outcomes]
    print(f"\n{title}: {len(pairs)} cases, {sum(y for _, y in pairs)} with the top cause right")
    print(f"{'confidence':<12}{'count':>6}{'mean conf':>11}{'correct':>9}")
    for b, count, conf, acc in reliability(pairs):
        print(f"{b / BINS:.1f}-{(b + 1) / BINS:.1f}{'':<5}{count:>6}{conf:>11.3f}{acc:>9.3f}")
    print(f"Brier {brier(pairs):.4f}   ECE {ece(pairs):.4f}")


def print_goals(outcomes: Sequence[Outcome]) -> None:
    demo = [o for o in outcomes if o.case.source == "demo"]

    def of(kind: str) -> list[Outcome]:
        return [o for o in demo if o.case.kind == kind]

    print("\nAdversarial goals (demo)")
    herring = of("red_herring_deploy")
    print(f"  red herring never ranked first: {sum(o.ranked[:1] != [o.case.herring] for o in herring)}/{len(herring)}"
          f"   (root first: {sum(o.correct for o in herring)}/{len(herring)})")
    noisy = of("noisy_healthy")
    print(f"  noisy-but-healthy names no cause above 50%: {sum(o.confidence <= 0.5 for o in noisy)}/{len(noisy)}"
          f"   (max confidence {max((o.confidence for o in noisy), default=0.0):.2f}; headline without a cause: "
          f"{sum(not o.report.confident for o in noisy)}/{len(noisy)})")
    dual = of("dual_fault")
    print(f"  dual fault, both causes in the top 3: {sum(set(o.case.truth) <= set(o.ranked[:3]) for o in dual)}"
          f"/{len(dual)}   (one of them first: {sum(o.correct for o in dual)}/{len(dual)})")
    rec = of("recovered")
    print(f"  recovered: reported recovered and nothing proposed: "
          f"{sum(o.report.recovered and o.proposals == 0 for o in rec)}/{len(rec)}   (root first: "
          f"{sum(o.correct for o in rec)}/{len(rec)}; other cases called recovered: "
          f"{sum(o.report.recovered for o in demo if o.case.kind != 'recovered')}/{len(demo) - len(rec)})")
    silent = of("silent_service")
    print(f"  silent service first: {sum(o.correct for o in silent)}/{len(silent)}   in the top 3: "
          f"{sum(bool(set(o.case.truth) & set(o.ranked[:3])) for o in silent)}/{len(silent)}")


def print_cases(outcomes: Sequence[Outcome]) -> None:
    print(f"\n{'case':<28}{'truth':<34}{'top cause':<24}{'conf':>6}{'raw':>6}{'ok':>4}  headline")
    for o in outcomes:
        top = o.ranked[0] if o.ranked else "-"
        print(f"{o.case.name[:27]:<28}{','.join(o.case.truth)[:33] or '(nothing wrong)':<34}{top[:23]:<24}"
              f"{o.confidence:>6.2f}{o.raw:>6.2f}{'yes' if o.correct else 'no':>4}  {o.report.headline[:60]}")


def print_leave_one_out(outcomes: list[Outcome]) -> None:
    """The Nezha cases, each scored by a map fitted on every other fitting case (its own left out): what the
    calibration does on a TrainTicket case it has not seen. Only the top cause's confidence is recomputed (the
    ranking does not depend on the map), and an untraced cause's bound is not applied (Nezha's causes are traced)."""
    nezha = [o for o in outcomes if o.case.split == "nezha"]
    if not nezha:
        return
    pairs = []
    for left_out in nezha:
        rest = [(o.raw, o.correct) for o in outcomes if o.case.split in FIT_SPLITS and o.ranked and o is not left_out]
        pairs.append((calibrated(left_out.raw, fit_platt(rest)) if left_out.ranked else 0.0, left_out.correct))
    print(f"\nNezha dev, leave-one-out (each case scored by a map fitted without it): Brier {brier(pairs):.4f}   "
          f"ECE {ece(pairs):.4f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=5, help="demo seeds 0..N-1 (default: %(default)s)")
    p.add_argument("--nezha", type=Path, help="the Nezha cases folder (default: <datasets>/nezha-tt/cases)")
    p.add_argument("--cache", type=Path, help="reuse (or write) the triaged findings here: the ranking and the "
                                              "scoring are re-run from them")
    p.add_argument("--raw", action="store_true", help="score the uncalibrated confidence (the figures before)")
    p.add_argument("--fit", action="store_true", help="refit the calibration on the fitting split and print it")
    p.add_argument("--cases", action="store_true", help="also print every case")
    p.add_argument("--feedback", type=Path, help="an embedded store (SQLite file): the incidents whose cause a "
                                                 "responder confirmed or rejected become labelled cases")
    args = p.parse_args()
    cases: list[Case]
    if args.cache and args.cache.exists():
        cases = pickle.loads(args.cache.read_bytes())
    else:
        work = Path(tempfile.mkdtemp(prefix="autosre-calibration-"))
        cases = demo_cases(range(args.seeds), work / "demo")
        root = datasets_dir()
        nezha = args.nezha or (root / "nezha-tt" / "cases" if root else None)
        if nezha is not None and nezha.is_dir():
            cases += nezha_cases(nezha, work / "nezha")
        else:
            print("(no datasets folder with nezha-tt/cases: the Nezha cases are skipped; set AUTOSRE_DATASETS)")
        if root is not None and (root / "petshop").is_dir():
            cases += petshop_cases(root / "petshop", work / "petshop")
        if args.cache:
            args.cache.write_bytes(pickle.dumps(cases))
    if args.feedback:
        from shared.store.sqlite import SqliteEventStore

        cases += feedback_cases(SqliteEventStore(str(args.feedback)))
    outcomes = [judge_case(c, raw=args.raw) for c in cases]
    if args.fit:
        a, b = fit_platt([(o.raw, o.correct) for o in outcomes if o.case.split in FIT_SPLITS and o.ranked])
        print(f"fitted on {sum(o.case.split in FIT_SPLITS for o in outcomes)} cases (demo seeds {FIT_SEEDS} and "
              "the Nezha dev cases): "
              f"a={a} b={b}   (in use: {RAW_TO_PROBABILITY})")
    print("confidence: " + ("raw (before calibration)" if args.raw else "calibrated (the report's)"))
    print_reliability("all cases", outcomes)
    for split in ("fit", "held-out", "nezha", "petshop", "feedback"):
        chosen = [o for o in outcomes if o.case.split == split]
        if chosen:
            print_reliability({"fit": f"fitting split (demo seeds {FIT_SEEDS[0]}-{FIT_SEEDS[-1]})",
                               "held-out": "held out: demo seeds not fitted on", "nezha": "fitted on: Nezha dev",
                               "petshop": "held out: PetShop train (metrics only)",
                               "feedback": "responder feedback (confirmed or rejected causes)"}[split],
                              chosen)
    if not args.raw:
        print_leave_one_out(outcomes)
    literal = [(o.confidence, o.correct or (not o.case.truth and o.confidence <= 0.5)) for o in outcomes]
    print(f"\n(scoring an alert on noise as correct when no cause is above 50%: Brier {brier(literal):.4f}   "
          f"ECE {ece(literal):.4f})")
    print_goals(outcomes)
    if args.cases:
        print_cases(outcomes)


if __name__ == "__main__":
    main()
