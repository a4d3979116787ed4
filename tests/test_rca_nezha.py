"""All four specialists and the root-cause analyst on real Nezha TrainTicket cases, from the synthesized frontend
alert alone (label.json is read only to score the result). Run with -s to see the rank of the true service."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.context import AnalysisContext
from agents.ranking.rca import headline, rank
from agents.specialists.changes import analysis as changes
from agents.specialists.logs import analysis as logs
from agents.specialists.metrics import analysis as metrics
from agents.specialists.traces import analysis as traces
from shared.models import Finding
from tests.data import nezha_case

SPECIALISTS = {"logs": logs.analyse, "traces": traces.analyse, "metrics": metrics.analyse, "changes": changes.analyse}
CASES = [  # one per fault type with a service-level label: exception, cpu contention, network delay
    "tt-20230129-101248",
    "tt-20230129-142331",
    "tt-20230130-120612",
]


def triage(case: str, out: Path) -> tuple[list[Finding], AnalysisContext, dict[str, object]]:
    source, ctx, label = nezha_case(case, out)
    findings = [f.model_copy(update={"finding_id": f"f-{name}-{i}"})
                for name, analyse in SPECIALISTS.items() for i, f in enumerate(analyse(source, ctx).findings)]
    return findings, ctx, label


@pytest.mark.parametrize("case", CASES)
def test_the_true_service_ranks_near_the_top_with_a_chain_to_the_frontend(case: str, tmp_path: Path) -> None:
    findings, ctx, label = triage(case, tmp_path)
    result = rank(findings, ctx, top_k=10)
    ranked = [c.service for c in result.causes]
    truth = str(label["service"])
    position = ranked.index(truth) + 1 if truth in ranked else None
    print(f"\n{case} {label['fault_type']}: true service {truth} ranked {position}; top 3 {ranked[:3]}")
    assert position is not None and position <= 3
    ids = {f.finding_id for f in findings}
    for cause in result.causes:
        assert cause.chain[0].role == "cause" and cause.chain[-1].role == "impact"
        assert cause.chain[-1].service == ctx.alert_service and set(cause.evidence) <= ids
        assert all(set(step.evidence) <= ids for step in cause.chain)
    title, summary = headline(result, ctx)
    # the injected faults last 180 s: one that ended inside the incident window is reported as recovered
    assert title.startswith("Recovered before triage. ") == result.recovered
    assert title.removeprefix("Recovered before triage. ").startswith(f"Likely root cause: {ranked[0]}") and summary
    assert any(r.service == "" and "change" in r.reason for r in result.ruled_out)  # no change log in this data
