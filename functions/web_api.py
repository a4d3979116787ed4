"""The HTTP API beside the web view, versioned under /api/v1/ (docs/api.md): the operations of functions/talk.py as
JSON. Reads need nothing more than the web view does (behind IAP on Google Cloud). Writes (a question, a hint, a
started investigation) need what every POST of the web view needs: a verified identity (they are recorded under
it), a same-site Origin, and a CSRF token bound to that identity (GET /api/v1/csrf), in the `X-CSRF-Token` header
of a request whose body is JSON. No route approves or runs a remediation.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request

from functions.talk import CannotStart, NotFound, NotHanded, Talk, TalkError
from functions.web_security import Identity, cross_site
from shared.approvals import form_token, form_token_matches
from shared.ports import EventStore


def api_csrf(key: bytes, identity: str) -> str:
    """The API's CSRF token: bound to the person, signed with the approval key."""
    return form_token(key, "api", identity)


def _error(message: str, status: int) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    return response


def register_api(app: Flask, store: EventStore, who: Identity, key: bytes | None, talk: Talk | None = None) -> None:
    """Add the /api/v1/ routes to the web view's app. `talk`: the operations (default: over `store`, with no
    pipeline: hints re-rank, and starting an investigation answers why it cannot be started here)."""
    ops = talk or Talk(store)
    from functions.web_talk import register_forms  # the report page's ask and hint forms

    register_forms(app, ops, who, key)

    def run(fn: Any, *args: Any) -> Response:
        try:
            return jsonify(fn(*args))
        except NotFound as exc:
            return _error(str(exc), 404)
        except CannotStart as exc:  # nothing here can run it: why, and how to enable it
            return _error(str(exc), 501)
        except NotHanded as exc:  # the bus refused it: nothing was started
            return _error(str(exc), 503)
        except TalkError as exc:
            return _error(str(exc), 400)

    def writer() -> tuple[str, dict[str, Any]] | Response:
        """The verified person and the JSON body of a write, or the refusal."""
        if (refused := cross_site()) is not None:
            return _error("cross-site request", refused.status_code)
        if key is None:
            return _error("writes are off: no approval key is configured", 404)
        identity = who()
        if not identity:
            return _error("no verified identity: nothing was recorded", 403)
        if not form_token_matches(request.headers.get("X-CSRF-Token", ""), key, "api", identity):
            return _error("missing or wrong CSRF token (GET /api/v1/csrf)", 403)
        body = request.get_json(silent=True) if request.is_json else None
        if not isinstance(body, dict):
            return _error("the body is a JSON object (Content-Type: application/json)", 415)
        return identity, body

    @app.get("/api/v1/csrf")
    def api_v1_csrf() -> Response:
        identity = who()
        if key is None or not identity:
            return _error("writes are off here: " + ("no approval key is configured" if key is None
                                                     else "no verified identity"), 403)
        return jsonify({"identity": identity, "csrf": api_csrf(key, identity)})

    @app.get("/api/v1/incidents")
    def api_v1_incidents() -> Response:
        try:
            limit = int(request.args.get("limit", "20"))
        except ValueError:
            return _error("limit is a number", 400)
        return run(ops.list_incidents, limit, request.args.get("after", ""), request.args.get("status", ""))

    @app.get("/api/v1/incidents/<incident_id>/report")
    def api_v1_report(incident_id: str) -> Response:
        return run(ops.read_report, incident_id)

    @app.get("/api/v1/incidents/<incident_id>/findings")
    def api_v1_findings(incident_id: str) -> Response:
        ids = [i for i in request.args.get("ids", "").split(",") if i]
        return run(ops.read_findings, incident_id, ids or None)

    @app.post("/api/v1/incidents/<incident_id>/questions")
    def api_v1_ask(incident_id: str) -> Response:
        got = writer()
        if isinstance(got, Response):
            return got
        identity, body = got
        return run(ops.ask, incident_id, str(body.get("question", "")), identity)

    @app.post("/api/v1/incidents/<incident_id>/hints")
    def api_v1_hint(incident_id: str) -> Response:
        got = writer()
        if isinstance(got, Response):
            return got
        identity, body = got
        kind = str(body.get("kind", ""))
        if kind not in ("service", "change", "noise"):
            return _error("kind is service, change or noise", 400)
        return run(ops.add_hint, incident_id, identity, kind, str(body.get("service", "")), str(body.get("text", "")))

    @app.post("/api/v1/investigations")
    def api_v1_start() -> Response:
        got = writer()
        if isinstance(got, Response):
            return got
        identity, body = got
        at = body.get("at")
        if at is not None and not isinstance(at, (int, float)):
            return _error("at is UNIX seconds", 400)
        response = run(ops.start_investigation, str(body.get("service", "")), at, identity)
        started = response.get_json() if response.status_code == 200 else None
        if isinstance(started, dict) and started.get("pending"):
            response.status_code = 202  # handed to the intake, which has not opened the incident yet
        return response
