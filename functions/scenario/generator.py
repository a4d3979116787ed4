"""A deterministic incident generator: a realistic telemetry bundle of the demo shop with one injected fault.

Everything downstream of the fault is caused by the mechanism, not painted on: a saturated CPU stretches the
service's own work, callers wait on it through the critical path, their latency rises; a bad deploy makes the
service throw, its callers see 500s and log them, the frontend's error ratio rises. Same inputs, same bytes.
"""

from __future__ import annotations

import json
import math
import random
import string
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from functions.scenario.shop import CANDIDATES, REQUESTS, SERVICES, Call
from shared.telemetry.bundle import BundleWriter
from shared.telemetry.models import ChangeEvent, LogRecord, MetricSeries, Span

FAULT_KINDS = ("bad_deploy", "cpu_saturation", "slow_dependency", "pool_exhaustion")
DEFAULT_ONSET = 1_768_471_200.0  # 2026-01-15T10:00:00Z
BEFORE_S = 75 * 60
AFTER_S = 10 * 60
ALERT_DELAY_S = 120
REQUESTS_PER_MINUTE = 40
PROJECT = "demo-shop"


@dataclass
class Scenario:
    fault: str
    root_service: str
    root_instance: str
    onset: float
    bundle_dir: Path
    alert_path: Path
    truth: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Minute:
    requests: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)


