"""Broken code paths (agents/specialists/logs/log_flows.py): per-visit trails, the binomial deficit test, and a
real Nezha case."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest

from agents.specialists.logs import analysis as logs
from agents.specialists.logs.analysis import step_of
from agents.specialists.logs.log_flows import (
    Event,
    FlowBreak,
    binomial_cdf_log10,
    breaks,
    comparable_spans,
    placements,
    strength,
    trails,
    transitions,
)
from shared.telemetry_records import LogRecord, Span
from tests.data import nezha_case

LABELS = {0: "A.java#10 start work", 1: "A.java#20 work done", 2: "A.java#30 failed: boom", 3: "A.java#40 retry"}


def requests(n: int, t0: float, steps: list[int], service: str = "svc", tag: str = "",
             calls: str = "") -> tuple[list[tuple[LogRecord, int]], list[Span]]:
    """n requests, each an entry span of `service` logging `steps` in order (and calling `calls` between the
    first and second step when given)."""
    lines, spans = [], []
    for i in range(n):
        trace, start = f"t{tag}{i}", t0 + i
        spans.append(Span(trace, f"{trace}-s", "", service, "Handler.handle", start, start + 0.9, instance="pod-1"))
        for j, pid in enumerate(steps):
            lines.append((LogRecord(start + 0.1 * (j + 1), service, LABELS[pid], instance="pod-1", trace_id=trace,
                                    span_id=f"{trace}-s"), pid))
        if calls:
            spans.append(Span(trace, f"{trace}-c", f"{trace}-s", calls, "Callee.op", start + 0.15, start + 0.16))
    return lines, spans


Trails = tuple[list[tuple[LogRecord, int]], list[Span]]


def find(base: Trails, inc: Trails) -> list[FlowBreak]:
    ops = {("svc", "Handler.handle")}
    label, errorish = LABELS.__getitem__, (lambda pid: "failed" in LABELS[pid])
    return breaks(transitions(trails(*base, ops, label, errorish)), transitions(trails(*inc, ops, label, errorish)))


def test_a_step_that_stopped_following_its_predecessor_is_a_break_between_the_two() -> None:
    base = requests(30, 0, [0, 1])
    inc = requests(30, 1000, [0])  # an early return between #10 and #20
    found = find(base, inc)
    assert len(found) == 1
    b = found[0]
    assert (b.service, b.before.label, b.expected.label) == ("svc", LABELS[0], LABELS[1])
    assert b.instead is not None and b.instead.kind == "end"
    assert b.base_share == 1.0 and b.share == 0.0 and b.count == 30 and b.p_value < 1e-20
    assert not b.after_call and b.traces and b.instances == (("pod-1", 30),)


def test_the_operation_start_is_a_step_so_a_path_that_never_logs_any_more_is_seen() -> None:
    found = find(requests(30, 0, [1]), requests(30, 1000, []))
    assert [(b.before.label, b.expected.label) for b in found] == [("Handler.handle start", LABELS[1])]


def test_no_break_when_the_flow_is_unchanged_or_the_evidence_is_thin() -> None:
    assert find(requests(30, 0, [0, 1]), requests(40, 1000, [0, 1])) == []
    assert find(requests(2, 0, [0, 1]), requests(30, 1000, [0])) == []  # two baseline requests tell nothing
    assert find(requests(3, 0, [0, 1]), requests(4, 1000, [0])) == []  # nor do four incident requests
    # one in three requests now skipping the step is not beyond chance with this little data
    half = requests(6, 1000, [0], tag="x")
    full = requests(3, 2000, [0, 1], tag="y")
    assert find(requests(8, 0, [0, 1]), (half[0] + full[0], half[1] + full[1])) == []


def test_an_error_path_that_stopped_and_a_flow_that_goes_further_are_not_breaks() -> None:
    assert find(requests(30, 0, [0, 2]), requests(30, 1000, [0, 1])) == []  # no longer fails
    assert find(requests(30, 0, [0]), requests(30, 1000, [0, 3])) == []  # now logs one step more


def test_a_break_right_after_a_call_is_marked_as_the_callee_s_outcome() -> None:
    found = find(requests(30, 0, [0, 1], calls="db"), requests(30, 1000, [0, 2], calls="db"))
    assert len(found) == 1 and found[0].after_call and found[0].before.callee == "db"
    assert found[0].instead == Event(LABELS[2], "error")


def test_lines_without_spans_make_one_trail_per_trace_and_service() -> None:
    base, inc = requests(30, 0, [0, 1]), requests(30, 1000, [0])
    found = find((base[0], []), (inc[0], []))
    assert [(b.before.label, b.expected.label) for b in found] == [(LABELS[0], LABELS[1])]


@pytest.mark.parametrize(("x", "n", "p"), [(0, 10, 0.5), (3, 10, 0.5), (10, 10, 0.3), (2, 40, 0.9), (7, 7, 0.99)])
def test_the_binomial_tail_matches_the_sum_of_its_terms(x: int, n: int, p: float) -> None:
    exact = sum(math.comb(n, k) * p ** k * (1 - p) ** (n - k) for k in range(x + 1))
    assert binomial_cdf_log10(x, n, p) == pytest.approx(math.log10(exact), abs=1e-9)


def test_a_statement_split_into_two_patterns_is_one_step() -> None:
    assert step_of("c.s.Impl#119 TraceID: <*> SpanID: <*> [query][x]") == step_of("c.s.Impl#119 TraceID: <*> ok")
    assert step_of("<*> connected") == "<*> connected"  # no constant lead: the template itself


def test_the_injected_exception_of_a_real_case_is_found_between_the_labelled_log_statements(tmp_path: Path) -> None:
    # label: an exception in ts-travel2-service between TravelServiceImpl#366 and #372
    source, ctx, label = nezha_case("tt-20230129-105016", tmp_path)
    found = [f for f in logs.analyse(source, ctx).findings if f.kind == "log.flow_break"]
    assert found, "no broken code path found"
    top = max(found, key=lambda f: f.score)
    before, after = str(label["inner_root_cause"]).split("_", 1)
    assert top.service == label["service"]
    assert str(top.details.before).startswith(before) and str(top.details.expected).startswith(after)
    assert top.score >= 0.9 and not top.details.after_call


def test_requests_moving_to_a_branch_the_baseline_already_took_are_weaker_evidence_than_a_new_end() -> None:
    mix = requests(27, 0, [0, 1], tag="a")
    other = requests(9, 100, [0, 3], tag="b")  # a quarter of the baseline already went on to #40
    base = (mix[0] + other[0], mix[1] + other[1])
    shifted = requests(30, 1000, [0, 3])
    broken = requests(30, 1000, [0])
    [shift] = find(base, shifted)
    [brk] = find(base, broken)
    assert shift.novel_share == 0.0 and brk.novel_share == 1.0
    assert strength(shift) < 0.5 * strength(brk)


def test_a_break_that_starts_mid_window_is_measured_from_its_onset() -> None:
    before = requests(30, 1000, [0, 1], tag="x")  # the window's first half: still fine
    after = requests(30, 2000, [0], tag="y")  # from t=2000 every request returns early
    [b] = find(requests(30, 0, [0, 1]), (before[0] + after[0], before[1] + after[1]))
    assert b.share == pytest.approx(0.5) and b.count == 60  # over the whole window, half still went on
    assert b.share_since == 0.0 and b.count_since == 30 and b.drop == pytest.approx(1.0)
    assert 2000 <= b.first_seen < 2001  # the onset: the first request that returned early
    [whole] = find(requests(30, 0, [0, 1]), requests(30, 1000, [0]))
    assert whole.count_since == whole.count == 30  # no earlier normal run: the whole window is the break


def test_span_ids_need_only_be_unique_within_their_trace() -> None:
    def same_ids(trails_: Trails) -> Trails:  # every trace numbers its spans 1, 2, ... (Trace v1 allows it)
        lines, spans = trails_
        rename = {s.span_id: str(i % 2 + 1) for i, s in enumerate(spans)}
        return ([(replace(r, span_id=rename[r.span_id]), pid) for r, pid in lines],
                [replace(s, span_id=rename[s.span_id], parent_id=rename.get(s.parent_id, "")) for s in spans])

    found = find(same_ids(requests(30, 0, [0, 1], calls="db")), same_ids(requests(30, 1000, [0, 2], calls="db")))
    assert len(found) == 1 and found[0].after_call and found[0].count == 30


def test_a_window_without_spans_adds_no_calls_to_the_other_windows_trails() -> None:
    """No trace baseline: unchanged code must not look broken because the incident's trails gained the calls and
    operation starts the baseline's could not show."""
    base_lines, _ = requests(30, 0, [0, 1], calls="db")
    inc_lines, inc_spans = requests(30, 1000, [0, 1], calls="db")
    ops = {("svc", "Handler.handle")}
    label, errorish = LABELS.__getitem__, (lambda pid: "failed" in LABELS[pid])

    def found(spans: dict[str, list[Span]]) -> list[FlowBreak]:
        return breaks(transitions(trails(base_lines, spans["baseline"], ops, label, errorish)),
                      transitions(trails(inc_lines, spans["incident"], ops, label, errorish)))

    raw = {"baseline": [], "incident": inc_spans}
    assert found(raw)  # the data's difference, read as a break
    assert comparable_spans(raw) == {"baseline": [], "incident": []}
    assert found(comparable_spans(raw)) == []
    kept = comparable_spans({"baseline": inc_spans, "incident": inc_spans})
    assert kept["incident"] == inc_spans  # services traced in both windows keep their spans


