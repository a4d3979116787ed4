"""Degraded-telemetry variants: the import options, the report's coverage, traces without a baseline."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.context import plan_windows
from agents.reporting.coverage import coverage_line, signal_coverage
from evaluation.nezha_eval import VARIANTS
from evaluation.nezha_import import CaseInfo, import_case
from shared.alerts import parse_alert
from shared.models import Finding, SignalCoverage
from shared.telemetry.bundle import BundleSource
from shared.telemetry_records import Window
from tests.data import nezha_dir

CASE = "tt-20230129-093419"
EVERYTHING = Window(0, 4e9)
ONSET = 10_000.0


def test_coverage_comes_from_the_notes_and_the_changes_findings() -> None:
    assert signal_coverage([], [], "logs") == SignalCoverage(incident=True, baseline=True)
    c = signal_coverage(["no baseline spans: latency and error shifts cannot be scored"], [], "traces")
    assert (c.incident, c.baseline) == (True, False)
    c = signal_coverage(["no log lines in the incident window"], [], "logs")
    assert (c.incident, c.baseline) == (False, None)
    c = signal_coverage(["no metric series in the baseline or incident window"], [], "metrics")
    assert (c.incident, c.baseline) == (False, False)
    none = Finding(specialist="changes", kind="change.none", title="no change", ruled_out=True)
    assert signal_coverage([], [none], "changes").incident is False
    deploy = Finding(specialist="changes", kind="change.deploy", service="a", title="deployed")
    assert signal_coverage([], [none, deploy], "changes").incident is True
    assert coverage_line("logs", SignalCoverage(incident=False)) == "logs: incident window EMPTY, baseline unknown"
    assert coverage_line("changes", SignalCoverage(incident=True)) == "changes: incident window data"


def test_the_variants_are_import_options() -> None:
    assert list(VARIANTS) == ["full", "no-logs", "no-trace-baseline", "metrics-only", "no-logs-no-trace-baseline",
                              "alert-late"]
    assert VARIANTS["no-logs-no-trace-baseline"].options == {"logs": False, "trace_baseline": False}
    assert VARIANTS["full"].options == {}


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CaseInfo]:
    root = nezha_dir()
    out = tmp_path_factory.mktemp("variants")
    return {name: import_case(root / "cases" / CASE, out / name, root / "reference", **VARIANTS[name].options)
            for name in ("full", "no-logs", "no-trace-baseline", "metrics-only")}


def test_variant_bundles_leave_out_what_they_say(imported: dict[str, CaseInfo]) -> None:
    full = BundleSource(imported["full"].bundle_dir)
    incident, _ = plan_windows(parse_alert(Path(imported["full"].alert_path).read_bytes()).started_at or 0.0)
    no_logs = BundleSource(imported["no-logs"].bundle_dir)
    assert not no_logs.logs(EVERYTHING).items and no_logs.spans(EVERYTHING).items == full.spans(EVERYTHING).items
    no_base = BundleSource(imported["no-trace-baseline"].bundle_dir)
    assert no_base.spans(EVERYTHING).items and min(s.start for s in no_base.spans(EVERYTHING).items) >= incident.start
    assert no_base.logs(EVERYTHING).items == full.logs(EVERYTHING).items
    only = BundleSource(imported["metrics-only"].bundle_dir)
    assert not only.logs(EVERYTHING).items and not only.spans(EVERYTHING).items
    assert len(only.metrics(EVERYTHING).items) == len(full.metrics(EVERYTHING).items)


def test_a_report_states_its_coverage_in_text_and_json(tmp_path: Path) -> None:
    from demo.generator import FAULT_KINDS, generate
    from functions.local import triage
    from functions.report_text import render_report

    s = generate(FAULT_KINDS[0], tmp_path / "case", seed=1)
    result = triage(s.alert_path.read_bytes(), BundleSource(s.bundle_dir))
    coverage = result.report.coverage
    assert set(coverage) == {"logs", "traces", "metrics", "changes"}
    assert coverage["logs"].incident and coverage["traces"].baseline and coverage["metrics"].incident
    text = render_report(result.state, result.report)
    assert "\nCOVERAGE\n" in text and "\n  logs: incident window data, baseline data\n" in text
    assert result.report.model_dump(mode="json")["coverage"]["traces"]["incident"] is True
