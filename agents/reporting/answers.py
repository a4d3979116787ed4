"""Follow-up questions on an incident, answered from its findings (deterministic; no model needed).

The common questions are recognised by what they ask, not by the words of any one incident: why a service is the
cause, why not another, what changed before the onset, the evidence for a step of the causal chain, what was ruled
out and how, and what happened. The services a question names are the incident's own (its causes, findings, ruled
out services and alert). Every statement about the incident cites the findings it rests on, in brackets, as the
report does; a statement of absence ("no finding shows ...") cites none, because there is nothing to cite.

A question none of these fit is left to a model when one is configured (agents/reporting/free_answers.py), held to
the narrative's filter; without one the answer says what can be asked.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, Field

from agents.specialists.logs.masking import mask_secrets
from shared.incident_state import IncidentState
from shared.models import ChainStep, Finding, RankedCause, Report
from shared.timefmt import utc_text

Intent = Literal["why", "why_not", "changes", "evidence", "ruled_out", "summary", "free"]

ROLES = ("cause", "propagation", "symptom", "impact")
PATTERNS: tuple[tuple[Intent, re.Pattern[str]], ...] = (
    ("ruled_out", re.compile(r"\bruled? out\b|\bexclud\w*|\beliminat\w*|\bdismiss\w*", re.I)),
    ("why_not", re.compile(r"\bwhy not\b|\bwhat about\b|\bcould it (?:be|have been)\b|\bisn'?t it\b|"
                           r"\bnot (?:the )?(?:root )?cause\b|\bhow about\b|\binstead\b", re.I)),
    ("changes", re.compile(r"\bchang\w*|\bdeploy\w*|\brollout\w*|\brelease\w*|\brevision\w*|\bconfig\w*", re.I)),
    ("evidence", re.compile(r"\bevidence\b|\bstep\b|\bproof\b|\bprove\w*|\bshow\b.*\b(?:chain|" + "|".join(ROLES)
                            + r")\b", re.I)),
    ("why", re.compile(r"\bwhy\b|\bhow do (?:you|we) know\b|\bwhat makes\b", re.I)),
    ("summary", re.compile(r"\bwhat happened\b|\bsummar\w*|\bwhat (?:is|was) the (?:root )?cause\b|\boverview\b",
                           re.I)),
)
MAX_CITED = 4  # findings cited per statement


class Answer(BaseModel):
    """An answer to a follow-up question: what it was understood as, the text, the findings it cites, where it
    came from ("findings": built from them here; "llm": a model's, every sentence grounded; "refused": a model's
    answer that was not; "none": nothing could answer it), and why a model's answer was refused."""

    intent: Intent
    text: str
    cited: list[str] = Field(default_factory=list)
    source: Literal["findings", "llm", "refused", "none"] = "findings"
    refused: str = ""


def intent_of(question: str) -> Intent:
    return next((intent for intent, pattern in PATTERNS if pattern.search(question)), "free")


def services_named(question: str, state: IncidentState) -> list[str]:
    """The incident's services the question names, in the order it names them (the longest name wins where one
    contains another)."""
    report = state.latest_report
    known = {f.service for f in state.findings.values() if f.service}
    if report is not None:
        known |= {c.service for c in report.causes} | {r.service for r in report.ruled_out if r.service}
    if state.first_alert is not None and state.first_alert.service:
        known.add(state.first_alert.service)
    text = question.lower()
    spans: list[tuple[int, int, str]] = []
    for name in sorted(known, key=len, reverse=True):
        for m in re.finditer(r"(?<![\w-])" + re.escape(name.lower()) + r"(?![\w-])", text):
            if not any(a <= m.start() < b for a, b, _ in spans):
                spans.append((m.start(), m.end(), name))
    return [name for _, _, name in sorted(spans)]


def cite(ids: list[str]) -> str:
    return "".join(f" [{fid}]" for fid in list(dict.fromkeys(ids))[:MAX_CITED])


def _title(f: Finding) -> str:
    return mask_secrets(" ".join(f.title.split()))[:240].rstrip(".")


