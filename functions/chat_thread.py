"""One living chat thread per incident: its report, each decision, execution and recovery check, and its resolution.

In a channel that has threads (Slack's Web API with a bot token, shared/notify/slack_api.py) the first update opens
the thread: its first message is the incident's status (headline, top cause, actions and verdicts, open or
resolved, the link), edited in place at every later update, and each update is a reply in the thread; the resolved
notice is a reply also shown in the channel. The thread's id is an event (`chat.thread_opened`). Through a webhook
(no edits) each update is a message of its own that names the incident and links to it; in Google Chat those
messages share a thread keyed by the incident's id.

Each update is told once: it is keyed (`report:<round>:<kind>`, `acknowledged:<who>`, `approval:<proposal>`,
`execution:<proposal>`, `recovery:<proposal>`, `resolved`), recorded as a notification with that key, and a claim
on the key keeps concurrent or redelivered steps from posting it twice; opening the thread is claimed the same way.

The trigger policy (settings): an incident whose severity or service is not among those to notify is not told,
and that is recorded (`notification.skipped`). In quiet hours an update waits (`NotYet`), unless the incident's
severity is one told even then; the sweep sends what waited once they end.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from functions.chat_policy import ChatPolicy, NotYet  # the trigger policy, in a module of its own
from shared import events as ev
from shared.chat_events import NotificationRecorded, ThreadOpened
from shared.incident_log import IncidentHandle
from shared.incident_state import IncidentState
from shared.ports import Claims, Notifier, ThreadedNotifier

if TYPE_CHECKING:
    from functions.pipeline import Pipeline
    from shared.models import Proposal

log = logging.getLogger("autosre.chat")

CLAIM_TTL_S = 900.0  # an update claimed by a delivery that died is free again this long after


@dataclass
class Chat:
    notifier: Notifier
    claims: Claims
    base_url: str
    policy: ChatPolicy
    clock: Callable[[], float]

    @property
    def threaded(self) -> ThreadedNotifier | None:
        n = self.notifier
        return n if callable(getattr(n, "post", None)) and callable(getattr(n, "edit", None)) else None  # type: ignore[return-value]

    def link(self, incident_id: str) -> str:
        return f"{self.base_url.rstrip('/')}/incidents/{incident_id}"


def of(p: Pipeline) -> Chat | None:
    return Chat(p.notifier, p.store, p.base_url, p.chat_policy, p.clock) if p.notifier is not None else None


def tell(chat: Chat, incident: IncidentHandle, about: str, text: str) -> bool:
    """Tell the incident's thread of one update, once. Returns whether this call recorded it. Raises NotYet."""
    state = incident.state
    if about in state.notified:
        return False
    number = max(state.rounds) if state.rounds else 1
    channel = chat.notifier.channel
    why = chat.policy.refuses(state)
    if why:
        return incident.record(ev.EventType.NOTIFICATION_SKIPPED, ("chat", about), "notify", NotificationRecorded(
            channel=channel, detail=f"not told: {why}", round=number, about=about))
    if chat.policy.holds(state, chat.clock()):
        raise NotYet("quiet hours")
    key, me = f"chat:{state.incident_id}:{about}", uuid.uuid4().hex
    if chat.claims.claim(key, me, CLAIM_TTL_S) != me:
        if about in incident.refresh().notified:
            return False  # told by another delivery since this state was read
        raise NotYet("another delivery is telling it")  # and the updates after it, in order
    try:
        threaded = chat.threaded
        by_key = getattr(chat.notifier, "send_threaded", None)  # a webhook whose channel threads by key
        sent, detail = (in_thread(chat, threaded, incident, about, text) if threaded is not None
                        else by_key(text, state.incident_id) if callable(by_key) else chat.notifier.send(text))
    except BaseException:
        chat.claims.release(key, me)  # not told: the next delivery or sweep tries again
        raise
    return incident.record(ev.NOTIFICATION_SENT if sent else ev.NOTIFICATION_FAILED, ("chat", about, channel),
                           "notify", NotificationRecorded(channel=channel, detail=detail, round=number, about=about))


def in_thread(chat: Chat, slack: ThreadedNotifier, incident: IncidentHandle, about: str, text: str
              ) -> tuple[bool, str]:
    """Open the thread (its first message: the status) or edit its first message, then reply with the update."""
    state = incident.state
    thread = state.chat_thread
    if thread is None:
        key, me = f"chat-thread:{state.incident_id}", uuid.uuid4().hex
        if chat.claims.claim(key, me, CLAIM_TTL_S) != me:
            raise NotYet("another delivery is opening the thread")
        root = slack.post(status_text(state, chat.link(state.incident_id)))
        if not root.ok:
            chat.claims.release(key, me)
            return False, f"opening the thread: {root.detail}"
        incident.record(ev.EventType.CHAT_THREAD_OPENED, (), "notify", ThreadOpened(
            channel=slack.channel, conversation=root.conversation, ts=root.ts))
        if about.startswith("report:"):
            return True, f"thread opened: {root.detail}"  # the first message is the report
        thread = incident.state.chat_thread
        assert thread is not None
        edited = ""
    else:
        edit = slack.edit(thread.conversation, thread.ts, status_text(state, chat.link(state.incident_id)))
        edited = "first message edited; " if edit.ok else f"editing the first message: {edit.detail}; "
    reply = slack.post(text, thread=thread.ts, broadcast=about == "resolved")
    return reply.ok, f"{edited}reply: {reply.detail}"


