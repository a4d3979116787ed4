"""The steps after a report is published: propose remediations, remember the incident's signature, tell the team,
hand the incident off where that is automatic.

A step is recorded once it finished (`report.step_done`); until then every redelivered findings message and every
sweep runs it again, so a crash right after the report loses nothing. Each step is idempotent (its own events have
deterministic ids) and a failing step never costs the report: it is retried by the next redelivery or sweep.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from functions.chat_policy import NotYet
from shared.event_types import EventType
from shared.textnorm import plain, visible

if TYPE_CHECKING:  # the chat thread and the payloads are imported where a step runs: a sweep that only checks
    # which steps are left needs neither
    from functions.chat_thread import Chat
    from functions.pipeline import Pipeline
    from shared.incident_log import IncidentHandle
    from shared.models import Report

log = logging.getLogger("autosre.pipeline")


@dataclass(frozen=True)
class ReportStep:
    name: str
    run: Callable[[Pipeline, IncidentHandle, Report], None]


def propose(p: Pipeline, incident: IncidentHandle, report: Report) -> None:
    """Remediation proposals for the latest report's causes, from the closed catalog (functions/remediation.py)."""
    from functions.remediation import propose as propose_remediations

    propose_remediations(incident)


def remember(p: Pipeline, incident: IncidentHandle, report: Report) -> None:
    """Index the report's signature, for the reports of incidents to come (functions/memory.py)."""
    from functions.memory import remember as remember_signature

    remember_signature(p.store, incident.state, report)


def notify_team(p: Pipeline, incident: IncidentHandle, report: Report) -> None:
    from functions.chat_thread import of

    chat = of(p)
    if chat is not None:
        notify(chat, incident, report)


def hand_off(p: Pipeline, incident: IncidentHandle, report: Report) -> None:
    """The automatic hand-offs (functions/handoffs.py): each recorded, sent or failed."""
    if p.handoffs is not None:
        p.handoffs.hand_off_auto(incident)


STEPS = (ReportStep("propose", propose), ReportStep("remember", remember), ReportStep("notify", notify_team),
         ReportStep("handoff", hand_off))


def steps_of(p: Pipeline) -> tuple[ReportStep, ...]:
    """The steps this pipeline runs: all of them, but a notification only with a notifier and a hand-off only with
    automatic hand-offs configured."""
    return tuple(s for s in STEPS if (s.run is not notify_team or p.notifier is not None)
                 and (s.run is not hand_off or (p.handoffs is not None and bool(p.handoffs.auto))))


def step_key(report: Report, step: str) -> str:
    return done_key(report.partial, step)


def done_key(partial: bool, step: str) -> str:
    """The key a step of a partial or a complete report is recorded as done under."""
    return f"{'partial' if partial else 'complete'}:{step}"


def follow_through(p: Pipeline, incident: IncidentHandle, report: Report) -> None:
    """Run the steps not yet recorded as done for this report."""
    from shared.analysis_events import ReportStepDone

    for step in steps_of(p):
        key = step_key(report, step.name)
        rnd = incident.state.rounds.get(report.round)
        if rnd is None or key in rnd.steps_done:
            continue
        try:
            step.run(p, incident, report)
        except NotYet as exc:  # it waits (quiet hours): the sweep runs it again
            log.info("after-report step %s of %s waits: %s", step.name, incident.incident_id, exc)
            continue
        except Exception:
            log.exception("after-report step %s failed for %s", step.name, incident.incident_id)
            continue
        incident.record(EventType.REPORT_STEP_DONE, (report.round, key), "synthesize",
                        ReportStepDone(round=report.round, step=key))


def pending_steps(p: Pipeline, summary: dict[str, Any]) -> bool:
    """Whether an incident's latest report (as its summary says) has steps still to run."""
    if not summary.get("report"):
        return False
    kind = "partial" if summary.get("partial") else "complete"
    done = set(summary.get("report_steps_done") or [])
    return any(f"{kind}:{s.name}" not in done for s in steps_of(p))


def notify(chat: Chat, incident: IncidentHandle, report: Report) -> None:
    """Tell the incident's chat thread of the report (functions/chat_thread.py), once, and record whether it was
    delivered (or why it was not told). Raises NotYet in quiet hours."""
    from agents.remediation.catalog import action_title
    from functions.chat_thread import tell

    top = report.causes[0] if report.causes else None
    proposed = [f"{action_title(p.action)} on {one_line(p.service, 80)}" for pid, p in incident.state.proposals.items()
                if pid not in incident.state.decisions]
    text = (f"*{one_line(report.headline)}*\n"
            + (f"Top cause: {one_line(top.service, 80)}: {one_line(top.title)}\n" if top else "")
            + (f"Proposed: {'; '.join(proposed)} (approve on the report page)\n" if proposed else "")
            + chat.link(incident.incident_id))
    tell(chat, incident, f"report:{report.round}:{'partial' if report.partial else 'complete'}", text)


def one_line(value: str, limit: int = 300) -> str:
    """Telemetry-derived text on one line (a log line cannot fake a line of its own), bounded, and inert: no bold,
    italics or code markup and no link (shared/textnorm.py `plain`). Angle brackets are escaped by the
    notifier."""
    flat = " ".join(plain(visible(value)).split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"
