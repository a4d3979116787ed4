"""The incident pipeline: intake -> one task per specialist -> synthesis, over any store and bus.

Every handler is idempotent: it folds the incident's events, does only what is not done yet, and writes events
with deterministic ids, so a crash, retry or redelivery at any point loses nothing and doubles nothing.
The same handlers run embedded (SQLite + in-process bus), on the emulators and on GCP.
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
from typing import Any

from agents.base import AnalysisContext, SpecialistResult, plan_windows
from shared import events as ev
from shared.alerts import AlertParseError, parse_alert
from shared.events import IncidentState, fold, make_event, stable_id
from shared.incidents import release_open, route_alert
from shared.models import SPECIALISTS, Alert, Event, Finding, FindingsReady, Report, Task
from shared.ports import Bus, EventStore, Message
from shared.telemetry.models import TelemetrySource, Window

log = logging.getLogger("autosre.pipeline")

TOPIC_ALERTS = "alerts"
TOPIC_TASKS = "tasks"
TOPIC_FINDINGS = "findings"
TOPIC_DEAD_LETTER = "dead-letter"
EXCERPT_BYTES = 2048

Specialist = Callable[[TelemetrySource, AnalysisContext], SpecialistResult]
TelemetryFactory = Callable[[IncidentState], TelemetrySource]


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
    after_report: list[Callable[[str, Report], None]] = field(default_factory=list)  # propose, notify
    writer: Callable[[str, int], str] | None = None  # the optional LLM narrative (grounded in finding ids)
    _loaded: dict[str, Specialist] = field(default_factory=dict)

    # ------------------------------------------------------------------ plumbing

    def _append(self, event: Event) -> bool:
        written = self.store.append(event)
        if written:
            for observe in self.observers:
                observe(event)
        return written

    def _event(self, incident_id: str, type_: str, key: tuple[object, ...], actor: str,
               data: dict[str, Any]) -> bool:
        return self._append(make_event(incident_id, type_, key, actor, data, at=self.clock()))

    def _state(self, incident_id: str) -> IncidentState:
        return fold(self.store.load(incident_id))

    def _project(self, incident_id: str) -> IncidentState:
        state = self._state(incident_id)
        self.store.put_summary(incident_id, state.summary())
        return state

    def _publish(self, topic: str, payload: dict[str, Any], attributes: dict[str, str] | None = None) -> None:
        self.bus.publish(topic, json.dumps(payload, sort_keys=True).encode(), attributes or {})

    def specialist(self, name: str) -> Specialist:
        if name not in self._loaded:
            self._loaded[name] = load_specialist(name)
        return self._loaded[name]

    # ------------------------------------------------------------------ intake

    def on_alert(self, message: Message) -> str | None:
        """Parse, group, record; open round 1 and fan out. Returns the incident id (None if rejected)."""
        try:
            alert = parse_alert(message.data)
        except AlertParseError as exc:
            self.reject(message, exc.reason, str(exc))
            return None
        incident_id = route_alert(self.store, alert)
        alert_key = (alert.monitoring_incident_id, alert.state, alert.started_at, alert.ended_at)
        alert_data = alert.model_dump(mode="json")
        self._event(incident_id, ev.INCIDENT_OPENED, (), "intake",
                    {"group_key": alert.group_key(), "alert": alert_data})
        self._event(incident_id, ev.ALERT_RECEIVED, alert_key, "intake", {"alert": alert_data})
        state = self._state(incident_id)
        if alert.state == "closed" and state.status != "resolved" and all(
            s == "closed" for s in state.alerts.values()
        ):
            self._event(incident_id, ev.INCIDENT_RESOLVED, (), "intake",
                        {"by_alert": alert.monitoring_incident_id})
            release_open(self.store, alert, incident_id)
        elif alert.state == "open" and state.status == "open":
            self._start_round(state, alert, alert_key)
        self._project(incident_id)
        return incident_id

    def reject(self, message: Message, reason: str, error: str) -> None:
        """Record a poison message and dead-letter it once; the caller acks it (no retry forever)."""
        digest = hashlib.sha256(message.data).hexdigest()
        excerpt = message.data[:EXCERPT_BYTES]
        data = {
            "reason": reason,
            "error": error[:1000],
            "message_id": message.message_id,
            "topic": message.topic,
            "size": len(message.data),
            "sha256": digest,
            "excerpt_b64": base64.b64encode(excerpt).decode(),
            "attributes": dict(message.attributes),
        }
        log.warning("alert rejected: %s", error, extra={"json_fields": {"reason": reason, "sha256": digest}})
        if self._event(ev.DEAD_LETTER_STREAM, ev.ALERT_REJECTED, (digest,), "intake", data):
            self.bus.publish(TOPIC_DEAD_LETTER, message.data,
                             {**message.attributes, "autosre_reason": reason, "autosre_sha256": digest})

    def _start_round(self, state: IncidentState, alert: Alert, alert_key: tuple[object, ...],
                     number: int = 1, focus: tuple[str, ...] = ()) -> None:
        onset = alert.started_at if alert.started_at is not None else self.clock()
        incident, baseline = plan_windows(onset)
        opened_by = stable_id(*alert_key)
        self._event(state.incident_id, ev.ROUND_STARTED, (number,), "intake", {
            "round": number,
            "specialists": list(self.specialists),
            "deadline": self.clock() + self.round_deadline_s,
            "window": {"onset": onset, "start": incident.start, "end": incident.end,
                       "baseline_start": baseline.start, "baseline_end": baseline.end},
            "focus": list(focus),
            "opened_by": opened_by,
        })
        self._fan_out(state.incident_id, number, opened_by)

    def _fan_out(self, incident_id: str, number: int, opened_by: str) -> None:
        """One task per specialist still missing from the round. Only the delivery that opened the round fans
        out (or its redelivery, which re-sends what is missing)."""
        rnd = self._state(incident_id).rounds[number]
        if rnd.report is not None or rnd.opened_by != opened_by:
            return
        for name in rnd.missing:
            task = Task(incident_id=incident_id, round=number, specialist=name)
            self._publish(TOPIC_TASKS, task.model_dump(), {"specialist": name, "incident_id": incident_id})

    # ------------------------------------------------------------------ specialists

    def on_task(self, message: Message) -> None:
        task = Task.model_validate_json(message.data)
        state = self._state(task.incident_id)
        rnd = state.rounds.get(task.round)
        if rnd is None:
            raise LookupError(f"incident {task.incident_id} has no round {task.round}")
        if task.specialist not in rnd.reported:
            self._run_specialist(state, task)
            self._project(task.incident_id)
        ready = FindingsReady(incident_id=task.incident_id, round=task.round, specialist=task.specialist)
        self._publish(TOPIC_FINDINGS, ready.model_dump(), {"incident_id": task.incident_id})

    def context(self, state: IncidentState, number: int) -> AnalysisContext:
        rnd = state.rounds[number]
        w = rnd.window
        alert = state.first_alert
        return AnalysisContext(
            incident_id=state.incident_id,
            alert_service=alert.service if alert else "",
            alert_metric=alert.metric_type if alert else "",
            onset=w["onset"],
            incident=Window(w["start"], w["end"]),
            baseline=Window(w["baseline_start"], w["baseline_end"]),
            round=number,
            focus=tuple(rnd.focus),
        )

    def _run_specialist(self, state: IncidentState, task: Task) -> None:
        ctx = self.context(state, task.round)
        began = time.perf_counter()
        try:
            result = self.specialist(task.specialist)(self.telemetry(state), ctx)
        except Exception as exc:  # recorded as an event; the synthesizer reports the gap
            log.exception("specialist %s failed", task.specialist)
            self._event(task.incident_id, ev.SPECIALIST_FAILED, (task.round, task.specialist),
                        f"specialist_{task.specialist}",
                        {"round": task.round, "specialist": task.specialist,
                         "error": f"{type(exc).__name__}: {exc}"[:1000]})
            return
        ids = []
        for index, finding in enumerate(result.findings):
            finding_id = "f-" + stable_id(task.incident_id, task.round, task.specialist, index, finding.kind,
                                          finding.service, finding.resource, length=16)
            stored = finding.model_copy(update={"finding_id": finding_id})
            self._event(task.incident_id, ev.FINDING_RECORDED, (finding_id,), f"specialist_{task.specialist}",
                        {"round": task.round, "finding": stored.model_dump(mode="json")})
            ids.append(finding_id)
        self._event(task.incident_id, ev.SPECIALIST_COMPLETED, (task.round, task.specialist),
                    f"specialist_{task.specialist}",
                    {"round": task.round, "specialist": task.specialist, "finding_ids": ids,
                     "notes": result.notes, "seconds": round(time.perf_counter() - began, 3)})

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
        state = self._state(incident_id)
        rnd = state.rounds.get(number)
        if rnd is None or (rnd.report is not None and not rnd.report.partial):
            return None
        if rnd.missing and not partial_ok:
            return None
        if rnd.missing and rnd.report is not None:
            return None  # a partial report stands until the missing specialists report
        # the deadline sweep has no delivery of its own: it resumes a follow-up under one fixed identity
        delivery = delivery or stable_id(incident_id, "follow-up", number + 1)
        if number + 1 in state.rounds:  # followed up already: that round's report covers this one
            self._fan_out(incident_id, number + 1, delivery)  # the opening delivery's redelivery re-sends tasks
            return None
        report = build_report(state, number, self.context(state, number))
        if not rnd.missing and self._follow_up(state, number, report, delivery):
            return None
        report = self._narrate(report, state)
        if self._event(incident_id, ev.REPORT_PUBLISHED, (number, "partial" if report.partial else "complete"),
                       "synthesize", {"report": report.model_dump(mode="json")}):
            for hook in self.after_report:
                try:
                    hook(incident_id, report)
                except Exception:  # a hook (notification, proposals) never loses the report
                    log.exception("after-report hook failed for %s", incident_id)
        self._project(incident_id)
        return report

    def _follow_up(self, state: IncidentState, number: int, report: Report, delivery: str) -> bool:
        """Start the targeted next round when the ranking is open (`delivery` opens it: only it, or its
        redelivery, fans out). True when the report must wait for it."""
        from agents.followup import AMBIGUOUS, FOCUSED_SPECIALISTS, second_look

        nxt = number + 1
        specialists = [s for s in self.specialists if s in FOCUSED_SPECIALISTS]
        focus = second_look(report.causes)
        if number >= self.max_rounds or not focus or not specialists:
            return False
        self._event(state.incident_id, ev.ROUND_STARTED, (nxt,), "synthesize", {
            "round": nxt, "specialists": specialists, "deadline": self.clock() + self.round_deadline_s,
            "window": dict(state.rounds[number].window), "focus": list(focus), "opened_by": delivery,
            "reason": f"open ranking: {', '.join(focus)} scored within {1 - AMBIGUOUS:.0%} of one another",
        })
        self._fan_out(state.incident_id, nxt, delivery)
        self._project(state.incident_id)
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

    def sweep(self, now: float | None = None) -> list[str]:
        """Publish partial reports for open incidents whose round deadline has passed."""
        now = self.clock() if now is None else now
        swept = []
        for summary in self.store.summaries():
            if summary.get("status") != "open" or summary.get("report"):
                continue
            state = self._state(summary["incident_id"])
            rnd = state.current_round
            if (rnd is not None and rnd.report is None and now >= rnd.deadline
                    and self.synthesize(state.incident_id, rnd.number, partial_ok=True)):
                swept.append(state.incident_id)
        return swept


def build_report(state: IncidentState, number: int, ctx: AnalysisContext) -> Report:
    """Rank causes from the findings the round's specialists reported (deterministic, no LLM)."""
    from agents.followup import merged
    from agents.rca import headline, rank

    rnd = state.rounds[number]
    per_round = [[state.findings[fid] for name in r.specialists for fid in r.completed.get(name, [])
                  if fid in state.findings] for n, r in sorted(state.rounds.items()) if n <= number]
    findings: list[Finding] = merged(per_round)
    ids = [f.finding_id for f in findings]
    result = rank(findings, ctx)
    title, summary = headline(result, ctx)
    missing = rnd.missing
    if missing:
        summary += f" Partial report: no answer from {', '.join(missing)} before the deadline."
    if rnd.failed:
        summary += " Failed: " + "; ".join(f"{k} ({v})" for k, v in sorted(rnd.failed.items())) + "."
    return Report(
        incident_id=state.incident_id,
        round=number,
        partial=bool(missing),
        missing_specialists=missing,
        failed_specialists=dict(sorted(rnd.failed.items())),
        headline=title,
        summary=summary,
        alert_service=ctx.alert_service,
        onset=ctx.onset,
        causes=result.causes,
        ruled_out=result.ruled_out,
        finding_ids=ids,
    )
