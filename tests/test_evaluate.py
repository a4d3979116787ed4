"""The evaluation harness: service rank and inner root cause scoring against Nezha labels, and one real case end
to end through `evaluate_nezha` (the same path as `autosre eval nezha`)."""

from __future__ import annotations

from pathlib import Path

from evaluation.nezha_eval import CaseScore, evaluate_nezha, inner_matches, summarize
from shared.models import Finding
from tests.data import nezha_dir


def finding(kind: str, **details: object) -> Finding:
    return Finding(specialist="x", kind=kind, service="svc", title="t", score=0.5, details=details)


def test_a_code_region_matches_the_broken_path_between_its_two_statements() -> None:
    label = "t.s.TravelServiceImpl#366_t.s.TravelServiceImpl#372"
    hit = finding("log.flow_break", before="t.s.TravelServiceImpl#366 TraceID:", expected="t.s.TravelServiceImpl#372")
    reversed_ = finding("log.flow_break", before="t.s.TravelServiceImpl#372", expected="t.s.TravelServiceImpl#366")
    assert inner_matches(label, hit) and not inner_matches(label, reversed_)
    span_start = "RouteController.queryByIds start_r.c.RouteController#53"
    assert inner_matches(span_start, finding("log.flow_break", before="RouteController.queryByIds start",
                                             expected="r.c.RouteController#53 TraceID:"))
    assert not inner_matches(label, finding("metric.anomaly", metric="cpu_usage_rate"))


def test_a_metric_label_matches_an_anomaly_of_that_metric_and_network_the_wire_delay() -> None:
    assert inner_matches("CpuUsageRate(%)", finding("metric.anomaly", metric="nezha.pod/cpu_usage_rate"))
    assert not inner_matches("CpuUsageRate(%)", finding("metric.anomaly", metric="nezha.pod/cpu_usage"))
    assert inner_matches("NetworkP90(ms)", finding("trace.wire_delay"))
    assert not inner_matches("CpuUsageRate(%)", finding("trace.wire_delay"))


def test_summary_counts_ranks_and_inner_ranks() -> None:
    rows = [CaseScore("a", "exception", "s1", "x_y", ["s1", "s2"], 1.0, inner_rank=1),
            CaseScore("b", "return", "s2", "x_y", ["s1", "s2"], 3.0, inner_rank=None),
            CaseScore("c", "cpu", "s3", "", ["s1"], 2.0)]
    m = summarize(rows)
    assert (m["AS@1"], m["AS@3"]) == (1 / 3, 2 / 3)
    assert (m["inner_cases"], m["inner@1"], m["max_seconds"]) == (2.0, 0.5, 3.0)


def test_one_real_case_is_ranked_with_its_inner_root_cause(tmp_path: Path) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "tt-20230129-105016").symlink_to(nezha_dir() / "cases" / "tt-20230129-105016")
    (tmp_path / "reference").symlink_to(nezha_dir() / "reference")
    [row] = evaluate_nezha(cases, work=tmp_path / "work")
    assert row.error == "" and row.rank == 1 and row.inner_rank == 1
