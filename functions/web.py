"""The web view (an HTTP function; `autosre serve` locally): incidents, reports, approvals, a JSON API.

GET never changes anything (link previewers fetch links). POST /approve decides, with a CSRF token bound to
the approval link and the approver's identity from IAP (or the configured local identity when embedded).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import asdict
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, request

from functions import web_render as render
from functions.remediation import Remediation, RemediationError
from shared import approvals
from shared.incident_log import IncidentLog
from shared.incident_state import IncidentState
from shared.ports import EventStore

IAP_HEADER = "X-Goog-Authenticated-User-Email"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # no token leaks to other sites; our own POSTs keep a real Origin
    "Cache-Control": "no-store",
}


def iap_or_local(local_identity: str) -> Callable[[], str]:
    """The approver: IAP's header on GCP ("accounts.google.com:alice@x" -> "alice@x"), else the local identity."""
    def identity() -> str:
        header = request.headers.get(IAP_HEADER, "")
        return header.split(":", 1)[-1].strip().lower() if header else local_identity.lower()
    return identity


def create_app(store: EventStore, remediation: Remediation | None = None, local_identity: str = "",
               on_approved: Callable[[str, str], str] | None = None) -> Flask:
    """`on_approved(incident_id, proposal_id)` hands an approved action to the executor: inline by default
    (embedded); on GCP it publishes to the actions topic, and the `execute` function runs it."""
    app = Flask("autosre-web")
    identity = iap_or_local(local_identity)

    def csrf_for(token: str) -> str:
        key = remediation.key if remediation else b""
        return hmac.new(key, b"csrf|" + token.encode(), hashlib.sha256).hexdigest()

    def html(body: str, status: int = 200) -> Response:
        return Response(body, status=status, mimetype="text/html")

    incidents = IncidentLog(store)

    def links(state: IncidentState) -> dict[str, str]:
        if remediation is None:
            return {}
        return {pid: f"/approve?token={remediation.link_token(state.incident_id, pid, state)}"
                for pid in state.proposals if pid not in state.decisions}

    @app.after_request
    def secure(response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
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

    @app.get("/approve")
    def approve_form() -> Response:
        if remediation is None:
            return html(render.message_page("Approvals are off", "No approval key is configured."), 404)
        token = request.args.get("token", "")
        try:
            claims = approvals.verify(remediation.key, token, remediation.clock())
        except approvals.TokenError as exc:
            return html(render.message_page("Link refused", str(exc)), 403)
        state = incidents.read(claims.incident_id)
        proposal = state.proposals.get(claims.proposal_id) if state else None
        if state is None or proposal is None:
            return html(render.message_page("Link refused", "no such proposal"), 403)
        note = "" if claims.proposal_id not in state.decisions else "A decision has already been recorded."
        return html(render.approval_page(state, proposal, token, csrf_for(token), identity(), note))

    @app.post("/approve")
    def approve() -> Response:
        if remediation is None:
            return html(render.message_page("Approvals are off", "No approval key is configured."), 404)
        origin = request.headers.get("Origin")
        if origin and urlsplit(origin).netloc != request.host:
            return html(render.message_page("Refused", "cross-site request"), 403)
        token = request.form.get("token", "")
        if not hmac.compare_digest(request.form.get("csrf", ""), csrf_for(token)):
            return html(render.message_page("Refused", "missing or wrong CSRF token"), 403)
        decision = request.form.get("decision", "")
        try:
            proposal = remediation.decide(token, decision, identity())
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
