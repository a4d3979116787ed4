"""The report page, laid out for the person acting on it: what is weak about the report first (partial, warnings,
coverage), then in the first screen the cause with its confidence, its strongest evidence (with a console link when
it has one), what changed before the onset, and the proposed action with its state and its button; the causal
chains, charts, the rest of the ranking and the timeline follow."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from agents.remediation.catalog import action_title
from functions.console_links import console_link
from functions.remediation import ActionState
from functions.report_view import ReportView, confidence_text, evidence_text, plural, view_of
from functions.runbook_view import citations, runbooks_html
from functions.web_charts import causal_graph_svg, changes_svg, widget_html
from functions.web_page import esc, page, ts
from shared.cost_ledger import summary_line
from shared.incident_state import IncidentState
from shared.models import DETAILED_CAUSES, Finding, Proposal, RankedCause, Report

if TYPE_CHECKING:
    from agents.reporting.runbooks import Citation

TOP_EVIDENCE = 3


@dataclass(frozen=True)
class AckForm:
    """Who is reading (a verified identity) and the CSRF token of their "I'm on it" form."""

    who: str
    csrf: str


def on_it(state: IncidentState, ack: AckForm | None) -> str:
    """Who said they are on it (and since when), and the form to say so: only for an open incident, to a verified
    identity that has not said it yet."""
    people = sorted(state.acknowledged.items(), key=lambda kv: (kv[1], kv[0]))
    said = ("On it: " + ", ".join(f"{esc(who)} <span class=muted>(since {esc(ts(at))})</span>" for who, at in people)
            if people else "Nobody has said they are on it yet.")
    form = ""
    if ack is not None and state.status == "open" and ack.who not in state.acknowledged:
        form = (f"<form class=ack method=post action='/incidents/{esc(quote(state.incident_id, safe=''))}/acknowledge'>"
                f"<input type=hidden name=csrf value='{esc(ack.csrf)}'><button type=submit class=ack>"
                f"I'm on it</button> <span class=muted>as {esc(ack.who)}</span></form>")
    return f"<div id=on-it class=on-it><span>{said}</span>{form}</div>"
APPROVALS_OFF = ActionState("blocked", "approvals are off on this server (no approval key)")


def banners(view: ReportView) -> str:
    """What makes the report weaker than it looks, before anything else on the page."""
    out = ""
    if view.partial:
        items = "".join(f"<li>{esc(line)}</li>" for line in view.built_without)
        without = (f"built without {plural(len(view.built_without), 'specialist')}"
                   + (f" of {view.specialists}" if view.specialists else "")
                   + "; the causes rest on the others only" if view.built_without else "see the warnings below")
        out += f"<div class='banner partial' role=alert><b>Partial report</b>: {esc(without)}<ul>{items}</ul></div>"
    if view.warnings:
        items = "".join(f"<li>{esc(w)}</li>" for w in view.warnings)
        out += f"<div class='banner warning'><b>Warnings</b><ul>{items}</ul></div>"
    if view.notes:
        items = "".join(f"<li>{esc(n)}</li>" for n in view.notes)
        out += f"<div class='banner notes'><b>Coverage notes</b><ul>{items}</ul></div>"
    return out


def slo_html(state: IncidentState, report: Report) -> str:
    """The alerting service's SLOs: burn rates and the error budget left, under the headline."""
    from functions.slo_view import slo_lines

    lines = "".join(f"<li>{esc(line)}</li>" for line in slo_lines(state, report))
    return f"<ul class='meta slo'>{lines}</ul>" if lines else ""


