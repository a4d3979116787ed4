"""A deterministic incident generator: a telemetry bundle of the demo shop with one injected fault, the alert an
SRE would receive for it, and the ground truth.

75 minutes of normal traffic, then 15 minutes with the fault. Everything the fault changes downstream is caused by
its mechanism in the simulation (see `faults`), never painted on. Same (fault, seed, onset), same bytes.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from demo.alert import build_alert
from demo.cluster import Cluster, benign_changes
from demo.faults import FAULT_KINDS, choose, fault_lines
from demo.series import build_series
from demo.shop import CANDIDATES, SERVICES
from demo.sim import Simulation
from shared.telemetry.bundle import BundleWriter

__all__ = ["FAULT_KINDS", "Scenario", "generate"]

DEFAULT_ONSET = datetime(2026, 1, 15, 10, 0, tzinfo=UTC).timestamp()
BEFORE_S = 75 * 60
AFTER_S = 15 * 60
REQUESTS_PER_MINUTE = 60
TRACE_SAMPLE_RATIO = 0.25


@dataclass
class Scenario:
    fault: str
    root_service: str
    root_instance: str
    onset: float
    bundle_dir: Path
    alert_path: Path
    truth: dict[str, Any] = field(default_factory=dict)


def generate(fault: str, out_dir: Path, seed: int = 7, onset: float | None = None) -> Scenario:
    """Write `out_dir/bundle/`, `out_dir/alert.json` and `out_dir/truth.json` for one injected `fault`."""
    if fault not in FAULT_KINDS:
        raise ValueError(f"unknown fault {fault!r}: one of {', '.join(FAULT_KINDS)}")
    onset = DEFAULT_ONSET if onset is None else float(onset)
    begin, end = onset - BEFORE_S, onset + AFTER_S
    rng = random.Random(f"autosre-demo/{fault}/{seed}")
    cluster = Cluster(rng, begin)
    the_fault = choose(fault, rng, cluster, onset)
    benign_changes(cluster, onset, the_fault.root)
    cluster.freeze()
    sim = Simulation(rng, cluster, the_fault, TRACE_SAMPLE_RATIO)
    sim.run(begin, end, REQUESTS_PER_MINUTE)
    logs = sim.logs + cluster.logs + cluster.periodic_lines(begin, end) + fault_lines(the_fault, cluster, end, rng)
    series = build_series(sim, cluster, the_fault, begin, end, rng)

    out_dir = Path(out_dir)
    bundle = out_dir / "bundle"
    manifest = {"name": f"demo-shop {fault} seed {seed}", "source": "autosre demo generator (demo/)",
                "services": sorted(SERVICES), "window": {"start": begin, "end": end},
                "requests_per_minute": REQUESTS_PER_MINUTE, "trace_sample_ratio": TRACE_SAMPLE_RATIO}
    with BundleWriter(bundle, manifest) as w:
        for s in sorted(sim.spans, key=lambda s: (s.start, s.span_id)):
            w.span(s)
        for r in sorted((r for r in logs if begin <= r.timestamp < end),
                        key=lambda r: (r.timestamp, r.service, r.instance, r.message)):
            w.log(r)
        for m in series:
            w.series(m)
        for c in sorted(cluster.changes, key=lambda c: (c.timestamp, c.service)):
            w.change(c)

    truth = {"fault": fault, "root_service": the_fault.root, "root_instance": the_fault.instance, "onset": onset,
             "description": the_fault.description, "seed": seed, "candidates": list(CANDIDATES[fault])}
    alert_path = out_dir / "alert.json"
    alert_path.write_text(json.dumps(build_alert(fault, onset, sim.front, rng), indent=2) + "\n")
    (out_dir / "truth.json").write_text(json.dumps(truth, indent=2, sort_keys=True) + "\n")
    return Scenario(fault, the_fault.root, the_fault.instance, onset, bundle, alert_path, truth)
