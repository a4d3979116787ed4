"""The incident pipeline: intake -> one task per specialist -> synthesis, over any store and bus.

`Pipeline` is what the pipeline's handlers share (functions/handlers/: intake, specialist, synthesize, sweep, one
thin module each): the store and its one IncidentLog, the bus, the metered telemetry, the narrative writer, the
notifier and the settings they act on. Its `on_*` methods are the entry points, each importing its handler on first
use, so a function's cold start loads only its own.

Every handler is idempotent: it opens the incident once through the incident log, does only what is not done
yet, and records events with deterministic ids, so a crash, retry or redelivery at any point loses nothing and
doubles nothing. One delivered message costs at most one load of the incident's log. The same handlers run
embedded (SQLite + in-process bus), on the emulators and on GCP.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from shared import topics
from shared.config import Settings
from shared.cost_ledger import MeteredTelemetryFactory, Prices
from shared.incident_log import IncidentHandle, IncidentLog
from shared.messages import Task
from shared.ports import Bus, EventStore, Message, NarrativeWriter, Notifier, TelemetrySource
from shared.specialists import SPECIALISTS, spec_of

if TYPE_CHECKING:  # imported where used: a redelivered message needs no analysis (nor the models of its log)
    from agents.context import AnalysisContext, SpecialistResult
    from functions.chat_policy import ChatPolicy
    from functions.check_settings import CheckSettings
    from functions.handlers.after_report import ReportStep
    from functions.handoffs import HandOffs
    from shared.core_models import Event
    from shared.incident_state import IncidentState
    from shared.models import Report

Analysis: TypeAlias = "Callable[[TelemetrySource, AnalysisContext], SpecialistResult]"


def load_analysis(name: str) -> Analysis:
    """The registered specialist's `analyse`, imported on first use (a function's cold start pays only for its own)."""
    fn: Analysis = importlib.import_module(spec_of(name).analysis).analyse
    return fn


def _chat_policy() -> ChatPolicy:
    from functions.chat_policy import ChatPolicy

    return ChatPolicy()


def _check_settings() -> CheckSettings:
    from functions.check_settings import CheckSettings

    return CheckSettings()


def analysis_context(state: IncidentState, number: int) -> AnalysisContext:
    """What every specialist of round `number` is given, and what its report is ranked against."""
    from agents.context import AnalysisContext
    from shared.telemetry_records import Window

    rnd = state.rounds[number]
    w = rnd.window
    alert = state.first_alert
    return AnalysisContext(incident_id=state.incident_id, alert_service=alert.service if alert else "",
                           alert_metric=alert.metric_type if alert else "", onset=w.onset,
                           incident=Window(w.start, w.end), baseline=Window(w.baseline_start, w.baseline_end),
                           round=number, focus=tuple(rnd.focus))


@dataclass
class Pipeline:
    store: EventStore
    bus: Bus
    telemetry: MeteredTelemetryFactory  # the incident's telemetry, metered (functions/runtime.py `metered`)
    specialists: tuple[str, ...] = SPECIALISTS
    round_deadline_s: float = 600.0
    read_deadline_s: float = 240.0  # a specialist run's reads share this deadline (inside the 300 s function timeout)
    max_rounds: int = 2  # 1: publish the first ranking as it is; 2: an open ranking gets a targeted second look
    clock: Callable[[], float] = time.time
    read_clock: Callable[[], float] = time.monotonic  # the clock the read deadline is kept on (a simulated one)
    observers: list[Callable[[Event], None]] = field(default_factory=list)
    writer: NarrativeWriter | None = None  # the optional LLM narrative (grounded in finding ids)
    notifier: Notifier | None = None  # the team's channel: one thread per incident (functions/chat_thread.py)
    chat_policy: ChatPolicy = field(default_factory=lambda: _chat_policy())  # which incidents it is told of, when
    base_url: str = field(default_factory=lambda: Settings().base_url)  # where the web view is (the report's link)
    prices: Prices = field(default_factory=Prices)  # list prices for the report's cost estimate
    handoffs: HandOffs | None = None  # the integrations incidents are handed to (functions/handoffs.py)
    recovery: CheckSettings = field(default_factory=lambda: _check_settings())  # the sweep's recovery checks
    _loaded: dict[str, Analysis] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.log = IncidentLog(self.store, clock=lambda: self.clock(), observers=self.observers)

    # ------------------------------------------------------------------ the entry points

    def on_alert(self, message: Message) -> str | None:
        """The alerts topic. Returns the incident id (None when the alert was rejected)."""
        from functions.handlers import intake

        return intake.on_alert(self, message)

    def on_task(self, message: Message) -> None:
        """The tasks topic: one specialist's run for one round."""
        from functions.handlers import specialist

        specialist.on_task(self, message)

    def on_findings(self, message: Message) -> None:
        """The findings topic: a specialist has reported; the report when the round is complete."""
        from functions.handlers import synthesize

        synthesize.on_findings(self, message)

    def synthesize(self, incident_id: str, number: int, partial_ok: bool = False, delivery: str = "") -> Report | None:
        from functions.handlers import synthesize

        return synthesize.synthesize(self, incident_id, number, partial_ok, delivery)

    def sweep(self, now: float | None = None, summaries: list[dict[str, Any]] | None = None) -> list[str]:
        """Partial reports past their deadline, after-report steps not yet done (functions/handlers/sweep.py)."""
        from functions.handlers import sweep

        return sweep.sweep(self, now, summaries)

    # ------------------------------------------------------------------ what the handlers share

    @property
    def after_report(self) -> tuple[ReportStep, ...]:
        """The steps every published report is followed through with (functions/handlers/after_report.py)."""
        from functions.handlers.after_report import steps_of

        return steps_of(self)

    def read_seconds(self, state: IncidentState, number: int) -> float:
        """The seconds round `number`'s reads share: the whole read deadline for the first round of an
        investigation; for a follow-up round, what is left of the first round's (the report waits for the
        follow-up, so the investigation as a whole keeps inside the deadline). 0 once it has passed."""
        first = state.investigation(number)[0]
        if first.number == number or first.started_at is None:
            return self.read_deadline_s
        return max(0.0, self.read_deadline_s - (self.clock() - first.started_at))

    def analysis(self, name: str) -> Analysis:
        if name not in self._loaded:
            self._loaded[name] = load_analysis(name)
        return self._loaded[name]

    def publish(self, topic: str, payload: dict[str, Any], attributes: dict[str, str] | None = None) -> None:
        self.bus.publish(topic, json.dumps(payload, sort_keys=True).encode(), attributes or {})

    def fan_out(self, incident: IncidentHandle, number: int, opened_by: str) -> None:
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