def meta_line(state: IncidentState, view: ReportView) -> str:
    """Which incident, which alert, and every time in the alert's clock (the windows it read)."""
    alert = state.first_alert
    parts = [f"Incident {esc(state.incident_id)}", esc(state.status)]
    if alert:
        parts.append(f"alert {esc(alert.policy_name)} on {esc(alert.service)}, started "
                     f"{esc(ts(alert.started_at, 'unknown'))}")
    if view.windows is not None:
        (a, b), (c, d) = view.windows.incident, view.windows.baseline
        parts.append(f"<span class=windows>incident window {esc(ts(a))} to {esc(ts(b))}; baseline "
                     f"{esc(ts(c))} to {esc(ts(d))}</span>")
    return f"<p class='meta muted'>{' · '.join(parts)}</p>"


def top_evidence(state: IncidentState, cause: RankedCause) -> list[Finding]:
    found = [state.findings[f] for f in cause.evidence if f in state.findings]
    return sorted(found, key=lambda f: -f.score)[:TOP_EVIDENCE]


def evidence_item(f: Finding) -> str:
    link = console_link(f)
    href = (f" <a class=console href='{esc(link[1])}' target=_blank rel='noopener noreferrer'>{esc(link[0])}</a>"
            if link else "")
    return (f"<li><span class=clip><span class=pill>{esc(f.specialist)}</span> {esc(f.title)}</span>{href}</li>")


def cause_card(state: IncidentState, report: Report, runbooks: str = "") -> str:
    if not report.causes:
        return ("<section id=cause><h2>No cause found</h2><p>See the coverage notes and what was ruled out.</p>"
                "</section>")
    top = report.causes[0]
    named = "Root cause" if report.confident else "Leading candidate (no cause named: weak evidence)"
    evidence = "".join(evidence_item(f) for f in top_evidence(state, top))
    return (f"<section id=cause><h2 class=muted>{esc(named)}</h2><div><span class=big>{esc(top.service)}</span> "
            f"<span class=conf>{esc(confidence_text(top.confidence))}</span> <span class=muted>"
            f"{esc(top.kind)}</span></div><p class=title title='{esc(top.title)}'>{esc(top.title)}</p>"
            f"<h3>Top evidence</h3><ol class=evidence>{evidence}</ol>{runbooks}</section>")


def changed_card(state: IncidentState, report: Report, view: ReportView) -> str:
    ids = set(report.finding_ids) or set(state.findings)
    changes = sorted((f for fid, f in state.findings.items() if fid in ids and f.kind.startswith("change.")
                      and f.kind != "change.none" and f.onset is not None), key=lambda f: f.onset or 0.0)[-4:]
    if not changes or view.windows is None:
        return ("<section id=changed><h2>What changed</h2><p class=muted>No deploy, config change or scaling in "
                "the windows read.</p></section>")
    onset = view.windows.onset
    start = min([c.onset or onset for c in changes] + [onset - 300])
    return (f"<section id=changed><h2>What changed <span class=muted>(UTC, the alert's clock)</span></h2>"
            f"{changes_svg(changes, start, onset, view.alert_started)}</section>")


def action_card(p: Proposal, a: ActionState, runbooks: str = "") -> str:
    button = (f"<a class=approval-link href='{esc(a.link)}'>Review and approve</a>" if a.link else "")
    return (f"<div class='action {esc(a.kind)}' data-action='{esc(p.action)}'><div><b class=action-title>"
            f"{esc(action_title(p.action))}</b> on <b>{esc(p.service)}</b> <span class=muted>risk {esc(p.risk)}"
            "</span></div>"
            f"<div class='state {esc(a.kind)}'>{esc(a.text)}</div><div class=preview>{esc(p.preview)}</div>"
            f"<div class='muted clip'>Why: {esc(p.rationale)}</div>{runbooks}{button}</div>")


def actions_card(state: IncidentState, actions: Mapping[str, ActionState], cited: list[Citation] | None = None
                 ) -> str:
    if not state.proposals:
        return "<section id=actions><h2>Proposed action</h2><p class=muted>None proposed.</p></section>"
    states = {pid: actions.get(pid, APPROVALS_OFF) for pid in state.proposals}
    cards = "".join(action_card(p, states[pid], runbooks_html(cited or [], proposal_id=pid))
                    for pid, p in state.proposals.items())
    runner = ("<p class='muted dry-run'>The executor is a <b>dry run</b>: an approved action records its plan and "
              "changes nothing.</p>" if any(a.dry_run for a in states.values()) else "")
    return f"<section id=actions><h2>Proposed action</h2>{runner}{cards}{recovery_html(state)}</section>"


