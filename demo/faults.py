"""The four injected faults as mechanisms: each changes how the root service works from the onset on, and the
simulation carries the consequences (slower own work, exceptions, a pool that runs dry) up the call graph.

- bad_deploy: a rollout of the root ~1-3 min before the onset; from the onset, its new pods throw on the
  operations the change broke, on a share of calls.
- cpu_saturation: one pod of the root pinned at ~97% CPU; its own work stretches (queueing on the CPU).
- slow_dependency: a datastore answers slowly (a stalled disk): hundreds of ms added per command.
- pool_exhaustion: the root leaks connections of its pool from the onset; once the pool is full, calls wait for a
  connection until the acquire timeout, and most give up.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from demo.cluster import Cluster
from demo.shop import CANDIDATES, SERVICES
from demo.texts import CRASH, Fields, fill
from shared.telemetry_records import LogRecord

FAULT_KINDS = ("bad_deploy", "cpu_saturation", "slow_dependency", "pool_exhaustion")
CPU_STRETCH = 6.0  # median factor on the own work of a CPU-starved pod
CFS_PERIOD_S = 0.1  # the kernel's CPU-quota period
THROTTLED = 0.45  # chance a call is throttled (once per try, up to three periods)
CPU_SATURATED = (94.5, 99.8)
AOF_EVERY_S = (15.0, 45.0)
LEAK_DETECTION_S = 30.0  # HikariCP leakDetectionThreshold


@dataclass
class Fault:
    kind: str
    root: str
    onset: float
    instance: str = ""  # cpu_saturation: the saturated pod
    bad_pods: frozenset[str] = frozenset()  # bad_deploy: the new revision's pods
    failing_ops: tuple[str, ...] = ()
    fail_ratio: float = 0.0
    ramp_s: dict[str, float] = field(default_factory=dict)  # pool_exhaustion: per pod, onset to a full pool
    description: str = ""
    end: float = math.inf  # the fault stops here (a transient fault that recovered on its own)
    also: tuple[Fault, ...] = ()  # further faults at the same time, on other services

    def _other(self, service: str) -> Fault | None:
        return next((f for f in self.also if f.root == service), None)

    def stretch(self, own: float, t: float, service: str, pod: str, rng: random.Random) -> float:
        """The own work of a call after the fault: slower on a starved CPU or a stalled datastore."""
        other = self._other(service) if self.also else None
        if other is not None:
            return other.stretch(own, t, service, pod, rng)
        if service != self.root or t < self.onset or t >= self.end:
            return own
        if self.kind == "cpu_saturation" and pod == self.instance:
            # a slower share of the CPU, and CFS throttling: out of quota, the container stalls to the period's end
            stalls = sum(rng.random() < THROTTLED for _ in range(3))
            return own * CPU_STRETCH * rng.lognormvariate(0.0, 0.5) + sum(
                rng.uniform(0.0, CFS_PERIOD_S) for _ in range(stalls))
        if self.kind == "slow_dependency":
            return own + SERVICES[service].slow_ms / 1000 * rng.lognormvariate(0.0, 0.7)
        return own

    def crashes(self, t: float, service: str, pod: str, op: str, rng: random.Random) -> bool:
        other = self._other(service) if self.also else None
        if other is not None:
            return other.crashes(t, service, pod, op, rng)
        return (self.kind == "bad_deploy" and service == self.root and pod in self.bad_pods and t >= self.onset
                and t < self.end and op in self.failing_ops and rng.random() < self.fail_ratio)

    def leaked(self, service: str, pod: str, t: float) -> int:
        """Connections of the pod's pool that were taken and never given back."""
        other = self._other(service) if self.also else None
        if other is not None:
            return other.leaked(service, pod, t)
        if self.kind != "pool_exhaustion" or service != self.root or t < self.onset or t >= self.end:
            return 0
        pool = SERVICES[service].pool
        assert pool is not None
        return min(pool.size, int(pool.size * (t - self.onset) / self.ramp_s[pod]) + 1)

    def cpu(self, pod: str, start: float, end: float) -> float | None:
        """The share of [start, end) the pod spent saturated, or None if it was not."""
        for other in self.also:
            share = other.cpu(pod, start, end)
            if share is not None:
                return share
        if self.kind != "cpu_saturation" or pod != self.instance or end <= self.onset or start >= self.end:
            return None
        return (min(end, self.end) - max(start, self.onset)) / (end - start)


