"""Memory of past incidents over the event store's signature index.

`remember` indexes a published report's signature (agents/reporting/similarity.py): the after-report step "remember",
re-driven like the others until it is recorded. `recall` lists the past incidents most like a report that is being
built: the index names the incidents sharing the most of its heaviest terms (one query per batch of terms, never a
scan), their stored signatures re-rank them by weighted similarity, and only the few listed are read, for their
root cause, what was done and whether it worked. Only incidents of the same project are listed (one store may serve
several projects, and another project's cause is not this one's to show), and the people named in them (who
approved, who confirmed) are shown masked: `a***@example.com`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from agents.remediation.catalog import action_title
from agents.reporting.similarity import rank, shared_terms, signature, weight
from shared.incident_log import IncidentLog, LogStore
from shared.incident_state import IncidentState
from shared.models import Finding, Report, SimilarIncident
from shared.ports import TermIndex

POOL = 30  # candidates taken from the index (by matched terms) and re-ranked by weighted similarity
LISTED = 3
PROBE_TERMS = 30  # candidates are found by the heaviest terms (one `in` batch), ranked on whole signatures


class MemoryStore(TermIndex, LogStore, Protocol):
    """What recall reads: the signature index, and the past incidents' logs for what became of them."""


def report_signature(state: IncidentState, report: Report) -> list[str]:
    alert = state.first_alert
    return signature(report, state.findings, alert.metric_type if alert else "")


def remember(store: TermIndex, state: IncidentState, report: Report) -> list[str]:
    """Index the report's signature under its incident (replacing an earlier report's), with the responders'
    word on its cause when there is one; returns the terms."""
    terms = report_signature(state, report) + feedback_terms(state)
    store.index_terms(report.incident_id, terms)
    return terms


def feedback_terms(state: IncidentState) -> list[str]:
    word = state.cause_verdict
    return [f"feedback:{word.verdict}"] if word is not None else []


def remember_feedback(store: TermIndex, state: IncidentState) -> None:
    """Put the latest word on the cause into an indexed incident's terms (one not indexed yet gets it when its
    report is remembered)."""
    indexed = store.indexed_terms([state.incident_id]).get(state.incident_id)
    if indexed:
        store.index_terms(state.incident_id, [t for t in indexed if not t.startswith("feedback:")]
                          + feedback_terms(state))


def recall(store: MemoryStore, report: Report, findings: Mapping[str, Finding], alert_metric: str = "",
           limit: int = LISTED, pool: int = POOL, project_id: str = "") -> list[SimilarIncident]:
    """The past incidents of `project_id` most like `report` (never its own incident), most similar first (a
    past incident whose events are gone is listed by its likeness alone)."""
    terms = signature(report, findings, alert_metric)
    if not terms or limit <= 0:
        return []
    probe = sorted(terms, key=lambda t: (-weight(t), t))[:PROBE_TERMS]  # the heaviest: one query on Firestore
    hits = store.incidents_with_terms(probe, pool + 1)  # + 1: the incident itself may be indexed already
    hits.pop(report.incident_id, None)
    stored = store.indexed_terms(list(hits)[:pool])
    ranked = rank(terms, stored, exclude=report.incident_id, limit=pool)
    past = IncidentLog(store)  # its own log: reading past incidents is not this incident's load
    listed: list[SimilarIncident] = []
    for cid, score in ranked:
        state = past.read(cid)
        alert = state.first_alert if state is not None else None
        if alert is not None and alert.project_id != project_id:
            continue
        listed.append(describe(cid, score, state, shared_terms(terms, stored[cid])))
        if len(listed) >= limit:
            break
    return listed


def masked(email: str) -> str:
    """`alice@example.com` -> `a***@example.com`: the team's domain, not the person."""
    local, at, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if at else (f"{email[:1]}***" if email else "")


def describe(incident_id: str, score: float, state: IncidentState | None, shared: list[str]) -> SimilarIncident:
    """What a past incident was and what became of it: its root cause, what was done, whether it worked."""
    similar = SimilarIncident(incident_id=incident_id, similarity=round(min(max(score, 0.0), 1.0), 4),
                              shared=shared)
    if state is None:
        return similar
    report = state.latest_report
    top = report.causes[0] if report is not None and report.causes else None
    actions: list[str] = []
    verdicts: list[str] = []
    outcomes: list[str] = []
    for pid in sorted(state.proposals):
        p = state.proposals[pid]
        decision, execution = state.decisions.get(pid), state.executions.get(pid)
        what = f"{action_title(p.action)} on {p.service}"
        if execution is not None:
            actions.append(f"{what}: {execution.status}" + (f" (approved by {masked(execution.approved_by)})"
                                                             if execution.approved_by else ""))
            checked = state.verified.get(pid)
            if checked is not None:  # the recovery check's verdict; a pending one says nothing yet
                verdicts.append(checked.verdict)
                outcomes.append(checked.result)
        elif decision is not None:
            actions.append(f"{what}: {'approved, not run' if decision.decision == 'approve' else 'denied'}")
    worked: bool | None = None
    if "recovered" in outcomes:
        worked = True
    elif "not_recovered" in outcomes:
        worked = False
    else:  # no check said it: the responders' word on the actions, when they agree
        words = {w.helpful for by in state.action_feedback.values() for w in by.values()}
        worked = words.pop() if len(words) == 1 else None
    root = f"{top.service}: {top.title}" if top else ""
    word = state.cause_verdict
    if word is not None and word.verdict == "confirmed":
        root += f" (confirmed by {masked(word.by)})"
    elif word is not None:
        told = ": ".join(x for x in (word.true_service, word.true_cause) if x)
        by = masked(word.by)
        root = (f"{told} (per {by}; the report named {word.cause_service})" if told
                else f"{root} (rejected by {by})")
    return similar.model_copy(update={
        "opened_at": state.opened_at, "root_cause": root, "cause_kind": top.kind if top else "",
        "cause_feedback": word.verdict if word is not None else "", "actions": actions,
        "verdict": "; ".join(verdicts), "worked": worked})