def recovery_html(state: IncidentState) -> str:
    """Each executed action's recovery check: the verdict and the numbers behind it."""
    from functions.recovery_view import recovery_lines

    rows = "".join(f"<li class='recovery {esc(r.outcome)}'><b>{esc(r.action)}</b>: {esc(r.verdict)}"
                   + (f"<div class=muted>{esc(r.numbers)}</div>" if r.numbers else "") + "</li>"
                   for r in recovery_lines(state))
    return f"<div class=recovery-check><h3>Recovery check</h3><ul>{rows}</ul></div>" if rows else ""


def cause_details(state: IncidentState, cause: RankedCause) -> str:
    steps = "".join(
        f"<div class=step><b>{esc(step.role)}</b> · {esc(step.service)}: {esc(step.statement)}<ul>"
        + "".join(finding_html(state, fid) for fid in step.evidence) + "</ul></div>" for step in cause.chain)
    return (f"<section class=cause><h2>#{cause.rank} {esc(cause.service)} <span class=muted>evidence score "
            f"{cause.score:.2f}, {esc(confidence_text(cause.confidence))}</span></h2><p>{esc(cause.title)}</p>"
            f"{inner_html(cause)}{causal_graph_svg(cause)}{steps}</section>")


def inner_html(cause: RankedCause) -> str:
    """What broke inside the cause's service, strongest first, each with its measure and evidence."""
    if not cause.inner:
        return ""
    items = "".join(
        f"<li><b>{esc(i.kind.replace('_', ' '))}</b>: {esc(i.name)}"
        + (f" <span class=muted>({esc(i.measure)})</span>" if i.measure else "")
        + f" <span class=muted>{esc(confidence_text(i.confidence))}; evidence {esc(', '.join(i.evidence[:3]))}"
          "</span></li>" for i in cause.inner)
    return f"<div class=inner-cause><h3>Inside {esc(cause.service)}</h3><ol>{items}</ol></div>"


def finding_html(state: IncidentState, fid: str) -> str:
    f = state.findings.get(fid)
    if f is None:
        return f"<li>{esc(evidence_text(None, fid))}</li>"
    alert = state.first_alert
    threshold = alert.threshold_value if alert and f.query.get("filter", {}).get("metric") == alert.metric_type \
        else None
    link = console_link(f)
    href = f" <a class=console href='{esc(link[1])}'>{esc(link[0])}</a>" if link else ""
    return (f"<li id='{esc(fid)}'><span class=pill>{esc(f.specialist)}/{esc(f.kind)}</span> {esc(f.title)} "
            f"<span class=muted>evidence score {f.score:.2f}</span>{href}{widget_html(f.widget, threshold)}</li>")


