"""Responder feedback on the report page: the form (for a person with a verified identity) and what was said, and
the POST /incidents/<id>/feedback that records it (functions/feedback.py). The form carries a CSRF token bound to
the incident and the person; the POST also passes the web view's Origin check."""

from __future__ import annotations

from collections.abc import Mapping

from agents.remediation.catalog import action_title
from functions import feedback
from functions.web_page import esc
from shared.incident_state import IncidentState
from shared.ports import EventStore


def section(state: IncidentState, identity: str, key: bytes | None) -> str:
    """What responders said, and the form when this person can say something."""
    said = "".join(f"<li>{esc(w.summary_line())}</li>" for w in state.cause_feedback.values())
    said += "".join(f"<li>{esc(w.summary_line())}</li>" for by in state.action_feedback.values()
                    for w in by.values())
    report = state.latest_report
    if report is None or not report.causes:
        return ""
    head = "<section id=feedback><h2>Responder feedback</h2>" + (f"<ul>{said}</ul>" if said else "")
    if key is None or not identity:
        why = "no feedback key is configured" if key is None else "you are not signed in with a verified identity"
        return f"{head}<p class=muted>Feedback is off here: {esc(why)}.</p></section>"
    token = feedback.csrf(key, state.incident_id, identity)
    top = report.causes[0]
    action = f"/incidents/{esc(state.incident_id)}/feedback"
    cause = (f"<form method=post action='{action}'><input type=hidden name=csrf value='{esc(token)}'>"
             "<input type=hidden name=kind value=cause>"
             f"<p>Was <b>{esc(top.service)}</b> ({esc(top.title)}) the cause?</p>"
             "<button name=verdict value=confirmed>Yes, confirm</button>"
             "<label>If not, the cause was: <input name=true_service placeholder=service maxlength=200> "
             "<input name=true_cause placeholder='what happened' maxlength=500></label> "
             "<button name=verdict value=rejected>No, reject</button></form>")
    actions = "".join(
        f"<form method=post action='{action}'><input type=hidden name=csrf value='{esc(token)}'>"
        f"<input type=hidden name=kind value=action><input type=hidden name=proposal_id value='{esc(pid)}'>"
        f"<p>Did <b>{esc(action_title(state.proposals[pid].action))}</b> on "
        f"<b>{esc(state.proposals[pid].service)}</b> help? "
        "<input name=note placeholder='note (optional)' maxlength=500> "
        "<button name=helpful value=yes>Helped</button><button name=helpful value=no>Did not help</button></p>"
        "</form>" for pid in sorted(state.executions) if pid in state.proposals)
    return f"{head}<p class=muted>As {esc(identity)}:</p>{cause}{actions}</section>"


def record(store: EventStore, key: bytes | None, identity: str, incident_id: str,
           form: Mapping[str, str]) -> tuple[int, str, str]:
    """(status, title, message) for a feedback POST."""
    if key is None:
        return 404, "Feedback is off", "No feedback key is configured."
    if not identity:
        return 403, "Refused", "no verified identity: nothing was recorded"
    if not feedback.csrf_matches(key, incident_id, identity, form.get("csrf", "")):
        return 403, "Refused", "missing or wrong CSRF token"
    try:
        if form.get("kind") == "cause":
            verdict = form.get("verdict", "")
            if verdict not in ("confirmed", "rejected"):
                return 400, "Refused", "the verdict is confirmed or rejected"
            new = feedback.on_cause(store, incident_id, identity, "confirmed" if verdict == "confirmed" else
                                    "rejected", form.get("true_service", ""), form.get("true_cause", ""))
        elif form.get("kind") == "action" and form.get("helpful") in ("yes", "no"):
            new = feedback.on_action(store, incident_id, identity, form.get("proposal_id", ""),
                                     form.get("helpful") == "yes", form.get("note", ""))
        else:
            return 400, "Refused", "say whether the cause was right, or whether an action helped"
    except feedback.FeedbackError as exc:
        return 400, "Refused", str(exc)
    return 200, "Thank you", "Recorded." if new else "Already recorded."
