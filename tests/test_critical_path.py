"""Self time and the critical path on hand-built traces."""

from __future__ import annotations

import pytest

from agents.critical_path import build_traces, critical_path, self_times
from shared.telemetry.models import Span


def span(sid: str, parent: str, start: float, end: float, service: str = "") -> Span:
    return Span("t", sid, parent, service or sid, sid, start, end)


def test_sequential_children() -> None:
    (t,) = build_traces([span("root", "", 0, 10), span("a", "root", 1, 4), span("b", "root", 5, 9)])
    assert self_times(t) == pytest.approx({"root": 3.0, "a": 3.0, "b": 4.0})
    path = {s.span_id: c for s, c in critical_path(t)}
    assert path == pytest.approx({"root": 3.0, "a": 3.0, "b": 4.0})
    assert sum(path.values()) == pytest.approx(10.0)


def test_parallel_children_are_merged_and_the_longest_is_critical() -> None:
    (t,) = build_traces([span("root", "", 0, 10), span("a", "root", 1, 9), span("b", "root", 2, 5)])
    assert self_times(t)["root"] == pytest.approx(2.0)  # 1..9 covered once, not 8 + 3
    path = {s.span_id: c for s, c in critical_path(t)}
    assert "b" not in path and path["a"] == pytest.approx(8.0) and sum(path.values()) == pytest.approx(10.0)


def test_overlapping_children() -> None:
    (t,) = build_traces([span("root", "", 0, 10), span("a", "root", 1, 6), span("b", "root", 4, 8)])
    assert self_times(t)["root"] == pytest.approx(3.0)
    path = {s.span_id: c for s, c in critical_path(t)}
    assert path["b"] == pytest.approx(4.0) and sum(path.values()) == pytest.approx(10.0)


def test_child_outliving_parent_is_clipped() -> None:
    (t,) = build_traces([span("root", "", 0, 10), span("a", "root", 8, 15)])
    assert self_times(t)["root"] == pytest.approx(8.0)
    path = {s.span_id: c for s, c in critical_path(t)}
    assert path == pytest.approx({"root": 8.0, "a": 2.0})  # the root's duration, not the child's overrun


def test_orphans_become_roots_and_nested_self_time() -> None:
    traces = build_traces([span("root", "", 0, 10), span("a", "root", 0, 10), span("aa", "a", 2, 3),
                           span("orphan", "missing", 20, 21)])
    (t,) = traces
    assert {s.span_id for s in t.roots} == {"root", "orphan"}
    assert t.root.span_id == "root"
    assert self_times(t)["a"] == pytest.approx(9.0) and self_times(t)["root"] == pytest.approx(0.0)
