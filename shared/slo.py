"""Service level objectives: burn rate and error budget from an SLI's good/bad/total counts, as Cloud Monitoring's
SLO selectors define them (`select_slo_burn_rate`, `select_slo_budget_fraction`):

- burn rate over a lookback window = (bad / total in the window) / (1 - goal): 1 spends the budget exactly over the
  compliance period, 14.4 spends a 30-day budget in ~2 days;
- error budget left = 1 - bad / ((1 - goal) * total) over the compliance period (negative once overspent).

Counts come as buckets `(end time, bad, total)`, one per sampling interval (a DELTA point's interval): a bucket
belongs to a window when its end time is in (at - window, at].
"""

from __future__ import annotations

from collections.abc import Iterable

BURN_WINDOWS_S = (300.0, 3600.0, 21600.0)  # the report's 5 min / 1 h / 6 h


def _sums(buckets: Iterable[tuple[float, float, float]], at: float, window_s: float) -> tuple[float, float]:
    bad = total = 0.0
    for t, b, n in buckets:
        if at - window_s < t <= at:
            bad, total = bad + b, total + n
    return bad, total


def burn_rate(buckets: Iterable[tuple[float, float, float]], goal: float, at: float, window_s: float) -> float | None:
    """The burn rate over (at - window_s, at]; None when no request was counted in it."""
    if not 0.0 < goal < 1.0:
        raise ValueError(f"an SLO goal is a fraction between 0 and 1, not {goal}")
    bad, total = _sums(buckets, at, window_s)
    return None if total <= 0 else (bad / total) / (1.0 - goal)


def budget_left(buckets: Iterable[tuple[float, float, float]], goal: float, at: float,
                period_s: float) -> float | None:
    """The share of the error budget left over the compliance period ending at `at`; None when nothing was counted."""
    if not 0.0 < goal < 1.0:
        raise ValueError(f"an SLO goal is a fraction between 0 and 1, not {goal}")
    bad, total = _sums(buckets, at, period_s)
    return None if total <= 0 else 1.0 - bad / ((1.0 - goal) * total)


def window_text(seconds: float) -> str:
    """300 -> '5 min', 3600 -> '1 h', 2419200 -> '28 d'."""
    if seconds >= 86400 and seconds % 86400 == 0:
        return f"{seconds / 86400:.0f} d"
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 60:.0f} min"
