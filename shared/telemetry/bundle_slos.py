"""A bundle's SLOs (`slos.jsonl`, one Cloud Monitoring ServiceLevelObjective per line in its REST form), with their
burn rates and error budget computed from the SLI's counts in the bundle's metrics (shared/slo.py): what
`select_slo_burn_rate` and `select_slo_budget_fraction` return on Google Cloud.

Supported SLIs: request-based good/total ratios whose filters name a metric type (`metric.type="..."`) and,
optionally, the service (`resource.labels.service_name="..."`; else the SLO's service, the SERVICE_ID of its name).
The documented rules are enforced: a goal strictly between 0 and 1; a rolling period of whole days, 1 to 30; exactly
two of the good, bad and total filters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.slo import BURN_WINDOWS_S, budget_left, burn_rate
from shared.telemetry_records import ReadResult, SloStatus, Window

if TYPE_CHECKING:
    from shared.ports import TelemetrySource

SLOS = "slos.jsonl"
_NAME = re.compile(r"^projects/[^/]+/services/([^/]+)/serviceLevelObjectives/[^/]+$")
_METRIC = re.compile(r'metric\.type\s*=\s*"([^"]+)"')
_SERVICE = re.compile(r'resource\.labels\.service_name\s*=\s*"([^"]+)"')
DAY_S = 86400


@dataclass(frozen=True)
class SloDefinition:
    name: str
    service: str
    display_name: str
    goal: float
    period_s: float
    good: tuple[str, str] | None  # (metric type, service) of each filter given
    bad: tuple[str, str] | None
    total: tuple[str, str] | None


def _period(text: Any) -> float:
    if not isinstance(text, str) or not re.fullmatch(r"\d+(\.0+)?s", text):
        raise ValueError(f"rollingPeriod must be a duration in seconds ('2419200s'), not {text!r}")
    seconds = float(text[:-1])
    if seconds % DAY_S or not DAY_S <= seconds <= 30 * DAY_S:
        raise ValueError(f"rollingPeriod must be a whole number of days from 1 to 30, not {text}")
    return seconds


def _filter(text: Any, service: str, field: str) -> tuple[str, str] | None:
    if text is None:
        return None
    metric = _METRIC.search(text) if isinstance(text, str) else None
    if metric is None:
        raise ValueError(f"{field} must name a metric type (metric.type=\"...\")")
    named = _SERVICE.search(text)
    return metric.group(1), named.group(1) if named else service


def decode_slo(e: dict[str, Any]) -> SloDefinition:
    name = e["name"]
    match = _NAME.match(name) if isinstance(name, str) else None
    if match is None:
        raise ValueError(f"name must be projects/P/services/S/serviceLevelObjectives/O, not {name!r}")
    goal = e["goal"]
    if isinstance(goal, bool) or not isinstance(goal, (int, float)) or not 0 < goal < 1:
        raise ValueError(f"goal must be a number strictly between 0 and 1, not {goal!r}")
    if "calendarPeriod" in e:
        raise ValueError("calendarPeriod SLOs are not read from a bundle: use rollingPeriod")
    ratio = ((e.get("serviceLevelIndicator") or {}).get("requestBased") or {}).get("goodTotalRatio")
    if not isinstance(ratio, dict):
        raise ValueError("serviceLevelIndicator.requestBased.goodTotalRatio is required")
    service = match.group(1)
    good, bad, total = (_filter(ratio.get(f"{k}ServiceFilter"), service, f"{k}ServiceFilter")
                        for k in ("good", "bad", "total"))
    if sum(f is not None for f in (good, bad, total)) != 2:
        raise ValueError("goodTotalRatio needs exactly two of goodServiceFilter, badServiceFilter, totalServiceFilter")
    return SloDefinition(name, service, str(e.get("displayName") or name.rsplit("/", 1)[-1]), float(goal),
                         _period(e.get("rollingPeriod")), good, bad, total)


def _counts(source: TelemetrySource, window: Window, which: tuple[str, str] | None) -> dict[float, float]:
    if which is None:
        return {}
    metric, service = which
    out: dict[float, float] = {}
    for series in source.metrics(window, [service]).items:
        if series.metric == metric:
            for t, v in series.points:
                out[t] = out.get(t, 0.0) + v
    return out


def status(source: TelemetrySource, slo: SloDefinition, at: float) -> SloStatus:
    """The SLO's burn rates over 5 min, 1 h and 6 h and its budget left, at `at`, from the source's metrics."""
    span = max(slo.period_s, max(BURN_WINDOWS_S))
    window = Window(at - span, at + 1e-6)  # windows are (at - w, at]: the point at `at` counts
    good, bad, total = (_counts(source, window, f) for f in (slo.good, slo.bad, slo.total))
    times = sorted(set(good) | set(bad) | set(total))
    buckets = []
    for t in times:
        n = total.get(t, good.get(t, 0.0) + bad.get(t, 0.0))
        b = bad.get(t, n - good.get(t, 0.0))
        buckets.append((t, max(0.0, b), n))
    burns = tuple((w, burn_rate(buckets, slo.goal, at, w)) for w in BURN_WINDOWS_S)
    covered = min(slo.period_s, at - times[0]) if times else 0.0
    return SloStatus(slo=slo.name, service=slo.service, display_name=slo.display_name, goal=slo.goal,
                     period_s=slo.period_s, at=at, burn=burns,
                     budget_left=budget_left(buckets, slo.goal, at, slo.period_s), budget_span_s=covered)


class BundleSlos:
    """The `SloReader` of a bundle with a slos.jsonl."""

    def __init__(self, source: TelemetrySource, slos: list[SloDefinition], note: str = ""):
        self.source, self.slos, self.note = source, slos, note

    def slo_status(self, at: float, services: list[str]) -> ReadResult[SloStatus]:
        found = [status(self.source, s, at) for s in self.slos if s.service in services]
        return ReadResult(found, sampled=bool(self.note), note=self.note)
