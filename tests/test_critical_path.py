"""Self time and the critical path on hand-built traces."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agents.specialists.traces.critical_path import build_traces, critical_path, self_times
from shared.telemetry_records import Span


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


def test_child_starting_before_its_parent_and_a_child_outside_it_are_clipped() -> None:
    (t,) = build_traces([span("root", "", 10, 20), span("early", "root", 5, 14), span("after", "root", 25, 30)])
    assert self_times(t)["root"] == pytest.approx(6.0)  # only 10..14 of "early" lies inside the root
    path = {s.span_id: c for s, c in critical_path(t)}
    assert path == pytest.approx({"root": 6.0, "early": 4.0}) and "after" not in path


def test_nested_path_and_the_last_finishing_child_wins_over_the_longest() -> None:
    # b is shorter than a but ends later: the root waits for b; a's overlapping part is the root's own wait
    (t,) = build_traces([span("root", "", 0, 100), span("a", "root", 0, 60), span("b", "root", 50, 90),
                         span("b1", "b", 55, 70), span("b2", "b", 70, 85)])
    path = [(s.span_id, c) for s, c in critical_path(t)]
    assert [sid for sid, _ in path] == ["root", "b", "b1", "b2"]
    assert dict(path) == pytest.approx({"root": 60.0, "b": 10.0, "b1": 15.0, "b2": 15.0})
    assert self_times(t)["b"] == pytest.approx(10.0)


def test_several_traces_are_kept_apart_and_in_a_stable_order() -> None:
    spans = [Span("t2", "r", "", "s", "r", 0, 1), Span("t1", "r", "", "s", "r", 0, 2),
             Span("t1", "c", "r", "s", "c", 0.5, 1.5)]
    traces = build_traces(spans)
    assert [t.trace_id for t in traces] == ["t1", "t2"]
    assert [t.trace_id for t in build_traces(list(reversed(spans)))] == ["t1", "t2"]
    assert set(traces[0].spans) == {"r", "c"} and set(traces[1].spans) == {"r"}


@st.composite
def random_trace(draw: st.DrawFn) -> list[Span]:
    """A random tree: every span starts and ends anywhere (children may overlap, outlive or precede parents)."""
    n = draw(st.integers(1, 25))
    spans = []
    for i in range(n):
        parent = "" if i == 0 else f"s{draw(st.integers(0, i - 1))}"
        start = draw(st.integers(0, 1000))
        spans.append(span(f"s{i}", parent, start / 10, (start + draw(st.integers(0, 400))) / 10))
    return spans


@given(random_trace())
def test_critical_path_accounts_for_exactly_the_root_duration(spans: list[Span]) -> None:
    (t,) = build_traces(spans)
    path = critical_path(t)
    assert path[0][0].span_id == "s0"
    assert all(c >= -1e-9 for _, c in path)
    assert sum(c for _, c in path) == pytest.approx(t.root.duration, abs=1e-6)
    assert len({s.span_id for s, _ in path}) == len(path)
    for sid, own in self_times(t).items():
        assert -1e-9 <= own <= t.spans[sid].duration + 1e-9
