"""The recovery check of an executed action: read the alerting SLI after it, judge it (agents/remediation/recovery.py),
record `remediation.verified` with the numbers, tell the team's channel, and when it did not recover, re-open the
investigation: a fresh round over the incident's window stretched to the end of the check, in which the action is
one more change (`with_actions`).

`check` records the verdict once per proposal (a deterministic event id; a claim key keeps two concurrent sweeps
from both reading and judging). The follow-ups (the notice, the re-opened round) are re-driven by every sweep until
recorded, so a crash between them loses nothing.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

from functions.check_settings import CheckSettings as CheckSettings  # where it was
from shared import events as ev
from shared.events import stable_id
from shared.incident_log import IncidentHandle
from shared.incident_state import IncidentState
from shared.lifecycle_events import RoundStarted, RoundWindow
from shared.models import ReadCounts
from shared.outcome_events import RemediationVerified
from shared.ports import EventStore, TelemetrySource
from shared.telemetry_records import ChangeEvent, Dependency, LogRecord, MetricSeries, ReadResult, Span, Window

if TYPE_CHECKING:
    from functions.pipeline import Pipeline

log = logging.getLogger("autosre.recovery")

CLAIM_TTL_S = 900.0  # a check claimed by a sweep that died is free again this long after (where the store expires)


def reopen_id(incident_id: str, proposal_id: str) -> str:
    """The delivery that re-opens the investigation after `proposal_id` did not recover."""
    return stable_id(incident_id, "recovery", proposal_id)


def check(store: EventStore, incident: IncidentHandle, source: TelemetrySource, proposal_id: str,
          settings: CheckSettings, threshold: float | None = None) -> RemediationVerified | None:
    """Judge one executed action's recovery and record it (None when another sweep holds the check)."""
    from agents.remediation.recovery import Levels, assess

    state = incident.state
    done = state.verified.get(proposal_id)
    if done is not None:
        return done
    execution, alert = state.executions[proposal_id], state.first_alert
    assert alert is not None
    key, me = f"verify:{state.incident_id}:{proposal_id}", uuid.uuid4().hex
    if store.claim(key, me, CLAIM_TTL_S) != me:
        return None
    try:
        w = report_window(state, execution.at)
        onset, start, end, baseline_end = w.onset, w.baseline_start, w.end, w.baseline_end
        after_end = execution.at + settings.window_s
        series = [s for s in source.metrics(Window(start, after_end), [alert.service]).items
                  if s.metric == alert.metric_type]
        points = [p for s in series for p in s.points]
        levels = Levels(after=[p for p in points if execution.at < p[0] <= after_end],
                        incident=[p for p in points if onset <= p[0] <= min(end, execution.at)],
                        baseline=[p for p in points if start <= p[0] < baseline_end])
        outcome, verdict, evidence = assess(alert.metric_type, levels,
                                            alert.threshold_value if threshold is None else threshold,
                                            settings.window_s, settings.sustain, execution.dry_run)
        incident.record(ev.REMEDIATION_VERIFIED, (proposal_id,), "verify", RemediationVerified(
            proposal_id=proposal_id, verdict=verdict, outcome=outcome, evidence=evidence))
    except Exception:
        store.release(key, me)  # not judged: the next sweep tries again
        raise
    return incident.state.verified[proposal_id]


def report_window(state: IncidentState, at: float) -> RoundWindow:
    """The windows of the latest round that opened before `at` (the report the action was proposed from)."""
    rounds = [r for n, r in sorted(state.rounds.items()) if r.window.start <= at] or list(state.rounds.values())
    return rounds[-1].window


def follow_up(p: Pipeline, incident: IncidentHandle, proposal_id: str, window_s: float) -> None:
    """The notice of the verdict and, when the action did not recover, the re-opened investigation."""
    state = incident.state
    verified = state.verified[proposal_id]
    if p.notifier is not None and f"recovery:{proposal_id}" not in state.notified:
        from functions.chat_policy import NotYet
        from functions.chat_thread import catch_up, of

        chat = of(p)
        assert chat is not None
        try:
            catch_up(chat, incident)  # the thread is told of the verdict (and anything before it not yet told)
        except NotYet:
            pass  # quiet hours: the next sweep tells it
    if verified.result == "not_recovered" and state.status == "open":
        reopen(p, incident, proposal_id, window_s)