def choose(kind: str, rng: random.Random, cluster: Cluster, onset: float, exclude: tuple[str, ...] = ()) -> Fault:
    """Pick the root among the plausible services (not in `exclude`) and set the fault up (a bad rollout happens
    here)."""
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault {kind!r}: one of {', '.join(FAULT_KINDS)}")
    root = rng.choice([c for c in CANDIDATES[kind] if c not in exclude] if exclude else CANDIDATES[kind])
    svc = SERVICES[root]
    if kind == "bad_deploy":
        ready_after = rng.uniform(60, 150)
        major, minor, _ = (int(x) for x in cluster.images[root].lstrip("v").split("."))
        image = f"v{major}.{minor + 1}.0"
        new = cluster.rollout(root, onset - ready_after, onset, rng.uniform(25, 45), image, "release train")
        ops = sorted(svc.ops)
        failing = tuple(sorted(rng.sample(ops, 1 if len(ops) == 1 else rng.randint(1, min(2, len(ops))))))
        ratio = round(rng.uniform(0.5, 0.85), 2)
        exc = CRASH[svc.runtime][1]
        return Fault(kind, root, onset, "", frozenset(p.name for p in new), failing, ratio,
                     description=(f"bad deploy: {root} {image} (rolled out {ready_after:.0f}s before the onset) "
                                  f"throws {exc} in {', '.join(svc.ops[o].span for o in failing)} on ~{ratio:.0%} "
                                  f"of calls; callers fail with it up to the frontend"))
    if kind == "cpu_saturation":
        pod = rng.choice(cluster.alive(root, onset)).name
        return Fault(kind, root, onset, pod, description=(
            f"CPU saturation: pod {pod} of {root} pinned at ~97% CPU from the onset; its own work slows down "
            f"~{CPU_STRETCH:.0f}x, CPU throttling stalls calls for tens of ms, and its callers wait on it"))
    if kind == "slow_dependency":
        return Fault(kind, root, onset, description=(
            f"slow dependency: {root} answers ~{svc.slow_ms:.0f} ms slower per command from the onset (stalled "
            f"disk); callers slow down and some time out"))
    pool = svc.pool
    assert pool is not None
    ramp = {p.name: rng.uniform(40, 90) for p in cluster.alive(root, onset)}
    return Fault(kind, root, onset, ramp_s=ramp, description=(
        f"pool exhaustion: {root} leaks connections to {pool.datastore} from the onset; its pool of {pool.size} is "
        f"full after ~{min(ramp.values()):.0f}-{max(ramp.values()):.0f}s and calls time out waiting for a "
        f"connection ({pool.acquire_timeout_ms} ms)"))


def fault_lines(fault: Fault, cluster: Cluster, until: float, rng: random.Random) -> list[LogRecord]:
    """Lines the fault makes outside any request: a stalled Redis' fsync warnings, a pool's leak detector."""
    out: list[LogRecord] = []
    for other in fault.also:
        out += fault_lines(other, cluster, until, rng)
    if fault.root not in SERVICES:  # no fault at all (an alert on noise)
        return out
    svc = SERVICES[fault.root]
    until = min(until, fault.end)
    if fault.kind == "slow_dependency" and svc.runtime == "redis":
        for pod in cluster.alive(fault.root, fault.onset):
            t = fault.onset + rng.uniform(*AOF_EVERY_S) / 3
            while t < until:
                text = fill("1:M {rts} * Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF "
                            "buffer without waiting for fsync to complete, this may slow down Redis.",
                            Fields(rng, (), {"t": t}))
                out.append(LogRecord(t, fault.root, text, "WARNING", pod.name))
                t += rng.uniform(*AOF_EVERY_S)
    if fault.kind == "pool_exhaustion" and svc.pool is not None and svc.pool.leak_log:
        for name, ramp in fault.ramp_s.items():
            for k in range(svc.pool.size):
                t = fault.onset + ramp * k / svc.pool.size + LEAK_DETECTION_S
                if t < until:
                    text = fill(svc.pool.leak_log, Fields(rng, (), {"t": t}))
                    out.append(LogRecord(t, fault.root, text, "WARNING", name))
    return out
