"""Robust statistics."""

from __future__ import annotations

import pytest

from agents.stats import (
    Z_CAP,
    change_point,
    mad,
    mann_whitney_z,
    median,
    quantile,
    rate_increase_p,
    robust_z,
    two_proportion_z,
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


def test_rank_test_and_change_point() -> None:
    assert mann_whitney_z([1, 2, 3, 4, 5] * 4, [10, 11, 12, 13] * 4) > 4
    assert abs(mann_whitney_z([1, 2, 3] * 5, [1, 2, 3] * 5)) < 0.5
    k, shift = change_point([1.0, 1.1, 0.9, 1.0, 5.0, 5.1, 4.9])
    assert k == 4 and shift > 5
    assert change_point([1.0]) == (0, 0.0)
