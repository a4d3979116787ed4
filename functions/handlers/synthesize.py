"""Synthesize (the findings topic): once every specialist of a round reported (or, from the sweep, past its
deadline), rank the round, and either open a targeted follow-up round (an open ranking: agents/reporting/followup.py) or
publish the report, built whole by agents/reporting/synthesis.py from the ranking, the narrative and the similar past
incidents; then follow it through (functions/handlers/after_report.py). A redelivery after the report only runs
the after-report steps not recorded as done. A message the round's events settle (its round still waits for a
specialist, or its complete report is published and followed through) is dropped after reading those events by id,
without loading the incident's log."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from functions.handlers.after_report import done_key, follow_through, steps_of
from shared.event_types import EventType, stable_id
from shared.messages import FindingsReady
from shared.ports import Message

if TYPE_CHECKING:  # a message the round's events settle by id needs no payload, no fold, no model of the log
    from agents.reporting.synthesis import Narrative
    from functions.pipeline import Pipeline
    from shared.incident_log import IncidentHandle, Step
    from shared.incident_state import IncidentState
    from shared.models import RankedCause, Report, SimilarIncident

log = logging.getLogger("autosre.pipeline")
FOLLOW_UP_MIN_S = 30.0  # a follow-up round is opened only with this much of the investigation's read deadline left


def on_findings(p: Pipeline, message: Message) -> None:
    ready = FindingsReady.model_validate_json(message.data)
    if settled(p, ready.incident_id, ready.round):
        return
    synthesize(p, ready.incident_id, ready.round, delivery=stable_id(ready.incident_id, ready.round, ready.specialist))


def settled(p: Pipeline, incident_id: str, number: int) -> bool:
    """Whether round `number` has nothing for a findings message to do, by its events read by id (one batched
    read; no load of the log, no fold): its complete report is published and every after-report step is recorded
    as done (a redelivery, or a specialist reporting after the report), or it has no report and one of its
    specialists has neither completed nor failed (the round waits for it). Anything else, and anything the read
    cannot vouch for (a round not started, a specialist not of this pipeline), is left to the fold: False."""
    started: Step = (EventType.ROUND_STARTED, (number,))
    complete: Step = (EventType.REPORT_PUBLISHED, (number, "complete"))
    partial: Step = (EventType.REPORT_PUBLISHED, (number, "partial"))
    steps: list[Step] = [(EventType.REPORT_STEP_DONE, (number, done_key(False, s.name))) for s in steps_of(p)]
    runs: dict[str, list[Step]] = {name: [(EventType.SPECIALIST_COMPLETED, (number, name)),
                                          (EventType.SPECIALIST_FAILED, (number, name))] for name in p.specialists}
    found = p.log.read_by_id(incident_id, [started, complete, partial, *steps, *(s for r in runs.values() for s in r)])
    if started not in found:
        return False
    if complete in found:  # a complete report supersedes a partial one: what is left is its steps
        return all(step in found for step in steps)
    if partial in found:
        return False
    members = found[started].get("specialists")
    if found[started].get("round") != number or not isinstance(members, list) or not members \
            or not all(isinstance(m, str) and m in runs for m in members):
        return False
    return any(not any(run in found for run in runs[m]) for m in members)


def synthesize(p: Pipeline, incident_id: str, number: int, partial_ok: bool = False,
               delivery: str = "") -> Report | None:
    """Publish the round's report once every specialist reported (or, with partial_ok, now). A complete first
    round whose ranking is still open starts a targeted follow-up round instead; the follow-up's report then
    covers both rounds."""
    with p.log.incident(incident_id) as incident:
        return synthesize_round(p, incident, number, partial_ok, delivery)


def synthesize_round(p: Pipeline, incident: IncidentHandle, number: int, partial_ok: bool,
                     delivery: str) -> Report | None:
    from shared.analysis_events import ReportPublished
    from shared.cost_ledger import investigation_counts

    state = incident.state
    rnd = state.rounds.get(number)
    if rnd is None:
        return None
    capped = any(c.cap for c in investigation_counts(state, number).values())
    if rnd.report is not None and (not rnd.report.partial or rnd.missing or capped):
        follow_through(p, incident, rnd.report)  # a crash after the report may have left steps undone
        return None  # a complete report is final; a partial one stands until the missing specialists report
        # (one cut short by the read budget is final too: its reads were refused, they will not come)
    if rnd.missing and not partial_ok:
        return None
    # the deadline sweep has no delivery of its own: it resumes a follow-up under one fixed identity
    delivery = delivery or stable_id(incident.incident_id, "follow-up", number + 1)
    if number + 1 in state.rounds and not state.rounds[number + 1].fresh:  # followed up: its report covers this
        p.fan_out(incident, number + 1, delivery)  # the opening delivery's redelivery re-sends tasks
        return None
    from agents.reporting.synthesis import build_report, rank_round  # only now: a redelivery never loads the analysis
    from functions.pipeline import analysis_context

    ranking = rank_round(state, number, analysis_context(state, number))
    ranked = build_report(ranking)  # what the narrator and the similar-incident lookup read
    if not rnd.missing and not capped and follow_up(p, incident, number, ranked.causes, delivery):
        return None  # a spent budget gets no second look: its reads would be refused
    report = build_report(ranking, narrate(p, ranked, state), recall(p, ranked, state), p.prices)
    incident.record(EventType.REPORT_PUBLISHED, (number, "partial" if report.partial else "complete"), "synthesize",
                    ReportPublished(report=report))
    published = incident.state.rounds[number].report or report  # another writer's report stands
    follow_through(p, incident, published)
    return published


def follow_up(p: Pipeline, incident: IncidentHandle, number: int, causes: list[RankedCause], delivery: str) -> bool:
    """Start the targeted next round when the ranking is open (`delivery` opens it: only it, or its redelivery,
    fans out). True when the report must wait for it."""
    from agents.reporting.followup import AMBIGUOUS, FOCUSED_SPECIALISTS, second_look
    from shared.lifecycle_events import RoundStarted

    nxt = number + 1
    specialists = [s for s in p.specialists if s in FOCUSED_SPECIALISTS]
    focus = second_look(causes)
    if len(incident.state.investigation(number)) >= p.max_rounds or not focus or not specialists:
        return False
    first = incident.state.investigation(number)[0]
    if first.started_at is not None and p.read_deadline_s - (p.clock() - first.started_at) < FOLLOW_UP_MIN_S:
        return False  # too little of the investigation's read deadline left for a closer look: publish now
    incident.record(EventType.ROUND_STARTED, (nxt,), "synthesize", RoundStarted(
        round=nxt, specialists=specialists, deadline=p.clock() + p.round_deadline_s,
        window=incident.state.rounds[number].window, focus=list(focus), opened_by=delivery,
        reason=f"open ranking: {', '.join(focus)} scored within {1 - AMBIGUOUS:.0%} of one another"))
    p.fan_out(incident, nxt, delivery)
    return True


def narrate(p: Pipeline, ranked: Report, state: IncidentState) -> Narrative:
    """The grounded LLM narrative of the ranked report (agents/reporting/narrative.py); the model is optional:
    without one, or when it fails, the report says why and has none."""
    from agents.reporting.synthesis import Narrative

    if p.writer is None:
        return Narrative(llm={"used": False, "reason": "no LLM configured"})
    from agents.reporting.narrative import narrate as narrate_report

    model = str(getattr(p.writer, "model", "") or "the model")
    try:
        text, meta = narrate_report(ranked, state.findings, p.writer)
    except Exception as exc:  # its failure never costs the report, and the report says so
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:240]
        log.error("narrative failed: %s answered %s", model, detail,
                  extra={"json_fields": {"incident_id": state.incident_id, "model": model}})
        return Narrative(llm={"used": False, "failed": True, "model": model,
                              "reason": f"the narrative failed: {model} answered {detail}; this report is the "
                                        "deterministic analysis alone"})
    meta = {**meta, "model": model}
    if not text and meta.get("used"):  # asked, but nothing came back that could be kept: say so
        dropped = meta.get("dropped_sentences") or 0
        meta["reason"] = (f"the narrative of {model} was dropped: none of its {dropped} sentences cited the findings"
                          if dropped else f"{model} returned no narrative text")
    return Narrative(text, meta)


def recall(p: Pipeline, ranked: Report, state: IncidentState) -> list[SimilarIncident]:
    """The past incidents most like this one (functions/memory.py); a failed lookup never costs the report."""
    from functions.memory import recall as recall_similar

    alert = state.first_alert
    try:
        return recall_similar(p.store, ranked, state.findings, alert.metric_type if alert else "",
                              project_id=alert.project_id if alert else "")
    except Exception as exc:
        log.warning("similar-incident lookup failed: %s: %s", type(exc).__name__, exc)
        return []
