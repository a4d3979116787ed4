"""Server-rendered HTML for the web view: pages, and charts, waterfalls and causal graphs as inline SVG.

Everything that comes from telemetry is attacker-controlled (a log line can say anything): every value goes
through `esc` on its way into HTML, including SVG text and attributes. The one script ever emitted is
`APPROVE_SCRIPT`, a constant with no data in it, on the page an approval link opens (its CSP allows exactly that
script, by hash).
"""

from __future__ import annotations

import base64
import hashlib
import html
from typing import TYPE_CHECKING, Any

from shared.incident_state import IncidentState
from shared.models import DETAILED_CAUSES, Finding, Proposal, RankedCause, Report, Widget
from shared.timefmt import utc_text

if TYPE_CHECKING:
    from functions.remediation import ApprovalView

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
header{background:#24292f;color:#fff;padding:10px 24px}header a{color:#fff;text-decoration:none;font-weight:600}
main{max-width:1100px;margin:0 auto;padding:16px 24px}section{background:#fff;border:1px solid #d0d7de;
border-radius:6px;padding:12px 16px;margin:12px 0}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #eaeef2;padding:4px 8px;text-align:left;vertical-align:top}
.muted{color:#656d76}.pill{border-radius:10px;padding:1px 8px;background:#eaeef2;font-size:12px}
.open{background:#ffebe9}.resolved{background:#dafbe1}code,pre{font:12px ui-monospace,monospace;white-space:pre-wrap;
word-break:break-all}button{font:inherit;padding:6px 14px;margin-right:8px;border-radius:6px;border:1px solid #d0d7de}
.approve{background:#1f883d;color:#fff}.deny{background:#cf222e;color:#fff}.step{margin-left:12px}
"""


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


ts = utc_text


def page(title: str, body: str) -> str:
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{esc(title)}</title>"
            f"<meta name=viewport content='width=device-width'><style>{CSS}</style></head><body>"
            f"<header><a href='/'>Auto SRE</a></header><main>{body}</main></body></html>")


def incident_list(summaries: list[dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td><a href='/incidents/{esc(s['incident_id'])}'>{esc(s['incident_id'])}</a></td>"
        f"<td><span class='pill {esc(s.get('status'))}'>{esc(s.get('status'))}</span></td>"
        f"<td>{esc(s.get('severity'))}</td><td>{esc(s.get('service'))}</td><td>{esc(s.get('policy'))}</td>"
        f"<td>{esc(ts(s.get('opened_at')))}</td><td>{esc(s.get('top_cause'))}</td>"
        f"<td>{esc(s.get('pending_approvals', 0))}</td></tr>"
        for s in sorted(summaries, key=lambda s: -(s.get("opened_at") or 0)))
    table = ("<table><tr><th>incident</th><th>status</th><th>severity</th><th>service</th><th>policy</th>"
             f"<th>opened</th><th>top cause</th><th>pending approvals</th></tr>{rows}</table>")
    return page("Incidents", f"<h1>Incidents</h1><section>{table if summaries else 'No incidents yet.'}</section>")


def timeseries_svg(widget: Widget, width: int = 520, height: int = 140) -> str:
    series = widget.data.get("series") or []
    points = [(float(t), float(v)) for s in series for t, v in s.get("points", [])]
    if not points:
        return "<p class=muted>no points</p>"
    t0, t1 = min(p[0] for p in points), max(p[0] for p in points)
    v0, v1 = min(p[1] for p in points), max(p[1] for p in points)
    sx = (width - 60) / max(t1 - t0, 1e-9)
    sy = (height - 30) / max(v1 - v0, 1e-9)

    def xy(t: float, v: float) -> str:
        return f"{50 + (t - t0) * sx:.1f},{height - 20 - (v - v0) * sy:.1f}"

    lines = "".join(f"<polyline fill=none stroke='#0969da' stroke-width=1.5 points='"
                    f"{' '.join(xy(float(t), float(v)) for t, v in s.get('points', []))}'><title>{esc(s.get('name'))}"
                    f"</title></polyline>" for s in series)
    onset = widget.data.get("onset")
    marker = ""
    if isinstance(onset, (int, float)) and t0 <= onset <= t1:
        x = 50 + (onset - t0) * sx
        marker = (f"<line class=onset x1={x:.1f} x2={x:.1f} y1=5 y2={height - 20} stroke='#cf222e' "
                  f"stroke-dasharray='4 3'/><text x={x + 3:.1f} y=14 font-size=10 fill='#cf222e'>onset</text>")
    axes = (f"<text x=2 y=14 font-size=10>{esc(f'{v1:.4g}')}</text><text x=2 y={height - 20} font-size=10>"
            f"{esc(f'{v0:.4g}')}</text><text x=50 y={height - 4} font-size=10>{esc(ts(t0))}</text>")
    return (f"<svg class=chart role=img aria-label='{esc(widget.title)}' width={width} height={height} "
            f"xmlns='http://www.w3.org/2000/svg'>{axes}{lines}{marker}</svg>")


def waterfall_svg(widget: Widget, width: int = 620) -> str:
    spans = widget.data.get("spans") or []
    if not spans:
        return "<p class=muted>no spans</p>"
    end = max(float(s["start_ms"]) + float(s["duration_ms"]) for s in spans) or 1.0
    scale = (width - 230) / end
    rows = []
    for i, s in enumerate(spans):
        y = 4 + i * 16
        x = 225 + float(s["start_ms"]) * scale
        w = max(1.0, float(s["duration_ms"]) * scale)
        colour = "#cf222e" if s.get("error") else "#1f883d"
        rows.append(f"<text x={2 + 8 * int(s.get('depth', 0))} y={y + 11} font-size=10>"
                    f"{esc(str(s.get('service'))[:18])} {esc(str(s.get('name'))[:16])}</text>"
                    f"<rect x={x:.1f} y={y} width={w:.1f} height=12 fill='{colour}'><title>"
                    f"{esc(s.get('duration_ms'))} ms</title></rect>")
    return (f"<svg class=waterfall width={width} height={8 + 16 * len(spans)} xmlns='http://www.w3.org/2000/svg'>"
            f"{''.join(rows)}</svg>")


def widget_html(widget: Widget | None) -> str:
    if widget is None:
        return ""
    if widget.kind == "timeseries":
        return timeseries_svg(widget)
    if widget.kind == "waterfall":
        return waterfall_svg(widget)
    rows = widget.data.get("rows") or []
    if widget.kind == "pattern_table":
        body = "".join(f"<tr><td><code>{esc(r.get('pattern'))}</code></td><td>{esc(r.get('count'))}</td>"
                       f"<td>{esc(r.get('baseline_count'))}</td><td>"
                       + "".join(f"<pre>{esc(x)}</pre>" for x in r.get("exemplars", [])) + "</td></tr>" for r in rows)
        return ("<table class=patterns><tr><th>pattern</th><th>count</th><th>baseline</th><th>exemplars</th></tr>"
                f"{body}</table>")
    body = "".join("<tr>" + "".join(f"<td>{esc(cell(k, v))}</td>" for k, v in r.items()) + "</tr>" for r in rows)
    return f"<table>{body}</table>"


TIME_COLUMNS = ("at", "time", "timestamp", "onset", "started_at")


def cell(column: str, value: object) -> object:
    """A table cell as people read it: a time column (UNIX seconds) as a UTC date and time, never a raw epoch."""
    if column in TIME_COLUMNS and isinstance(value, (int, float)) and not isinstance(value, bool):
        return ts(float(value))
    return value


def causal_graph_svg(cause: RankedCause, width: int = 900) -> str:
    steps = cause.chain
    box, gap = 190, 30
    nodes = []
    for i, step in enumerate(steps):
        x = 10 + i * (box + gap)
        fill = {"cause": "#ffebe9", "propagation": "#fff8c5", "symptom": "#ddf4ff", "impact": "#eaeef2"}[step.role]
        inner = cause.inner[0] if step.role == "cause" and cause.inner else None
        stroke = "stroke='#cf222e' stroke-width=2" if inner else "stroke='#57606a'"
        nodes.append(f"<g class=node><rect x={x} y=10 width={box} height=54 rx=6 fill='{fill}' {stroke}/>"
                     f"<text x={x + 8} y=28 font-size=11 font-weight=600>{esc(step.role)}</text>"
                     f"<text x={x + 8} y=46 font-size=11>{esc(step.service[:28])}</text>"
                     + (f"<text class=inner x={x + 8} y=60 font-size=10 fill='#cf222e'>inside: "
                        f"{esc(inner.name[:24])}</text>" if inner else "") + "</g>")
        if i:
            nodes.append(f"<line x1={x - gap} y1=37 x2={x - 4} y2=37 stroke='#57606a' marker-end='url(#arrow)'/>")
    defs = ("<defs><marker id=arrow markerWidth=8 markerHeight=8 refX=6 refY=3 orient=auto>"
            "<path d='M0,0 L6,3 L0,6 z' fill='#57606a'/></marker></defs>")
    return (f"<svg class=causal-graph width={min(width, 20 + len(steps) * (box + gap))} height=74 "
            f"xmlns='http://www.w3.org/2000/svg'>{defs}{''.join(nodes)}</svg>")


def inner_html(cause: RankedCause) -> str:
    """What broke inside the cause's service, strongest first, each with its measure and evidence."""
    if not cause.inner:
        return ""
    items = "".join(
        f"<li><b>{esc(i.kind.replace('_', ' '))}</b>: {esc(i.name)}"
        + (f" <span class=muted>({esc(i.measure)})</span>" if i.measure else "")
        + f" <span class=muted>confidence {i.confidence:.0%}; evidence {esc(', '.join(i.evidence[:3]))}</span></li>"
        for i in cause.inner)
    return f"<div class=inner-cause><h3>Inside {esc(cause.service)}</h3><ol>{items}</ol></div>"


def finding_html(f: Finding | None, fid: str) -> str:
    if f is None:
        return f"<li><code>{esc(fid)}</code></li>"
    return (f"<li id='{esc(fid)}'><span class=pill>{esc(f.specialist)}/{esc(f.kind)}</span> {esc(f.title)} "
            f"<span class=muted>score {f.score:.2f}</span>{widget_html(f.widget)}</li>")


def proposal_html(p: Proposal, state: IncidentState, link: str) -> str:
    decision = state.decisions.get(p.proposal_id)
    done = state.executions.get(p.proposal_id)
    status = (f"{esc(done.status)}: {esc(done.outcome)}" if done else
              f"{esc(decision.decision)}d by {esc(decision.approver)}" if decision else
              (f"<a class=approval-link href='{esc(link)}'>review and approve</a>" if link else "pending"))
    return (f"<tr><td>{esc(p.action)}</td><td>{esc(p.service)}</td><td>{esc(p.risk)}</td>"
            f"<td>{esc(p.preview)}</td><td>{status}</td></tr>")


def report_page(state: IncidentState, links: dict[str, str]) -> str:
    report = state.latest_report
    alert = state.first_alert
    head = (f"<h1>{esc(report.headline if report else 'Investigating')}</h1><p class=muted>Incident "
            f"{esc(state.incident_id)} · {esc(state.status)} · alert {esc(alert.policy_name if alert else '')} on "
            f"{esc(alert.service if alert else '')} · started {esc(ts(alert.started_at if alert else None))}</p>")
    parts = [head]
    if report:
        narrative = (f"<h3>Narrative <span class=muted>(written by a model; every sentence cites its findings)</span>"
                     f"</h3><p class=narrative>{esc(report.narrative)}</p>" if report.narrative else
                     "<p class=muted>No LLM was used for this report "
                     f"({esc(report.llm.get('reason', 'deterministic'))}).</p>")
        parts.append(f"<section><h2>Summary</h2><p>{esc(report.summary)}</p>{narrative}</section>")
        for cause in report.causes[:DETAILED_CAUSES]:
            steps = "".join(
                f"<div class=step><b>{esc(step.role)}</b> · {esc(step.service)}: {esc(step.statement)}<ul>"
                + "".join(finding_html(state.findings.get(fid), fid) for fid in step.evidence) + "</ul></div>"
                for step in cause.chain)
            parts.append(f"<section class=cause><h2>#{cause.rank} {esc(cause.service)} <span class=muted>score "
                         f"{cause.score:.2f} · confidence {cause.confidence:.0%}</span></h2><p>{esc(cause.title)}</p>"
                         f"{inner_html(cause)}{causal_graph_svg(cause)}{steps}</section>")
        if len(report.causes) > DETAILED_CAUSES:
            rest = "".join(f"<li>#{c.rank} {esc(c.service)} <span class=muted>score {c.score:.2f} · confidence "
                           f"{c.confidence:.0%}</span>: {esc(c.title)}</li>" for c in report.causes[DETAILED_CAUSES:])
            parts.append(f"<section><h2>The rest of the ranking <span class=muted>(anomalous, weaker evidence)"
                         f"</span></h2><ul>{rest}</ul></section>")
        if report.ruled_out:
            items = "".join(f"<li>{esc(r.service or '(all)')}: {esc(r.reason)}</li>" for r in report.ruled_out)
            parts.append(f"<section><h2>Ruled out</h2><ul>{items}</ul></section>")
        parts.append(similar_html(report))
        if report.cost is not None:
            from shared.cost_ledger import summary_line

            parts.append(f"<p class='muted cost'>Cost: {esc(summary_line(report.cost))}</p>")
    if state.proposals:
        rows = "".join(proposal_html(p, state, links.get(pid, "")) for pid, p in state.proposals.items())
        parts.append("<section><h2>Remediations</h2><table><tr><th>action</th><th>service</th><th>risk</th>"
                     f"<th>what it will do</th><th>status</th></tr>{rows}</table></section>")
    parts.append(f"<p><a class=postmortem href='/incidents/{esc(state.incident_id)}/postmortem.md'>"
                 "Download a postmortem draft (Markdown)</a></p>")
    timeline = "".join(f"<tr><td>{esc(ts(at))}</td><td>{esc(kind)}</td><td>{esc(actor)}</td><td>{esc(text)}</td></tr>"
                       for at, kind, actor, text in state.timeline)
    parts.append(f"<section><h2>Timeline</h2><table class=timeline>{timeline}</table></section>")
    return page(report.headline if report else state.incident_id, "".join(parts))


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


def approval_page(view: ApprovalView) -> str:
    """The confirmation page. `view.blocked`: why this person cannot approve now; then no Approve button is offered
    (a button that can only fail after POST is a lie), and Deny only when `view.can_deny`."""
    p, state, blocked = view.proposal, view.state, view.blocked
    buttons = ("" if blocked else "<button class=approve name=decision value=approve>Approve</button>") + \
        ("<button class=deny name=decision value=deny>Deny</button>" if view.can_deny else "")
    form = (f"<form method=post action='/approve'><input type=hidden name=token value='{esc(view.token)}'>"
            f"<input type=hidden name=csrf value='{esc(view.csrf)}'>{buttons}</form>") if buttons else ""
    body = (f"<h1>Approve a remediation?</h1><section><p><b>{esc(p.action)}</b> on <b>{esc(p.service)}</b> "
            f"(risk {esc(p.risk)}) for incident <a href='/incidents/{esc(state.incident_id)}'>"
            f"{esc(state.incident_id)}</a></p><p>It will do exactly this:</p><pre>{esc(p.preview)}</pre>"
            f"<p class=muted>Why: {esc(p.rationale)}</p><p class=muted>Preconditions: "
            f"{esc('; '.join(p.preconditions))}</p><p>You are <b>{esc(view.approver or 'not signed in')}</b>.</p>"
            f"{f'<p class=blocked><b>{esc(blocked)}</b></p>' if blocked else ''}{form}</section>")
    return page("Approve remediation", body)


# Reads the approval token from the link's fragment (never sent to a server), removes it from the address bar and
# history, and POSTs it to /approve/preview. Until it runs, the page says it needs JavaScript: no silent failure.
APPROVE_SCRIPT = """
(function () {
  var status = document.getElementById("status");
  var token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
  if (location.hash) history.replaceState(null, "", location.pathname);
  if (!token) {
    status.textContent = "This address carries no approval token: it travels after the '#' of an approval link. " +
      "Open the approval link from the incident's page again.";
    return;
  }
  status.textContent = "Reading the approval link...";
  var form = document.getElementById("preview");
  form.elements.token.value = token;
  form.submit();
})();
"""
APPROVE_SCRIPT_HASH = "sha256-" + base64.b64encode(hashlib.sha256(APPROVE_SCRIPT.encode()).digest()).decode()
NEEDS_JAVASCRIPT = ("This page needs JavaScript to read the approval link. The link's token comes after its '#', a "
                    "part of the address browsers never send to a server (so it never reaches a request log); only "
                    "this page's script can read it and send it in a form. Enable JavaScript for this site and open "
                    "the link again.")


def approve_link_page() -> str:
    """The page an approval link (`/approve#token=...`) opens: no data, one constant script."""
    body = (f"<h1>Approval link</h1><section><p id=status class=blocked><b>{esc(NEEDS_JAVASCRIPT)}</b></p>"
            "<form id=preview method=post action='/approve/preview'><input type=hidden name=token value=''></form>"
            f"</section><script>{APPROVE_SCRIPT}</script>")
    return page("Approval link", body)


def message_page(title: str, message: str) -> str:
    return page(title, f"<h1>{esc(title)}</h1><section><p>{esc(message)}</p></section>")
