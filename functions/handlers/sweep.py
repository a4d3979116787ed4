"""The sweep (Cloud Scheduler, every 5 minutes): partial reports for rounds past their deadline, the after-report
steps not recorded as done, approved actions whose hand-off to the executor was not recorded, actions whose
outcome was pending when the executor stopped waiting (their operations are read and the outcome recorded), the
recovery checks of executed actions whose check window has passed (functions/recovery.py), and the chat thread's
updates not told yet (functions/chat_thread.py).

Only an incident that may have something to do is loaded: one whose report has steps to run, or one without a
report opened at least `round_deadline_s` ago (every round's deadline is at least that long after the incident
opened, so a younger one has no round past its deadline). One query of the open incidents serves both passes.

A resolved incident is swept too: an alert that closes before every specialist reported still gets its partial
report, and its unfinished after-report steps still run. Those are found among the incidents updated in the last
RESOLVED_LOOKBACK_S (the list view's pages, newest first: resolution is an update, so a bounded read of recent
ones, never a scan of the whole retention).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from functions.pipeline import Pipeline
    from functions.remediation import Remediation

RESOLVED_LOOKBACK_S = 24 * 3600.0  # resolved incidents updated this recently are swept for unfinished work
PAGE = 200  # summaries a page of that read holds
MAX_PAGES = 25  # at most this many pages a sweep (5,000 incidents updated within the lookback)


def recently_resolved(p: Pipeline, now: float) -> list[dict[str, Any]]:
    """Resolved incidents updated within the lookback that have work left: no report yet, or steps to run."""
    out: list[dict[str, Any]] = []
    cursor = ""
    for _ in range(MAX_PAGES):
        page, cursor = p.log.summaries_page(PAGE, cursor)
        for summary in page:
            if float(summary.get("updated_at") or 0.0) < now - RESOLVED_LOOKBACK_S:
                return out
            if summary.get("status") == "resolved" and (not summary.get("report") or steps_left(p, summary)
                                                        or summary.get("outcome_pending")
                                                        or recovery_work(summary)
                                                        or (p.notifier is not None and summary.get("chat_pending"))):
                out.append(summary)
        if not cursor:
            break
    return out


def sweep(p: Pipeline, now: float | None = None, summaries: list[dict[str, Any]] | None = None) -> list[str]:
    """Publish partial reports for incidents whose round deadline has passed, and run the after-report steps not
    recorded as done. `summaries`: the incidents to consider when the caller has read them (default: the open ones
    and the recently resolved ones with work left). Returns the incidents given a partial report."""
    now = p.clock() if now is None else now
    swept: list[str] = []
    if summaries is None:
        summaries = p.log.summaries(status="open") + recently_resolved(p, now)
    for summary in summaries:
        if summary.get("report"):
            if not steps_left(p, summary):
                continue
        elif isinstance(opened := summary.get("opened_at"), (int, float)) and now < opened + p.round_deadline_s:
            continue
        from functions.handlers.after_report import follow_through  # imported for an incident with work to do:
        from functions.handlers.synthesize import synthesize_round  # an idle sweep needs no payload nor report

        with p.log.incident(str(summary["incident_id"])) as incident:
            rnd = incident.state.current_round if incident.exists else None
            if rnd is None:
                continue
            if rnd.report is None and now >= rnd.deadline:
                if synthesize_round(p, incident, rnd.number, partial_ok=True, delivery=""):
                    swept.append(incident.incident_id)
            elif (published := incident.state.latest_report) is not None:
                follow_through(p, incident, published)
    return swept


def steps_left(p: Pipeline, summary: dict[str, Any]) -> bool:
    """Whether the incident's latest report has after-report steps still to run (functions/handlers/after_report.py,
    imported for an incident with a report only)."""
    if not summary.get("report"):
        return False
    from functions.handlers.after_report import pending_steps

    return pending_steps(p, summary)


def recovery_work(summary: dict[str, Any]) -> bool:
    """Whether an incident has an action whose recovery is not checked yet, or a check not yet told."""
    return summary.get("recovery_check_due") is not None or bool(summary.get("recovery_unnotified"))


def action_work(summary: dict[str, Any]) -> bool:
    """Whether an incident has an action for the remediation workflow to follow: an approved one whose hand-off is
    not recorded, an outcome pending, or a handed-off run with no outcome."""
    return bool(summary.get("awaiting_hand_off") or summary.get("outcome_pending") or summary.get("awaiting_outcome"))


def check_recoveries(p: Pipeline, summaries: list[dict[str, Any]]) -> list[str]:
    """The recovery checks whose time has come, and their follow-ups (functions/recovery.py, imported only when an
    incident has such work: an action to check, a check not told, a round to re-open)."""
    if not any(recovery_work(s) or s.get("recovery_reopen_due") for s in summaries):
        return []
    from functions.recovery import sweep_checks

    return sweep_checks(p, summaries, p.clock())


def sweep_all(p: Pipeline, remediation: Remediation | Callable[[], Remediation | None] | None
              ) -> dict[str, list[str]]:
    """The passes over one query of the open incidents, the first and the recovery checks also over the recently
    resolved ones with work left (`remediation`: None without approvals; an action is never run on a resolved
    incident). `remediation` may be what builds it: it is called only when an incident has an action to follow
    (an approved one to hand over, an outcome pending, a claimed run with no outcome)."""
    open_incidents = p.log.summaries(status="open")
    resolved = recently_resolved(p, p.clock())
    swept = sweep(p, summaries=open_incidents + resolved)
    if callable(remediation):
        remediation = remediation() if any(action_work(s) for s in open_incidents + resolved) else None
    handed = remediation.redrive_hand_offs(open_incidents) if remediation is not None else []
    settled = remediation.settle_pending(open_incidents + resolved) if remediation is not None else []
    unknown = remediation.settle_stopped_runs(open_incidents) if remediation is not None else []
    verified = check_recoveries(p, open_incidents + resolved)
    told: list[str] = []
    if any(s.get("chat_pending") for s in open_incidents + resolved):  # the chat thread, imported with updates to tell
        from functions.chat_thread import sweep_chat

        told = sweep_chat(p, open_incidents + resolved)
    return {"partial_reports": swept, "handed_off": handed, "outcomes_recorded": settled, "outcome_unknown": unknown,
            "recovery_checked": verified, "chat_told": told}
