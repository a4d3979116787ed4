"""Adversarial scenarios: incidents built to mislead a root-cause analyst, each with its truth.

- red_herring_deploy: a real fault (CPU saturation, a slow datastore or a leaking pool) and, 1-3 min before its
  onset, a healthy rollout of another service (new pods, startup lines, fresh memory curves: no fault).
- noisy_healthy: nothing is wrong; the latency policy's threshold sits just under what ordinary noise reached,
  so the alert fires on noise. The truth names no service.
- recovered: a transient fault (a stalled disk, a CPU-pinned pod) that ends by itself 3-4 min after its onset,
  after the alert fired but before the triage looked: the frontend's numbers are back to normal at the end of
  the incident window. The truth: the root service, recovered; the right action is none.
- dual_fault: two faults of different kinds on two different services at the same time. The truth: both.
- silent_service: one of the four faults on a service whose logs never reach the telemetry (a broken log
  agent): only its traces, metrics and changes show it.
- regional_outage / unrelated_outage: a Google Cloud incident that is the cause, or incidents that are not
  (demo/outages.py).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from demo import outages
from demo.cluster import Cluster
from demo.faults import FAULT_KINDS, Fault, choose
from demo.shop import SERVICES
from shared.telemetry_records import ProviderIncident

ADVERSARIAL_KINDS = ("red_herring_deploy", "noisy_healthy", "recovered", "dual_fault", "silent_service",
                     "regional_outage", "unrelated_outage")
UNRELATED_OUTAGE_FAULTS = ("cpu_saturation", "bad_deploy")  # faults that leave the managed datastores healthy
HERRING_MECHANISMS = ("cpu_saturation", "slow_dependency", "pool_exhaustion")  # not a deploy: the herring is the deploy
RECOVERING_MECHANISMS = ("cpu_saturation", "slow_dependency")  # faults that stop by themselves
RECOVERS_AFTER_S = (170.0, 220.0)  # onset to the fault's end: after the alert (onset + 120-150 s), before triage
HERRING_BEFORE_S = (60.0, 180.0)  # the healthy rollout starts this long before the onset


@dataclass
class Plan:
    """What one adversarial scenario injects, and what is true about it."""

    fault: Fault  # what the simulation runs (a second fault in `also`)
    alert_kind: str  # the fault kind whose policy fires (error ratio or p95 latency)
    roots: tuple[str, ...]  # the faulty services (none for an alert on noise)
    description: str
    noisy: bool = False  # the alert's threshold sits just under ordinary noise
    silent: str = ""  # a service whose log lines never reach the telemetry
    herring: str = ""  # a service rolled out, healthy, shortly before the onset
    recovered_at: float | None = None  # when the fault ended by itself
    provider_incidents: tuple[ProviderIncident, ...] = ()  # Google Cloud's incidents on Service Health
    outside_cause: str = ""  # the one of them that caused the fault

    def truth(self) -> dict[str, object]:
        return {"root_services": list(self.roots), "alert_kind": self.alert_kind, "noisy": self.noisy,
                "silent_service": self.silent, "red_herring": self.herring, "recovered": self.recovered_at is not None,
                "recovered_at": self.recovered_at, "outside_cause": self.outside_cause,
                "provider_incidents": [p.event for p in self.provider_incidents]}


def plan(kind: str, rng: random.Random, cluster: Cluster, onset: float) -> Plan:
    if kind == "red_herring_deploy":
        fault = choose(rng.choice(HERRING_MECHANISMS), rng, cluster, onset)
        apps = [n for n, s in SERVICES.items() if not s.datastore and n not in (fault.root, "frontend")]
        herring = rng.choice(apps)
        at = onset - rng.uniform(*HERRING_BEFORE_S)
        major, minor, patch = (int(x) for x in cluster.images[herring].lstrip("v").split("."))
        cluster.rollout(herring, at, at + rng.uniform(30, 60), rng.uniform(25, 45), f"v{major}.{minor}.{patch + 1}",
                        "release train")
        return Plan(fault, fault.kind, (fault.root,), f"{fault.description}; red herring: a healthy rollout of "
                    f"{herring} {onset - at:.0f}s before the onset", herring=herring)
    if kind == "noisy_healthy":
        fault = Fault("none", "", onset, description="nothing is wrong: the latency alert fires on ordinary noise")
        return Plan(fault, "cpu_saturation", (), fault.description, noisy=True)
    if kind == "recovered":
        fault = choose(rng.choice(RECOVERING_MECHANISMS), rng, cluster, onset)
        fault.end = onset + rng.uniform(*RECOVERS_AFTER_S)
        return Plan(fault, fault.kind, (fault.root,), f"{fault.description}; it ended by itself "
                    f"{fault.end - onset:.0f}s after the onset, before the triage", recovered_at=fault.end)
    if kind == "dual_fault":
        first_kind = rng.choice(FAULT_KINDS)
        second_kind = rng.choice([k for k in FAULT_KINDS if k != first_kind])
        first = choose(first_kind, rng, cluster, onset)
        second = choose(second_kind, rng, cluster, onset, exclude=(first.root,))
        first.also = (second,)
        return Plan(first, first.kind, (first.root, second.root),
                    f"two faults at once: {first.description}; and {second.description}")
    if kind == "silent_service":
        fault = choose(rng.choice(FAULT_KINDS), rng, cluster, onset)
        return Plan(fault, fault.kind, (fault.root,), f"{fault.description}; {fault.root} writes no log line "
                    "(its log agent is down)", silent=fault.root)
    if kind == "regional_outage":
        fault = choose("slow_dependency", rng, cluster, onset)
        found = outages.regional(fault.root, onset, rng)
        return Plan(fault, fault.kind, (fault.root,), f"{fault.description}; the cause: a Google Cloud incident "
                    f"({found[0].title})", provider_incidents=found, outside_cause=found[0].event)
    if kind == "unrelated_outage":
        fault = choose(rng.choice(UNRELATED_OUTAGE_FAULTS), rng, cluster, onset)
        found = outages.unrelated(fault.root, onset, rng)
        return Plan(fault, fault.kind, (fault.root,), f"{fault.description}; Google Cloud incidents that do not "
                    f"explain it: {'; '.join(p.title for p in found)}", provider_incidents=found)
    raise ValueError(f"unknown adversarial scenario {kind!r}: one of {', '.join(ADVERSARIAL_KINDS)}")
