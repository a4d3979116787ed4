"""Server-rendered HTML for the web view: the incident list, the approval pages and messages; the report page is
in `web_report`, its charts in `web_charts` (imported by the report's route alone: a list or a JSON answer never
renders a report), the page shell in `web_page`.

Everything that comes from telemetry is attacker-controlled (a log line can say anything): every value goes
through `esc` on its way into HTML, including SVG text and attributes. The one script ever emitted is
`APPROVE_SCRIPT`, a constant with no data in it, on the page an approval link opens (its CSP allows exactly that
script, by hash).
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from agents.remediation.catalog import action_title
from functions.web_page import esc, page, ts
from shared.paging import ListFilter

if TYPE_CHECKING:
    from functions.remediation import ApprovalView

__all__ = ["approval_page", "approve_link_page", "esc", "incident_list", "message_page", "page"]


STATUSES = ("open", "resolved")


def filters_form(where: ListFilter) -> str:
    """The list's filters: a GET form (it changes nothing), its values kept after each reload."""
    status = "".join(f"<option value='{s}'{' selected' if where.status == s else ''}>{s or 'any'}</option>"
                     for s in ("", *STATUSES))
    return ("<form class=filters method=get action='/'>"
            f"<label>status<select name=status>{status}</select>"
            "</label>"
            f"<label>service<input name=service value='{esc(where.service)}' size=14></label>"
            f"<label>severity<input name=severity value='{esc(where.severity)}' size=10></label>"
            f"<label>search<input type=search name=q value='{esc(where.text)}' size=24 "
            "placeholder='id, service, policy, cause'></label><button type=submit>Filter</button>"
            + ("<a href='/'>clear</a>" if where.active else "") + "</form>")


def incident_list(summaries: list[dict[str, Any]], older: str = "", where: ListFilter | None = None,
                  refresh_s: int = 0) -> str:
    """One page of incidents, newest first; its time is the alert's start (the alert's clock), and its pending
    approvals count only what a person could approve now (an open incident's proposals the policy allows).
    `older`: the cursor of the next page ("" on the last); `where`: the filters it was read with (kept in the next
    page's link); `refresh_s`: the page reloads itself that often."""
    where = where or ListFilter()
    rows = "".join(
        f"<tr><td><a href='/incidents/{esc(s['incident_id'])}'>{esc(s['incident_id'])}</a></td>"
        f"<td><span class='pill {esc(s.get('status'))}'>{esc(s.get('status'))}</span></td>"
        f"<td>{esc(s.get('severity'))}</td><td>{esc(s.get('service'))}</td><td>{esc(s.get('policy'))}</td>"
        f"<td>{esc(ts(s.get('alert_started_at'), 'unknown'))}</td><td>{esc(s.get('top_cause'))}</td>"
        f"<td class=pending>{esc(s.get('approvable', 0) or '-')}</td>"
        f"<td class=acknowledged>{esc(', '.join(s.get('acknowledged_by') or []) or '-')}</td></tr>"
        for s in sorted(summaries, key=lambda s: -(s.get("alert_started_at") or s.get("opened_at") or 0)))
    table = ("<table><tr><th>incident</th><th>status</th><th>severity</th><th>service</th><th>policy</th>"
             f"<th>alert started</th><th>top cause</th><th>awaiting approval</th><th>on it</th></tr>{rows}</table>")
    kept = {k: v for k, v in (("status", where.status), ("service", where.service), ("severity", where.severity),
                              ("q", where.text)) if v}
    more = ""
    if older:
        label = "Search older incidents" if where.active else "Older incidents"
        more = f"<p><a class=older href='/?{esc(urlencode({**kept, 'after': older}))}'>{label}</a></p>"
    if summaries:
        listed = table
    elif where.active:
        listed = ("<p>No incident matches these filters" + (" among the most recently updated ones read; older "
                  "ones may." if older else ".") + "</p>")
    else:
        listed = "No incidents yet."
    refreshing = (f"<p class=muted>This list reloads itself every {refresh_s} s.</p>" if refresh_s > 0 else "")
    return page("Incidents", f"<h1>Incidents</h1>{filters_form(where)}<section>{listed}{more}</section>{refreshing}",
                refresh_s)


def approval_page(view: ApprovalView) -> str:
    """The confirmation page. `view.blocked`: why this person cannot approve now; then no Approve button is offered
    (a button that can only fail after POST is a lie), and Deny only when `view.can_deny`."""
    p, state, blocked = view.proposal, view.state, view.blocked
    buttons = ("" if blocked else "<button class=approve name=decision value=approve>Approve</button>") + \
        ("<button class=deny name=decision value=deny>Deny</button>" if view.can_deny else "")
    form = (f"<form method=post action='/approve'><input type=hidden name=token value='{esc(view.token)}'>"
            f"<input type=hidden name=csrf value='{esc(view.csrf)}'>{buttons}</form>") if buttons else ""
    body = (f"<h1>Approve a remediation?</h1><section><p><b>{esc(action_title(p.action))}</b> on "
            f"<b>{esc(p.service)}</b> (risk {esc(p.risk)}) for incident <a href='/incidents/{esc(state.incident_id)}'>"
            f"{esc(state.incident_id)}</a></p><p>It will do exactly this:</p><pre>{esc(p.preview)}</pre>"
            + ("<p class=dry-run><b>The executor is a dry run</b>: approving records this plan and changes nothing."
               "</p>" if view.dry_run else "")
            + f"<p class=muted>Why: {esc(p.rationale)}</p><p class=muted>Preconditions: "
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
