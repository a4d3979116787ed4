"""Robust statistics."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agents.specialists.stats import (
    Z_CAP,
    change_point,
    cusum_onset,
    mad,
    mann_whitney_z,
    median,
    normal_sf,
    quantile,
    rate_increase_p,
    robust_center_scale,
    robust_z,
    two_proportion_z,
    z_of,
)


def test_location_and_spread() -> None:
    assert median([3, 1, 2]) == 2 and median([4, 1, 2, 3]) == 2.5
    assert quantile([0, 10], 0.5) == 5 and mad([1, 2, 3, 4, 100]) == 1


def test_robust_z_resists_outliers_and_flat_baselines() -> None:
    base = [10.0, 10.2, 9.8, 10.1, 9.9, 500.0]
    assert abs(robust_z(10.0, base)) < 1
    assert robust_z(20.0, base) > 10
    assert robust_z(1.0, [0.0] * 30) == pytest.approx(1.0)  # counts: Poisson floor, not 1e9
    assert robust_z(1e12, [5.0] * 10) == Z_CAP


def test_rate_tests() -> None:
    assert rate_increase_p(10, 10, 600, 3600) < 1e-3  # 6x the rate
    assert rate_increase_p(2, 12, 600, 3600) > 0.05  # the same rate
    assert rate_increase_p(0, 5, 1, 1) == 1.0
    assert two_proportion_z(1, 1000, 50, 1000) > 5 and two_proportion_z(10, 1000, 10, 1000) == 0


def _rate_increase_p_every_term(count: int, base_count: int, seconds: float, base_seconds: float) -> float:
    """The binomial tail summed over every term (what `rate_increase_p` stops short of once terms add nothing)."""
    n = count + base_count
    if n == 0 or count == 0:
        return 1.0
    p = seconds / (seconds + base_seconds)
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q
             for i in range(count, n + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


@given(st.integers(1, 4000), st.integers(0, 30_000), st.floats(0.5, 5000), st.floats(0.001, 90_000))
def test_the_rate_tail_stops_where_terms_add_nothing(count: int, base_count: int, seconds: float,
                                                      base_seconds: float) -> None:
    assert rate_increase_p(count, base_count, seconds, base_seconds) == \
        _rate_increase_p_every_term(count, base_count, seconds, base_seconds)


def test_rank_test_and_change_point() -> None:
    assert mann_whitney_z([1, 2, 3, 4, 5] * 4, [10, 11, 12, 13] * 4) > 4
    assert abs(mann_whitney_z([1, 2, 3] * 5, [1, 2, 3] * 5)) < 0.5
    k, shift = change_point([1.0, 1.1, 0.9, 1.0, 5.0, 5.1, 4.9])
    assert k == 4 and shift > 5
    assert change_point([1.0]) == (0, 0.0)


def test_cusum_onset_finds_the_start_of_the_strongest_excursion() -> None:
    flat = [0.3, -0.5, 1.0, -0.2, 0.4]
    assert cusum_onset([*flat, 9.0, 8.0, 10.0], drift=4.0, threshold=4.0) == 5
    # a lone earlier blip starts no run of its own that reaches the later, larger excursion
    assert cusum_onset([0.0, 7.0, 0.0, 0.0, 0.0, 30.0, 40.0], drift=4.0, threshold=4.0) == 5
    # of two excursions the stronger wins, even when it comes first
    assert cusum_onset([0.0, 20.0, 20.0, 0.0, 0.0, 6.0, 6.0, 0.0], drift=4.0, threshold=4.0) == 1
    assert cusum_onset(flat * 4, drift=4.0, threshold=4.0) is None
    assert cusum_onset([], drift=1.0, threshold=1.0) is None


def test_normal_tail_and_robust_center_scale() -> None:
    assert normal_sf(0.0) == pytest.approx(0.5) and normal_sf(1.959964) == pytest.approx(0.025, abs=1e-6)
    assert normal_sf(-3.0) == pytest.approx(1 - normal_sf(3.0))
    center, scale = robust_center_scale([100.5] * 20)  # flat: the spread floors at 5% of the level
    assert center == 100.5 and scale == pytest.approx(5.025)
    assert robust_center_scale([100.0] * 20) == (100.0, 10.0)  # counts: the Poisson floor sqrt(level)
    assert robust_center_scale([0.0] * 20) == (0.0, 1.0)  # ... and at least 1
    center, scale = robust_center_scale([1.5, 2.5, 3.5, 4.5, 1000.5])
    assert center == 3.5 and scale == pytest.approx(1.4826)  # the outlier moves neither
    assert z_of(1e9, 0.0, 1.0) == Z_CAP and z_of(-1e9, 0.0, 1.0) == -Z_CAP


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=40), st.lists(st.floats(-1e6, 1e6), min_size=1,
                                                                            max_size=40))
def test_rank_test_is_antisymmetric_and_rank_based(a: list[float], b: list[float]) -> None:
    assert mann_whitney_z(a, b) == pytest.approx(-mann_whitney_z(b, a), abs=1e-9)
    # an order-keeping transform of both samples keeps every rank, hence the z; mirroring swaps the sides
    assert mann_whitney_z([4 * x for x in a], [4 * x for x in b]) == pytest.approx(mann_whitney_z(a, b), abs=1e-9)
    assert mann_whitney_z([-x for x in b], [-x for x in a]) == pytest.approx(mann_whitney_z(a, b), abs=1e-9)


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=60))
def test_quantiles_are_ordered_and_the_middle_one_is_the_median(xs: list[float]) -> None:
    qs = [quantile(xs, q) for q in (0.0, 0.1, 0.5, 0.9, 1.0)]
    assert qs == sorted(qs) and qs[0] == min(xs) and qs[-1] == max(xs)
    assert qs[2] == pytest.approx(median(xs))
    assert mad(xs) >= 0


def test_rank_test_sureness_counts_complete_separation_of_small_samples_as_sure() -> None:
    from agents.specialists.stats import mann_whitney_z, rank_test_sureness

    base, inc = [0.01 * i for i in range(9)], [1.0 + i for i in range(20)]
    z = mann_whitney_z(base, inc)
    assert z < 6.0  # nine and twenty values cannot reach the large-sample bar ...
    assert rank_test_sureness(z, 9, 20, 6.0) == pytest.approx(1.0)  # ... but cannot be more separated
    assert rank_test_sureness(3.0, 500, 500, 6.0) == pytest.approx(0.5)  # large samples: z / sure_z
    assert rank_test_sureness(-1.0, 9, 20, 6.0) == 0.0 and rank_test_sureness(3.0, 0, 20, 6.0) == 0.0