class _Shop:
    def __init__(self, fault: str, seed: int, onset: float):
        self.rng = random.Random(seed)
        self.fault, self.onset = fault, onset
        self.pods = {name: [self._pod(name) for _ in range(s.instances)] for name, s in SERVICES.items()}
        self.root = self.rng.choice(CANDIDATES[fault])
        self.root_instance = self.rng.choice(self.pods[self.root]) if fault == "cpu_saturation" else ""
        self.spans: list[Span] = []
        self.logs: list[LogRecord] = []
        self.minutes: dict[tuple[str, str, int], _Minute] = defaultdict(_Minute)

    def _pod(self, service: str) -> str:
        chars = string.ascii_lowercase + string.digits
        return (f"{service}-{''.join(self.rng.choices(chars, k=10))}-{''.join(self.rng.choices(chars, k=5))}")

    def _hex(self, n: int) -> str:
        return "".join(self.rng.choices("0123456789abcdef", k=n))

    def _fill(self, template: str) -> str:
        r = self.rng
        values = {
            "method": r.choice(["GET", "GET", "POST"]), "path": r.choice(["/product/" + self._hex(6), "/cart", "/"]),
            "status": "200", "ms": str(r.randint(3, 180)), "uid": f"u{r.randint(1000, 99999)}",
            "ip": f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}", "n": str(r.randint(1, 40)),
            "amount": f"{r.uniform(5, 900):.2f}", "oid": "ord-" + self._hex(12), "txid": self._hex(16),
            "n4": str(r.randint(1000, 9999)), "pid": "P" + str(r.randint(100, 999)), "cur": r.choice(["EUR", "JPY"]),
            "zip": str(r.randint(10000, 99999)), "kw": r.choice(["kitchen", "garden", "travel", "books"]),
            "email": f"user{r.randint(1, 9999)}@example.com", "sku": "SKU-" + str(r.randint(10000, 99999)),
            "port": str(r.randint(30000, 60000)),
        }
        return template.format(**values)

    def faulty(self, t: float, service: str, pod: str) -> bool:
        if service != self.root or not (self.onset <= t < self.onset + AFTER_S):
            return False
        return not self.root_instance or pod == self.root_instance

    def _log(self, t: float, service: str, pod: str, severity: str, message: str, trace: str, span: str) -> None:
        self.logs.append(LogRecord(t, service, message, severity, pod, trace, span))

    def call(self, c: Call, start: float, trace: str, parent: str) -> tuple[float, bool, str]:
        """Simulate one call; returns (end time, errored, error text)."""
        rng, svc = self.rng, SERVICES[c.service]
        pod = rng.choice(self.pods[c.service])
        span_id = self._hex(16)
        own = svc.self_ms / 1000 * math.exp(rng.gauss(0, 0.35))
        fault_here = self.faulty(start, c.service, pod)
        error, error_text = rng.random() < 0.001, "internal error"
        if fault_here and self.fault == "cpu_saturation":
            own *= rng.uniform(5, 9)
        elif fault_here and self.fault == "slow_dependency":
            own *= rng.uniform(40, 80)
        elif fault_here and self.fault == "pool_exhaustion":
            waited = rng.uniform(0.2, 1.0)
            own += waited
            if rng.random() < 0.3:
                error, error_text = True, "connection pool timeout"
                self._log(start + waited, c.service, pod, "ERROR",
                          f"Timeout waiting for connection from pool (active={svc.pool_size}, "
                          f"max={svc.pool_size}, waited={int(waited * 1000)}ms)", trace, span_id)
        elif fault_here and self.fault == "bad_deploy" and rng.random() < 0.45:
            error, error_text = True, "NullPointerException"
        t = start + own * 0.6
        child_end, failed_child = t, ""
        for child in c.children:
            begin = t + rng.uniform(0, 0.0005) if c.parallel else child_end
            end, child_error, _ = self.call(child, begin, trace, span_id)
            child_end = max(child_end, end)
            if child_error and not failed_child:
                failed_child = f"{child.service}.{child.operation}"
            if SERVICES[child.service].name and end - begin > 0.5 and not c.parallel:
                self._log(end, c.service, pod, "WARNING",
                          f"call to {child.service}.{child.operation} took {int((end - begin) * 1000)}ms "
                          f"(deadline 500ms)", trace, span_id)
        if failed_child and rng.random() < 0.9:
            error, error_text = True, f"upstream {failed_child} returned 500"
            self._log(child_end, c.service, pod, "ERROR", f"request failed: upstream {failed_child} returned "
                      f"500 Internal Server Error (trace {trace})", trace, span_id)
        if error and error_text == "NullPointerException":
            self._log(t, c.service, pod, "ERROR",
                      f"java.lang.NullPointerException: Cannot invoke \"PriceRule.apply(Order)\" because \"rule\" is "
                      f"null at {c.service.title().replace('-', '')}Handler.{c.operation}(Handler.java:"
                      f"{rng.choice([212, 214])})", trace, span_id)
        end = child_end + own * 0.4
        self.spans.append(Span(trace, span_id, parent, c.service, c.operation, start, end, pod, error,
                               error_text if error else ""))
        if rng.random() < 0.5 and svc.logs:
            self._log(start, c.service, pod, "INFO", self._fill(rng.choice(svc.logs)), trace, span_id)
        if rng.random() < 0.01 and svc.warn_logs:
            self._log(start, c.service, pod, "WARNING", self._fill(rng.choice(svc.warn_logs)), trace, span_id)
        m = self.minutes[(c.service, pod, int(start // 60))]
        m.requests += 1
        m.errors += error
        m.latencies.append((end - start) * 1000)
        return end, error, error_text

    def traffic(self) -> None:
        start = self.onset - BEFORE_S
        for minute in range(int((BEFORE_S + AFTER_S) / 60)):
            for _ in range(REQUESTS_PER_MINUTE):
                t = start + minute * 60 + self.rng.uniform(0, 60)
                request = self.rng.choices([r for r, _ in REQUESTS], [w for _, w in REQUESTS])[0]
                self.call(request, t, self._hex(32), "")

    def series(self) -> list[MetricSeries]:
        out = []
        first = int((self.onset - BEFORE_S) // 60)
        minutes = range(first, first + int((BEFORE_S + AFTER_S) / 60))
        for name, svc in SERVICES.items():
            for pod in self.pods[name]:
                cols: dict[str, list[tuple[float, float]]] = defaultdict(list)
                memory = svc.memory_mb * self.rng.uniform(0.9, 1.1)
                for mi in minutes:
                    t = mi * 60.0 + 60
                    m = self.minutes.get((name, pod, mi), _Minute())
                    hot = self.faulty(mi * 60.0, name, pod)
                    cpu = svc.base_cpu + m.requests * 0.15 + self.rng.gauss(0, 2)
                    if hot and self.fault == "cpu_saturation":
                        cpu = self.rng.uniform(94, 99.5)
                    memory += self.rng.gauss(0.05, 0.6)
                    lat = sorted(m.latencies)
                    cols["cpu_utilization"].append((t, round(max(cpu, 0.5), 3)))
                    cols["memory_usage_mb"].append((t, round(memory, 2)))
                    cols["request_count"].append((t, float(m.requests)))
                    cols["error_count"].append((t, float(m.errors)))
                    if lat:
                        cols["latency_p50_ms"].append((t, round(lat[len(lat) // 2], 3)))
                        cols["latency_p95_ms"].append((t, round(lat[min(len(lat) - 1, int(len(lat) * 0.95))], 3)))
                    if svc.pool_size:
                        used = svc.pool_size * self.rng.uniform(0.15, 0.4)
                        if hot and self.fault == "pool_exhaustion":
                            used = svc.pool_size
                        cols["db_pool_connections_in_use"].append((t, round(used, 1)))
                units = {"cpu_utilization": "%", "memory_usage_mb": "MiBy", "latency_p50_ms": "ms",
                         "latency_p95_ms": "ms", "request_count": "1", "error_count": "1",
                         "db_pool_connections_in_use": "1"}
                out += [MetricSeries(f"custom.googleapis.com/shop/{k}", name, tuple(v), pod, units[k])
                        for k, v in sorted(cols.items())]
        return out

    def changes(self) -> list[ChangeEvent]:
        o = self.onset
        others = [s for s in CANDIDATES["bad_deploy"] if s != self.root]
        benign = [
            ChangeEvent(o - 62 * 60, "email", "deploy", "deploy email revision email-00041 (image v2.3.1)",
                        "ci-bot@demo-shop.iam.gserviceaccount.com", (("revision", "email-00041"),)),
            ChangeEvent(o - 35 * 60, "recommendation", "scale", "autoscaler: recommendation min instances 2 -> 3",
                        "autoscaler", ()),
            ChangeEvent(o - 24 * 60, self.rng.choice(others), "config", "feature flag 'new-banner' enabled",
                        "alice@demo-shop.example", (("flag", "new-banner"),)),
        ]
        if self.fault == "bad_deploy":
            benign.append(ChangeEvent(o - 90, self.root, "deploy",
                                      f"deploy {self.root} revision {self.root}-00118 (image v1.9.0)",
                                      "ci-bot@demo-shop.iam.gserviceaccount.com",
                                      (("revision", f"{self.root}-00118"), ("previous", f"{self.root}-00117"))))
        return sorted(benign, key=lambda c: c.timestamp)


def _alert(fault: str, onset: float) -> dict[str, Any]:
    errors = fault in ("bad_deploy", "pool_exhaustion")
    policy = "Frontend 5xx error ratio" if errors else "Frontend p95 latency"
    return {
        "incident": {
            "incident_id": f"0.demo{int(onset)}{fault[:4]}", "scoping_project_id": PROJECT,
            "scoping_project_number": 424242, "url": f"https://console.cloud.google.com/monitoring/alerting?project="
            f"{PROJECT}", "started_at": int(onset + ALERT_DELAY_S), "ended_at": None, "state": "open",
            "resource_id": "", "resource_name": "frontend", "resource_display_name": "frontend",
            "resource_type_display_name": "Kubernetes Container",
            "resource": {"type": "k8s_container",
                         "labels": {"project_id": PROJECT, "cluster_name": "shop", "namespace_name": "default",
                                    "container_name": "frontend"}},
            "metric": {"type": "custom.googleapis.com/shop/" + ("error_count" if errors else "latency_p95_ms"),
                       "displayName": "errors" if errors else "p95 latency"},
            "policy_name": policy, "policy_user_labels": {"team": "shop"},
            "condition_name": "error ratio > 2%" if errors else "p95 latency > 400 ms",
            "condition": {"name": f"projects/{PROJECT}/alertPolicies/1/conditions/1",
                          "displayName": "error ratio > 2%" if errors else "p95 latency > 400 ms"},
            "summary": f"{policy} for frontend is above the threshold.", "severity": "Error",
        },
        "version": "1.2",
    }


def generate(fault: str, out_dir: Path, seed: int = 7, onset: float | None = None) -> Scenario:
    if fault not in FAULT_KINDS:
        raise ValueError(f"unknown fault {fault!r}: one of {', '.join(FAULT_KINDS)}")
    onset = DEFAULT_ONSET if onset is None else onset
    shop = _Shop(fault, seed, onset)
    shop.traffic()
    out_dir = Path(out_dir)
    bundle = out_dir / "bundle"
    with BundleWriter(bundle, {"name": f"demo-shop {fault} seed {seed}", "source": "autosre demo generator",
                               "services": sorted(SERVICES)}) as w:
        for s in sorted(shop.spans, key=lambda s: (s.start, s.span_id)):
            w.span(s)
        for r in sorted(shop.logs, key=lambda r: (r.timestamp, r.span_id, r.message)):
            w.log(r)
        for m in shop.series():
            w.series(m)
        for c in shop.changes():
            w.change(c)
    truth = {"fault": fault, "root_service": shop.root, "root_instance": shop.root_instance, "onset": onset,
             "seed": seed, "description": f"{fault} injected in {shop.root}"
             + (f" ({shop.root_instance})" if shop.root_instance else "")}
    alert_path = out_dir / "alert.json"
    alert_path.write_text(json.dumps(_alert(fault, onset), indent=2) + "\n")
    (out_dir / "truth.json").write_text(json.dumps(truth, indent=2, sort_keys=True) + "\n")
    return Scenario(fault, shop.root, shop.root_instance, onset, bundle, alert_path, truth)
