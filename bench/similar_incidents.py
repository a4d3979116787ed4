"""Memory of past incidents on the demo generator: is the most similar past incident of the same fault kind, and
how long does a lookup take at 10,000 past incidents?

1. Accuracy: seeds `--past` (default 0-4) of each of the four fault kinds are triaged into one SQLite store and
   resolved (each past incident is indexed by the pipeline's "remember" step). Each held-out seed (`--held-out`,
   default 5-9) is then triaged by the real pipeline into a copy of that store (so held-out cases never see one
   another); the top entry of its report's `similar` list is compared with its own fault kind.
2. Time per lookup: `--synthetic` (default 10,000) synthetic signatures are indexed into a fresh store (each
   a real past signature with ~30% of its terms dropped and a few random terms added: synthetic, not triaged),
   then `functions.memory.recall` is timed for each held-out report. `--firestore` does the same on the Firestore
   emulator (FIRESTORE_EMULATOR_HOST) with `--firestore-synthetic` signatures.

Run: python -m bench.similar_incidents
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from demo.generator import generate
from functions.local import triage
from functions.memory import MemoryStore, recall, report_signature
from functions.runtime import embedded
from shared import topics
from shared.incident_state import IncidentState
from shared.models import Report
from shared.ports import EventStore, TermIndex
from shared.store.sqlite import SqliteEventStore
from shared.telemetry.bundle import BundleSource

KINDS = ("bad_deploy", "cpu_saturation", "slow_dependency", "pool_exhaustion")  # the four mechanism faults


@dataclass
class Case:
    kind: str
    seed: int
    incident_id: str
    state: IncidentState
    report: Report


def run_case(store: EventStore, kind: str, seed: int, work: Path) -> Case:
    """Triage one demo incident into `store`, then resolve it (a closed alert), as a past incident would be."""
    scenario = generate(kind, work / f"{kind}-{seed}", seed=seed)
    payload = scenario.alert_path.read_bytes()
    source = BundleSource(scenario.bundle_dir)
    result = triage(payload, source, store=store)
    doc = json.loads(payload)
    doc["incident"].update({"state": "closed", "ended_at": int(scenario.onset) + 1800})
    _, bus = embedded(store, source)
    bus.publish(topics.ALERTS, json.dumps(doc).encode())
    bus.drain()
    return Case(kind, seed, result.incident_id, result.state, result.report)


def synthetic(base: Sequence[Sequence[str]], n: int, rng: random.Random) -> list[list[str]]:
    """`n` signatures, each a real one with ~30% of its terms dropped and 0-6 random terms added."""
    out = []
    for _ in range(n):
        terms = {t for t in rng.choice(base) if rng.random() > 0.3}
        terms |= {rng.choice(("svc:s", "logword:w", "pattern:p", "metric:m", "kind:k")) + str(rng.randrange(500))
                  for _ in range(rng.randrange(7))}
        out.append(sorted(terms))
    return out


def time_lookups(store: MemoryStore, cases: list[Case], repeat: int) -> tuple[float, float]:
    """Median and p95 milliseconds per `recall` over every held-out report, `repeat` times each."""
    times = []
    for _ in range(repeat):
        for c in cases:
            alert = c.state.first_alert
            began = time.perf_counter()
            recall(store, c.report, c.state.findings, alert.metric_type if alert else "")
            times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.95))]


def index_synthetic(store: TermIndex, signatures: list[list[str]]) -> float:
    began = time.perf_counter()
    for i, terms in enumerate(signatures):
        store.index_terms(f"syn-{i:05d}", terms)
    return (time.perf_counter() - began) * 1000 / max(1, len(signatures))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--past", default="0-4", help="seeds triaged as past incidents (default: %(default)s)")
    p.add_argument("--held-out", default="5-9", help="seeds triaged as new incidents (default: %(default)s)")
    p.add_argument("--synthetic", type=int, default=10_000, help="synthetic past incidents for the timing "
                                                                 "(default: %(default)s)")
    p.add_argument("--repeat", type=int, default=5, help="timed lookups per held-out report (default: %(default)s)")
    p.add_argument("--firestore", action="store_true", help="also time the lookup on the Firestore emulator "
                                                            "(default: off)")
    p.add_argument("--firestore-synthetic", type=int, default=2_000,
                   help="synthetic past incidents indexed on the emulator (default: %(default)s)")
    args = p.parse_args(argv)

    def seeds(spec: str) -> list[int]:
        lo, _, hi = spec.partition("-")
        return list(range(int(lo), int(hi or lo) + 1))

    with tempfile.TemporaryDirectory(prefix="autosre-similar-") as tmp:
        work = Path(tmp)
        past_db = work / "past.db"
        store = SqliteEventStore(str(past_db))
        past = [run_case(store, kind, seed, work) for kind in KINDS for seed in seeds(args.past)]
        base = list(store.indexed_terms([c.incident_id for c in past]).values())
        store.close()
        kind_of = {c.incident_id: c.kind for c in past}
        rows: list[tuple[Case, str, float]] = []
        held: list[Case] = []
        for kind in KINDS:
            for seed in seeds(args.held_out):
                copy = work / f"held-{kind}-{seed}.db"
                shutil.copy(past_db, copy)
                one = SqliteEventStore(str(copy))
                case = run_case(one, kind, seed, work)
                one.close()
                top = case.report.similar[0] if case.report.similar else None
                rows.append((case, kind_of.get(top.incident_id, "-") if top else "-", top.similarity if top else 0.0))
                held.append(case)

        print(f"{'fault':<18}{'seed':>5}  {'most similar past':<18}{'similarity':>11}  same kind")
        for case, found, score in rows:
            print(f"{case.kind:<18}{case.seed:>5}  {found:<18}{score:>11.3f}  {'yes' if found == case.kind else 'NO'}")
        same = sum(found == case.kind for case, found, _ in rows)
        print(f"\nsame fault kind: {same}/{len(rows)} = {same / max(1, len(rows)):.0%} "
              f"({len(past)} past incidents: seeds {args.past} of {', '.join(KINDS)})")
        for kind in KINDS:
            mine = [(f, s) for c, f, s in rows if c.kind == kind]
            print(f"  {kind:<18}{sum(f == kind for f, _ in mine)}/{len(mine)}")

        rng = random.Random(0)
        timed = SqliteEventStore(str(work / "timing.db"))
        per_index = index_synthetic(timed, synthetic(base, args.synthetic, rng))
        median, p95 = time_lookups(timed, held, args.repeat)
        print(f"\nSQLite, {args.synthetic} synthetic past incidents: lookup median {median:.1f} ms, p95 {p95:.1f} ms "
              f"({len(held) * args.repeat} lookups); indexing {per_index:.2f} ms per incident")
        mean_terms = statistics.mean(len(report_signature(c.state, c.report)) for c in held)
        print(f"signature terms per incident: {mean_terms:.0f} on average")
        timed.close()
        if args.firestore:
            import uuid

            from shared.store.firestore import FirestoreEventStore

            fs = FirestoreEventStore("autosre-bench", prefix=f"sim{uuid.uuid4().hex[:6]}")
            per_index = index_synthetic(fs, synthetic(base, args.firestore_synthetic, rng))
            median, p95 = time_lookups(fs, held, 1)
            print(f"Firestore emulator, {args.firestore_synthetic} synthetic past incidents: lookup median "
                  f"{median:.1f} ms, p95 {p95:.1f} ms; indexing {per_index:.1f} ms per incident")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
