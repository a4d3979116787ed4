"""The synthesis: a round's report, built whole in one place (deterministic; no model is called here).

`rank_round` ranks the findings of the round's investigation (rounds 1..n: a follow-up round's closer look
replaces the earlier rounds' findings of the same kind about the same service) and states what the report is
missing. `build_report` is the one function that makes a Report: from that ranking, the narrative, the similar
past incidents and the recorded read costs (priced). Called with the ranking alone, it is the ranked report the
narrator and the similar-incident lookup read; the synthesize handler then builds the finished report from their
answers (functions/handlers/synthesize.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from agents.context import AnalysisContext
from agents.ranking.calibration import CONFIDENT
from agents.ranking.rca import RcaResult, headline, rank
from agents.reporting.coverage import coverage_of
from agents.reporting.followup import merged
from shared.cost_ledger import Prices, cost_of, investigation_counts
from shared.incident_state import IncidentState
from shared.models import Finding, ReadCounts, Report, SignalCoverage, SimilarIncident


@dataclass(frozen=True)
class Narrative:
    """The report's prose: its text ("" when there is none) and what the model said about it (`llm`: whether one
    was used or why not, its tokens, the sentences dropped as ungrounded)."""

    text: str = ""
    llm: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Ranking:
    """A round ranked: everything its report states but the narrative, the similar incidents and the cost."""

    ctx: AnalysisContext
    round: int
    findings: list[Finding]
    result: RcaResult
    headline: str
    summary: str
    missing: list[str]  # specialists with no answer yet
    failed: dict[str, str]  # specialist -> error
    costs: dict[tuple[int, str], ReadCounts]  # the investigation's recorded reads per (round, specialist)
    coverage: dict[str, SignalCoverage]
    unjudged: list[str] = field(default_factory=list)  # signals read with no baseline, when none had one (partial)
    steering: list[str] = field(default_factory=list)  # what responders' hints changed

    @property
    def capped(self) -> bool:
        """A read budget cap was reached: reads were refused, the report is partial and final."""
        return any(c.cap for c in self.costs.values())


def rank_round(state: IncidentState, number: int, ctx: AnalysisContext) -> Ranking:
    """Rank causes from the findings the round's specialists reported, and say what the round is missing."""
    rnd = state.rounds[number]
    per_round = [[state.findings[fid] for name in r.specialists for fid in r.completed.get(name, [])
                  if fid in state.findings] for r in state.investigation(number)]
    findings: list[Finding] = merged(per_round)
    result = rank(findings, ctx)
    steering: list[str] = []
    if state.hints:  # responders' hints, replayed from the log: a bounded prior on the ranked services
        from agents.reporting.steering import steer

        causes, steering = steer(result.causes, state.hints, findings)
        result = replace(result, causes=causes)
    title, summary = headline(result, ctx)
    missing = rnd.missing
    if missing:
        summary += f" Partial report: no answer from {', '.join(missing)} before the deadline."
    if rnd.failed:
        summary += " Failed: " + "; ".join(f"{k} ({v})" for k, v in sorted(rnd.failed.items())) + "."
    costs = investigation_counts(state, number)
    capped = sorted({(name, c.cap) for (_, name), c in costs.items() if c.cap})
    if capped:  # reads refused once the investigation's budget was spent (shared/cost_ledger.py)
        summary += (f" Partial report: the read budget was reached ({capped[0][1]}); reads of "
                    f"{', '.join(sorted({name for name, _ in capped}))} were refused past it.")
    coverage = coverage_of(state, number)
    unjudged = no_baseline(coverage)
    if unjudged:
        summary += (" Partial report: no signal read had a baseline to compare the incident with "
                    f"({', '.join(unjudged)}): what is unusual cannot be told from what is usual, so no cause can be "
                    "named with confidence.")
    return Ranking(ctx=ctx, round=number, findings=findings, result=result, headline=title, summary=summary,
                   missing=missing, failed=dict(sorted(rnd.failed.items())), costs=costs, coverage=coverage,
                   unjudged=unjudged, steering=steering)


def build_report(ranking: Ranking, narrative: Narrative | None = None, similar: Sequence[SimilarIncident] = (),
                 prices: Prices | None = None) -> Report:
    """The report: the ranking with its narrative (None: not narrated yet), the similar past incidents and, priced
    at `prices`, the investigation's cost ledger (None: not priced yet)."""
    r, result = ranking, ranking.result
    llm: Mapping[str, object] = narrative.llm if narrative is not None else {}
    text = narrative.text if narrative is not None else ""
    return Report(
        incident_id=r.ctx.incident_id,
        round=r.round,
        partial=bool(r.missing or r.capped or r.unjudged),
        missing_specialists=r.missing,
        failed_specialists=r.failed,
        headline=r.headline,
        summary=r.summary,
        alert_service=r.ctx.alert_service,
        onset=r.ctx.onset,
        causes=result.causes,
        ruled_out=result.ruled_out,
        finding_ids=[f.finding_id for f in r.findings],
        confident=bool(result.causes) and result.causes[0].confidence >= CONFIDENT,
        recovered=result.recovered,
        recovery=result.recovery,
        narrative_source="llm" if text else "deterministic",
        narrative=text,
        llm=dict(llm),
        similar=list(similar),
        cost=cost_of(r.costs, llm, prices) if prices is not None else None,
        coverage=r.coverage,
        steering=r.steering,
    )


def no_baseline(coverage: dict[str, SignalCoverage]) -> list[str]:
    """The signals whose incident window held data but no baseline, when no signal had a baseline at all (the
    changes' "what changed before the onset" needs none and is not counted); [] otherwise."""
    judged = {name: c for name, c in coverage.items() if name != "changes"}
    if any(c.baseline for c in judged.values()):
        return []
    return sorted(name for name, c in judged.items() if c.incident and c.baseline is False)
