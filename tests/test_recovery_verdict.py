"""The recovery verdict over the points read (agents/remediation/recovery.py): which way is worse, which line
separates recovered from not, and when the answer is "inconclusive"."""

from __future__ import annotations

import pytest

from agents.remediation.recovery import Levels, assess


def levels(after: list[float], incident: list[float], baseline: list[float]) -> Levels:
    return Levels(after=[(1000.0 + 60 * i, v) for i, v in enumerate(after)],
                  incident=[(500.0 + 60 * i, v) for i, v in enumerate(incident)],
                  baseline=[(60.0 * i, v) for i, v in enumerate(baseline)])


@pytest.mark.parametrize(("after", "incident", "baseline", "threshold", "outcome", "line_from"), [
    ([9, 4, 3, 2], [9, 10], [1, 1], 5.0, "recovered", "threshold"),
    ([9, 7, 6, 8], [9, 10], [1, 1], 5.0, "not_recovered", "threshold"),
    ([2, 8, 2], [9, 10], [1, 1], 5.0, "inconclusive", "threshold"),  # back under, but not for 3 points
    ([2], [9, 10], [1, 1], 5.0, "inconclusive", "threshold"),  # too few points
    ([2, 2, 2], [], [], None, "inconclusive", ""),  # no threshold and nothing to compare with
    ([1, 1, 1], [9, 10], [1, 2], None, "recovered", "midpoint"),  # no threshold: halfway (5.75)
    ([0.1, 0.0, 0.3], [8, 9], [0.05, 0.0], 0.02, "recovered", "midpoint"),  # the baseline itself breaks 0.02
    ([95, 99, 98], [40, 50], [99, 98], 90.0, "recovered", "threshold"),  # lower is worse: success rate
    ([95, 60, 50], [40, 50], [99, 98], 90.0, "not_recovered", "threshold"),
])
def test_the_verdict(after: list[float], incident: list[float], baseline: list[float], threshold: float | None,
                     outcome: str, line_from: str) -> None:
    got, sentence, evidence = assess("custom.googleapis.com/shop/sli", levels(after, incident, baseline), threshold,
                                     900.0)
    assert got == outcome and sentence.startswith(outcome.replace("_", " "))
    assert evidence.line_from == line_from and evidence.points_after == len(after)
    assert evidence.after_last == [float(v) for v in after[-3:]]


def test_the_sentence_carries_the_numbers_and_says_a_dry_run() -> None:
    _, sentence, evidence = assess("m/latency", levels([9, 4, 3, 2], [9, 10], [1, 1]), 5.0, 900.0, dry_run=True)
    assert "incident mean 9.5, peak 10" in sentence and "baseline mean 1" in sentence and "dry run" in sentence
    assert evidence.incident_peak == 10 and evidence.baseline_mean == 1 and evidence.higher_is_worse


def test_series_at_the_same_time_are_averaged() -> None:
    two = Levels(after=[(1.0, 0.0), (1.0, 10.0), (2.0, 2.0), (3.0, 2.0)], incident=[(0.5, 9.0)], baseline=[(0.0, 1.0)])
    _, _, evidence = assess("m", two, 6.0, 60.0)
    assert evidence.after_last == [5.0, 2.0, 2.0] and evidence.points_after == 3
