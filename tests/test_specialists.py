"""The specialists on real data (Nezha TrainTicket cases, Loghub lines) and on small hand-built inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.context import AnalysisContext, plan_windows
from agents.specialists.changes import analysis as changes
from agents.specialists.logs import analysis as logs
from agents.specialists.logs.masking import mask_secrets
from agents.specialists.metrics import analysis as metrics
from agents.specialists.traces import analysis as traces
from evaluation.nezha_import import import_case
from shared.finding_details import metric_of
from shared.telemetry.bundle import BundleSource, BundleWriter
from shared.telemetry_records import ChangeEvent, LogRecord, Span
from tests.data import nezha_dir


def context(onset: float, service: str = "frontend") -> AnalysisContext:
    incident, baseline = plan_windows(onset)
    return AnalysisContext("inc", service, "m", onset, incident, baseline)


@pytest.fixture(scope="module")
def nezha(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = nezha_dir()
    out = tmp_path_factory.mktemp("cases")

    def load(case: str) -> tuple[BundleSource, AnalysisContext, dict[str, object]]:
        info = import_case(root / "cases" / case, out / case, root / "reference")
        return BundleSource(info.bundle_dir), context(info.inject_time + 60), info.label

    return load


def test_logs_find_the_new_error_pattern_of_an_exception_case(nezha) -> None:  # type: ignore[no-untyped-def]
    source, ctx, label = nezha("tt-20230129-101248")  # exception injected in ts-travel-service
    result = logs.analyse(source, ctx)
    top = result.findings[:5]
    assert any(f.service == label["service"] and f.kind in ("log.new_pattern", "log.spike") for f in top)
    assert all(f.exemplars for f in top) and top[0].widget and top[0].widget.kind == "pattern_table"


def test_metrics_find_the_cpu_of_a_cpu_contention_case(nezha) -> None:  # type: ignore[no-untyped-def]
    source, ctx, label = nezha("tt-20230129-142331")
    result = metrics.analyse(source, ctx)
    cpu = [f for f in result.findings if f.service == label["service"] and "cpu" in metric_of(f.details)]
    assert cpu and cpu[0].score >= 0.8 and cpu[0].widget is not None
    assert cpu[0].onset is not None and abs(cpu[0].onset - ctx.onset) < 180  # the change point, near the fault


def test_traces_see_a_network_delay_case(nezha) -> None:  # type: ignore[no-untyped-def]
    source, ctx, label = nezha("tt-20230130-120612")  # network delay on ts-basic-service
    result = traces.analyse(source, ctx)
    shifts = [f for f in result.findings if f.kind == "trace.latency_shift"]
    assert shifts and shifts[0].details.duration_ratio > 1.3 and shifts[0].widget is not None
    (topology,) = [f for f in result.findings if f.kind == "trace.topology"]
    assert len(topology.details.edges) > 20
    assert any(label["service"] in (a, b) for a, b, _ in topology.details.edges)
    # A delay on the wire shows in the callers' client spans, not in the delayed service's own spans: telling
    # the two apart is issue 4's work. Here we pin only what this version sees.


def _synthetic(tmp_path: Path, slow_leaf: bool) -> tuple[BundleSource, AnalysisContext]:
    ctx = context(100_000.0)
    with BundleWriter(tmp_path, {}) as w:
        for i, t in ticks(ctx, 400):
            late = slow_leaf and t >= ctx.incident.start
            leaf = 0.5 if late else 0.01
            w.span(Span(f"t{i}", "a", "", "front", "GET", t, t + 0.02 + leaf))
            w.span(Span(f"t{i}", "b", "a", "mid", "Call", t + 0.005, t + 0.015 + leaf))
            w.span(Span(f"t{i}", "c", "b", "leaf", "Query", t + 0.01, t + 0.01 + leaf))
            w.log(LogRecord(t, "mid", f"handled request {i} in {int(leaf * 1000)} ms"))
    return BundleSource(tmp_path), ctx


def test_traces_blame_the_slow_leaf_not_its_callers(tmp_path: Path) -> None:
    source, ctx = _synthetic(tmp_path, slow_leaf=True)
    shifts = {f.service: f for f in traces.analyse(source, ctx).findings if f.kind == "trace.latency_shift"}
    assert shifts["leaf"].details.own_time_grew
    assert not shifts["front"].details.own_time_grew and shifts["leaf"].score > shifts["front"].score


def test_no_findings_when_nothing_changed(tmp_path: Path) -> None:
    source, ctx = _synthetic(tmp_path, slow_leaf=False)
    assert [f for f in traces.analyse(source, ctx).findings if f.kind != "trace.topology"] == []
    assert logs.analyse(source, ctx).findings == []


def test_changes_score_by_proximity_and_rule_out_when_quiet(tmp_path: Path) -> None:
    ctx = context(50_000.0)
    with BundleWriter(tmp_path, {}) as w:
        w.change(ChangeEvent(50_000.0 - 120, "pay", "deploy", "deploy pay v2"))
        w.change(ChangeEvent(50_000.0 - 5400, "ads", "deploy", "deploy ads v9"))
    found = changes.analyse(BundleSource(tmp_path), ctx).findings
    assert [f.service for f in found] == ["pay", "ads"] and found[0].score > 0.8 > 0.2 > found[1].score
    quiet = tmp_path / "quiet"
    with BundleWriter(quiet, {}):
        pass
    (none,) = changes.analyse(BundleSource(quiet), ctx).findings
    assert none.ruled_out and none.kind == "change.none"


def test_secrets_are_masked() -> None:
    line = ("login ok user=bob@example.com password=hunter2 Authorization: Bearer abcdefghijklmnop123 "
            "key=AIzaSyA1234567890abcdefghijklmnopqrstuv aws=AKIAIOSFODNN7EXAMPLE card 4111 1111 1111 1111 "
            "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U")
    masked = mask_secrets(line)
    for secret in ("bob@example.com", "hunter2", "abcdefghijklmnop123", "AIzaSyA1234567890", "AKIAIOSFODNN7EXAMPLE",
                   "4111 1111", "eyJhbGciOiJIUzI1NiJ9"):
        assert secret not in masked, secret
    assert masked.startswith("login ok user=")


def ticks(ctx: AnalysisContext, n: int = 300) -> list[tuple[int, float]]:
    """n evenly spaced request times over the baseline and incident windows."""
    return [(i, ctx.baseline.start + i * (ctx.incident.end - ctx.baseline.start) / n) for i in range(n)]


def test_spans_whose_own_logs_report_errors_count_as_failing(tmp_path: Path) -> None:
    ctx = context(100_000.0)
    with BundleWriter(tmp_path, {}) as w:
        for i, t in ticks(ctx):
            failing = t >= ctx.incident.start and i % 2 == 0
            w.span(Span(f"t{i}", "a", "", "front", "GET", t, t + 0.03))
            w.span(Span(f"t{i}", "b", "a", "mid", "Call", t + 0.005, t + 0.025))
            w.span(Span(f"t{i}", "c", "b", "leaf", "Query", t + 0.01, t + 0.02))
            if failing:  # no span status: only the leaf's log says it failed, and its callers log it too
                w.log(LogRecord(t + 0.015, "leaf", "ERROR query failed: deadlock detected", "ERROR", "", f"t{i}", "c"))
                w.log(LogRecord(t + 0.02, "mid", "ERROR call to leaf failed", "ERROR", "", f"t{i}", "b"))
    result = traces.analyse(BundleSource(tmp_path), ctx)
    origins = [f for f in result.findings if f.kind == "trace.error_origin"]
    assert [f.service for f in origins] == ["leaf"]


def test_a_slow_network_to_a_service_is_blamed_on_that_service_not_its_callers(tmp_path: Path) -> None:
    ctx = context(100_000.0)
    with BundleWriter(tmp_path, {}) as w:
        for i, t in ticks(ctx):
            wire = 0.4 if t >= ctx.incident.start else 0.002  # the delay sits between client and server span
            w.span(Span(f"t{i}", "srv", "", "caller", "GET /x", t, t + 0.02 + 2 * wire))
            w.span(Span(f"t{i}", "cli", "srv", "caller", "HTTP GET", t + 0.005, t + 0.015 + 2 * wire))
            w.span(Span(f"t{i}", "callee", "cli", "db-api", "/query", t + 0.005 + wire, t + 0.015 + wire))
    found = traces.analyse(BundleSource(tmp_path), ctx).findings
    (wire_delay,) = [f for f in found if f.kind == "trace.wire_delay"]
    assert wire_delay.service == "db-api" and wire_delay.score > 0.5
    caller = [f for f in found if f.kind == "trace.latency_shift" and f.service == "caller"]
    assert caller and not caller[0].details.own_time_grew  # it only waits
