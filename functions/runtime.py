"""Builds a Pipeline from settings: the adapters for the store, the bus and the telemetry source."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from functions.pipeline import TOPIC_ALERTS, TOPIC_FINDINGS, TOPIC_TASKS, Pipeline, TelemetryFactory
from functions.remediate import Remediation, propose
from shared import events as ev
from shared.bus_inprocess import InProcessBus
from shared.config import Settings
from shared.events import IncidentState, make_event
from shared.models import Report
from shared.notify import WebhookNotifier
from shared.ports import Bus, EventStore
from shared.telemetry.bundle import BundleSource
from shared.telemetry.models import TelemetrySource


def make_store(settings: Settings) -> EventStore:
    if settings.store == "firestore":
        from shared.store_firestore import FirestoreEventStore

        return FirestoreEventStore(settings.project, prefix=settings.firestore_prefix)
    from shared.store_sqlite import SqliteEventStore

    return SqliteEventStore(settings.sqlite_path)


GCP_METRICS = (  # fleet-wide series the metrics specialist compares (Cloud Run and GKE)
    "run.googleapis.com/request_latencies", "run.googleapis.com/request_count",
    "run.googleapis.com/container/cpu/utilizations", "run.googleapis.com/container/memory/utilizations",
    "kubernetes.io/container/cpu/limit_utilization", "kubernetes.io/container/memory/limit_utilization",
    "kubernetes.io/container/restart_count",
)


def make_telemetry(settings: Settings) -> TelemetryFactory:
    spec = settings.telemetry
    if spec.startswith("bundle:"):
        source = BundleSource(Path(spec.removeprefix("bundle:")))
        return lambda state: source
    if spec == "gcp":
        from shared.telemetry.cloud_logging import CloudLoggingLogReader
        from shared.telemetry.gcp import CloudMonitoringReader, CloudTraceReader, GcpTelemetrySource

        aggregator = None
        if settings.log_analytics_table:
            from shared.telemetry.bigquery_logs import BigQueryLogAggregator

            aggregator = BigQueryLogAggregator(settings.log_analytics_table)
        gcp = GcpTelemetrySource(settings.project, CloudLoggingLogReader(settings.project),
                                 CloudTraceReader(settings.project),
                                 CloudMonitoringReader(settings.project, list(GCP_METRICS)), aggregator)
        return lambda state: gcp
    if spec:
        raise ValueError(f"unsupported telemetry source {spec!r}: use bundle:<folder> or gcp")

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
    """The embedded default: one process, an in-process bus, the given store and telemetry; each report gets
    its remediation proposals."""
    bus = InProcessBus()
    pipeline = Pipeline(store=store, bus=bus, telemetry=lambda state: source)

    def propose_hook(incident_id: str, report: Report) -> None:
        propose(store, incident_id, pipeline.clock())

    pipeline.after_report.append(propose_hook)
    if clock is not None:
        pipeline.clock = clock
    wire_inprocess(pipeline, bus)
    return pipeline, bus


def from_settings(settings: Settings) -> Pipeline:
    """The pipeline a deployed function runs: each report gets its proposals and, when a webhook is
    configured, a notification."""
    bus = make_bus(settings)
    store = make_store(settings)
    pipeline = Pipeline(store=store, bus=bus, telemetry=make_telemetry(settings),
                        specialists=settings.specialists, round_deadline_s=settings.round_deadline_s,
                        max_rounds=settings.max_rounds)

    def propose_hook(incident_id: str, report: Report) -> None:
        propose(store, incident_id, pipeline.clock())

    pipeline.after_report.append(propose_hook)
    if settings.gemini_api_key:
        from shared.gemini import GeminiWriter

        pipeline.writer = GeminiWriter(settings.gemini_api_key, settings.gemini_model, settings.gemini_base_url)
    notifier = WebhookNotifier(settings.webhook_url) if settings.webhook_url else None
    add_report_hooks(pipeline, None, notifier, settings.base_url)
    if isinstance(bus, InProcessBus):
        wire_inprocess(pipeline, bus)
    return pipeline



def approval_key(settings: Settings, store: EventStore) -> bytes:
    """AUTOSRE_APPROVAL_KEY, else (embedded only) a random key created once and kept in the store."""
    if settings.approval_key:
        key = settings.approval_key.encode()
        if len(key) < 32:
            raise ValueError("AUTOSRE_APPROVAL_KEY must have at least 32 bytes")
        return key
    if settings.store != "sqlite":
        raise ValueError("set AUTOSRE_APPROVAL_KEY (Secret Manager on GCP) to issue approval links")
    import secrets

    return store.claim("approval-key", secrets.token_hex(32)).encode()


def remediation_of(settings: Settings, store: EventStore) -> Remediation:
    from agents.policy import Policy

    key = approval_key(settings, store)
    return Remediation(store=store, key=key, policy=Policy.from_json(settings.policy),
                       approvers=frozenset(a.lower() for a in settings.approvers))


def add_report_hooks(pipeline: Pipeline, remediation: Remediation | None, notifier: WebhookNotifier | None,
                     base_url: str) -> None:
    """After a report: propose remediations, then notify the team's channel (a failure is recorded)."""
    if remediation is not None:
        def propose_hook(incident_id: str, report: Report) -> None:
            remediation.propose(incident_id)

        pipeline.after_report.append(propose_hook)
    if notifier is not None:
        def notify(incident_id: str, report: Report) -> None:
            top = report.causes[0] if report.causes else None
            text = (f"*{report.headline}*\n" + (f"Top cause: {top.service}: {top.title}\n" if top else "")
                    + f"{base_url.rstrip('/')}/incidents/{incident_id}")
            delivered, detail = notifier.send(text)
            pipeline.store.append(make_event(
                incident_id, ev.NOTIFICATION_SENT if delivered else ev.NOTIFICATION_FAILED,
                (report.round, notifier.channel), "notify", {"channel": notifier.channel, "detail": detail},
                at=pipeline.clock()))

        pipeline.after_report.append(notify)
