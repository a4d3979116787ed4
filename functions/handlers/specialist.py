"""A specialist (the tasks topic, one function per registered specialist): run its analysis on the incident's
metered telemetry, record its reads' cost, its findings (secrets masked) and its completion or failure, then tell
the synthesizer. A redelivered task records nothing more and tells the synthesizer again."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from shared import topics
from shared.event_types import EventType
from shared.messages import FindingsReady, Task
from shared.ports import Message

if TYPE_CHECKING:  # a redelivered task reads three events by id: no payload, no fold, no model of the log
    from functions.pipeline import Pipeline
    from shared.cost_ledger import MeteredTelemetry
    from shared.incident_log import IncidentHandle
    from shared.incident_state import IncidentState

log = logging.getLogger("autosre.pipeline")
MIN_READ_S = 0.001  # a follow-up whose investigation's deadline has passed: every read is refused with a note


def on_task(p: Pipeline, message: Message) -> None:
    task = Task.model_validate_json(message.data)
    if not reported(p, task):
        with p.log.incident(task.incident_id) as incident:
            rnd = incident.state.rounds.get(task.round)
            if rnd is None:
                raise LookupError(f"incident {task.incident_id} has no round {task.round}")
            if task.specialist not in rnd.reported:
                run(p, incident, task)
    ready = FindingsReady(incident_id=task.incident_id, round=task.round, specialist=task.specialist)
    p.publish(topics.FINDINGS, ready.model_dump(), {"incident_id": task.incident_id})


def reported(p: Pipeline, task: Task) -> bool:
    """Whether the task's run is recorded (a redelivery): its round started and the specialist completed or failed
    in it. Three events read by id, so a redelivery neither loads the incident's log nor folds it."""
    started = (EventType.ROUND_STARTED, (task.round,))
    found = p.log.recorded(task.incident_id, [started, (EventType.SPECIALIST_COMPLETED, (task.round, task.specialist)),
                                              (EventType.SPECIALIST_FAILED, (task.round, task.specialist))])
    return started in found and len(found) > 1


def run(p: Pipeline, incident: IncidentHandle, task: Task) -> None:
    from functions.pipeline import analysis_context
    from shared.analysis_events import FindingRecorded, SpecialistCompleted, SpecialistFailed
    from shared.cost_ledger import spent_before
    from shared.event_types import stable_id
    from shared.read_deadline import read_deadline
    from shared.redaction import redact_finding, redact_text, redact_value

    state = incident.state
    ctx = analysis_context(state, task.round)
    actor = f"specialist_{task.specialist}"
    began = time.perf_counter()
    metered: MeteredTelemetry | None = None
    try:  # every read goes through the meter: counted, and refused once the investigation's budget is spent or
        # the run's shared read deadline has passed (the specialist then reports what it read, with a note)
        metered = p.telemetry(state, spent_before(state, task.round, task.specialist))
        share_budget(p, metered, state, task.round)
        with read_deadline(max(p.read_seconds(state, task.round), MIN_READ_S), p.read_clock):
            result = p.analysis(task.specialist)(metered, ctx)
    except Exception as exc:  # recorded as an event; the synthesizer reports the gap
        log.exception("specialist %s failed", task.specialist)
        if metered is not None:  # a failed run's reads cost all the same
            record_cost(incident, task, metered)
        incident.record(EventType.SPECIALIST_FAILED, (task.round, task.specialist), actor, SpecialistFailed(
            round=task.round, specialist=task.specialist, error=redact_text(f"{type(exc).__name__}: {exc}"[:1000])))
        return
    record_cost(incident, task, metered)
    ids = []
    names = frozenset(n for f in result.findings for n in (f.service, f.resource) if n)
    for index, finding in enumerate(result.findings):
        finding_id = "f-" + stable_id(task.incident_id, task.round, task.specialist, index, finding.kind,
                                      finding.service, finding.resource, length=16)
        stored = redact_finding(finding.model_copy(update={"finding_id": finding_id}))  # the same boundary
        incident.record(EventType.FINDING_RECORDED, (finding_id,), actor,
                        FindingRecorded(round=task.round, finding=stored))
        ids.append(finding_id)
    incident.record(EventType.SPECIALIST_COMPLETED, (task.round, task.specialist), actor, SpecialistCompleted(
        round=task.round, specialist=task.specialist, finding_ids=ids,
        notes=redact_value(list(result.notes), names=names),  # a note may quote telemetry (a corrupt line)
        seconds=round(time.perf_counter() - began, 3)))


def share_budget(p: Pipeline, metered: MeteredTelemetry, state: IncidentState, number: int) -> None:
    """Draw the run's reads from the investigation's one budget in the store (shared/budget_pool.py), which every
    specialist run of it shares, concurrent ones included."""
    metered.share_budget(p.store, f"{state.incident_id}:{state.investigation(number)[0].number}")


def record_cost(incident: IncidentHandle, task: Task, metered: MeteredTelemetry) -> None:
    """The run's reads, once per round and specialist (a redelivered run records nothing more)."""
    from shared.analysis_events import CostRecorded

    incident.record(EventType.COST_RECORDED, (task.round, task.specialist), f"specialist_{task.specialist}",
                    CostRecorded(round=task.round, specialist=task.specialist, counts=metered.counts))
