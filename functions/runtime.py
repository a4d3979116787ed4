"""Builds a Pipeline from settings: the adapters for the store, the bus and the telemetry source."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from functions.pipeline import TOPIC_ALERTS, TOPIC_FINDINGS, TOPIC_TASKS, Pipeline, TelemetryFactory
from shared.bus_inprocess import InProcessBus
from shared.config import Settings
from shared.events import IncidentState
from shared.ports import Bus, EventStore
from shared.telemetry.bundle import BundleSource
from shared.telemetry.models import TelemetrySource


def make_store(settings: Settings) -> EventStore:
    if settings.store == "firestore":
        from shared.store_firestore import FirestoreEventStore

        return FirestoreEventStore(settings.project, prefix=settings.firestore_prefix)
    from shared.store_sqlite import SqliteEventStore

    return SqliteEventStore(settings.sqlite_path)


def make_telemetry(settings: Settings) -> TelemetryFactory:
    spec = settings.telemetry
    if spec.startswith("bundle:"):
        source = BundleSource(Path(spec.removeprefix("bundle:")))
        return lambda state: source
    if spec:
        raise ValueError(f"unsupported telemetry source {spec!r}: use bundle:<folder>")

    def unconfigured(state: IncidentState) -> TelemetrySource:
        raise RuntimeError("no telemetry source configured: set AUTOSRE_TELEMETRY=bundle:<folder>")

    return unconfigured


def make_bus(settings: Settings) -> Bus:
    if settings.bus == "pubsub":
        from shared.bus_pubsub import PubSubBus

        return PubSubBus(settings.project)
    return InProcessBus()


def wire_inprocess(pipeline: Pipeline, bus: InProcessBus) -> None:
    """Subscribe the handlers the way the deployment's Pub/Sub subscriptions do."""
    bus.subscribe("intake", TOPIC_ALERTS, pipeline.on_alert)
    for name in pipeline.specialists:
        bus.subscribe(f"specialist-{name}", TOPIC_TASKS, pipeline.on_task, {"specialist": name})
    bus.subscribe("synthesize", TOPIC_FINDINGS, pipeline.on_findings)


def embedded(store: EventStore, source: TelemetrySource,
             clock: Callable[[], float] | None = None) -> tuple[Pipeline, InProcessBus]:
    """The embedded default: one process, an in-process bus, the given store and telemetry."""
    bus = InProcessBus()
    pipeline = Pipeline(store=store, bus=bus, telemetry=lambda state: source)
    if clock is not None:
        pipeline.clock = clock
    wire_inprocess(pipeline, bus)
    return pipeline, bus


def from_settings(settings: Settings) -> Pipeline:
    bus = make_bus(settings)
    pipeline = Pipeline(store=make_store(settings), bus=bus, telemetry=make_telemetry(settings),
                        specialists=settings.specialists, round_deadline_s=settings.round_deadline_s)
    if isinstance(bus, InProcessBus):
        wire_inprocess(pipeline, bus)
    return pipeline


def state_of(pipeline: Pipeline, incident_id: str) -> IncidentState:
    from shared.events import fold

    return fold(pipeline.store.load(incident_id))
