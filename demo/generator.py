"""A deterministic incident generator: a telemetry bundle of the demo shop with one injected fault, the alert an
SRE would receive for it, and the ground truth. Besides the four fault kinds, the adversarial scenarios of
`demo.adversarial` (a red-herring deploy, an alert on noise, a fault that recovered before triage, two faults at
once, a fault on a service that writes no logs); their truth.json adds `root_services` and what the report should
say (`recovered`, `noisy`, `red_herring`).

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

from demo import outages
from demo.adversarial import ADVERSARIAL_KINDS, Plan, plan
from demo.alert import build_alert
from demo.cluster import Cluster, benign_changes
from demo.faults import FAULT_KINDS, choose, fault_lines
from demo.series import build_series
from demo.shop import CANDIDATES, SERVICES
from demo.sim import Simulation
from shared.telemetry.bundle import BundleWriter

__all__ = ["ADVERSARIAL_KINDS", "ALL_KINDS", "FAULT_KINDS", "Scenario", "generate"]

DEFAULT_ONSET = datetime(2026, 1, 15, 10, 0, tzinfo=UTC).timestamp()
BEFORE_S = 75 * 60
AFTER_S = 15 * 60
REQUESTS_PER_MINUTE = 60
TRACE_SAMPLE_RATIO = 0.25
ALL_KINDS = FAULT_KINDS + ADVERSARIAL_KINDS


@dataclass
class Scenario:
    fault: str
    root_service: str
    root_instance: str
    onset: float
    bundle_dir: Path
    alert_path: Path
    truth: dict[str, Any] = field(default_factory=dict)
    root_services: tuple[str, ...] = ()  # every faulty service (none for an alert on noise)

    @property
    def recovered(self) -> bool:
        return bool(self.truth.get("recovered"))


def generate(fault: str, out_dir: Path, seed: int = 7, onset: float | None = None, after_s: float = AFTER_S,
             fault_ends_at: float | None = None) -> Scenario:
    """Write `out_dir/bundle/`, `out_dir/alert.json` and `out_dir/truth.json` for one injected `fault` (a fault
    kind or an adversarial scenario). `after_s`: how long the bundle runs on after the onset; `fault_ends_at`: the
    fault stops then (a fix that worked), else it lasts to the end."""
    if fault not in ALL_KINDS:
        raise ValueError(f"unknown fault {fault!r}: one of {', '.join(ALL_KINDS)}")
    onset = DEFAULT_ONSET if onset is None else float(onset)
    begin, end = onset - BEFORE_S, onset + after_s
    rng = random.Random(f"autosre-demo/{fault}/{seed}")
    cluster = Cluster(rng, begin)
    scheme: Plan | None = None
    if fault in FAULT_KINDS:
        the_fault = choose(fault, rng, cluster, onset)
    else:
        scheme = plan(fault, rng, cluster, onset)
        the_fault = scheme.fault
    if fault_ends_at is not None:
        for part in (the_fault, *the_fault.also):
            part.end = min(part.end, fault_ends_at)
    benign_changes(cluster, onset, the_fault.root)
    cluster.freeze()
    sim = Simulation(rng, cluster, the_fault, TRACE_SAMPLE_RATIO)
    sim.run(begin, end, REQUESTS_PER_MINUTE)
    logs = sim.logs + cluster.logs + cluster.periodic_lines(begin, end) + fault_lines(the_fault, cluster, end, rng)
    if scheme is not None and scheme.silent:
        logs = [r for r in logs if r.service != scheme.silent]
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
        if scheme is not None and scheme.provider_incidents:  # where the shop runs, and Google's incidents
            for p in outages.placements():
                w.placement(p)
            for i in scheme.provider_incidents:
                w.provider_incident(i)

    truth: dict[str, Any] = {
        "fault": fault, "root_service": the_fault.root, "root_instance": the_fault.instance, "onset": onset,
        "description": the_fault.description if scheme is None else scheme.description, "seed": seed,
        "candidates": list(CANDIDATES.get(fault, ()) if scheme is None else scheme.roots)}
    if scheme is not None:
        truth.update(scheme.truth())
    alert = (build_alert(fault, onset, sim.front, rng) if scheme is None else
             build_alert(scheme.alert_kind, onset, sim.front, rng, noisy=scheme.noisy))
    alert_path = out_dir / "alert.json"
    alert_path.write_text(json.dumps(alert, indent=2) + "\n")
    (out_dir / "truth.json").write_text(json.dumps(truth, indent=2, sort_keys=True) + "\n")
    roots = (the_fault.root,) if scheme is None else scheme.roots
    return Scenario(fault, the_fault.root, the_fault.instance, onset, bundle, alert_path, truth, roots)