def report_page(state: IncidentState, actions: Mapping[str, ActionState], view: ReportView | None = None,
                ack: AckForm | None = None, feedback: str = "") -> str:
    """`actions`: each proposal's state (functions/remediation.py `action_states`; {} when approvals are off).
    `view`: what the report says beyond its causes (default: what the incident's events hold). `ack`: the reader's
    "I'm on it" form (None: nobody verified is reading). `feedback`: the responder feedback section
    (functions/web_feedback.py), rendered after the causes."""
    report = state.latest_report
    if report is None:
        return page(state.incident_id, f"<h1>Investigating</h1><p class=meta>Incident {esc(state.incident_id)}"
                                       f"</p>{on_it(state, ack)}{actions_card(state, actions)}")
    view = view or view_of(state, report)
    cited = citations(state, report)
    parts = [banners(view), f"<h1>{esc(report.headline)}</h1>", meta_line(state, view), on_it(state, ack),
             slo_html(state, report),
             f"<div class=first><div>{cause_card(state, report, runbooks_html(cited, cause_rank=1))}"
             f"{changed_card(state, report, view)}</div>{actions_card(state, actions, cited)}</div>"]
    narrative = (f"<h3>Narrative <span class=muted>(written by a model; every sentence cites its findings)</span>"
                 f"</h3><p class=narrative>{esc(report.narrative)}</p>" if report.narrative else
                 f"<p class=muted>No LLM was used for this report ({esc(report.llm.get('reason', 'deterministic'))})."
                 "</p>")
    parts.append(f"<section><h2>Summary</h2><p>{esc(report.summary)}</p>{narrative}</section>")
    parts += [cause_details(state, c) for c in report.causes[:DETAILED_CAUSES]]
    if len(report.causes) > DETAILED_CAUSES:
        rest = "".join(f"<li>#{c.rank} {esc(c.service)} <span class=muted>evidence score {c.score:.2f}, "
                       f"{esc(confidence_text(c.confidence))}</span>: {esc(c.title)}</li>"
                       for c in report.causes[DETAILED_CAUSES:])
        parts.append(f"<section><h2>The rest of the ranking <span class=muted>(anomalous, weaker evidence)"
                     f"</span></h2><ul>{rest}</ul></section>")
    if report.ruled_out:
        items = "".join(f"<li>{esc(r.service or '(all)')}: {esc(r.reason)}</li>" for r in report.ruled_out)
        parts.append(f"<section><h2>Ruled out</h2><ul>{items}</ul></section>")
    parts.append(feedback)
    if report.steering:
        parts.append("<section class=steering><h2>What responders' hints changed</h2><ul>"
                     + "".join(f"<li>{esc(line)}</li>" for line in report.steering) + "</ul></section>")
    parts.append(similar_html(report))
    if view.coverage:
        parts.append(f"<p class='muted coverage'>Coverage: {esc('; '.join(view.coverage))}</p>")
    if report.cost is not None:
        parts.append(f"<p class='muted cost'>Cost: {esc(summary_line(report.cost))}</p>")
    parts.append(f"<p><a class=postmortem href='/incidents/{esc(state.incident_id)}/postmortem.md'>"
                 "Download a postmortem draft (Markdown)</a></p>")
    timeline = "".join(f"<tr><td>{esc(ts(at))}</td><td>{esc(kind)}</td><td>{esc(actor)}</td><td>{esc(text)}</td></tr>"
                       for at, kind, actor, text in state.timeline)
    parts.append("<section><h2>Timeline <span class=muted>(when Auto SRE recorded each step, by this system's "
                 f"clock)</span></h2><table class=timeline>{timeline}</table></section>")
    return page(report.headline, "".join(parts))


def similar_html(report: Report) -> str:
    """Similar past incidents: each links to its own report, with its root cause, what was done, whether it worked."""
    if not report.similar:
        return ""
    worked = {True: "worked", False: "did not work", None: "unknown"}
    rows = "".join(
        f"<tr><td><a href='/incidents/{esc(s.incident_id)}'>{esc(s.incident_id)}</a></td>"
        f"<td>{s.similarity:.0%}</td><td>{esc(ts(s.opened_at))}</td><td>{esc(s.root_cause or '(none named)')}</td>"
        f"<td>{esc('; '.join(s.actions) or 'no action approved')}</td>"
        f"<td>{esc(worked[s.worked])}{f' <span class=muted>({esc(s.verdict)})</span>' if s.verdict else ''}</td>"
        f"<td class=muted>{esc(', '.join(s.shared))}</td></tr>" for s in report.similar)
    return ("<section class=similar><h2>Similar past incidents</h2><table><tr><th>incident</th><th>similarity</th>"
            "<th>opened</th><th>root cause</th><th>what was done</th><th>did it work</th><th>alike in</th></tr>"
            f"{rows}</table></section>")
