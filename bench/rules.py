"""The per-rule table: every ranking rule for metrics-only systems turned off one at a time, scored on every dev set.

A rule stays only where it helps, or is neutral, on every set: the Nezha TrainTicket dev cases (AS@1, AS@3, inner
@1), the PetShop train issues (top-1 and top-3 on the issues with a baseline, confidently wrong top causes; top-1
and top-3 again with the alert one period late), and the demo generator's fault and adversarial kinds (top-1 over
seeds). The log miner's rules have their own table in bench/log_parsing.py (Loghub leave-one-system-out).

    python -m bench.rules [--seeds 2] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.ranking import evidence, rca
from agents.ranking.calibration import CONFIDENT
from agents.specialists.metrics import analysis as metrics
from agents.specialists.metrics import metric_vocabulary
from evaluation.datasets import datasets_dir

LATE_ALERT_S = 300.0  # the PetShop issues again with the alert one period (5 min) late: a policy that waits to fire


@dataclass(frozen=True)
class Rule:
    name: str
    what: str
    module: Any
    attribute: str
    off: object


RULES = (
    Rule("failed-share", "a share of good outcomes judged on the share that failed (units)", metric_vocabulary,
         "FAILED_SHARE_RULE", False),
    Rule("request-words", "request and invocation counts read as load, in any spelling", metric_vocabulary,
         "REQUEST_WORDS", ()),
    Rule("resolution", "windows and the sustained-anomaly rule from the series' own resolution", metrics,
         "RESOLUTION_RULE", False),
    Rule("co-movement", "an untraced metric symptom that does not move with the alert's series weighs less",
         evidence, "CO_MOVEMENT_WEIGHT", 0.0),
    Rule("graph-attribution", "an untraced service's metric symptom no callee explains is its own", evidence,
         "UNTRACED_ATTRIBUTION", False),
    Rule("reports-callee", "a caller's log lines in traces whose failure starts further down report the callee",
         evidence, "REPORTS_CALLEE", False),
    Rule("unknown-co-movement", "an untraced metric symptom with too few points at the alert's times is not taken "
         "to move with it", evidence, "UNKNOWN_CO_MOVEMENT", None),
    Rule("onset-order", "an untraced metric anomaly that began a period after the alert's onset followed it",
         evidence, "FOLLOWED_WEIGHT", 0.0),
    Rule("callers-explained", "an untraced service that explains more anomaly in its callers ranks higher", rca,
         "CALLERS_WEIGHT", 0.0),
    Rule("uncorroborated-share", "an untraced cause one specialist backs held to its share of the evidence", rca,
         "UNCORROBORATED_SHARE", False),
)


@contextmanager
def turned_off(rule: Rule | None) -> Iterator[None]:
    if rule is None:
        yield
        return
    before = getattr(rule.module, rule.attribute)
    setattr(rule.module, rule.attribute, rule.off)
    try:
        yield
    finally:
        setattr(rule.module, rule.attribute, before)


def nezha(root: Path) -> dict[str, float]:
    from evaluation.nezha_eval import evaluate_nezha, summarize

    s = summarize(evaluate_nezha(root / "nezha-tt" / "cases"))
    return {"TT AS@1": s["AS@1"], "TT AS@3": s["AS@3"], "TT inner@1": s["inner@1"]}


def petshop(root: Path) -> dict[str, float]:
    from evaluation.petshop_eval import evaluate, summarize

    s = summarize(evaluate(root / "petshop"))["all"]
    late = summarize(evaluate(root / "petshop", alert_delay_s=LATE_ALERT_S))["all"]
    return {"PS top-1": float(s["product top-1"]), "PS top-3": float(s["product top-3"]),
            "PS conf. wrong": float(s["confident wrong"]),
            "PS late top-1": float(late["product top-1"]), "PS late top-3": float(late["product top-3"])}


def demo(seeds: int) -> dict[str, float]:
    from demo.generator import ALL_KINDS, generate
    from functions.local import triage
    from shared.telemetry.bundle import BundleSource

    work = Path(tempfile.mkdtemp(prefix="autosre-rules-"))
    hits = total = 0
    for kind in ALL_KINDS:
        for seed in range(1, seeds + 1):
            s = generate(kind, work / f"{kind}-{seed}", seed=seed)
            causes = triage(s.alert_path.read_bytes(), BundleSource(s.bundle_dir)).report.causes
            total += 1
            if s.root_services:
                hits += bool(causes) and causes[0].service in s.root_services
            else:  # nothing was wrong: correct when no cause is named with confidence
                hits += not causes or causes[0].confidence < CONFIDENT
    return {"demo top-1": hits / total}


def measure(seeds: int) -> dict[str, float]:
    root = datasets_dir()
    out: dict[str, float] = {}
    sets: list[Callable[[], dict[str, float]]] = [lambda: demo(seeds)]
    if root is not None:
        sets = [lambda: nezha(root), lambda: petshop(root), *sets]
    for run in sets:
        out.update(run())
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=2, help="demo seeds per kind (default: %(default)s)")
    p.add_argument("--only", nargs="*", help="rule names to turn off (default: every rule)")
    args = p.parse_args()
    if datasets_dir() is None:
        print("(no datasets folder: only the demo is scored; set AUTOSRE_DATASETS)")
    rows: list[tuple[str, dict[str, float]]] = [("all rules on", measure(args.seeds))]
    for rule in RULES:
        if args.only and rule.name not in args.only:
            continue
        with turned_off(rule):
            rows.append((f"- {rule.name}", measure(args.seeds)))
    columns = list(rows[0][1])
    print(f"{'':24}" + "".join(f"{c:>16}" for c in columns))
    for name, values in rows:
        print(f"{name:24}" + "".join(f"{values.get(c, float('nan')):>16.3f}" for c in columns))
    print("\nrules (a row '- name' is the rule turned off):")
    for rule in RULES:
        print(f"  {rule.name:22} {rule.what}")


if __name__ == "__main__":
    main()