class _Builder:
    """Sentences and the findings they cite."""

    def __init__(self, state: IncidentState):
        self.state = state
        self.sentences: list[str] = []
        self.cited: list[str] = []

    def say(self, text: str, ids: list[str] | None = None) -> None:
        ids = [i for i in (ids or []) if i in self.state.findings][:MAX_CITED]
        self.cited += [i for i in ids if i not in self.cited]
        self.sentences.append(text.rstrip(".") + "." + cite(ids))

    def answer(self, intent: Intent) -> Answer:
        return Answer(intent=intent, text=" ".join(self.sentences), cited=self.cited)


def _cause(report: Report, service: str) -> RankedCause | None:
    return next((c for c in report.causes if c.service == service), None)


def _why(b: _Builder, report: Report, services: list[str]) -> None:
    if not report.causes:
        b.say("The report names no cause: the specialists found no anomaly that explains the alert")
        return
    service = services[0] if services else report.causes[0].service
    cause = _cause(report, service)
    if cause is None:
        _not_ranked(b, report, service)
        return
    b.say(f"{cause.service} is ranked #{cause.rank} of {len(report.causes)} with an evidence score of "
          f"{cause.score:.2f} and {cause.confidence:.0%} confidence: {cause.title.rstrip('.')}", cause.evidence)
    for step in cause.chain:
        b.say(f"{step.role.capitalize()} at {step.service}: {step.statement.rstrip('.')}", step.evidence)
    if cause.rank > 1:
        top = report.causes[0]
        b.say(f"It is behind {top.service} (#1, score {top.score:.2f}): {top.title.rstrip('.')}", top.evidence)


def _not_ranked(b: _Builder, report: Report, service: str) -> None:
    ruled = [r for r in report.ruled_out if r.service == service]
    about = [f for f in b.state.findings.values() if f.service == service and f.finding_id in report.finding_ids]
    if ruled:
        for r in ruled:
            b.say(f"{service} was ruled out: {r.reason.rstrip('.')}", r.evidence)
    elif about:
        b.say(f"{service} is not among the ranked causes; what was found about it is not anomalous enough to "
              f"explain the alert: " + "; ".join(_title(f) for f in about[:3]), [f.finding_id for f in about])
    else:
        b.say(f"No finding shows an anomaly on {service} in the telemetry read, so nothing points at it")
    if report.causes:
        top = report.causes[0]
        b.say(f"The evidence points at {top.service} instead (#1, score {top.score:.2f}): "
              f"{top.title.rstrip('.')}", top.evidence)


def _why_not(b: _Builder, report: Report, services: list[str]) -> None:
    top = report.causes[0] if report.causes else None
    others = [s for s in services if top is None or s != top.service] or services
    if not others:
        b.say("Name a service to compare with the cause (the ranked services are "
              + ", ".join(c.service for c in report.causes[:5]) + ")")
        return
    for service in others[:2]:
        cause = _cause(report, service)
        if cause is None:
            _not_ranked(b, report, service)
        elif top is not None and cause.rank == 1:
            b.say(f"{service} is the top cause (score {cause.score:.2f}): {cause.title.rstrip('.')}", cause.evidence)
        elif top is not None:
            b.say(f"{service} is ranked #{cause.rank} with an evidence score of {cause.score:.2f} against "
                  f"{top.score:.2f} for {top.service}: {cause.title.rstrip('.')}", cause.evidence)
            if cause.propagation_of:
                b.say(f"Its anomalies are explained by {cause.propagation_of}, which it depends on",
                      [i for s in cause.chain for i in s.evidence])
            b.say(f"{top.service} leads on {top.title.rstrip('.')}", top.evidence)


def _changes(b: _Builder, report: Report) -> None:
    changes = sorted((f for f in b.state.findings.values() if f.kind.startswith("change.") and f.kind != "change.none"
                      and f.finding_id in report.finding_ids), key=lambda f: (f.onset or 0.0, f.finding_id))
    onset = report.onset
    before = [f for f in changes if onset is None or f.onset is None or f.onset <= onset]
    when = f" (the onset was at {utc_text(onset)})" if onset is not None else ""
    if not before:
        none = [f.finding_id for f in b.state.findings.values() if f.kind == "change.none"
                and f.finding_id in report.finding_ids]
        b.say(f"No change was found in the change history read before the onset{when}", none)
    else:
        b.say(f"{len(before)} change(s) before the onset{when}")
        for f in before[:6]:
            at = f" at {utc_text(f.onset)}" if f.onset is not None else ""
            ruled = " (ruled out)" if f.ruled_out else ""
            b.say(f"{f.service or 'the project'}{at}: {_title(f)}{ruled}", [f.finding_id])
    after = [f for f in changes if f not in before]
    if after:
        b.say(f"{len(after)} change(s) came after the onset and cannot have caused it: "
              + "; ".join(f"{f.service}: {_title(f)}" for f in after[:3]), [f.finding_id for f in after])


