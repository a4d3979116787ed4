"""Robust statistics for the specialists, in pure Python (no numpy/scipy in the analysis path)."""

from __future__ import annotations

import math
from collections.abc import Sequence

MAD_TO_SIGMA = 1.4826


def median(xs: Sequence[float]) -> float:
    if not xs:
        raise ValueError("median of nothing")
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def quantile(xs: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile, q in [0, 1]."""
    if not xs:
        raise ValueError("quantile of nothing")
    s = sorted(xs)
    pos = (len(s) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def mad(xs: Sequence[float], center: float | None = None) -> float:
    """Median absolute deviation (unscaled)."""
    c = median(xs) if center is None else center
    return median([abs(x - c) for x in xs])


def robust_scale(xs: Sequence[float], floor: float) -> float:
    """A spread estimate that never collapses to zero: scaled MAD, else IQR-ish, else the floor."""
    spread = MAD_TO_SIGMA * mad(xs)
    if spread <= 0:
        spread = (quantile(xs, 0.9) - quantile(xs, 0.1)) / 2.56
    return max(spread, floor)


Z_CAP = 50.0


def is_count_series(xs: Sequence[float]) -> bool:
    return all(x >= 0 and float(x).is_integer() for x in xs)


def robust_center_scale(baseline: Sequence[float], rel_floor: float = 0.05,
                        abs_floor: float = 1e-9) -> tuple[float, float]:
    """(median, robust sigma) of a baseline. The sigma never falls below a floor: a share of the median's size,
    and for counts the Poisson spread sqrt(median) (at least 1), so a flat baseline of zeros does not turn one
    event into a huge z."""
    c = median(baseline)
    floor = max(abs(c) * rel_floor, abs_floor)
    if is_count_series(baseline):
        floor = max(floor, max(c, 1.0) ** 0.5)
    return c, robust_scale(baseline, floor)


def z_of(value: float, center: float, scale: float) -> float:
    """(value - center) / scale, capped at +-Z_CAP."""
    return max(-Z_CAP, min(Z_CAP, (value - center) / scale))


def robust_z(value: float, baseline: Sequence[float], rel_floor: float = 0.05, abs_floor: float = 1e-9) -> float:
    """How many robust sigmas `value` lies from the baseline's median (signed, capped at +-Z_CAP)."""
    return z_of(value, *robust_center_scale(baseline, rel_floor, abs_floor))


# A binomial term this far below the largest (natural log) is under half a unit in the last place of the sum, which
# the largest term's 1 starts at: adding it leaves the sum as it is (the tail sums to the same float)
TAIL_CUT = 50.0


def rate_increase_p(count: int, base_count: int, seconds: float, base_seconds: float) -> float:
    """P-value that a count in `seconds` is this high given `base_count` in `base_seconds` (conditional binomial
    test of two Poisson rates: given the total, the incident's share is Binomial(n, t/(t+tb)) under H0)."""
    n = count + base_count
    if n == 0 or count == 0:
        return 1.0
    p = seconds / (seconds + base_seconds)
    # upper tail of Binomial(n, p) at count, in log space
    log_p, log_q = math.log(p), math.log1p(-p)
    head, mode = math.lgamma(n + 1), (n + 1) * p  # past the mode the terms only fall
    terms: list[float] = []
    top = -math.inf
    for i in range(count, n + 1):
        t = head - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q
        if t > top:
            top = t
        elif i > mode and t < top - TAIL_CUT and 0.0 < p < 1.0:
            break  # this term and every later one add nothing to the sum: exactly the sum of them all
        terms.append(t)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def two_proportion_z(k1: int, n1: int, k2: int, n2: int) -> float:
    """z for p2 > p1 (pooled two-proportion test); 0 when either sample is empty."""
    if n1 == 0 or n2 == 0:
        return 0.0
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0
    return (k2 / n2 - k1 / n1) / se


def mann_whitney_z(baseline: Sequence[float], incident: Sequence[float]) -> float:
    """Normal-approximation z of the Mann-Whitney U test that `incident` is stochastically larger (ties mid-ranked)."""
    n1, n2 = len(baseline), len(incident)
    if n1 == 0 or n2 == 0:
        return 0.0
    pooled = sorted([(x, 0) for x in baseline] + [(x, 1) for x in incident])
    ranks = [0.0] * len(pooled)
    tie_term = 0.0
    i = 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        t = j - i + 1
        tie_term += t**3 - t
        i = j + 1
    r2 = sum(r for r, (_, g) in zip(ranks, pooled, strict=True) if g == 1)
    u2 = r2 - n2 * (n2 + 1) / 2
    mean = n1 * n2 / 2
    n = n1 + n2
    var = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1))) if n > 1 else 0.0
    return 0.0 if var <= 0 else (u2 - mean) / math.sqrt(var)


def rank_test_sureness(z: float, n1: int, n2: int, sure_z: float) -> float:
    """How sure a Mann-Whitney z makes a shift, in [0, 1]: z / sure_z, except that with few samples no z can
    reach sure_z (complete separation of n1 and n2 values gives sqrt(3 n1 n2 / (n1 + n2 + 1))), so the largest
    z these sample sizes allow counts as sure."""
    if n1 <= 0 or n2 <= 0 or z <= 0:
        return 0.0
    reachable = math.sqrt(3.0 * n1 * n2 / (n1 + n2 + 1))
    return min(1.0, z / min(sure_z, reachable))


def change_point(values: Sequence[float], min_segment: int = 2) -> tuple[int, float]:
    """The index where the mean shifts most (two-segment split minimising squared error) and the shift's size
    in pooled standard deviations. (0, 0.0) when there is too little data."""
    n = len(values)
    if n < 2 * min_segment:
        return 0, 0.0
    prefix = [0.0]
    prefix_sq = [0.0]
    for v in values:
        prefix.append(prefix[-1] + v)
        prefix_sq.append(prefix_sq[-1] + v * v)

    def sse(a: int, b: int) -> float:
        m = b - a
        s = prefix[b] - prefix[a]
        return prefix_sq[b] - prefix_sq[a] - s * s / m

    best, best_cost = 0, math.inf
    for k in range(min_segment, n - min_segment + 1):
        cost = sse(0, k) + sse(k, n)
        if cost < best_cost:
            best, best_cost = k, cost
    left = (prefix[best]) / best
    right = (prefix[n] - prefix[best]) / (n - best)
    sigma = math.sqrt(max(best_cost / max(n - 2, 1), 1e-12))
    return best, (right - left) / sigma


def cusum_onset(deviations: Sequence[float], drift: float, threshold: float) -> int | None:
    """Start of the strongest sustained upward excursion in standardised `deviations` (one-sided CUSUM).

    S_t = max(0, S_{t-1} + x_t - drift); an excursion is a run where S stays above zero, it counts once S exceeds
    `threshold`, and its onset is the first point after S was last zero (Page's change-point estimate). Of several
    excursions the one whose S peaks highest wins (the earliest on a tie). None when S never crosses the threshold.
    """
    best: tuple[float, int] | None = None
    s, start = 0.0, 0
    for i, x in enumerate(deviations):
        if s == 0.0:
            start = i
        s = max(0.0, s + x - drift)
        if s > threshold and (best is None or s > best[0]):
            best = (s, start)
    return None if best is None else best[1]


def normal_sf(z: float) -> float:
    """Upper-tail probability of the standard normal: the one-sided p-value of a z statistic."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def squash(x: float, half: float) -> float:
    """Map a non-negative evidence strength to [0, 1): `half` maps to 0.5."""
    if x <= 0:
        return 0.0
    return x / (x + half)
