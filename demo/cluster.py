"""The shop's pods over time and the changes made to them: Deployments get pods named `<svc>-<hash>-<5>` (the
ReplicaSet's pod-template hash, then the pod's own suffix), the datastores are StatefulSets (`<svc>-0`, `-1`).
A rollout replaces a Deployment's pods one by one (new pod ready, then an old one stops); a scale-up adds one.
Every change is also an audit-log `ChangeEvent`, and pods write their startup and shutdown lines.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from demo.shop import SERVICES, Service
from demo.texts import SHUTDOWN, STARTUP, Fields, fill
from shared.telemetry_records import ChangeEvent, LogRecord

KUBE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what Kubernetes draws generated names from
CI_ACTOR = "cloud-deploy@demo-shop-prod.iam.gserviceaccount.com"
NAMESPACE = "shop"
LISTEN = {"frontend": 8080}


@dataclass
class Pod:
    name: str
    service: str
    start: float  # ready to serve
    end: float = math.inf  # stopped
    image: str = ""

    def alive(self, t: float) -> bool:
        return self.start <= t < self.end


@dataclass
class Cluster:
    rng: random.Random
    begin: float
    pods: dict[str, list[Pod]] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)
    revisions: dict[str, int] = field(default_factory=dict)
    changes: list[ChangeEvent] = field(default_factory=list)
    logs: list[LogRecord] = field(default_factory=list)
    _changing: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        for name, svc in SERVICES.items():
            self.images[name] = f"v{self.rng.randint(1, 3)}.{self.rng.randint(0, 14)}.{self.rng.randint(0, 9)}"
            self.revisions[name] = self.rng.randint(12, 180)
            if svc.datastore:
                self.pods[name] = [Pod(f"{name}-{i}", name, -math.inf, image=self.images[name])
                                   for i in range(svc.replicas)]
            else:
                rs = self._hash()
                self.pods[name] = [Pod(self._pod_name(name, rs), name, -math.inf, image=self.images[name])
                                   for _ in range(svc.replicas)]

    def _hash(self) -> str:
        return "".join(self.rng.choices(KUBE_ALPHABET, k=self.rng.choice((9, 10))))

    def _pod_name(self, service: str, rs: str) -> str:
        return f"{service}-{rs}-{''.join(self.rng.choices(KUBE_ALPHABET, k=5))}"

    # ------------------------------------------------------------ serving

    def alive(self, service: str, t: float) -> list[Pod]:
        return [p for p in self.pods[service] if p.start <= t < p.end]

    def pick(self, service: str, t: float, primary: bool) -> Pod:
        """The pod a call lands on: any ready one (the first for writes to a primary)."""
        pods = self.pods[service]
        if primary:
            return pods[0]
        if service not in self._changing:
            return pods[int(self.rng.random() * len(pods))]
        alive = [p for p in pods if p.start <= t < p.end] or pods
        return alive[int(self.rng.random() * len(alive))]

    def freeze(self) -> None:
        """Changes are all made: remember which services' pods change over time (the others need no filtering)."""
        self._changing = {name for name, pods in self.pods.items()
                          if any(p.start != -math.inf or p.end != math.inf for p in pods)}

    # ------------------------------------------------------------ changes

    def rollout(self, service: str, at: float, first_ready: float, step_s: float, image: str, why: str) -> list[Pod]:
        """Replace the service's pods with pods of a new ReplicaSet running `image`; returns the new pods."""
        old = [p for p in self.pods[service] if p.end == math.inf]
        previous, self.images[service] = self.images[service], image
        self.revisions[service] += 1
        rs = self._hash()
        new: list[Pod] = []
        for i, gone in enumerate(old):
            ready = first_ready + i * step_s * self.rng.uniform(0.85, 1.15)
            pod = Pod(self._pod_name(service, rs), service, ready, image=image)
            new.append(pod)
            self._started(pod, ready)
            gone.end = ready + self.rng.uniform(1.0, 4.0)
            self._stopping(gone)
        self.pods[service].extend(new)
        rev = str(self.revisions[service])
        self.changes.append(ChangeEvent(
            at, service, "deploy", f"rollout of {service}: image {previous} -> {image} (revision {rev}, {why})",
            CI_ACTOR, (("methodName", "io.k8s.apps.v1.deployments.patch"),
                       ("resourceName", f"apps/v1/namespaces/{NAMESPACE}/deployments/{service}"),
                       ("image", f"europe-docker.pkg.dev/demo-shop-prod/shop/{service}:{image}"),
                       ("previous_image", f"europe-docker.pkg.dev/demo-shop-prod/shop/{service}:{previous}"),
                       ("revision", rev), ("replicaset", f"{service}-{rs}"))))
        return new

    def scale_up(self, service: str, at: float, actor: str) -> Pod:
        before = len([p for p in self.pods[service] if p.end == math.inf])
        rs = self.pods[service][-1].name.rsplit("-", 2)[-2]
        pod = Pod(self._pod_name(service, rs), service, at + self.rng.uniform(20, 45), image=self.images[service])
        self.pods[service].append(pod)
        self._started(pod, pod.start)
        self.changes.append(ChangeEvent(
            at, service, "scale", f"scaled {service} from {before} to {before + 1} replicas", actor,
            (("methodName", "io.k8s.apps.v1.deployments.scale.patch"),
             ("resourceName", f"apps/v1/namespaces/{NAMESPACE}/deployments/{service}/scale"),
             ("replicas", str(before + 1)))))
        return pod

    def configure(self, service: str, at: float, key: str, old: str, new: str, actor: str) -> None:
        self.changes.append(ChangeEvent(
            at, service, "config", f"ConfigMap {service}-config: {key} {old} -> {new}", actor,
            (("methodName", "io.k8s.core.v1.configmaps.update"),
             ("resourceName", f"core/v1/namespaces/{NAMESPACE}/configmaps/{service}-config"),
             ("key", key), ("old_value", old), ("new_value", new))))

    # ------------------------------------------------------------ lines outside requests

    def periodic_lines(self, begin: float, end: float) -> list[LogRecord]:
        """Each pod's housekeeping lines (cache reloads, checkpoints, snapshots) at their intervals."""
        out: list[LogRecord] = []
        for name, svc in SERVICES.items():
            for pod in self.pods[name]:
                for job in svc.background:
                    t = max(begin, pod.start) + self.rng.uniform(0, job.every_s)
                    while t < min(end, pod.end):
                        fields = self._fields(pod, t)  # one job's lines share their values (a child's pid)
                        for i, (severity, template) in enumerate(job.lines):
                            at = t + i * self.rng.uniform(0.05, 2.0)
                            fields["t"] = at
                            fields.pop("rts", None)
                            out.append(LogRecord(at, name, fill(template, fields), severity, pod.name))
                        t += job.every_s * self.rng.uniform(0.98, 1.02)
        return out

    def _fields(self, pod: Pod, t: float) -> Fields:
        svc: Service = SERVICES[pod.service]
        ctx = {"t": t, "svc": pod.service, "image": pod.image, "listen": LISTEN.get(pod.service, 5050),
               "app": svc.app or "Application", "secs": f"{self.rng.uniform(6, 11):.3f}",
               "secs2": f"{self.rng.uniform(11, 14):.3f}"}
        return Fields(self.rng, (), ctx)

    def _started(self, pod: Pod, ready: float) -> None:
        runtime = SERVICES[pod.service].runtime
        lines = STARTUP[runtime]
        for i, template in enumerate(lines):
            t = ready - (len(lines) - i) * self.rng.uniform(0.3, 2.5)
            self.logs.append(LogRecord(t, pod.service, fill(template, self._fields(pod, t)), "INFO", pod.name))

    def _stopping(self, pod: Pod) -> None:
        t = pod.end - self.rng.uniform(0.2, 0.9)
        text = fill(SHUTDOWN[SERVICES[pod.service].runtime], self._fields(pod, t))
        self.logs.append(LogRecord(t, pod.service, text, "INFO", pod.name))


