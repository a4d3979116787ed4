"""Questions and hints on the report page: what was asked and answered, the hints given, and (for a person with a
verified identity) the forms to ask and to hint; POST /incidents/<id>/ask and /incidents/<id>/hint record them
(functions/talk.py). The forms carry a CSRF token bound to the incident and the person; the POSTs also pass the web
view's Origin check, as every POST does."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from flask import Flask, Response, request

from functions import web_render as render
from functions.talk import NotFound, Talk, TalkError
from functions.web_page import esc
from functions.web_security import Identity, cross_site, html
from shared.approvals import form_token, form_token_matches

if TYPE_CHECKING:  # named for types only: the web list imports no payload
    from shared.incident_state import IncidentState
    from shared.steering_events import HintKind


def csrf(key: bytes, incident_id: str, identity: str) -> str:
    return form_token(key, "talk", incident_id, identity)


def section(state: IncidentState, identity: str, key: bytes | None) -> str:
    """The questions asked, the hints given, and the forms when this person can add to them."""
    if state.latest_report is None:
        return ""
    asked = "".join(
        f"<li><b>{esc(q.by)}</b>: {esc(q.question)}<br>"
        + (f"<span class=muted>refused: {esc(q.refused)}</span>" if q.source == "refused" else esc(q.answer))
        + "</li>" for q in state.questions)
    hinted = "".join(f"<li>{esc(h.summary_line())}</li>" for h in state.hints)
    head = "<section id=ask><h2>Questions and hints</h2>" + (f"<ul>{asked}</ul>" if asked else "") + \
        (f"<p>Hints:</p><ul>{hinted}</ul>" if hinted else "")
    if key is None or not identity:
        why = "no approval key is configured" if key is None else "you are not signed in with a verified identity"
        return f"{head}<p class=muted>Asking is off here: {esc(why)}.</p></section>"
    token = esc(csrf(key, state.incident_id, identity))
    base = f"/incidents/{esc(state.incident_id)}"
    return (f"{head}<form method=post action='{base}/ask'><input type=hidden name=csrf value='{token}'>"
            "<input name=question maxlength=1000 size=60 placeholder='why not checkout? what changed before the "
            "onset? show the evidence for step 2'> <button>Ask</button></form>"
            f"<form method=post action='{base}/hint'><input type=hidden name=csrf value='{token}'>"
            "<select name=kind><option value=service>I suspect the service</option><option value=change>I suspect "
            "the change</option><option value=noise>The alerts are noise on</option></select> "
            "<input name=service maxlength=200 placeholder=service> <input name=text maxlength=500 "
            "placeholder='change (image tag, revision)'> <button>Re-rank with this hint</button></form></section>")


def register_forms(app: Flask, talk: Talk, who: Identity, key: bytes | None) -> None:
    def refused(incident_id: str) -> tuple[str, Response | None]:
        if (cross := cross_site()) is not None:
            return "", cross
        identity = who()
        if key is None:
            return "", html(render.message_page("Asking is off", "No approval key is configured."), 404)
        if not identity:
            return "", html(render.message_page("Refused", "no verified identity: nothing was recorded"), 403)
        if not form_token_matches(request.form.get("csrf", ""), key, "talk", incident_id, identity):
            return "", html(render.message_page("Refused", "missing or wrong CSRF token"), 403)
        return identity, None

    def done(incident_id: str, fn: Callable[[], object]) -> Response:
        try:
            fn()
        except NotFound as exc:
            return html(render.message_page("Not found", str(exc)), 404)
        except TalkError as exc:
            return html(render.message_page("Refused", str(exc)), 400)
        return Response(status=303, headers={"Location": f"/incidents/{incident_id}#ask"})  # see what was recorded

    @app.post("/incidents/<incident_id>/ask")
    def ask_form(incident_id: str) -> Response:
        identity, no = refused(incident_id)
        if no is not None:
            return no
        return done(incident_id, lambda: talk.ask(incident_id, request.form.get("question", ""), identity))

    @app.post("/incidents/<incident_id>/hint")
    def hint_form(incident_id: str) -> Response:
        identity, no = refused(incident_id)
        if no is not None:
            return no
        kinds: dict[str, HintKind] = {"service": "service", "change": "change", "noise": "noise"}
        kind = kinds.get(request.form.get("kind", ""))
        if kind is None:
            return html(render.message_page("Refused", "a hint is about a service, a change or noise"), 400)
        return done(incident_id, lambda: talk.add_hint(incident_id, identity, kind, request.form.get("service", ""),
                                                       request.form.get("text", "")))
