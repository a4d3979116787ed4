"""Root-cause accuracy and time per case, two suites, printed as tables:

1. Nezha TrainTicket: every labelled case under the datasets folder, from a synthesized frontend alert.
2. The demo generator: every fault kind over several seeds.
With --robustness, the Nezha suite again with the alert fired 180 s (not 60 s) after the injection, and with the
logs and traces baselined on the reference day farthest from each case's (another day's normal).
With --variants [NAME ...], the Nezha suite in degraded-telemetry variants (evaluation.nezha_eval.VARIANTS: full, logs
removed, traces' baseline removed, metrics only, traces and metrics without the traces' baseline, alert 3 min
late), one table row per variant.

Run: python bench/rca_accuracy.py [--seeds N] [--nezha DIR] [--robustness] [--variants [NAME ...]] [--no-demo]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

from demo.generator import FAULT_KINDS, generate
from evaluation.nezha_eval import VARIANTS, CaseScore, evaluate_nezha, print_table, summarize
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


def variants(cases: Path, names: list[str]) -> dict[str, list[CaseScore]]:
    """Every case in each named variant; prints one row per variant and, under the table, each variant's per-case
    ranks of the true service ("-": not ranked; "!": not ranked although a specialist found it anomalous, "x": and
    ruled out, as propagation of a callee's fault)."""
    results = {name: evaluate_nezha(cases, variant=name) for name in names}
    print(f"\n{'variant':<54}{'AS@1':>6}{'AS@3':>6}{'AS@5':>6}{'inner@1':>8}{'inner@3':>8}{'dropped':>8}{'s/case':>7}")
    for name, rows in results.items():
        m = summarize(rows)
        print(f"{VARIANTS[name].description[:53]:<54}{m['AS@1']:>6.3f}{m['AS@3']:>6.3f}{m['AS@5']:>6.3f}"
              f"{m['inner@1']:>8.3f}{m['inner@3']:>8.3f}{int(m['dropped']):>8}{m['mean_seconds']:>7.2f}")
    print("(dropped: cases whose true service some specialist found anomalous, yet it is not in the ranked list; "
          "below, per case: its rank, '!' below the list, 'x' ruled out as propagation)")
    for name, rows in results.items():
        ranks = " ".join(str(r.rank) if r.rank else "-" if not r.anomalous else "x" if r.ruled_out else "!"
                         for r in rows)
        print(f"  {name:<20} ranks: {ranks}")
    return results


def main() -> None:
    default = Path(os.environ.get("AUTOSRE_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets"))
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--nezha", type=Path, default=default / "nezha-tt" / "cases")
    p.add_argument("--robustness", action="store_true", help="also the alert-delay and other-day-baseline variants")
    p.add_argument("--variants", nargs="*", choices=sorted(VARIANTS), metavar="NAME",
                   help=f"only the degraded-telemetry variants table (default: all of {', '.join(VARIANTS)})")
    p.add_argument("--no-demo", action="store_true", help="skip the demo generator suite")
    args = p.parse_args()
    if not args.nezha.is_dir():
        print(f"(no Nezha cases at {args.nezha})")
    elif args.variants is not None:
        print("Nezha TrainTicket (service level), degraded-telemetry variants")
        variants(args.nezha, args.variants or list(VARIANTS))
    else:
        print("Nezha TrainTicket (service level)")
        print_table(evaluate_nezha(args.nezha))
        if args.robustness:
            robustness(args.nezha)
    if not args.no_demo and args.variants is None:
        print("\nDemo generator fault kinds")
        demo_suite(args.seeds)


if __name__ == "__main__":
    main()
