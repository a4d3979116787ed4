"""The synthesis decision: a round's report from the findings its specialists recorded (deterministic, no LLM).

Takes the findings of rounds 1..n (a follow-up round's closer look replaces the earlier rounds' findings of the
same kind about the same service), ranks causes, writes the headline, and states what the report is missing.
"""

from __future__ import annotations

from agents.calibration import CONFIDENT
from agents.context import AnalysisContext
from agents.coverage import coverage_of
from agents.followup import merged
from agents.rca import headline, rank
from shared.incident_state import IncidentState
from shared.models import Finding, Report, SignalCoverage


def build_report(state: IncidentState, number: int, ctx: AnalysisContext) -> Report:
    """Rank causes from the findings the round's specialists reported."""
    rnd = state.rounds[number]
    per_round = [[state.findings[fid] for name in r.specialists for fid in r.completed.get(name, [])
                  if fid in state.findings] for r in state.investigation(number)]
    findings: list[Finding] = merged(per_round)
    result = rank(findings, ctx)
    title, summary = headline(result, ctx)
    missing = rnd.missing
    if missing:
        summary += f" Partial report: no answer from {', '.join(missing)} before the deadline."
    if rnd.failed:
        summary += " Failed: " + "; ".join(f"{k} ({v})" for k, v in sorted(rnd.failed.items())) + "."
    capped = sorted({(name, c.cap) for r in state.investigation(number) for name, c in r.costs.items() if c.cap})
    if capped:  # reads refused once the investigation's budget was spent (shared/telemetry/metered.py)
        summary += (f" Partial report: the read budget was reached ({capped[0][1]}); reads of "
                    f"{', '.join(sorted({name for name, _ in capped}))} were refused past it.")
    coverage = coverage_of(state, number)
    unjudged = no_baseline(coverage)
    if unjudged:
        summary += (" Partial report: no signal read had a baseline to compare the incident with "
                    f"({', '.join(unjudged)}): what is unusual cannot be told from what is usual, so no cause can be "
                    "named with confidence.")
    return Report(
        incident_id=state.incident_id,
        round=number,
        partial=bool(missing or capped or unjudged),
        missing_specialists=missing,
        failed_specialists=dict(sorted(rnd.failed.items())),
        headline=title,
        summary=summary,
        alert_service=ctx.alert_service,
        onset=ctx.onset,
        causes=result.causes,
        ruled_out=result.ruled_out,
        finding_ids=[f.finding_id for f in findings],
        confident=bool(result.causes) and result.causes[0].confidence >= CONFIDENT,
        recovered=result.recovered,
        recovery=result.recovery,
        coverage=coverage,
    )


def no_baseline(coverage: dict[str, SignalCoverage]) -> list[str]:
    """The signals whose incident window held data but no baseline, when no signal had a baseline at all (the
    changes' "what changed before the onset" needs none and is not counted); [] otherwise."""
    judged = {name: c for name, c in coverage.items() if name != "changes"}
    if any(c.baseline for c in judged.values()):
        return []
    return sorted(name for name, c in judged.items() if c.incident and c.baseline is False)
