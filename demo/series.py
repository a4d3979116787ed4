"""Per-pod metric series, one point a minute, from what the simulation counted: CPU (% of the limit), memory,
requests, errors, latency percentiles, and for pooled clients the connections in use and the acquire timeouts."""

from __future__ import annotations

import math
import random

from demo.cluster import Cluster
from demo.faults import CPU_SATURATED, Fault
from demo.shop import SERVICES
from demo.sim import Minute, Simulation
from shared.telemetry_records import MetricSeries

PREFIX = "custom.googleapis.com/shop/"
UNITS = {"cpu_utilization": "%", "memory_usage": "MiBy", "request_count": "1", "error_count": "1",
         "latency_p50_ms": "ms", "latency_p95_ms": "ms", "latency_p99_ms": "ms",
         "db_pool_connections_in_use": "1", "db_pool_acquire_timeouts": "1"}
MIN_LIVE_S = 30.0  # a pod alive for less of a minute reports no point for it
_EMPTY = Minute()


def _quantile(ordered: list[float], q: float) -> float:
    """Nearest-rank quantile of a sorted list."""
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def build_series(sim: Simulation, cluster: Cluster, fault: Fault, begin: float, end: float,
                 rng: random.Random) -> list[MetricSeries]:
    out: list[MetricSeries] = []
    for name, svc in SERVICES.items():
        for pod in cluster.pods[name]:
            cols: dict[str, list[tuple[float, float]]] = {k: [] for k in UNITS}
            fresh = pod.start > begin
            target = svc.memory_mb * rng.uniform(0.9, 1.1)
            memory = target * (0.55 if fresh else rng.uniform(0.92, 1.0))
            for minute in range(int(begin // 60), math.ceil(end / 60)):
                a, b = minute * 60.0, minute * 60.0 + 60.0
                live = min(b, pod.end, end) - max(a, pod.start, begin)
                if live < MIN_LIVE_S:
                    continue
                m = sim.minutes.get((pod.name, minute), _EMPTY)
                cpu = svc.cpu_base * live / 60 + svc.cpu_per_call * m.calls + rng.gauss(0, 0.8)
                saturated = fault.cpu(pod.name, a, b)
                if saturated is not None:
                    cpu = (1 - saturated) * cpu + saturated * rng.uniform(*CPU_SATURATED)
                memory += (target - memory) * (0.15 if fresh else 0.02) + rng.gauss(0.2, 0.6) * svc.memory_mb / 400
                if svc.runtime == "java" and rng.random() < 0.1:  # an old-generation collection
                    memory *= rng.uniform(0.86, 0.93)
                cols["cpu_utilization"].append((b, round(min(100.0, max(0.3, cpu)), 2)))
                cols["memory_usage"].append((b, round(memory, 1)))
                cols["request_count"].append((b, float(m.calls)))
                cols["error_count"].append((b, float(m.errors)))
                if m.latencies_ms:
                    ordered = sorted(m.latencies_ms)
                    for q, key in ((0.5, "latency_p50_ms"), (0.95, "latency_p95_ms"), (0.99, "latency_p99_ms")):
                        cols[key].append((b, round(_quantile(ordered, q), 3)))
                if svc.pool is not None:
                    busy = m.held_s / 60  # Little's law: connections in use on average
                    in_use = fault.leaked(name, pod.name, b) + int(busy) + (rng.random() < busy % 1 + 0.15)
                    cols["db_pool_connections_in_use"].append((b, float(min(svc.pool.size, in_use))))
                    cols["db_pool_acquire_timeouts"].append((b, float(m.timeouts)))
            labels = (("pool", svc.pool.datastore), ("max_size", str(svc.pool.size))) if svc.pool else ()
            for key, points in cols.items():
                if points:
                    out.append(MetricSeries(PREFIX + key, name, tuple(points), pod.name, UNITS[key],
                                            labels if key.startswith("db_pool") else ()))
    return out
