"""The web view (an HTTP function; `autosre serve` locally): incidents, reports, approvals, a JSON API.

GET never changes anything (link previewers fetch links). An approval link is `/approve#token=...`: the token is in
the fragment, which browsers never send, so it is in no URL a server, proxy or load balancer sees or logs. GET
/approve returns a page whose one script (allowed by its hash in that page's CSP) reads the fragment, removes it
from the address bar and POSTs the token to /approve/preview, which shows what the action will do and the
approve/deny form; POST /approve decides, with a CSRF token bound to the approval link and the approver's identity
from something signed and verified: behind IAP, the `X-Goog-IAP-JWT-Assertion` (shared/iap.py); locally, the
identity the operator started the server with. The plain `X-Goog-Authenticated-User-Email` header is never read.
A token in a query string (an old `/approve?token=` link) is refused and never echoed. Requests for a Host we do
not serve are refused (DNS rebinding), and approval tokens are kept out of our own request log too.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Callable, Collection
from dataclasses import asdict
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, g, request

from functions import web_render as render
from functions.remediation import Remediation, RemediationError
from shared import approvals
from shared.iap import IAP_JWT_HEADER, IapError, IapVerifier
from shared.incident_log import IncidentLog
from shared.incident_state import IncidentState
from shared.models import Proposal
from shared.ports import EventStore

log = logging.getLogger("autosre.web")
Identity = Callable[[], str]  # the verified approver of the current request, "" when there is none
LOOPBACK = ("localhost", "127.0.0.1", "[::1]")
ANY_HOST = "*"
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")  # no script runs on any page but GET /approve's
APPROVE_PAGE_CSP = f"{CSP}; script-src '{render.APPROVE_SCRIPT_HASH}'"  # that one constant script, by its hash
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # no token leaks to other sites; our own POSTs keep a real Origin
    "Cache-Control": "no-store",
}


def fixed_identity(identity: str) -> Identity:
    """`autosre serve`: the identity the operator started the server with; no request can change it."""
    value = identity.strip().lower()
    return lambda: value


def iap_identity(verifier: IapVerifier) -> Identity:
    """Behind IAP: the `email` of a verified `X-Goog-IAP-JWT-Assertion`, else nobody."""
    def identity() -> str:
        try:
            return verifier.email(request.headers.get(IAP_JWT_HEADER, ""))
        except IapError as exc:
            log.warning("no verified identity: %s", exc.reason)
            return ""
    return identity


def local_hosts(host: str, port: int) -> frozenset[str]:
    """The Host values `autosre serve --host HOST --port PORT` answers to: the bound address and loopback names,
    with the port (a browser sends the port whenever it is not 80)."""
    names = {host.lower(), *LOOPBACK} - {"", "0.0.0.0", "::", "[::]"}
    bracketed = {f"[{n}]" if ":" in n and not n.startswith("[") else n for n in names}
    return frozenset(f"{n}:{port}" for n in bracketed) | (frozenset(bracketed) if port == 80 else frozenset())


def host_allowed(host: str, allowed: Collection[str] | None) -> bool:
    """`allowed` None: loopback names on any port (the safe default); "*" in it: any host (behind IAP, where a
    rebinding page gets no IAP session); else the exact host[:port] values."""
    host = host.strip().lower()
    if allowed is None:
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return name in LOOPBACK
    return ANY_HOST in allowed or host in {h.strip().lower() for h in allowed}


TOKEN_IN_TEXT = re.compile(r"((?:^|[?&#\s\"'])(?:token|csrf)=)[^&\s\"']*", re.IGNORECASE)


class RedactTokens(logging.Filter):
    """Rewrites a record so no approval token (`token=` / `csrf=` in a query string or a fragment) reaches any
    handler. Approval links keep the token out of every URL a server sees; this is the second line."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = TOKEN_IN_TEXT.sub(r"\1[redacted]", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


REDACT_TOKENS = RedactTokens()


