"""What generic words in a metric's name say about it, in one place: which way is bad, and which role the metric
plays for a service (what users see, the load its callers send, or a resource it saturates on its own).

The two are separate questions: `throughput` is bad when it falls (direction) and is load set by callers (role),
so a drop is evidence that something happens there, not that the service is at fault. Nothing here names a
system or a dataset; the words are the ones metric names use across exporters.
"""

from __future__ import annotations

from typing import Literal

MetricRole = Literal["symptom", "load", "resource"]

# Direction: which way is bad.
UP_BAD = ("error", "fail", "latency", "duration", "cpu", "memory", "pool", "queue", "timeout", "restart", "saturat",
          "utiliz", "usage", "wait", "throttl", "5xx", "4xx", "drop", "retrans", "p50", "p90", "p95", "p99", "oom",
          "evict", "backlog")
DOWN_BAD = ("success", "availab", "throughput", "ok_", "healthy", "uptime", "hit_rate", "hit_ratio")
HOST_WORDS = ("node",)  # a node's figures are shared by every pod on it: weaker evidence about one service

# Role: what users see of a service (a symptom, possibly propagated) ...
SYMPTOM_WORDS = ("latency", "duration", "response", "error", "fail", "success", "timeout", "5xx", "4xx",
                 "p50", "p90", "p95", "p99", "availab", "apdex", "slo")
# ... how much load reaches it (set by its callers and retries, not by its health) ...
LOAD_WORDS = ("receive", "transmit", "bytes", "packet", "syscall", "workload", "traffic", "rps", "qps", "throughput")
# Request and invocation counts, whatever the exporter calls them (`requests`, `RequestCount`, `invocations`).
REQUEST_WORDS = ("request", "invocation")
# ... and the resources a service saturates on its own.
RESOURCE_WORDS = ("cpu", "memory", "mem_", "heap", "gc", "thread", "pool", "connection", "fd", "file_desc", "disk",
                  "oom", "throttl", "restart", "evict", "saturat", "utiliz", "queue")
# Among the resources: compute a service can be given more of, and pools it can be restarted out of.
SATURATION_WORDS = ("cpu", "memory", "utiliz", "throttl")
POOL_WORDS = ("pool", "connection", "thread")
# Among the symptoms: time, what a caller's wait on a slower callee shows as.
LATENCY_WORDS = ("latency", "duration", "response_time", "p50", "p90", "p95", "p99", "wait")


# Units that bound a series to a share of a whole (Cloud Monitoring's "%" and "10^2.%"; UCUM's "%"): a good-outcome
# ratio in such a unit is read as the share of requests that failed, not as a level.
PERCENT_UNITS = ("%", "10^2.%", "percent")
FAILED_SHARE_RULE = True  # off: such a series is read as any other level (bench/rules.py measures the difference)


def _has(name: str, words: tuple[str, ...]) -> bool:
    lowered = name.lower()
    return any(w in lowered for w in words)


def direction(metric: str) -> int:
    """+1 when up is bad, -1 when down is bad, 0 when either may be."""
    if _has(metric, DOWN_BAD):
        return -1
    if _has(metric, UP_BAD):
        return 1
    return 0


def ratio_ceiling(metric: str, unit: str, values: list[float]) -> float | None:
    """The whole a good-outcome share is measured against (100 for a percent, 1 for a fraction), or None when the
    series is not a share of good outcomes. A unit of percent says so (whatever the values: a series adjusted for
    the time of day may stray past 100); without one, a down-is-bad series whose values all lie in [0, 1] and are
    not all whole numbers is taken as a fraction."""
    if not FAILED_SHARE_RULE or direction(metric) >= 0 or not values:
        return None
    if unit.strip().lower() in PERCENT_UNITS:
        return 100.0
    if unit.strip() in ("", "1") and all(0.0 <= v <= 1.0 for v in values) and not all(v.is_integer() for v in values):
        return 1.0
    return None


def is_host_level(metric: str) -> bool:
    return _has(metric, HOST_WORDS)


def metric_role(metric: str) -> MetricRole | None:
    """The first role the name states, in the order symptom, load, resource (None: it states none)."""
    if _has(metric, SYMPTOM_WORDS):
        return "symptom"
    if _has(metric, LOAD_WORDS) or _has(metric, REQUEST_WORDS):
        return "load"
    if _has(metric, RESOURCE_WORDS):
        return "resource"
    return None


def names_saturation(text: str) -> bool:
    return _has(text, SATURATION_WORDS)


def names_latency(text: str) -> bool:
    return _has(text, LATENCY_WORDS)


def names_pool(text: str) -> bool:
    return _has(text, POOL_WORDS)
