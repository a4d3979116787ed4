"""Talking to an investigation: the operations the MCP server (functions/mcp_server.py) and the HTTP API
(functions/web_api.py) both offer, over any store. List incidents, read a report and its findings with their
evidence, ask a follow-up question, add a hint, start an investigation. Nothing here approves or runs a
remediation: that stays a signed link and a verified person (functions/remediation.py).

Every question and its answer is an event (`question.answered`), and so is every hint (`hint.added`). A hint
re-ranks by replaying the log: it opens a new round of the same investigation whose report ranks the same
findings with the hints weighed in (agents/reporting/steering.py). That round reads telemetry again only when
the hint names a service nothing has examined yet (no finding about it, no round focused on it): then the
specialists with a closer look take a targeted look at it, as a second round does. A started investigation is a
requested alert (a service and a time) published to the alerts topic of the pipeline's bus, so the same pipeline
runs it as any alert (functions/runtime.py builds each place's: a bundle's in-process pipeline, run before the
answer; a deployment's Pub/Sub, whose intake runs it). Where no pipeline is reachable, starting says why.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shared import topics
from shared.event_types import EventType, stable_id
from shared.incident_log import IncidentLog
from shared.ports import EventStore, NarrativeWriter

if TYPE_CHECKING:
    from agents.reporting.answers import Answer
    from functions.pipeline import Pipeline
    from shared.incident_state import IncidentState
    from shared.steering_events import HintKind

MAX_QUESTION = 1000
NO_PIPELINE = ("no telemetry is configured here, so nothing can run an investigation: give this server a telemetry "
               "bundle (`autosre serve --telemetry BUNDLE_DIR`, `autosre mcp --telemetry BUNDLE_DIR`), or start it "
               "on a deployment, whose intake runs it (its web or mcp function, or `--store firestore --project P`)")
log = logging.getLogger(__name__)


class TalkError(ValueError):
    """A request that cannot be served as asked; the message says why."""


class NotFound(TalkError):
    pass


class CannotStart(TalkError):
    """No pipeline is reachable from here: the message says why and how to enable one."""


class NotHanded(TalkError):
    """The bus refused a started investigation (a permission, an outage): nothing was started; the message says why."""


def requested_alert(service: str, at: float, by: str, project: str = "") -> dict[str, Any]:
    """A v1.2 notification (Monitoring's schema) asking for an investigation of `service` around `at`: what a
    start-an-investigation call sends through the alerts topic, so it runs the same pipeline an alert does. The same
    request (service, time, person) is the same incident."""
    key = stable_id("requested", service, int(at), by, length=16)
    return {"version": "1.2", "incident": {
        "incident_id": f"0.requested-{key}", "scoping_project_id": project, "started_at": int(at), "ended_at": None,
        "state": "open", "resource_name": service,
        "resource": {"type": "generic_task", "labels": {"service_name": service, **({"project_id": project}
                                                                                      if project else {})}},
        "metric": {"type": "", "displayName": ""}, "policy_name": "Auto SRE investigation request",
        "policy_user_labels": {"autosre": "requested"}, "condition_name": f"requested by {by}",
        "summary": f"Investigation of {service} requested by {by}.",
    }}


@dataclass
class Talk:
    """The operations over `store`. `pipeline`: what runs rounds (None: no telemetry here, so hints only re-rank
    and nothing can be started; `cannot_start` says why), or `build`, which makes it on first use (a deployment's:
    reading a report never builds it); `drain`: runs what the pipeline published, for an in-process bus; `writer`:
    the model free questions go to (default: the pipeline's; none: only the common questions are answered)."""

    store: EventStore
    pipeline: Pipeline | None = None
    drain: Callable[[], object] = field(default=lambda: None)
    project: str = ""
    writer: NarrativeWriter | None = None  # the model for free questions (default: the pipeline's)
    cannot_start: str = NO_PIPELINE  # why nothing can be started here (without a pipeline), and how to enable it
    build: Callable[[], Pipeline] | None = None  # makes the pipeline on first use, instead of `pipeline`

    def __post_init__(self) -> None:
        self.log = IncidentLog(self.store)

    def _runs(self) -> Pipeline | None:
        """The pipeline that runs rounds (built now when it is given by `build`), or None."""
        if self.pipeline is None and self.build is not None:
            self.pipeline = self.build()
        return self.pipeline

    # ------------------------------------------------------------------ reading

    def list_incidents(self, limit: int = 20, after: str = "", status: str = "") -> dict[str, Any]:
        limit = max(1, min(int(limit), 100))
        try:
            page, older = self.log.summaries_page(limit, after)
        except ValueError as exc:
            raise TalkError(f"bad page cursor: {exc}") from exc
        if status:
            page = [s for s in page if s.get("status") == status]
        return {"incidents": page, "next": older}

    def state(self, incident_id: str) -> IncidentState:
        state = self.log.read(incident_id)
        if state is None:
            raise NotFound(f"no incident {incident_id}")
        return state

    def read_report(self, incident_id: str) -> dict[str, Any]:
        from functions.report_view import report_json, view_of

        state = self.state(incident_id)
        report = state.latest_report
        return {"incident_id": incident_id, "summary": state.summary(),
                "report": report_json(state, report, view_of(state, report)) if report else None,
                "hints": [h.model_dump() for h in state.hints],
                "questions": [q.model_dump() for q in state.questions]}

    def read_findings(self, incident_id: str, finding_ids: list[str] | None = None) -> dict[str, Any]:
        """The findings of the latest report (or those named), each with its evidence: what was read (query),
        the exemplars and the details."""
        state = self.state(incident_id)
        report = state.latest_report
        wanted = finding_ids or (report.finding_ids if report else sorted(state.findings))
        unknown = [f for f in wanted if f not in state.findings]
        if unknown:
            raise NotFound(f"no finding {', '.join(unknown[:5])} in incident {incident_id}")
        return {"incident_id": incident_id,
                "findings": [state.findings[f].model_dump(mode="json", exclude={"widget"}) for f in wanted]}

    # ------------------------------------------------------------------ asking

    def ask(self, incident_id: str, question: str, by: str) -> dict[str, Any]:
        """Answer from the findings (a model for a free question, when one is configured); recorded as an event."""
        from agents.reporting.answers import answer
        from shared.steering_events import Answered

        question = " ".join(question.split())
        if not question:
            raise TalkError("ask a question")
        if len(question) > MAX_QUESTION:
            raise TalkError(f"a question is at most {MAX_QUESTION} characters")
        by = _who(by)
        with self.log.incident(incident_id) as incident:
            if not incident.exists:
                raise NotFound(f"no incident {incident_id}")
            state = incident.state
            reply = answer(question, state, self._free())
            report = state.latest_report
            key = (report.round if report else 0, by, question, len(state.questions))
            incident.record(EventType.QUESTION_ANSWERED, key,
                            by, Answered(question=question, intent=reply.intent, answer=reply.text, cited=reply.cited,
                                         source=reply.source, refused=reply.refused, by=by))
        return {"incident_id": incident_id, "question": question, **reply.model_dump()}

    def _free(self) -> Callable[[str, IncidentState], Answer] | None:
        writer = self.writer or (p.writer if (p := self._runs()) is not None else None)
        if writer is None:
            return None
        from agents.reporting.free_answers import free_answer

        return lambda question, state: free_answer(question, state, writer)

    # ------------------------------------------------------------------ steering

    def add_hint(self, incident_id: str, by: str, kind: HintKind, service: str = "", text: str = "") -> dict[str, Any]:
        """Record the hint and re-rank; returns the new report's top causes and what the hint changed."""
        from shared.lifecycle_events import RoundStarted
        from shared.steering_events import Hint

        if kind not in ("service", "change", "noise"):
            raise TalkError("a hint is about a service, a change or noise")
        service, text = " ".join(service.split())[:200], " ".join(text.split())[:500]
        if kind in ("service", "noise") and not service:
            raise TalkError(f"a {kind} hint names a service")
        if kind == "change" and not (text or service):
            raise TalkError("a change hint names the change (or its service)")
        by = _who(by)
        p = self._steering_pipeline()
        hint = Hint(kind=kind, service=service, text=text, by=by)
        with p.log.incident(incident_id) as incident:
            if not incident.exists:
                raise NotFound(f"no incident {incident_id}")
            state = incident.state
            last = state.report_round
            if last is None or last.report is None:
                raise TalkError("this incident has no report yet: a hint re-ranks a report")
            before = [c.service for c in last.report.causes[:5]]
            key = (by, kind, service, text)
            if not incident.record(EventType.HINT_ADDED, key, by, hint):
                return {"incident_id": incident_id, "recorded": False, "note": "this hint was already recorded"}
            from agents.reporting.followup import FOCUSED_SPECIALISTS
            from agents.reporting.steering import hinted_services

            examined = ({f.service for f in state.findings.values()} | {r.service for r in last.report.ruled_out}
                        | {s for r in state.rounds.values() for s in r.focus})
            unseen = [s for s in hinted_services(hint, list(state.findings.values())) if s not in examined]
            specialists = [s for s in p.specialists if s in FOCUSED_SPECIALISTS] if unseen and self._runs() else []
            nxt, delivery = max(state.rounds) + 1, stable_id(incident_id, "hint", *key)
            why = f"a hint from {by}: {hint.summary_line().removeprefix(by + ' ')}"
            if unseen and not specialists:
                why += f"; {', '.join(unseen)} not examined (no telemetry here)"
            incident.record(EventType.ROUND_STARTED, (nxt,), "steer", RoundStarted(
                round=nxt, specialists=specialists, deadline=p.clock() + p.round_deadline_s, window=last.window,
                focus=unseen if specialists else [], opened_by=delivery, reason=why))
            if specialists:
                p.fan_out(incident, nxt, delivery)
            else:
                from functions.handlers.synthesize import synthesize_round

                synthesize_round(p, incident, nxt, False, delivery)
        self.drain()
        state = self.state(incident_id)
        report = state.latest_report
        return {"incident_id": incident_id, "recorded": True, "round": nxt, "examined": unseen if specialists else [],
                "not_examined": [] if specialists else unseen,
                "before": before, "after": [c.service for c in report.causes[:5]] if report else [],
                "steering": report.steering if report and report.round == nxt else [],
                "pending": report is None or report.round != nxt}

    def _steering_pipeline(self) -> Pipeline:
        if (p := self._runs()) is not None:
            return p
        from functions.runtime import without_telemetry

        return without_telemetry(self.store)  # only re-ranks: no specialist runs

    # ------------------------------------------------------------------ starting

    def start_investigation(self, service: str, at: float | None, by: str) -> dict[str, Any]:
        """Investigate `service` around `at` (default: now) with no alert: a requested alert published to the
        pipeline's alerts topic, which its intake reads (run before this returns on an in-process bus; on Pub/Sub
        the deployment's intake opens the incident soon after: `pending`, with the request's id)."""
        service = " ".join(service.split())[:200]
        if not service:
            raise TalkError("name the service to investigate")
        pipeline = self._runs()
        if pipeline is None:
            raise CannotStart(self.cannot_start)
        from shared.alerts import parse_alert
        from shared.incidents import monitoring_key

        by = _who(by)
        payload = json.dumps(requested_alert(service, time.time() if at is None else float(at), by,
                                             self.project)).encode()
        alert = parse_alert(payload)
        try:
            pipeline.bus.publish(topics.ALERTS, payload, {"autosre_requested": "1"})
        except Exception as exc:  # the bus's own errors (Pub/Sub: permission denied, unavailable, a timeout)
            log.warning("investigation of %s not handed to the alerts topic: %s: %s", service, type(exc).__name__, exc)
            reason = (str(exc).strip().splitlines() or [""])[0][:300]
            raise NotHanded(f"the alerts topic refused the request ({type(exc).__name__}: {reason}): nothing was "
                            "started; try again, and on a deployment check that this identity may publish to its "
                            "alerts topic (roles/pubsub.publisher)") from exc
        log.info("investigation of %s requested by %s: request %s handed to the alerts topic", service, by,
                 alert.monitoring_incident_id)
        self.drain()
        incident_id = self.store.lookup(monitoring_key(alert))  # None until intake ran (Pub/Sub: soon)
        state = self.log.read(incident_id) if incident_id else None
        report = state.latest_report if state else None
        return {"incident_id": incident_id or "", "request": alert.monitoring_incident_id, "pending": report is None,
                "headline": report.headline if report else "",
                "causes": [c.service for c in report.causes[:5]] if report else []}


def _who(by: str) -> str:
    by = " ".join(by.split())[:200]
    if not by:
        raise TalkError("no identity: nothing was recorded")
    return by