def _steps(question: str, cause: RankedCause) -> list[ChainStep]:
    text = question.lower()
    numbered = [int(n) for n in re.findall(r"\bstep\s*#?(\d+)", text)]
    if numbered:
        return [cause.chain[n - 1] for n in numbered if 1 <= n <= len(cause.chain)]
    roles = [r for r in ROLES if re.search(rf"\b{r}\b", text)]
    return [s for s in cause.chain if s.role in roles] or cause.chain


def _query_text(f: Finding) -> str:
    q = f.query
    parts = [f"{k} {q[k]}" for k in ("source", "filter", "metric", "operation") if isinstance(q.get(k), str) and q[k]]
    return f"; read: {', '.join(parts)}"[:200] if parts else ""


def _evidence(b: _Builder, report: Report, question: str, services: list[str]) -> None:
    cause = next((c for s in services if (c := _cause(report, s)) is not None), None) or \
        (report.causes[0] if report.causes else None)
    if cause is None:
        b.say("The report names no cause, so it has no causal chain to show evidence for")
        return
    steps = _steps(question, cause)
    if not steps:
        b.say(f"{cause.service}: {cause.title.rstrip('.')}", cause.evidence)
    for step in steps:
        n = cause.chain.index(step) + 1 if step in cause.chain else 0
        b.say(f"Step {n}, {step.role} at {step.service}: {step.statement.rstrip('.')}", step.evidence)
        for fid in step.evidence[:MAX_CITED]:
            f = b.state.findings.get(fid)
            if f is not None:
                b.say(f"{f.specialist} found on {f.service or 'the system'} ({f.kind}, score {f.score:.2f}): "
                      f"{_title(f)}{_query_text(f)}", [fid])


def _ruled_out(b: _Builder, report: Report) -> None:
    if not report.ruled_out:
        b.say("Nothing was ruled out explicitly: every service with an anomaly is among the ranked causes")
        return
    b.say(f"{len(report.ruled_out)} candidate(s) were ruled out")
    for r in report.ruled_out[:8]:
        b.say(f"{r.service or 'All services'}: {r.reason.rstrip('.')}", r.evidence)


def _summary(b: _Builder, report: Report) -> None:
    top = report.causes[0] if report.causes else None
    b.say(report.headline, top.evidence if top else [])
    if top is not None:
        b.say(f"{top.service}: {top.title.rstrip('.')}", top.evidence)


Free = Callable[[str, IncidentState], Answer]


def answer(question: str, state: IncidentState, free: Free | None = None) -> Answer:
    """The answer to `question` from the incident's latest report and findings; a question no common intent fits
    goes to `free` (a model, held to the narrative's filter) when given."""
    report = state.latest_report
    if report is None:
        return Answer(intent="free", text="This incident has no report yet: ask again once it is published.",
                      source="none")
    intent = intent_of(question)
    services = services_named(question, state)
    if intent == "free" and services and free is None:
        intent = "why"  # "and payment?": a service named alone is a question about it
    b = _Builder(state)
    if intent == "why":
        _why(b, report, services)
    elif intent == "why_not":
        _why_not(b, report, services)
    elif intent == "changes":
        _changes(b, report)
    elif intent == "evidence":
        _evidence(b, report, question, services)
    elif intent == "ruled_out":
        _ruled_out(b, report)
    elif intent == "summary":
        _summary(b, report)
    elif free is not None:
        return free(question, state)
    else:
        return Answer(intent="free", source="none", text=(
            "Without a model configured, questions are answered from the findings: why a service is the cause, "
            "why not another service, what changed before the onset, the evidence for a step of the chain (by "
            "number or role), what was ruled out and how, and what happened."))
    return b.answer(intent)
