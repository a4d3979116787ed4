"""The web view (an HTTP function; `autosre serve` locally): incidents, reports, approvals, a JSON API.

GET never changes anything (link previewers fetch links). GET /approve is the page an approval link opens; its
script POSTs the token from the link's fragment to /approve/preview, which shows what the action will do and the
approve/deny form; POST /approve decides. What an approver may do is decided by the remediation side
(functions/remediation.py); what guards every request (hosts, identity, headers, tokens out of logs) is in
functions/web_security.py.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Collection
from dataclasses import asdict
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from flask import Flask, Response, abort, g, request
from pydantic import ValidationError

from functions import web_render as render
from functions.acknowledge import AcknowledgeError, Acknowledgements
from functions.web_security import APPROVE_PAGE_CSP, Identity, cross_site, fixed_identity, guard, html
from shared import approvals
from shared.incident_log import IncidentHandle, IncidentLog
from shared.paging import ListFilter
from shared.ports import EventStore

if TYPE_CHECKING:  # the workflow is built on the first request that needs it (the list needs none)
    from functions.remediation import Remediation
    from functions.talk import Talk

LIST_PAGE = 100  # incidents on a page of the list and of /api/incidents
REFRESH_S = 30  # the incident list reloads itself this often (a meta refresh: no script, within the page's CSP)


def create_app(store: EventStore, remediation: Remediation | Callable[[], Remediation | None] | None = None,
               local_identity: str = "", *, key: bytes | None = None, identity: Identity | None = None,
               allowed_hosts: Collection[str] | None = None, refresh_s: int = REFRESH_S,
               told: Callable[[IncidentHandle], None] | None = None, talk: Talk | None = None) -> Flask:
    """`remediation`: approvals (None: approvals are off); an approved action goes to its executor as the
    remediation's `hand_off` says (inline by default; on GCP the actions topic and the `execute` function). It may
    be what builds the workflow (None when it cannot): it is then built on the first request that needs it (an
    approval, a report page, an incident with approvals pending in the list), and `key`, the approval key, signs
    the forms and the API's tokens from the start, as the workflow's key would.
    `identity`: who is deciding (default: `local_identity`, fixed; on GCP `iap_identity(...)`). `allowed_hosts`:
    the Host values served (default: loopback names on any port; `local_hosts(...)` for `autosre serve`).
    `refresh_s`: how often the incident list reloads itself (0: never). `told`: what tells an incident's chat
    thread of an acknowledgement ("I'm on it"; functions/runtime.py `chat_told`; default: the remediation's).
    `talk`: the questions, hints and started investigations of the JSON API and the report page (functions/talk.py;
    default: over `store` with no pipeline, where starting an investigation says why it cannot)."""
    app = Flask("autosre-web", static_folder=None)  # no folder of the working directory is served
    who = identity or fixed_identity(local_identity)
    incidents = IncidentLog(store)
    fixed = None if callable(remediation) else remediation
    factory = remediation if callable(remediation) else None
    # the approval workflow (None: approvals are off), built once, on first use, when `remediation` builds it
    workflow: Callable[[], Remediation | None] = cache(factory) if factory is not None else lambda: fixed

    signing = key if factory is not None else fixed.key if fixed else None
    # the form's CSRF key: the approval key (the same on every instance), else one of this process's own
    acks = Acknowledgements(incidents, signing or secrets.token_bytes(32),
                            told if told is not None else fixed.told if fixed else None)
    guard(app, allowed_hosts)
    from functions.web_api import register_api  # /api/v1/: ask, hint, start (functions/talk.py)

    register_api(app, store, who, signing, talk)

    def not_found(incident_id: str) -> Response:
        return html(render.message_page("Not found", f"No incident {incident_id}"), 404)

    def approvals_off() -> Response:
        return html(render.message_page("Approvals are off", "No approval key is configured."), 404)

    def approvable(summary: dict[str, Any]) -> int:
        """What a person could approve now: only an open incident's proposals the policy allows."""
        if summary.get("status") != "open" or not summary.get("pending_approvals"):
            return 0
        remediation = workflow()
        if remediation is None:
            return 0
        state = incidents.read(str(summary["incident_id"]))
        return remediation.pending(state) if state is not None else 0

    def list_filter() -> ListFilter:
        """The list's filters from the query string (`status`, `service`, `severity`, `q`)."""
        try:
            return ListFilter(status=request.args.get("status", ""), service=request.args.get("service", ""),
                              severity=request.args.get("severity", ""), text=request.args.get("q", ""))
        except ValidationError:
            abort(400, description="a filter is too long")

    def page_of_incidents(where: ListFilter) -> tuple[list[dict[str, Any]], str]:
        """The page of summaries `?after=` names (the first without it), newest first, that `where` matches, and
        the next page's cursor; the list never streams every incident the store keeps."""
        try:
            return incidents.summaries_page(LIST_PAGE, request.args.get("after", ""), where)
        except ValueError as exc:
            abort(400, description=f"bad page cursor: {exc}")

    @app.get("/")
    def index() -> Response:
        where = list_filter()
        summaries, older = page_of_incidents(where)
        return html(render.incident_list([{**s, "approvable": approvable(s)} for s in summaries], older, where,
                                         refresh_s))

    @app.get("/incidents/<incident_id>")
    def incident(incident_id: str) -> Response:
        state = incidents.read(incident_id)
        if state is None:
            return not_found(incident_id)
        from functions.web_feedback import section
        from functions.web_report import AckForm, report_page  # the report page's renderers: its route alone
        from functions.web_talk import section as talk_section

        me = who()
        remediation = workflow()
        key = remediation.key if remediation else None
        ack = AckForm(me, acks.csrf(incident_id, me)) if me else None
        return html(report_page(state, remediation.action_states(state) if remediation else {}, ack=ack,
                                feedback=section(state, me, key) + talk_section(state, me, key)))

    @app.post("/incidents/<incident_id>/feedback")
    def give_feedback(incident_id: str) -> Response:
        """A responder's word on the named cause or an action (functions/web_feedback.py)."""
        from functions.web_feedback import record

        if (refused := cross_site()) is not None:
            return refused
        remediation = workflow()
        status, title, text = record(store, remediation.key if remediation else None, who(), incident_id,
                                     request.form)
        return html(render.message_page(title, text), status)

    @app.post("/incidents/<incident_id>/acknowledge")
    def acknowledge(incident_id: str) -> Response:
        """"I'm on it", by the verified identity of this request (POST only, same origin, CSRF token)."""
        if (refused := cross_site()) is not None:
            return refused
        me = who()
        if not me:
            return html(render.message_page("Refused", "no verified identity: nothing was recorded"), 403)
        if not acks.csrf_matches(incident_id, me, request.form.get("csrf", "")):
            return html(render.message_page("Refused", "missing or wrong CSRF token"), 403)
        try:
            acks.acknowledge(incident_id, me)
        except AcknowledgeError as exc:
            return html(render.message_page("Not recorded", str(exc)), 409)
        return Response(status=303, headers={"Location": f"/incidents/{quote(incident_id, safe='')}"})

    @app.get("/incidents/<incident_id>/postmortem.md")
    def postmortem(incident_id: str) -> Response:
        from agents.reporting.postmortem import render as render_postmortem

        state = incidents.read(incident_id)
        if state is None:
            return not_found(incident_id)
        name = re.sub(r"[^A-Za-z0-9._-]", "_", incident_id)[:100]
        return Response(render_postmortem(state), mimetype="text/markdown",
                        headers={"Content-Disposition": f'attachment; filename="postmortem-{name}.md"'})

    @app.get("/api/incidents")
    def api_incidents() -> Any:
        summaries, older = page_of_incidents(list_filter())
        return {"incidents": summaries, "next": older}

    @app.get("/api/incidents/<incident_id>")
    def api_incident(incident_id: str) -> Any:
        from functions.report_view import report_json, view_of

        state = incidents.read(incident_id)
        if state is None:
            return {"error": "not found"}, 404
        report = state.latest_report
        return {"summary": state.summary(),
                "report": report_json(state, report, view_of(state, report)) if report else None,
                "findings": {k: f.model_dump(mode="json") for k, f in state.findings.items()},
                "proposals": {k: p.model_dump(mode="json") for k, p in state.proposals.items()},
                "decisions": {k: d.model_dump(mode="json") for k, d in state.decisions.items()},
                "executions": {k: asdict(x) for k, x in state.executions.items()},
                "timeline": [list(t) for t in state.timeline]}

    @app.get("/approve")
    def approve_link() -> Response:
        """The page an approval link opens. The token is in the link's fragment, which never reaches us: the page's
        script reads it and POSTs it to /approve/preview. Nothing is verified, shown or changed here."""
        if workflow() is None:
            return approvals_off()
        g.csp = APPROVE_PAGE_CSP
        return html(render.approve_link_page())

    @app.post("/approve/preview")
    def approve_preview() -> Response:
        """What the action will do, who you are, and the approve/deny form. Reads only: a preview decides nothing."""
        remediation = workflow()
        if remediation is None:
            return approvals_off()
        if (refused := cross_site()) is not None:
            return refused
        try:
            view = remediation.view(request.form.get("token", ""), who())
        except approvals.TokenError as exc:
            return html(render.message_page("Link refused", str(exc)), 403)
        return html(render.approval_page(view))

    @app.post("/approve")
    def approve() -> Response:
        from functions.remediation import RemediationError

        remediation = workflow()
        if remediation is None:
            return approvals_off()
        if (refused := cross_site()) is not None:
            return refused
        token = request.form.get("token", "")
        if not remediation.csrf_matches(token, request.form.get("csrf", "")):
            return html(render.message_page("Refused", "missing or wrong CSRF token"), 403)
        decision = request.form.get("decision", "")
        approver = who()
        if not approver:
            return html(render.message_page("Refused", "no verified identity: nothing was recorded"), 403)
        try:
            outcome = remediation.decide_and_deliver(token, decision, approver)
        except approvals.TokenError as exc:
            return html(render.message_page("Link refused", str(exc)), 403)
        except RemediationError as exc:
            return html(render.message_page("Not allowed", str(exc)), 403)
        return html(render.message_page(f"Recorded: {decision}", outcome))

    return app