BENIGN_CONFIG = (
    ("CACHE_TTL_SECONDS", "300", "600"), ("LOG_SAMPLING_RATIO", "0.10", "0.05"),
    ("FEATURE_NEW_BANNER", "false", "true"), ("MAX_RESULTS", "4", "5"), ("OTEL_BSP_MAX_QUEUE_SIZE", "2048", "4096"),
)
PEOPLE = ("alice@demo-shop.example", "bob@demo-shop.example", "chen@demo-shop.example")


def benign_changes(cluster: Cluster, onset: float, root: str) -> None:
    """Everyday changes on other services, well before the onset: a rollout, a scale-up, a config tweak."""
    rng = cluster.rng
    apps = [n for n, s in SERVICES.items() if not s.datastore and n != root]
    deployed, scaled, configured = rng.sample(apps, 3)
    at = onset - rng.uniform(50, 64) * 60
    major, minor, patch = (int(x) for x in cluster.images[deployed].lstrip("v").split("."))
    cluster.rollout(deployed, at, at + rng.uniform(40, 80), rng.uniform(25, 45), f"v{major}.{minor}.{patch + 1}",
                    "scheduled release")
    cluster.scale_up(scaled, onset - rng.uniform(28, 42) * 60, rng.choice(PEOPLE))
    key, old, new = rng.choice(BENIGN_CONFIG)
    cluster.configure(configured, onset - rng.uniform(17, 24) * 60, key, old, new, rng.choice(PEOPLE))
