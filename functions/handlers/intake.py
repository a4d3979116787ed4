"""Intake (the alerts topic): parse, group, record the alert with its secrets masked; open round 1 and fan out one
task per specialist. Poison input is recorded and dead-lettered once, then acknowledged (never retried forever)."""

from __future__ import annotations

import base64
import hashlib
import logging
from typing import TYPE_CHECKING

from shared import events as ev
from shared import topics
from shared.core_models import Alert
from shared.events import stable_id
from shared.incident_gate import membership
from shared.incident_log import IncidentHandle
from shared.incidents import release_open, reroute_after_resolution, route_alert
from shared.lifecycle_events import (
    AlertReceived,
    AlertRejected,
    IncidentOpened,
    IncidentResolved,
    RoundStarted,
    RoundWindow,
)
from shared.ports import Message

if TYPE_CHECKING:
    from functions.pipeline import Pipeline

log = logging.getLogger("autosre.pipeline")

EXCERPT_BYTES = 2048


def on_alert(p: Pipeline, message: Message) -> str | None:
    """Parse, group, record; open round 1 and fan out. Returns the incident id (None if rejected)."""
    from shared.alerts import AlertParseError, parse_alert

    try:
        alert = parse_alert(message.data)
    except AlertParseError as exc:
        reject(p, message, exc.reason, str(exc))
        return None
    incident_id = route_alert(p.store, alert)  # routed on the alert as sent; recorded with secrets masked
    with membership(p.store, incident_id), p.log.incident(incident_id) as incident:  # the check and the close: one
        if not resolved_meanwhile(incident, alert):                                 # unit (shared/incident_gate.py)
            record_alert(p, incident, alert)
            return incident_id
    incident_id = reroute_after_resolution(p.store, alert, incident_id)
    with membership(p.store, incident_id), p.log.incident(incident_id) as incident:
        record_alert(p, incident, alert)
    return incident_id


def resolved_meanwhile(incident: IncidentHandle, alert: Alert) -> bool:
    """A new Monitoring incident routed to an incident whose close was processed after the routing."""
    return (alert.state == "open" and incident.exists and incident.state.status == "resolved"
            and alert.monitoring_incident_id not in incident.state.alerts)


def record_alert(p: Pipeline, incident: IncidentHandle, alert: Alert) -> None:
    from shared.redaction import redact_alert

    alert_key = (alert.monitoring_incident_id, alert.state, alert.started_at, alert.ended_at)
    masked = redact_alert(alert)  # the one boundary: nothing downstream (report, chat, LLM) sees a secret
    # what the alert records (the opening, the alert, its resolution or a new round) is written in one commit;
    # only then are the resolution's consequences or the round's tasks sent
    incident.stage(ev.INCIDENT_OPENED, (), "intake", IncidentOpened(group_key=masked.group_key(), alert=masked))
    incident.stage(ev.ALERT_RECEIVED, alert_key, "intake", AlertReceived(alert=masked))
    state = incident.state
    resolves = alert.state == "closed" and state.status != "resolved" and all(s == "closed"
                                                                              for s in state.alerts.values())
    number = None
    if resolves:
        incident.stage(ev.INCIDENT_RESOLVED, (), "intake", IncidentResolved(by_alert=alert.monitoring_incident_id))
    elif alert.state == "open" and state.status == "open":
        number = start_round(p, incident, alert, alert_key)
    incident.commit()
    if resolves:
        release_open(p.store, alert, incident.incident_id)
        tell_resolved(p, incident)
    elif number is not None:
        p.fan_out(incident, number, stable_id(*alert_key))


def tell_resolved(p: Pipeline, incident: IncidentHandle) -> None:
    """The resolved notice in the incident's chat thread (with any update not told yet; a failure or quiet hours
    leave it to the sweep), and what was handed off resolved there too (functions/handoffs.py)."""
    from functions.chat_policy import NotYet
    from functions.chat_thread import catch_up, of

    chat = of(p)
    try:
        if chat is not None:
            catch_up(chat, incident)
    except NotYet:
        pass
    except Exception:
        log.exception("the resolved notice failed for %s", incident.incident_id)
    if p.handoffs is not None and incident.state.handoffs:
        try:
            p.handoffs.resolve(incident)
        except Exception:
            log.exception("resolving the hand-offs failed for %s", incident.incident_id)


def reject(p: Pipeline, message: Message, reason: str, error: str) -> None:
    """Record a poison message and dead-letter it once; the caller acks it (no retry forever)."""
    from functions.dlq import REASON_ATTRIBUTE, REPLAY_ATTRIBUTE, is_bookkeeping
    from shared.redaction import redact_text, redact_value

    digest = hashlib.sha256(message.data).hexdigest()
    # the record is for people to read, so it passes the boundary: the excerpt is masked as text (the archive
    # keeps the bytes themselves for replay), and so are the attributes and the error (a parser may quote input)
    excerpt = redact_text(message.data[:EXCERPT_BYTES].decode("utf-8", "replace")).encode()
    record = AlertRejected(
        reason=reason, error=redact_text(error[:1000]), message_id=message.message_id, topic=message.topic,
        size=len(message.data), sha256=digest, excerpt_b64=base64.b64encode(excerpt).decode(),
        attributes=redact_value(dict(message.attributes)))
    log.warning("alert rejected: %s", record.error, extra={"json_fields": {"reason": reason, "sha256": digest}})
    replay = message.attributes.get("autosre_replay", "")  # a replayed message still poison is archived again
    if p.log.record_rejection((digest, replay) if replay else (digest,), "intake", record):
        # Only the system names a dead letter's origin: a sender's bookkeeping attributes are dropped.
        sent = {k: v for k, v in message.attributes.items() if not is_bookkeeping(k)}
        if replay:
            sent[REPLAY_ATTRIBUTE] = replay
        p.bus.publish(topics.DEAD_LETTER, message.data,
                      {**sent, REASON_ATTRIBUTE: reason, "autosre_sha256": digest})


def start_round(p: Pipeline, incident: IncidentHandle, alert: Alert, alert_key: tuple[object, ...]) -> int | None:
    """Open round 1 for the incident's first open alert. A later alert that starts after the window the last
    investigation read (a long-open incident, e.g. a log-based alert open for days) opens a fresh investigation:
    a new round with its own windows, whose report reads only its own findings. Any other alert joins the
    investigation under way. Returns the round whose tasks the alert sends once its events are written (a
    redelivered alert re-sends the tasks of the round it opened); None when it opens none. The new round is
    staged (written by the caller's commit)."""
    state = incident.state
    opened_by = stable_id(*alert_key)
    mine = [r.number for r in state.rounds.values() if r.opened_by == opened_by]
    if mine:
        return mine[0]
    last = state.current_round
    onset = alert.started_at if alert.started_at is not None else p.clock()
    if last is None:
        number, reason = 1, ""
    elif last.report is not None and alert.started_at is not None and alert.started_at >= last.window.end:
        number, reason = max(state.rounds) + 1, "a new alert started after the window the last round read"
    else:
        return None
    from shared.time_window import plan_windows

    window, baseline = plan_windows(onset)
    incident.stage(ev.ROUND_STARTED, (number,), "intake", RoundStarted(
        round=number, specialists=list(p.specialists), deadline=p.clock() + p.round_deadline_s,
        window=RoundWindow(onset=onset, start=window.start, end=window.end, baseline_start=baseline.start,
                           baseline_end=baseline.end),
        opened_by=opened_by, reason=reason, fresh=number > 1))
    return number
