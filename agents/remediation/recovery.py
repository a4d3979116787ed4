"""After an action ran: did the alerting SLI come back? A pure verdict over the points read, with its numbers.

The SLI is read over a window after the action and compared with the incident (from the alert's onset to the
action) and the baseline before it. Which way is worse is what the incident did: up from the baseline, or down.
The line that separates recovered from not is the alert's threshold when it states one and the baseline stays on
its good side, else halfway between the incident's level and the baseline's.

- recovered: the last `sustain` points are all on the good side of that line;
- not recovered: the last point is on the bad side;
- inconclusive: too few points after the action, no line to compare with, or the SLI still flapping across it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from statistics import fmean
from typing import Literal

from shared.models import RecoveryEvidence

Outcome = Literal["recovered", "not_recovered", "inconclusive"]


@dataclass(frozen=True)
class Levels:
    """The SLI's points in the three windows a check compares, each (time, value)."""

    after: list[tuple[float, float]]
    incident: list[tuple[float, float]]
    baseline: list[tuple[float, float]]


def merged(points: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """One value per timestamp (the mean of the series that have one), oldest first."""
    by_time: dict[float, list[float]] = {}
    for t, v in points:
        by_time.setdefault(t, []).append(v)
    return [(t, fmean(vs)) for t, vs in sorted(by_time.items())]


def _mean(points: list[tuple[float, float]]) -> float | None:
    return round(fmean(v for _, v in points), 6) if points else None


def assess(metric: str, levels: Levels, threshold: float | None, window_s: float, sustain: int = 3,
           dry_run: bool = False) -> tuple[Outcome, str, RecoveryEvidence]:
    """(outcome, the sentence saying it, the evidence)."""
    after, incident, baseline = merged(levels.after), merged(levels.incident), merged(levels.baseline)
    incident_mean, baseline_mean = _mean(incident), _mean(baseline)
    worse_up = incident_mean is None or baseline_mean is None or incident_mean >= baseline_mean
    peak = (max if worse_up else min)((v for _, v in incident), default=None)
    tail = [v for _, v in after[-sustain:]]
    evidence = RecoveryEvidence(
        metric=metric, window_s=window_s, points_after=len(after), after_last=[round(v, 6) for v in tail],
        after_mean=_mean(after), incident_mean=incident_mean, incident_peak=peak, baseline_mean=baseline_mean,
        threshold=threshold, higher_is_worse=worse_up, dry_run=dry_run)
    name = metric.rstrip("/").rsplit("/", 1)[-1] or "the SLI"
    line, what = threshold, "the alert's threshold"
    if line is not None and baseline_mean is not None and (baseline_mean > line if worse_up else baseline_mean < line):
        line = None  # the baseline itself breaks it: on the series read, the threshold does not separate normal
        # from the incident (the alert aggregates otherwise, or in another unit)
    if line is None and incident_mean is not None and baseline_mean is not None and incident_mean != baseline_mean:
        line, what = (incident_mean + baseline_mean) / 2, "halfway between the incident and the baseline"
    evidence.line = None if line is None else round(line, 6)
    evidence.line_from = "" if line is None else "threshold" if what.startswith("the alert") else "midpoint"
    context = _context(evidence)
    if len(after) < sustain:
        return "inconclusive", (f"inconclusive: only {len(after)} points of {name} in the {window_s / 60:.0f} min "
                                f"after the action (need {sustain}){context}"), evidence
    if line is None:
        return "inconclusive", (f"inconclusive: no threshold on the alert and no baseline to compare {name} "
                                f"with{context}"), evidence

    def good(v: float) -> bool:
        return v <= line if worse_up else v >= line

    side = "at or under" if worse_up else "at or over"
    if all(good(v) for v in tail):
        return "recovered", (f"recovered: the last {len(tail)} points of {name} ({_nums(tail)}) are {side} "
                             f"{line:g} ({what}){context}"), evidence
    if not good(tail[-1]):
        return "not_recovered", (f"not recovered: {name} is {tail[-1]:g}, past {line:g} ({what}), "
                                 f"{window_s / 60:.0f} min after the action{context}"), evidence
    return "inconclusive", (f"inconclusive: {name} is back {side} {line:g} ({what}) but not for {sustain} points "
                            f"({_nums(tail)}){context}"), evidence


def _nums(values: list[float]) -> str:
    return ", ".join(f"{v:.4g}" for v in values)


def _context(e: RecoveryEvidence) -> str:
    parts = []
    if e.incident_mean is not None:
        parts.append(f"incident mean {e.incident_mean:.4g}, peak {e.incident_peak:.4g}")
    if e.baseline_mean is not None:
        parts.append(f"baseline mean {e.baseline_mean:.4g}")
    if e.dry_run:
        parts.append("a dry run: the action changed nothing, the SLI moved on its own")
    return f" ({'; '.join(parts)})" if parts else ""