def reopen(p: Pipeline, incident: IncidentHandle, proposal_id: str, window_s: float) -> None:
    """A fresh round over the same onset and baseline, its incident window stretched to the end of the check, so
    the action is one more change among those read. Recorded once: a sweep finding it recorded does nothing."""
    state = incident.state
    opened_by = reopen_id(state.incident_id, proposal_id)
    if any(r.opened_by == opened_by for r in state.rounds.values()):
        return
    from agents.remediation.catalog import action_title  # the words people read; only when a round re-opens

    execution, proposal = state.executions[proposal_id], state.proposals[proposal_id]
    w = report_window(state, execution.at)
    number = max(state.rounds) + 1
    incident.record(ev.ROUND_STARTED, (number,), "verify", RoundStarted(
        round=number, specialists=list(p.specialists), deadline=p.clock() + p.round_deadline_s,
        window=RoundWindow(onset=w.onset, start=w.start, end=max(w.end, execution.at + window_s),
                           baseline_start=w.baseline_start, baseline_end=w.baseline_end),
        opened_by=opened_by, fresh=True,
        reason=f"{action_title(proposal.action)} on {proposal.service} did not recover the alerting SLI"))
    mine = [n for n, r in incident.state.rounds.items() if r.opened_by == opened_by]
    if mine:  # another writer's round of the same number stands otherwise: then it is theirs to fan out
        p.fan_out(incident, mine[0], opened_by)


def action_changes(state: IncidentState) -> list[ChangeEvent]:
    """The incident's executed actions as changes: what a re-opened round's changes specialist reads beside the
    project's own."""
    out = []
    for pid, e, proposal in state.executed_actions:
        what = f"{proposal.action} by Auto SRE (approved by {e.approved_by or 'unknown'})"
        out.append(ChangeEvent(timestamp=e.at, service=proposal.service, kind="other",
                               description=what + (": a dry run, nothing was changed" if e.dry_run else ""),
                               actor=e.approved_by,
                               details=(("source", "autosre"), ("proposal_id", pid))))
    return out


class WithActions:
    """A telemetry source whose changes include the incident's executed actions (every other read is the
    source's own)."""

    def __init__(self, source: TelemetrySource, state: IncidentState):
        self._source = source
        self._actions = action_changes(state)
        self.log_counter = source.log_counter
        self.slo_reader = getattr(source, "slo_reader", None)  # the optional SLO capability, passed on
        self.log_stream = getattr(source, "log_stream", None)  # optional: every log line of a window, streamed
        self.log_variants = getattr(source, "log_variants", None)  # ... or by variant

    def logs(self, window: Window, services: list[str] | None = None) -> ReadResult[LogRecord]:
        return self._source.logs(window, services)

    def spans(self, window: Window, services: list[str] | None = None) -> ReadResult[Span]:
        return self._source.spans(window, services)

    def metrics(self, window: Window, services: list[str] | None = None) -> ReadResult[MetricSeries]:
        return self._source.metrics(window, services)

    def dependencies(self) -> ReadResult[Dependency]:
        return self._source.dependencies()

    def describe(self) -> dict[str, str]:
        return self._source.describe()

    def changes(self, window: Window, services: list[str] | None = None) -> ReadResult[ChangeEvent]:
        read = self._source.changes(window, services)
        extra = [c for c in self._actions if window.contains(c.timestamp) and (not services or c.service in services)]
        if not extra:
            return read
        from dataclasses import replace

        return replace(read, items=sorted([*read.items, *extra], key=lambda c: (c.timestamp, c.service)))


def sweep_checks(p: Pipeline, summaries: list[dict[str, object]], now: float) -> list[str]:
    """The sweep's recovery pass: check every action whose window has passed, and re-drive the follow-ups not
    recorded. Returns "incident/proposal: outcome" for each check recorded by this pass."""
    settings = p.recovery
    if settings.window_s <= 0:
        return []
    done = []
    for summary in summaries:
        due = summary.get("recovery_check_due")
        unnotified = bool(summary.get("recovery_unnotified")) and p.notifier is not None
        due_now = isinstance(due, (int, float)) and now >= due + settings.window_s
        if not (due_now or unnotified or summary.get("recovery_reopen_due")):
            continue
        with p.log.incident(str(summary["incident_id"])) as incident:
            if not incident.exists or incident.state.first_alert is None:
                continue
            state = incident.state
            for pid, at in state.awaiting_recovery_check.items():
                if now < at + settings.window_s:
                    continue
                source = p.telemetry(state, ReadCounts())
                try:
                    verified = check(p.store, incident, source, pid, settings)
                except Exception:
                    log.exception("recovery check failed for %s/%s", state.incident_id, pid)
                    continue
                if verified is not None:
                    done.append(f"{state.incident_id}/{pid}: {verified.result}")
            for pid in list(incident.state.verified):
                try:
                    follow_up(p, incident, pid, settings.window_s)
                except Exception:
                    log.exception("recovery follow-up failed for %s/%s", state.incident_id, pid)
    return done
