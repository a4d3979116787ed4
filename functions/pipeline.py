"""The incident pipeline: intake -> one task per specialist -> synthesis, over any store and bus.

Every handler is idempotent: it opens the incident once through the incident log, does only what is not done
yet, and records events with deterministic ids, so a crash, retry or redelivery at any point loses nothing and
doubles nothing. One delivered message costs at most one load of the incident's log. The same handlers run
embedded (SQLite + in-process bus), on the emulators and on GCP.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from shared import events as ev
from shared import topics
from shared.events import (
    AlertReceived,
    AlertRejected,
    CostRecorded,
    FindingRecorded,
    IncidentOpened,
    IncidentResolved,
    ReportPublished,
    ReportStepDone,
    RoundStarted,
    RoundWindow,
    SpecialistCompleted,
    SpecialistFailed,
    stable_id,
)
from shared.incident_log import IncidentHandle, IncidentLog
from shared.incident_state import IncidentState
from shared.incidents import release_open, reroute_after_resolution, route_alert
from shared.models import SPECIALISTS, Alert, Event, FindingsReady, Report, Task
from shared.ports import Bus, EventStore, Message, NarrativeWriter, TelemetrySource

if TYPE_CHECKING:  # imported where used: a redelivered message needs neither the analysis, the meter nor redaction
    from agents.context import AnalysisContext, SpecialistResult
    from shared.telemetry.metered import Budget, MeteredSource, Prices

log = logging.getLogger("autosre.pipeline")

EXCERPT_BYTES = 2048

Specialist: TypeAlias = "Callable[[TelemetrySource, AnalysisContext], SpecialistResult]"
TelemetryFactory = Callable[[IncidentState], TelemetrySource]


def no_budget() -> Budget:
    from shared.telemetry.metered import Budget

    return Budget()


def list_prices() -> Prices:
    from shared.telemetry.metered import Prices

    return Prices()


@dataclass(frozen=True)
class ReportStep:
    """A step after a report is published (proposals, notification). It is recorded once it finished; until then
    every redelivered findings message and every sweep runs it again, so a crash right after the report loses
    nothing. A step must be idempotent (its own events have deterministic ids)."""

    name: str
    run: Callable[[IncidentHandle, Report], None]


def step_key(report: Report, step: str) -> str:
    return f"{'partial' if report.partial else 'complete'}:{step}"


def load_specialist(name: str) -> Specialist:
    """`agents.<name>.analyse`, imported on first use (a function's cold start pays only for its own)."""
    module = importlib.import_module(f"agents.{name}")
    fn: Specialist = module.analyse
    return fn


@dataclass
class Pipeline:
    store: EventStore
    bus: Bus
    telemetry: TelemetryFactory
    specialists: tuple[str, ...] = SPECIALISTS
    round_deadline_s: float = 600.0
    max_rounds: int = 2  # 1: publish the first ranking as it is; 2: an open ranking gets a targeted second look
    clock: Callable[[], float] = time.time
    observers: list[Callable[[Event], None]] = field(default_factory=list)
    after_report: list[ReportStep] = field(default_factory=list)  # propose, notify: each records its outcome
    writer: NarrativeWriter | None = None  # the optional LLM narrative (grounded in finding ids)
    budget: Budget = field(default_factory=no_budget)  # per-investigation read caps (shared/telemetry/metered.py)
    prices: Prices = field(default_factory=list_prices)  # list prices for the report's cost estimate
    _loaded: dict[str, Specialist] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.log = IncidentLog(self.store, clock=lambda: self.clock(), observers=self.observers)

    def _publish(self, topic: str, payload: dict[str, Any], attributes: dict[str, str] | None = None) -> None:
        self.bus.publish(topic, json.dumps(payload, sort_keys=True).encode(), attributes or {})

    def specialist(self, name: str) -> Specialist:
        if name not in self._loaded:
            self._loaded[name] = load_specialist(name)
        return self._loaded[name]

    # ------------------------------------------------------------------ intake

    def on_alert(self, message: Message) -> str | None:
        """Parse, group, record; open round 1 and fan out. Returns the incident id (None if rejected)."""
        from shared.alerts import AlertParseError, parse_alert

        try:
            alert = parse_alert(message.data)
        except AlertParseError as exc:
            self.reject(message, exc.reason, str(exc))
            return None
        incident_id = route_alert(self.store, alert)  # routed on the alert as sent; recorded with secrets masked
        with self.log.incident(incident_id) as incident:
            if not self._resolved_meanwhile(incident, alert):
                self._record_alert(incident, alert)
                return incident_id
        incident_id = reroute_after_resolution(self.store, alert, incident_id)
        with self.log.incident(incident_id) as incident:
            self._record_alert(incident, alert)
        return incident_id

    @staticmethod
    def _resolved_meanwhile(incident: IncidentHandle, alert: Alert) -> bool:
        """A new Monitoring incident routed to an incident whose close was processed after the routing."""
        return (alert.state == "open" and incident.exists and incident.state.status == "resolved"
                and alert.monitoring_incident_id not in incident.state.alerts)

    def _record_alert(self, incident: IncidentHandle, alert: Alert) -> None:
        from shared.redaction import redact_alert

        alert_key = (alert.monitoring_incident_id, alert.state, alert.started_at, alert.ended_at)
        masked = redact_alert(alert)  # the one boundary: nothing downstream (report, chat, LLM) sees a secret
        incident.record(ev.INCIDENT_OPENED, (), "intake", IncidentOpened(group_key=masked.group_key(), alert=masked))
        incident.record(ev.ALERT_RECEIVED, alert_key, "intake", AlertReceived(alert=masked))
        state = incident.state
        if alert.state == "closed" and state.status != "resolved" and all(
            s == "closed" for s in state.alerts.values()
        ):
            incident.record(ev.INCIDENT_RESOLVED, (), "intake", IncidentResolved(by_alert=alert.monitoring_incident_id))
            release_open(self.store, alert, incident.incident_id)
        elif alert.state == "open" and state.status == "open":
            self._start_round(incident, alert, alert_key)

    def reject(self, message: Message, reason: str, error: str) -> None:
        """Record a poison message and dead-letter it once; the caller acks it (no retry forever)."""
        digest = hashlib.sha256(message.data).hexdigest()
        record = AlertRejected(
            reason=reason, error=error[:1000], message_id=message.message_id, topic=message.topic,
            size=len(message.data), sha256=digest,
            excerpt_b64=base64.b64encode(message.data[:EXCERPT_BYTES]).decode(), attributes=dict(message.attributes))
        log.warning("alert rejected: %s", error, extra={"json_fields": {"reason": reason, "sha256": digest}})
        replay = message.attributes.get("autosre_replay", "")  # a replayed message still poison is archived again
        if self.log.record_rejection((digest, replay) if replay else (digest,), "intake", record):
            self.bus.publish(topics.DEAD_LETTER, message.data,
                             {**message.attributes, "autosre_reason": reason, "autosre_sha256": digest})

    def _start_round(self, incident: IncidentHandle, alert: Alert, alert_key: tuple[object, ...]) -> None:
        """Open round 1 for the incident's first open alert. A later alert that starts after the window the last
        investigation read (a long-open incident, e.g. a log-based alert open for days) opens a fresh
        investigation: a new round with its own windows, whose report reads only its own findings. Any other
        alert joins the investigation under way. A redelivered alert re-sends the tasks of the round it opened."""
        state = incident.state
        opened_by = stable_id(*alert_key)
        mine = [r.number for r in state.rounds.values() if r.opened_by == opened_by]
        if mine:
            self._fan_out(incident, mine[0], opened_by)
            return
        last = state.current_round
        onset = alert.started_at if alert.started_at is not None else self.clock()
        if last is None:
            number, reason = 1, ""
        elif last.report is not None and alert.started_at is not None and alert.started_at >= last.window.end:
            number, reason = max(state.rounds) + 1, "a new alert started after the window the last round read"
        else:
            return
        from agents.context import plan_windows

        window, baseline = plan_windows(onset)
        incident.record(ev.ROUND_STARTED, (number,), "intake", RoundStarted(
            round=number, specialists=list(self.specialists), deadline=self.clock() + self.round_deadline_s,
            window=RoundWindow(onset=onset, start=window.start, end=window.end, baseline_start=baseline.start,
                               baseline_end=baseline.end),
            opened_by=opened_by, reason=reason, fresh=number > 1))
        self._fan_out(incident, number, opened_by)

    def _fan_out(self, incident: IncidentHandle, number: int, opened_by: str) -> None:
        """One task per specialist still missing from the round. Only the delivery that opened the round fans
        out (or its redelivery, which re-sends what is missing)."""
        rnd = incident.state.rounds[number]
        if rnd.report is not None or rnd.opened_by != opened_by:
            return
        tasks = [(json.dumps(Task(incident_id=incident.incident_id, round=number, specialist=name).model_dump(),
                             sort_keys=True).encode(), {"specialist": name, "incident_id": incident.incident_id})
                 for name in rnd.missing]
        if tasks:
            self.bus.publish_all(topics.TASKS, tasks)  # sent together: the round's tasks wait once, not each

    # ------------------------------------------------------------------ specialists

    def on_task(self, message: Message) -> None:
        task = Task.model_validate_json(message.data)
        with self.log.incident(task.incident_id) as incident:
            state = incident.state
            rnd = state.rounds.get(task.round)
            if rnd is None:
                raise LookupError(f"incident {task.incident_id} has no round {task.round}")
            if task.specialist not in rnd.reported:
                self._run_specialist(incident, task)
        ready = FindingsReady(incident_id=task.incident_id, round=task.round, specialist=task.specialist)
        self._publish(topics.FINDINGS, ready.model_dump(), {"incident_id": task.incident_id})

    def context(self, state: IncidentState, number: int) -> AnalysisContext:
        from agents.context import AnalysisContext
        from shared.telemetry_records import Window

        rnd = state.rounds[number]
        w = rnd.window
        alert = state.first_alert
        return AnalysisContext(
            incident_id=state.incident_id,
            alert_service=alert.service if alert else "",
            alert_metric=alert.metric_type if alert else "",
            onset=w.onset,
            incident=Window(w.start, w.end),
            baseline=Window(w.baseline_start, w.baseline_end),
            round=number,
            focus=tuple(rnd.focus),
        )

    def _run_specialist(self, incident: IncidentHandle, task: Task) -> None:
        from shared.redaction import redact_finding
        from shared.telemetry.metered import MeteredSource, spent_before

        state = incident.state
        ctx = self.context(state, task.round)
        actor = f"specialist_{task.specialist}"
        began = time.perf_counter()
        metered: MeteredSource | None = None
        try:  # every read goes through the meter: counted, and refused once the investigation's budget is spent
            metered = MeteredSource(self.telemetry(state), self.budget, spent_before(state, task.round,
                                                                                     task.specialist))
            result = self.specialist(task.specialist)(metered, ctx)
        except Exception as exc:  # recorded as an event; the synthesizer reports the gap
            log.exception("specialist %s failed", task.specialist)
            if metered is not None:  # a failed run's reads cost all the same
                self._record_cost(incident, task, metered)
            incident.record(ev.SPECIALIST_FAILED, (task.round, task.specialist), actor, SpecialistFailed(
                round=task.round, specialist=task.specialist, error=f"{type(exc).__name__}: {exc}"[:1000]))
            return
        self._record_cost(incident, task, metered)
        ids = []
        for index, finding in enumerate(result.findings):
            finding_id = "f-" + stable_id(task.incident_id, task.round, task.specialist, index, finding.kind,
                                          finding.service, finding.resource, length=16)
            stored = redact_finding(finding.model_copy(update={"finding_id": finding_id}))  # the same boundary
            incident.record(ev.FINDING_RECORDED, (finding_id,), actor, FindingRecorded(round=task.round,
                                                                                        finding=stored))
            ids.append(finding_id)
        incident.record(ev.SPECIALIST_COMPLETED, (task.round, task.specialist), actor, SpecialistCompleted(
            round=task.round, specialist=task.specialist, finding_ids=ids, notes=result.notes,
            seconds=round(time.perf_counter() - began, 3)))

    @staticmethod
    def _record_cost(incident: IncidentHandle, task: Task, metered: MeteredSource) -> None:
        """The run's reads, once per round and specialist (a redelivered run records nothing more)."""
        incident.record(ev.COST_RECORDED, (task.round, task.specialist), f"specialist_{task.specialist}",
                        CostRecorded(round=task.round, specialist=task.specialist, counts=metered.counts))

    # ------------------------------------------------------------------ synthesis

    def on_findings(self, message: Message) -> None:
        ready = FindingsReady.model_validate_json(message.data)
        self.synthesize(ready.incident_id, ready.round,
                        delivery=stable_id(ready.incident_id, ready.round, ready.specialist))

    def synthesize(self, incident_id: str, number: int, partial_ok: bool = False,
                   delivery: str = "") -> Report | None:
        """Publish the round's report once every specialist reported (or, with partial_ok, now). A complete first
        round whose ranking is still open starts a targeted follow-up round instead (agents/followup.py); the
        follow-up's report then covers both rounds."""
        with self.log.incident(incident_id) as incident:
            return self._synthesize(incident, number, partial_ok, delivery)

    def _synthesize(self, incident: IncidentHandle, number: int, partial_ok: bool, delivery: str) -> Report | None:
        from shared.telemetry.metered import cost_of, investigation_counts  # light: no telemetry records

        state = incident.state
        rnd = state.rounds.get(number)
        if rnd is None:
            return None
        capped = any(c.cap for c in investigation_counts(state, number).values())
        if rnd.report is not None and (not rnd.report.partial or rnd.missing or capped):
            self._follow_through(incident, rnd.report)  # a crash after the report may have left steps undone
            return None  # a complete report is final; a partial one stands until the missing specialists report
            # (one cut short by the read budget is final too: its reads were refused, they will not come)
        if rnd.missing and not partial_ok:
            return None
        # the deadline sweep has no delivery of its own: it resumes a follow-up under one fixed identity
        delivery = delivery or stable_id(incident.incident_id, "follow-up", number + 1)
        if number + 1 in state.rounds and not state.rounds[number + 1].fresh:  # followed up: its report covers this
            self._fan_out(incident, number + 1, delivery)  # the opening delivery's redelivery re-sends tasks
            return None
        from agents.synthesis import build_report  # only now: a redelivery after the report never loads the analysis

        report = build_report(state, number, self.context(state, number))
        if not rnd.missing and not capped and self._follow_up(incident, number, report, delivery):
            return None  # a spent budget gets no second look: its reads would be refused
        report = self._narrate(report, state)
        report = self._recall(report, state)
        report = report.model_copy(update={"cost": cost_of(state, number, report.llm, self.prices)})
        incident.record(ev.REPORT_PUBLISHED, (number, "partial" if report.partial else "complete"), "synthesize",
                        ReportPublished(report=report))
        published = incident.state.rounds[number].report or report  # another writer's report stands
        self._follow_through(incident, published)
        return published

    def _recall(self, report: Report, state: IncidentState) -> Report:
        """The past incidents most like this one (functions/memory.py); a failed lookup never costs the report."""
        from functions.memory import recall

        alert = state.first_alert
        try:
            similar = recall(self.store, report, state.findings, alert.metric_type if alert else "")
        except Exception as exc:
            log.warning("similar-incident lookup failed: %s: %s", type(exc).__name__, exc)
            return report
        return report.model_copy(update={"similar": similar})

    def _follow_through(self, incident: IncidentHandle, report: Report) -> None:
        """Run the after-report steps not yet recorded as done for this report; a failing step is retried by the
        next redelivery or sweep and never costs the report."""
        for step in self.after_report:
            key = step_key(report, step.name)
            rnd = incident.state.rounds.get(report.round)
            if rnd is None or key in rnd.steps_done:
                continue
            try:
                step.run(incident, report)
            except Exception:
                log.exception("after-report step %s failed for %s", step.name, incident.incident_id)
                continue
            incident.record(ev.REPORT_STEP_DONE, (report.round, key), "synthesize",
                            ReportStepDone(round=report.round, step=key))

    def pending_steps(self, summary: dict[str, Any]) -> bool:
        """Whether an incident's latest report (as its summary says) has after-report steps still to run."""
        if not summary.get("report"):
            return False
        kind = "partial" if summary.get("partial") else "complete"
        done = set(summary.get("report_steps_done") or [])
        return any(f"{kind}:{s.name}" not in done for s in self.after_report)

    def _follow_up(self, incident: IncidentHandle, number: int, report: Report, delivery: str) -> bool:
        """Start the targeted next round when the ranking is open (`delivery` opens it: only it, or its
        redelivery, fans out). True when the report must wait for it."""
        from agents.followup import AMBIGUOUS, FOCUSED_SPECIALISTS, second_look

        nxt = number + 1
        specialists = [s for s in self.specialists if s in FOCUSED_SPECIALISTS]
        focus = second_look(report.causes)
        if len(incident.state.investigation(number)) >= self.max_rounds or not focus or not specialists:
            return False
        incident.record(ev.ROUND_STARTED, (nxt,), "synthesize", RoundStarted(
            round=nxt, specialists=specialists, deadline=self.clock() + self.round_deadline_s,
            window=incident.state.rounds[number].window, focus=list(focus), opened_by=delivery,
            reason=f"open ranking: {', '.join(focus)} scored within {1 - AMBIGUOUS:.0%} of one another"))
        self._fan_out(incident, nxt, delivery)
        return True

    def _narrate(self, report: Report, state: IncidentState) -> Report:
        if self.writer is None:
            return report.model_copy(update={"llm": {"used": False, "reason": "no LLM configured"}})
        from agents.narrative import narrate

        try:
            text, meta = narrate(report, state.findings, self.writer)
        except Exception as exc:  # the model is optional: its failure never costs the report
            log.warning("narrative failed: %s", exc)
            return report.model_copy(update={"llm": {"used": False, "reason": f"{type(exc).__name__}: {exc}"[:300]}})
        return report.model_copy(update={"narrative": text, "llm": meta,
                                         "narrative_source": "llm" if text else "deterministic"})

    def sweep(self, now: float | None = None, summaries: list[dict[str, Any]] | None = None) -> list[str]:
        """Publish partial reports for open incidents whose round deadline has passed, and run the after-report
        steps not recorded as done. `summaries`: the open incidents' summaries when the caller has read them.

        Only an incident that may have something to do is loaded: one whose report has steps to run, or one
        without a report opened at least `round_deadline_s` ago (every round's deadline is at least that long after
        the incident opened, so a younger one has no round past its deadline)."""
        now = self.clock() if now is None else now
        swept = []
        for summary in self.log.summaries(status="open") if summaries is None else summaries:
            if summary.get("report"):
                if not self.pending_steps(summary):
                    continue
            elif isinstance(opened := summary.get("opened_at"), (int, float)) and now < opened + self.round_deadline_s:
                continue
            with self.log.incident(str(summary["incident_id"])) as incident:
                rnd = incident.state.current_round if incident.exists else None
                if rnd is None:
                    continue
                if rnd.report is None and now >= rnd.deadline:
                    if self._synthesize(incident, rnd.number, partial_ok=True, delivery=""):
                        swept.append(incident.incident_id)
                elif (published := incident.state.latest_report) is not None:
                    self._follow_through(incident, published)
        return swept
