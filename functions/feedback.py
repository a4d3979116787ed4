"""Responder feedback on a report: a person with a verified identity confirms or rejects the named cause (saying
what the cause was, when they know) and says whether an action helped. Each word is an event under their
identity (shared/feedback_events.py); the same word again is the same event (a deterministic id: a resubmitted
form records nothing more), a changed mind is a new one that supersedes it.

A cause's word also goes into the similar-incident index (functions/memory.py), so a confirmed cause outranks an
unconfirmed one for the incidents to come without reading every candidate's log. The form's CSRF token is bound to
the incident and the identity, signed with the approval key.
"""

from __future__ import annotations

from typing import Literal

from shared import events as ev
from shared.approvals import form_token, form_token_matches
from shared.feedback_events import ActionFeedback, CauseFeedback
from shared.incident_log import IncidentLog
from shared.ports import EventStore


class FeedbackError(ValueError):
    pass


def csrf(key: bytes, incident_id: str, identity: str) -> str:
    """The feedback form's CSRF token: bound to the incident and the person it was rendered for."""
    return form_token(key, "feedback", incident_id, identity)


def csrf_matches(key: bytes, incident_id: str, identity: str, token: str) -> bool:
    return form_token_matches(token, key, "feedback", incident_id, identity)


def on_cause(store: EventStore, incident_id: str, by: str, verdict: Literal["confirmed", "rejected"],
             true_service: str = "", true_cause: str = "") -> bool:
    """Record `by`'s word on the latest report's named cause; True when it is new. Raises FeedbackError."""
    if not by:
        raise FeedbackError("no verified identity: nothing was recorded")
    if verdict not in ("confirmed", "rejected"):
        raise FeedbackError("the verdict is confirmed or rejected")
    from shared.redaction import redact_text  # people paste log lines: what they type passes the boundary

    true_service = redact_text(" ".join(true_service.split())[:200], names=frozenset({true_service.strip()}))
    true_cause = redact_text(" ".join(true_cause.split())[:500])
    with IncidentLog(store).incident(incident_id) as incident:
        report = incident.state.latest_report if incident.exists else None
        if report is None or not report.causes:
            raise FeedbackError("this incident has no report naming a cause")
        top = report.causes[0]
        word = CauseFeedback(round=report.round, cause_service=top.service, cause_kind=top.kind,
                             cause_title=top.title[:300], verdict=verdict,
                             true_service=true_service if verdict == "rejected" else "",
                             true_cause=true_cause if verdict == "rejected" else "", by=by)
        key = (report.round, by, verdict, word.true_service, word.true_cause)
        written = incident.record(ev.CAUSE_FEEDBACK, key, by, word)
        state = incident.state
    from functions.memory import remember_feedback

    remember_feedback(store, state)
    return written


def on_action(store: EventStore, incident_id: str, by: str, proposal_id: str, helpful: bool, note: str = "") -> bool:
    """Record `by`'s word on whether an executed or decided action helped; True when it is new."""
    if not by:
        raise FeedbackError("no verified identity: nothing was recorded")
    with IncidentLog(store).incident(incident_id) as incident:
        state = incident.state if incident.exists else None
        if state is None or proposal_id not in state.proposals:
            raise FeedbackError(f"no proposal {proposal_id} in incident {incident_id}")
        if proposal_id not in state.executions:
            raise FeedbackError("this action was not executed: there is nothing to judge")
        from shared.redaction import redact_text

        note = redact_text(" ".join(note.split())[:500])
        return incident.record(ev.ACTION_FEEDBACK, (proposal_id, by, helpful, note), by,
                               ActionFeedback(proposal_id=proposal_id, helpful=helpful, note=note, by=by))