LEGACY_LINK = ("This link carries its approval token in the address's query string, which proxies and load "
               "balancers write to their request logs, so it is no longer accepted. Approval links now carry the "
               "token after '#', a part of the address browsers never send. Open the incident's page and follow "
               "its approval link.")


def keep_tokens_out_of_logs() -> None:
    """werkzeug's development server (`autosre serve`) logs every request line, query string included."""
    for name in ("werkzeug", log.name):
        logging.getLogger(name).addFilter(REDACT_TOKENS)  # the same filter object is added once


def create_app(store: EventStore, remediation: Remediation | None = None, local_identity: str = "",
               on_approved: Callable[[str, str], str] | None = None, *, identity: Identity | None = None,
               allowed_hosts: Collection[str] | None = None) -> Flask:
    """`on_approved(incident_id, proposal_id)` hands an approved action to the executor: inline by default
    (embedded); on GCP it publishes to the actions topic, and the `execute` function runs it.

    `identity`: who is deciding (default: `local_identity`, fixed; on GCP `iap_identity(...)`). `allowed_hosts`:
    the Host values served (default: loopback names on any port; `local_hosts(...)` for `autosre serve`)."""
    app = Flask("autosre-web")
    who = identity or fixed_identity(local_identity)
    keep_tokens_out_of_logs()

    def csrf_for(token: str) -> str:
        key = remediation.key if remediation else b""
        return hmac.new(key, b"csrf|" + token.encode(), hashlib.sha256).hexdigest()

    def html(body: str, status: int = 200) -> Response:
        return Response(body, status=status, mimetype="text/html")

    incidents = IncidentLog(store)

    def links(state: IncidentState) -> dict[str, str]:
        if remediation is None:
            return {}
        return {pid: f"/approve#token={remediation.link_token(state.incident_id, pid, state)}"
                for pid in state.proposals if pid not in state.decisions}

    def why_not(r: Remediation, state: IncidentState, proposal: Proposal, approver: str) -> tuple[str, bool]:
        """Why this person cannot approve now ("" when they can), and whether they may still deny."""
        if proposal.proposal_id in state.decisions:
            return "A decision has already been recorded.", False
        if not r.approvers:
            return ("No approver is configured (AUTOSRE_APPROVERS, or `autosre serve --approver`): nobody can "
                    "approve or deny this."), False
        if not approver:
            return "You are not signed in with a verified identity, so you cannot decide.", False
        if approver not in r.approvers:
            return f"{approver} is not on the approvers list.", False
        verdict = r.policy_decision(proposal)
        return ("" if verdict.allowed else f"The policy refuses this action: {verdict.reason}."), True

    @app.before_request
    def known_host() -> Response | None:
        if not host_allowed(request.host, allowed_hosts):
            log.warning("refused a request for an unknown Host")
            return html(render.message_page("Unknown host", "This server does not answer to that host name."), 400)
        return None

    @app.before_request
    def no_token_in_the_url() -> Response | None:
        """An old `/approve?token=` link: its token is in the request logs of every proxy and load balancer on the
        way, so it is refused, and neither echoed nor verified."""
        if request.path.startswith("/approve") and any(name.lower() == "token" for name in request.args):
            log.warning("refused an approval request with a token in its query string")
            return html(render.message_page("Approval link refused", LEGACY_LINK), 400)
        return None

    @app.after_request
    def secure(response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        response.headers["Content-Security-Policy"] = g.get("csp", CSP)
        return response

    @app.get("/")
    def index() -> Response:
        return html(render.incident_list(incidents.summaries()))

    @app.get("/incidents/<incident_id>")
    def incident(incident_id: str) -> Response:
        state = incidents.read(incident_id)
        if state is None:
            return html(render.message_page("Not found", f"No incident {incident_id}"), 404)
        return html(render.report_page(state, links(state)))

    @app.get("/incidents/<incident_id>/postmortem.md")
    def postmortem(incident_id: str) -> Response:
        from agents.postmortem import render as render_postmortem

        state = incidents.read(incident_id)
        if state is None:
            return html(render.message_page("Not found", f"No incident {incident_id}"), 404)
        name = re.sub(r"[^A-Za-z0-9._-]", "_", incident_id)[:100]
        return Response(render_postmortem(state), mimetype="text/markdown",
                        headers={"Content-Disposition": f'attachment; filename="postmortem-{name}.md"'})

    @app.get("/api/incidents")
    def api_incidents() -> Any:
        return {"incidents": incidents.summaries()}

    @app.get("/api/incidents/<incident_id>")
    def api_incident(incident_id: str) -> Any:
        state = incidents.read(incident_id)
        if state is None:
            return {"error": "not found"}, 404
        report = state.latest_report
        return {"summary": state.summary(), "report": report.model_dump(mode="json") if report else None,
                "findings": {k: f.model_dump(mode="json") for k, f in state.findings.items()},
                "proposals": {k: p.model_dump(mode="json") for k, p in state.proposals.items()},
                "decisions": {k: d.model_dump(mode="json") for k, d in state.decisions.items()},
                "executions": {k: asdict(x) for k, x in state.executions.items()},
                "timeline": [list(t) for t in state.timeline]}

    def approvals_off() -> Response:
        return html(render.message_page("Approvals are off", "No approval key is configured."), 404)

    def cross_site() -> Response | None:
        origin = request.headers.get("Origin")
        if origin and urlsplit(origin).netloc.lower() != request.host.lower():  # the Host itself is allow-listed
            return html(render.message_page("Refused", "cross-site request"), 403)
        return None

    @app.get("/approve")
    def approve_link() -> Response:
        """The page an approval link opens. The token is in the link's fragment, which never reaches us: the page's
        script reads it and POSTs it to /approve/preview. Nothing is verified, shown or changed here."""
        if remediation is None:
            return approvals_off()
        g.csp = APPROVE_PAGE_CSP
        return html(render.approve_link_page())

    @app.post("/approve/preview")
    def approve_preview() -> Response:
        """What the action will do, who you are, and the approve/deny form. Reads only: a preview decides nothing."""
        if remediation is None:
            return approvals_off()
        if (refused := cross_site()) is not None:
            return refused
        token = request.form.get("token", "")
        try:
            claims = approvals.verify(remediation.key, token, remediation.clock())
        except approvals.TokenError as exc:
            return html(render.message_page("Link refused", str(exc)), 403)
        state = incidents.read(claims.incident_id)
        proposal = state.proposals.get(claims.proposal_id) if state else None
        if state is None or proposal is None:
            return html(render.message_page("Link refused", "no such proposal"), 403)
        approver = who()
        blocked, can_deny = why_not(remediation, state, proposal, approver)
        return html(render.approval_page(state, proposal, token, csrf_for(token), approver, blocked=blocked,
                                         can_deny=can_deny))

    @app.post("/approve")
    def approve() -> Response:
        if remediation is None:
            return approvals_off()
        if (refused := cross_site()) is not None:
            return refused
        token = request.form.get("token", "")
        if not hmac.compare_digest(request.form.get("csrf", ""), csrf_for(token)):
            return html(render.message_page("Refused", "missing or wrong CSRF token"), 403)
        decision = request.form.get("decision", "")
        approver = who()
        if not approver:
            return html(render.message_page("Refused", "no verified identity: nothing was recorded"), 403)
        try:
            proposal = remediation.decide(token, decision, approver)
            claims = approvals.verify(remediation.key, token, remediation.clock())
            run = on_approved or remediation.execute
            outcome = run(claims.incident_id, proposal.proposal_id) if decision == "approve" \
                else "denied: nothing will be done"
        except approvals.TokenError as exc:
            return html(render.message_page("Link refused", str(exc)), 403)
        except RemediationError as exc:
            return html(render.message_page("Not allowed", str(exc)), 403)
        return html(render.message_page(f"Recorded: {decision}", outcome))

    return app
