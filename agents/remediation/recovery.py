"""After an action ran: is the alerting SLI back at or under its threshold? A pure verdict over the points read."""

from __future__ import annotations


def recovery_verdict(metric: str, points: list[tuple[float, float]], threshold: float | None, window_s: float,
                     sustain: int = 3) -> str:
    """"recovered: ...", "not recovered: ..." or "unknown: ..." from the SLI's points after the action."""
    points = sorted(points)
    if threshold is None or len(points) < sustain:
        return "unknown: " + ("the alert states no threshold" if threshold is None else
                              f"only {len(points)} points of {metric} after the action")
    if all(v <= threshold for _, v in points[-sustain:]):
        return f"recovered: the last {sustain} points of {metric} are at or under {threshold:g}"
    return (f"not recovered: {metric} is still above {threshold:g} "
            f"({points[-1][1]:g}) {window_s / 60:.0f} min after the action")
