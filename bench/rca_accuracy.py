"""Root-cause accuracy and time per case, two suites, printed as tables:

1. Nezha TrainTicket: every labelled case under the datasets folder, from a synthesized frontend alert.
2. The demo generator: every fault kind over several seeds.
With --robustness, the Nezha suite again with the alert fired 180 s (not 60 s) after the injection, and with the
logs and traces baselined on the reference day farthest from each case's (another day's normal).

Run: python bench/rca_accuracy.py [--seeds N] [--nezha DIR] [--robustness]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.nezha_eval import evaluate_nezha, print_table, summarize
from demo.generator import FAULT_KINDS, generate
from functions.local import triage
from shared.telemetry.bundle import BundleSource


def demo_suite(seeds: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="autosre-bench-"))
    print(f"\n{'fault':<18}{'cases':>6}{'AS@1':>7}{'AS@3':>7}{'mean s':>8}  inner cause named (top, most seeds)")
    total = top1 = 0
    for fault in FAULT_KINDS:
        hits1 = hits3 = 0
        seconds = 0.0
        inner: Counter[str] = Counter()
        for seed in range(1, seeds + 1):
            s = generate(fault, root / f"{fault}-{seed}", seed=seed)
            began = time.perf_counter()
            causes = triage(s.alert_path.read_bytes(), BundleSource(s.bundle_dir)).report.causes
            seconds += time.perf_counter() - began
            ranked = [c.service for c in causes]
            hits1 += ranked[:1] == [s.root_service]
            hits3 += s.root_service in ranked[:3]
            true = next((c for c in causes if c.service == s.root_service), None)
            top = true.inner[0] if true and true.inner else None
            inner[f"{top.kind}: {top.name.split(' on ')[0]}"[:60] if top else "(none)"] += 1
        total += seeds
        top1 += hits1
        named, times = inner.most_common(1)[0]
        print(f"{fault:<18}{seeds:>6}{hits1 / seeds:>7.2f}{hits3 / seeds:>7.2f}{seconds / seeds:>8.2f}  "
              f"{named} ({times}/{seeds})")
    print(f"{'all':<18}{total:>6}{top1 / total:>7.2f}")


def robustness(cases: Path) -> None:
    print(f"\n{'variation':<52}{'AS@1':>7}{'AS@3':>7}{'AS@5':>7}{'inner@1':>9}{'inner@3':>9}{'evid.@1':>9}")
    variants = (("alert 180 s after the injection", evaluate_nezha(cases, alert_delay_s=180.0)),
                ("baseline from the farthest reference day", evaluate_nezha(cases, farthest_reference=True)))
    for name, rows in variants:
        m = summarize(rows)
        print(f"{name:<52}{m['AS@1']:>7.3f}{m['AS@3']:>7.3f}{m['AS@5']:>7.3f}{m['inner@1']:>9.3f}{m['inner@3']:>9.3f}"
              f"{m['evidence_inner@1']:>9.3f}")


def main() -> None:
    default = Path(os.environ.get("AUTOSRE_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets"))
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--nezha", type=Path, default=default / "nezha-tt" / "cases")
    p.add_argument("--robustness", action="store_true", help="also the alert-delay and other-day-baseline variants")
    args = p.parse_args()
    if args.nezha.is_dir():
        print("Nezha TrainTicket (service level)")
        print_table(evaluate_nezha(args.nezha))
        if args.robustness:
            robustness(args.nezha)
    else:
        print(f"(no Nezha cases at {args.nezha})")
    print("\nDemo generator fault kinds")
    demo_suite(args.seeds)


if __name__ == "__main__":
    main()
