"""A caller that logs (or absorbs) its callee's failure: the lines sit in the traces whose failure starts in the
callee, so they report the callee's fault, not one of the caller's own (agents/ranking/evidence.py)."""

from __future__ import annotations

from typing import Any

import pytest

from agents.context import AnalysisContext, plan_windows
from agents.ranking import evidence, rca
from shared.models import Finding

ONSET = 1_700_000_000.0
EDGES = [["frontend", "checkout", 100], ["checkout", "payment", 100], ["checkout", "cart", 100]]
FAILED = [f"t{i:03d}" for i in range(40)]


def ctx() -> AnalysisContext:
    incident, baseline = plan_windows(ONSET)
    return AnalysisContext("inc", "frontend", "latency_p90", ONSET, incident, baseline)


def findings(log_traces: list[str]) -> list[Finding]:
    def made(kind: str, service: str, score: float, **details: Any) -> Finding:
        specialist = {"log": "logs", "trace": "traces"}[kind.split(".")[0]]
        return Finding(specialist=specialist, kind=kind, service=service, score=score, title=f"{kind} {service}",
                       details=details, finding_id=f"{kind}-{service}")

    return [
        Finding(specialist="traces", kind="trace.topology", title="graph", details={"edges": EDGES}),
        # the caller's new error pattern (its own wording: nothing of the callee's text) ...
        made("log.new_pattern", "checkout", 0.85, template="order <*> could not be completed, retry later",
             errorish=True, trace_ids=log_traces),
        # ... and the callee, whose spans are the deepest failing ones in those traces
        made("trace.error_origin", "payment", 0.6, operation="Charge", count=40, trace_ids=FAILED),
    ]


def test_a_callers_lines_in_traces_that_fail_further_down_report_the_callee() -> None:
    causes = rca.rank(findings(FAILED[:30]), ctx()).causes
    assert causes[0].service == "payment"
    assert causes[1].service == "checkout" and causes[1].propagation_of == "payment"


def test_a_callers_lines_in_other_traces_are_its_own() -> None:
    others = [f"x{i:03d}" for i in range(30)]
    assert rca.rank(findings(others), ctx()).causes[0].service == "checkout"


def test_without_the_rule_the_reporting_caller_outranks_the_callee(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evidence, "REPORTS_CALLEE", False)
    assert rca.rank(findings(FAILED[:30]), ctx()).causes[0].service == "checkout"