def status_text(state: IncidentState, link: str) -> str:
    """The thread's first message: where the incident stands now."""
    from functions.handlers.after_report import one_line

    alert, report = state.first_alert, state.latest_report
    head = one_line(report.headline) if report else one_line(alert.summary if alert else state.incident_id)
    lines = [f"*[{state.status.upper()}] {head}*"]
    if alert is not None:
        lines.append(f"Service: {one_line(alert.service, 80)}" + (f" · {one_line(alert.severity, 20)}"
                                                                   if alert.severity else ""))
    if report is not None and report.causes:
        top = report.causes[0]
        lines.append(f"Top cause: {one_line(top.service, 80)}: {one_line(top.title)}")
    for pid, proposal in sorted(state.proposals.items()):
        said = action_line(state, pid)
        if said:
            lines.append(f"{action_words(proposal)}: {said}")
    lines.append(link)
    return "\n".join(lines)


def action_words(proposal: Proposal) -> str:
    """An action as people read it: the catalog's title and the service ("Roll back to the previous revision on
    checkout"), never its key."""
    from agents.remediation.catalog import action_title
    from functions.handlers.after_report import one_line

    return f"{one_line(action_title(proposal.action), 80)} on {one_line(proposal.service, 80)}"


def action_line(state: IncidentState, pid: str) -> str:
    from functions.handlers.after_report import one_line

    verified, execution, decision = state.verified.get(pid), state.executions.get(pid), state.decisions.get(pid)
    if verified is not None:
        return one_line(verified.verdict, 200)
    if execution is not None:
        return f"{execution.status}{' (dry run)' if execution.dry_run else ''}: {one_line(execution.outcome, 160)}"
    if decision is not None:
        return f"{decision.decision}d by {one_line(decision.approver, 80)}"
    return ""


def update_text(state: IncidentState, about: str, link: str) -> str:
    """The reply (or, through a webhook, the message) for one keyed update other than a report."""
    from functions.handlers.after_report import one_line

    kind, _, pid = about.partition(":")
    proposal = state.proposals.get(pid)
    what = action_words(proposal) if proposal else pid
    alert = state.first_alert
    name = f"{one_line(alert.service, 80)} ({state.incident_id})" if alert else state.incident_id
    if kind == "acknowledged":
        report = state.latest_report
        head = f"*{one_line(pid, 120)} is on it*: {one_line(report.headline if report else name)}"
    elif kind == "approval":
        d = state.decisions[pid]
        head = f"*{what}: {d.decision}d by {one_line(d.approver, 80)}*"
    elif kind == "execution":
        e = state.executions[pid]
        head = f"*{what}: {e.status}{' (dry run)' if e.dry_run else ''}*\n{one_line(e.outcome, 300)}"
    elif kind == "recovery":
        head = f"*Recovery check: {what}*\n{one_line(state.verified[pid].verdict, 500)}"
    else:
        head = f"*Resolved: {name}*"
    return f"{head}\nIncident {name}: {link}"


def catch_up(chat: Chat, incident: IncidentHandle) -> list[str]:
    """Tell the thread every keyed update it has not been told of yet, in order. Returns the keys recorded.

    A call that told something reads the log again when its list is done and tells what became due meanwhile
    (a verdict recorded by a concurrent sweep that found this call telling the updates before it), so the update
    is told in this pass rather than left to the next sweep."""
    done: list[str] = []
    tried: set[str] = set()
    while True:
        due = [a for a in incident.state.chat_due if a not in tried]
        if not due:
            return done
        for about in due:
            tried.add(about)
            try:
                if tell(chat, incident, about, update_text(incident.state, about, chat.link(incident.incident_id))):
                    done.append(about)
            except NotYet:
                return done  # in order: a later update never overtakes one that waits
        if not done:
            return done
        incident.refresh()


def sweep_chat(p: Pipeline, summaries: list[dict[str, Any]]) -> list[str]:
    """The sweep's pass: every incident whose thread has updates not told. Returns "incident/key" per update told."""
    chat = of(p)
    if chat is None:
        return []
    told = []
    for summary in summaries:
        if not summary.get("chat_pending"):
            continue
        with p.log.incident(str(summary["incident_id"])) as incident:
            if not incident.exists:
                continue
            try:
                told += [f"{incident.incident_id}/{k}" for k in catch_up(chat, incident)]
            except Exception:
                log.exception("chat updates failed for %s", incident.incident_id)
    return told


def told_hook(chat: Chat) -> Callable[[IncidentHandle], None]:
    """What the approval workflow calls after a decision or an execution: the thread is told at once (a failure
    is left to the sweep)."""
    def hook(incident: IncidentHandle) -> None:
        try:
            catch_up(chat, incident)
        except Exception:
            log.exception("chat updates failed for %s", incident.incident_id)

    return hook