def test_a_new_error_line_is_placed_between_the_step_before_it_and_what_used_to_follow_that_step() -> None:
    """Too few requests reach the new error to call the path broken, but where it sits is known: after step 0,
    where step 1 followed in the baseline."""
    base = requests(30, 0, [0, 1])
    inc_ok, inc_failing = requests(25, 1000, [0, 1]), requests(5, 2000, [0, 2], tag="f")
    inc = (inc_ok[0] + inc_failing[0], inc_ok[1] + inc_failing[1])
    ops = {("svc", "Handler.handle")}
    label, errorish = LABELS.__getitem__, (lambda pid: "failed" in LABELS[pid])
    b, i = (transitions(trails(*t, ops, label, errorish)) for t in (base, inc))
    assert breaks(b, i) == []  # 5 of 30: no significant break
    assert placements(b, i) == {("svc", LABELS[2]): (LABELS[0], LABELS[1], 5, 30)}
    assert placements(b, b) == {}  # nothing new, nothing to place


def test_transitions_count_every_step_in_the_order_of_the_sorted_trails() -> None:
    a, b, c = Event("a", "log"), Event("b", "log"), Event("call x", "call")
    end = Event("(end of the request in this service)", "end")
    by_trail = {("svc", "t3", ""): [(3.0, 5, a, "p2"), (3.1, 6, b, "p2")],
                ("svc", "t1", ""): [(1.0, 0, a, "p1"), (1.2, 1, c, "p1"), (1.3, 2, b, "p1")],
                ("svc", "t2", ""): [(2.0, 3, a, "p1"), (2.5, 4, b, "p1")],
                ("svc", "t0", ""): []}
    t = transitions(by_trail)
    assert list(t.counts.items()) == [(("svc", a, c), 1), (("svc", c, b), 1), (("svc", b, end), 3),
                                      (("svc", a, b), 2)]
    assert list(t.totals.items()) == [(("svc", a), 3), (("svc", c), 1), (("svc", b), 3)]
    assert t.instances[("svc", a)] == {"p1": 2, "p2": 1} and list(t.instances[("svc", a)]) == ["p1", "p2"]
    assert t.traces[("svc", a, b)] == ["t2", "t3"] and t.traces[("svc", b, end)] == ["t1", "t2", "t3"]
    assert t.order[("svc", a)] == [(1.0, c), (2.0, b), (3.0, b)]
    assert transitions({}).counts == {}


def test_a_visit_of_calls_alone_leaves_no_trail() -> None:
    spans = [Span("t", "s", "", "front", "GET /", 0.0, 1.0), Span("t", "c", "s", "back", "op", 0.1, 0.2)]
    lines = [(LogRecord(0.5, "back", LABELS[0], trace_id="t", span_id="c"), 0)]
    found = trails(lines, spans, set(), LABELS.__getitem__, lambda pid: False)
    assert list(found) == [("back", "t", "c")]  # the caller's visit held only its call: no trail
    assert [e.label for _, _, e, _ in found[("back", "t", "c")]] == [LABELS[0]]
