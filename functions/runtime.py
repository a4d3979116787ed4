"""The composition root: builds the pipeline and the remediation workflow from settings, with the adapters for
the store, the bus, the telemetry source, the action runners, the notifier and the narrative writer. Each adapter
is imported only when chosen, so a function's cold start pays only for what it uses."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from shared.config import Settings
from shared.cost_ledger import Budget, MeteredTelemetry, MeteredTelemetryFactory, Prices
from shared.ports import Bus, Claims, EventStore, NarrativeWriter, Notifier, TelemetrySource

if TYPE_CHECKING:  # the pipeline is imported where one is assembled: web and execute build the store alone
    from functions.handoffs import HandOffs
    from functions.pipeline import Pipeline
    from functions.remediation import Remediation
    from functions.talk import Talk
    from shared.actions import ActionRouter
    from shared.bus.inprocess import InProcessBus
    from shared.incident_log import IncidentHandle
    from shared.incident_state import IncidentState
    from shared.models import ReadCounts
    from shared.telemetry_records import Window

TelemetryFactory = Callable[["IncidentState"], TelemetrySource]  # the incident's telemetry source, unmetered
GCP_METRICS = (  # fleet-wide series the metrics specialist compares (Cloud Run and GKE)
    "run.googleapis.com/request_latencies", "run.googleapis.com/request_count",
    "run.googleapis.com/container/cpu/utilizations", "run.googleapis.com/container/memory/utilizations",
    "kubernetes.io/container/cpu/limit_utilization", "kubernetes.io/container/memory/limit_utilization",
    "kubernetes.io/container/restart_count",
)


def make_store(settings: Settings) -> EventStore:
    if settings.store == "firestore":
        from shared.store.firestore import FirestoreEventStore

        return FirestoreEventStore(settings.project, prefix=settings.firestore_prefix,
                                   retention_days=settings.retention_days)
    from shared.store.sqlite import SqliteEventStore

    return SqliteEventStore(settings.sqlite_path)


def read_only(store: EventStore, why: str) -> EventStore:
    """`store` for reading only: every write raises (shared/store/read_only.py), saying `why`."""
    from shared.store.read_only import ReadOnlyStore

    return ReadOnlyStore(store, why)


def make_telemetry(settings: Settings, quotas: Claims | None = None) -> TelemetryFactory:
    """`quotas`: where the APIs' per-project read quotas are counted across instances (the deployment's store);
    None: each process counts its own."""
    spec = settings.telemetry
    if spec.startswith("bundle:"):
        opened: list[TelemetrySource] = []

        def bundle(state: IncidentState) -> TelemetrySource:
            """The bundle, opened on first read (a function that reads no telemetry never imports its reader)."""
            if not opened:
                opened.append(bundle_source(spec.removeprefix("bundle:")))
            return opened[0]

        return bundle
    if spec == "gcp":
        sources: dict[str, TelemetrySource] = {}

        def for_incident(state: IncidentState) -> TelemetrySource:
            """The alert's own project (a metrics scope can alert on another project's resources), read through
            clients built on first use, once per project (a function that never reads telemetry builds none)."""
            project = incident_project(state) or settings.project
            if project not in sources:
                sources[project] = gcp_source(settings, project, quotas=quotas)
            return sources[project]

        return for_incident
    if spec:
        raise ValueError(f"unsupported telemetry source {spec!r}: use bundle:<folder> or gcp")

    def unconfigured(state: IncidentState) -> TelemetrySource:
        raise RuntimeError("no telemetry source configured: set AUTOSRE_TELEMETRY=bundle:<folder>")

    return unconfigured


def bundle_source(folder: str | Path) -> TelemetrySource:
    """A telemetry bundle folder (docs/bundle-format.md). Raises ValueError (a BundleError) when it is not one."""
    from shared.telemetry.bundle import BundleSource

    return BundleSource(Path(folder))


def bundle_indexes(folder: str | Path) -> set[Path]:
    """The read index files (`<file>.idx`) a bundle folder holds: its first read writes them beside its files."""
    from shared.telemetry.bundle_index import INDEX_SUFFIX

    return set(Path(folder).rglob(f"*{INDEX_SUFFIX}"))


def log_filter(window: Window, services: list[str] | None = None) -> str:
    """The Cloud Logging filter the logs adapter reads a window with (the console links show the same query)."""
    from shared.telemetry.cloud_logging import build_filter

    return build_filter(window, services)


def metered(telemetry: TelemetryFactory, budget: Budget) -> MeteredTelemetryFactory:
    """Every source read through the meter (shared/telemetry/metered.py): each specialist run's reads counted, and
    refused once the investigation's budget is spent (`spent`: what its other runs recorded)."""
    def open_metered(state: IncidentState, spent: ReadCounts) -> MeteredTelemetry:
        from functions.recovery import WithActions
        from shared.telemetry.metered import MeteredSource

        return MeteredSource(WithActions(telemetry(state), state), budget, spent)

    return open_metered


def budget_of(settings: Settings) -> Budget:
    return Budget(settings.budget_api_calls, settings.budget_log_entries, settings.budget_bytes_billed)


def prices_of(settings: Settings) -> Prices:
    return Prices(settings.price_bq_tib, settings.price_monitoring_million_series, settings.price_llm_1k_tokens_in,
                  settings.price_llm_1k_tokens_out)


def incident_project(state: IncidentState) -> str:
    """The project the alerting resource lives in, as the alert says (resource label first)."""
    alert = state.first_alert
    if alert is None:
        return ""
    return alert.resource_labels.get("project_id") or alert.project_id


def gcp_source(settings: Settings, project: str, quotas: Claims | None = None) -> TelemetrySource:
    """The project's readers. With `quotas`, Cloud Logging's 60 entries.list a minute and Cloud Trace's 12
    ListTraces a minute are counted in the store across every instance (shared/quota.py), not per process."""
    from shared.telemetry.cloud_logging import READS_PER_MINUTE, CloudLoggingLogReader
    from shared.telemetry.gcp import LIST_TRACES_PER_MINUTE, CloudMonitoringReader, CloudTraceReader, GcpTelemetrySource

    log_quota = trace_quota = None
    if quotas is not None:
        from shared.quota import StoreQuota

        log_quota = StoreQuota(quotas, f"logging:{project}", READS_PER_MINUTE)
        trace_quota = StoreQuota(quotas, f"trace:{project}", LIST_TRACES_PER_MINUTE, windows=2)

    aggregator = None
    if settings.log_analytics_table:
        from shared.telemetry.bigquery_logs import BigQueryLogAggregator

        aggregator = BigQueryLogAggregator(settings.log_analytics_table,
                                           max_bytes_billed=settings.log_analytics_max_bytes)
    graph = None
    if settings.service_graph:
        from shared.telemetry.bundle import read_graph_file

        graph = read_graph_file(settings.service_graph)
    outside = None
    if settings.service_placements:
        from shared.telemetry.provider_incidents import read_placements
        from shared.telemetry.service_health import OutsideCauses, ServiceHealthReader

        outside = OutsideCauses(ServiceHealthReader(project), read_placements(settings.service_placements))
    slos = None
    if settings.slos:
        from shared.telemetry.gcp_slo import CloudSloReader

        slos = CloudSloReader(project)
    return GcpTelemetrySource(project, CloudLoggingLogReader(project, quota=log_quota),
                              CloudTraceReader(project, quota=trace_quota),
                              CloudMonitoringReader(project, list(GCP_METRICS)), aggregator, graph, outside, slos)


class LazyBus:
    """A bus built on its first publish: a function that publishes nothing (a sweep with nothing to hand over, a
    redelivered message already handled) never imports the bus SDK nor opens its client."""

    def __init__(self, build: Callable[[], Bus]):
        self._build = build
        self._bus: Bus | None = None

    @property
    def built(self) -> Bus:
        if self._bus is None:
            self._bus = self._build()
        return self._bus

    def publish(self, topic: str, data: bytes, attributes: dict[str, str] | None = None) -> str:
        return self.built.publish(topic, data, attributes)

    def publish_all(self, topic: str, messages: list[tuple[bytes, dict[str, str]]]) -> list[str]:
        return self.built.publish_all(topic, messages)


def make_bus(settings: Settings) -> Bus:
    if settings.bus == "pubsub":
        def pubsub() -> Bus:
            from shared.bus.pubsub import PubSubBus

            return PubSubBus(settings.project)

        return LazyBus(pubsub)
    from shared.bus.inprocess import InProcessBus

    return InProcessBus()


def make_notifier(settings: Settings) -> Notifier | None:
    """Slack's Web API when a bot token and a channel are configured (a thread per incident), else the webhook."""
    if (settings.slack_bot_token or settings.slack_bot_token_secret) and settings.slack_channel:
        from shared.notify.slack_api import SlackThreadNotifier
        from shared.secrets import credential

        secret = settings.slack_bot_token_secret
        return SlackThreadNotifier(settings.slack_bot_token, settings.slack_channel,
                                   token_source=lambda: credential("", secret))  # read on first use
    if not settings.webhook_url:
        return None
    from shared.notify.webhook import WebhookNotifier

    return WebhookNotifier(settings.webhook_url)


def make_handoffs(settings: Settings, store: EventStore, key: bytes = b"") -> HandOffs | None:
    """The hand-off integrations the settings configure (None: none)."""
    from shared.handoff import make_targets

    targets = make_targets(settings)
    if not targets:
        return None
    from functions.handoffs import HandOffs

    return HandOffs(store, targets, settings.base_url, key=key,
                    allowed=frozenset(a.lower() for a in settings.approvers), auto=settings.handoff_auto)


def wire_inprocess(pipeline: Pipeline, bus: InProcessBus) -> None:
    """Subscribe the handlers the way the deployment's Pub/Sub subscriptions do."""
    from shared import topics

    bus.subscribe("intake", topics.ALERTS, pipeline.on_alert)
    for name in pipeline.specialists:
        bus.subscribe(f"specialist-{name}", topics.TASKS, pipeline.on_task, {"specialist": name})
    bus.subscribe("synthesize", topics.FINDINGS, pipeline.on_findings)


def assemble(store: EventStore, bus: Bus, telemetry: TelemetryFactory, settings: Settings | None = None,
             notifier: Notifier | None = None, clock: Callable[[], float] | None = None) -> Pipeline:
    """The one place a pipeline is put together: its telemetry metered, its narrative writer and notifier chosen
    from the settings; an in-process bus is wired the way the deployment's subscriptions are."""
    settings = settings or Settings()
    from functions.pipeline import Pipeline

    pipeline = Pipeline(store=store, bus=bus, telemetry=metered(telemetry, budget_of(settings)),
                        specialists=settings.specialists, round_deadline_s=settings.round_deadline_s,
                        read_deadline_s=settings.read_deadline_s,
                        max_rounds=settings.max_rounds, prices=prices_of(settings), notifier=notifier,
                        base_url=settings.base_url, writer=make_writer(settings))
    from functions.check_settings import CheckSettings

    pipeline.recovery = CheckSettings(settings.recovery_check_s, settings.recovery_sustain)
    from functions.chat_policy import ChatPolicy

    pipeline.chat_policy = ChatPolicy.from_settings(settings)
    pipeline.handoffs = make_handoffs(settings, store)  # each built on first use: nothing read at start-up
    if clock is not None:
        pipeline.clock = clock
    inprocess = sys.modules.get("shared.bus.inprocess")  # an in-process bus was built only if it was imported
    if inprocess is not None and isinstance(bus, inprocess.InProcessBus):
        wire_inprocess(pipeline, bus)
    return pipeline


class LazyWriter:
    """The narrative writer, built on its first call: every function assembles a pipeline, but only a report's
    synthesis writes a narrative, so intake, the specialists and a sweep with nothing to publish never import
    google-genai (about a second of cold start)."""

    def __init__(self, model: str, build: Callable[[], NarrativeWriter]):
        self.model = model
        self._build = build
        self._writer: NarrativeWriter | None = None

    @property
    def built(self) -> bool:
        return self._writer is not None

    def __call__(self, prompt: str, max_output_tokens: int) -> str:
        if self._writer is None:
            self._writer = self._build()
        return self._writer(prompt, max_output_tokens)

    @property
    def last_usage(self) -> dict[str, int]:
        """The built writer's token count of this thread's last call ({} before any)."""
        usage = getattr(self._writer, "last_usage", None)
        return dict(usage) if isinstance(usage, dict) else {}


def make_writer(settings: Settings) -> NarrativeWriter | None:
    if not (settings.gemini_api_key or settings.gemini_vertex_project):
        return None

    def gemini() -> NarrativeWriter:
        from shared.llm.gemini import GeminiWriter

        return GeminiWriter(settings.gemini_api_key, settings.gemini_model, settings.gemini_base_url,
                            vertex_project=settings.gemini_vertex_project, vertex_location=settings.gemini_location,
                            thinking_budget=settings.gemini_thinking_budget)

    return LazyWriter(settings.gemini_model, gemini)


def embedded(store: EventStore, source: TelemetrySource, clock: Callable[[], float] | None = None,
             notifier: Notifier | None = None, settings: Settings | None = None) -> tuple[Pipeline, InProcessBus]:
    """The embedded default: one process, an in-process bus, the given store and telemetry."""
    from shared.bus.inprocess import InProcessBus

    bus = InProcessBus()
    return assemble(store, bus, lambda state: source, settings, notifier, clock), bus


def without_telemetry(store: EventStore) -> Pipeline:
    """A pipeline over `store` with no telemetry: it ranks what an incident's log already holds (a hint's re-ranking,
    functions/talk.py); a specialist run on it fails, saying why."""
    from shared.bus.inprocess import InProcessBus

    def none(state: IncidentState) -> TelemetrySource:
        raise RuntimeError("no telemetry is configured here")

    return assemble(store, InProcessBus(), none)


def from_settings(settings: Settings, store: EventStore | None = None) -> Pipeline:
    """The pipeline a deployed function runs (over `store` when the function built it already)."""
    store = store if store is not None else make_store(settings)
    quotas = store if settings.store == "firestore" else None  # many instances: count the quotas in the store
    return assemble(store, make_bus(settings), make_telemetry(settings, quotas), settings, make_notifier(settings))


def deployment_talk(settings: Settings, store: EventStore,
                    pipeline: Callable[[], Pipeline] | None = None) -> Talk:
    """The conversation operations over a deployment's store (functions/talk.py), for `autosre mcp --store
    firestore` and the web and mcp functions: with the Pub/Sub bus, a started investigation is published to the
    deployment's alerts topic and its intake runs it, as it runs an alert (and a hint's targeted look goes to its
    specialists). `pipeline`: makes the deployment's (default: built from `settings` over `store`), on the first
    operation that needs it (a page or a report read never builds it). Any other bus reaches no intake from here:
    nothing can be started, and the answer says so."""
    from functions.talk import Talk

    if settings.bus != "pubsub":
        return Talk(store, project=settings.project, cannot_start=(
            f"this deployment's bus is {settings.bus!r}, which reaches no intake from here: a started investigation "
            "is handed to the intake through Pub/Sub (AUTOSRE_BUS=pubsub with AUTOSRE_PROJECT, as deployed), or run "
            "where a telemetry bundle is (`autosre serve --telemetry BUNDLE_DIR`)"))
    return Talk(store, build=pipeline or (lambda: from_settings(settings, store)), project=settings.project)


def bundle_talk(store: EventStore, folder: str | Path, settings: Settings) -> Talk:
    """The conversation operations with a telemetry bundle here (`autosre mcp --telemetry`, `autosre serve
    --telemetry`): an in-process pipeline runs a started investigation (and a hint's targeted look) before the
    answer. One run at a time: a server's threads share the bus, and each waits for what it published to be run."""
    import threading

    from functions.talk import Talk

    pipeline, bus = embedded(store, bundle_source(folder), settings=settings)
    running = threading.Lock()

    def drain() -> int:
        with running:
            return bus.drain()

    return Talk(store, pipeline, drain)


def approval_key(settings: Settings, store: EventStore) -> bytes:
    """AUTOSRE_APPROVAL_KEY, else (embedded only) a random key created once and kept in the store."""
    from shared.approvals import check_key

    if settings.approval_key:
        key = settings.approval_key.encode()
        check_key(key)
        return key
    if settings.store != "sqlite":
        raise ValueError("set AUTOSRE_APPROVAL_KEY (Secret Manager on GCP) to issue approval links")
    import secrets

    return store.claim("approval-key", secrets.token_hex(32)).encode()


def make_runner(settings: Settings) -> ActionRouter:
    """What carries out each catalog action: the dry run for every action unless `executor=cloud_run`; then the
    Cloud Run adapter's own actions, and the runbook webhook's when one is configured."""
    from agents.remediation.catalog import CATALOG
    from shared.actions import ActionRouter

    executors = {name: kind.executor for name, kind in CATALOG.items()}
    if settings.executor == "dry_run":
        from shared.actions.dry_run import DryRunRunner

        dry = DryRunRunner()
        return ActionRouter({name: dry.run for name in CATALOG}, executors, dry_run=True)
    from shared.actions.cloud_run import CloudRunRunner

    cloud_run = CloudRunRunner(settings.project, settings.region, wait_s=settings.action_wait_s)
    actions = dict(cloud_run.actions())
    if settings.runbook_webhook_url:
        from shared.actions.runbook_webhook import RunbookWebhookRunner

        webhook = RunbookWebhookRunner(settings.runbook_webhook_url)
        actions |= {name: webhook.run for name, executor in executors.items() if executor == "runbook_webhook"}
    return ActionRouter(actions, executors, read_operation=cloud_run.read_operation)


def remediation_of(settings: Settings, store: EventStore, runner: ActionRouter | None = None) -> Remediation:
    """The approval and execution workflow. An action the policy allows but no configured runner can carry out
    (executor=cloud_run without a runbook webhook URL, say) is unavailable: it cannot be approved nor run, and
    says why; everything else, the web view first, works as usual."""
    import logging

    from agents.remediation.policy import Policy
    from functions.remediation import Remediation

    policy = Policy.from_json(settings.policy)
    runner = runner if runner is not None else make_runner(settings)
    unavailable = runner.unavailable(policy.allowed_actions)
    for action, why in unavailable.items():
        logging.getLogger("autosre.remediation").error(
            "the policy allows %s, but %s: it cannot be approved or run until that is configured", action, why,
            extra={"json_fields": {"action": action}})
    remediation = Remediation(store=store, key=approval_key(settings, store), policy=policy, runner=runner,
                              approvers=frozenset(a.lower() for a in settings.approvers), unavailable=unavailable,
                              read_operation=runner.read_operation)
    remediation.told = chat_told(settings, store, remediation.clock)  # decisions and executions, at once
    return remediation


def chat_told(settings: Settings, store: EventStore,
              clock: Callable[[], float] = time.time) -> Callable[[IncidentHandle], None] | None:
    """What tells an incident's chat thread of its updates not yet told, at once (functions/chat_thread.py), under
    the settings' channel, trigger policy and quiet hours; None when no channel is configured."""
    notifier = make_notifier(settings)
    if notifier is None:
        return None
    from functions.chat_policy import ChatPolicy
    from functions.chat_thread import Chat, told_hook

    return told_hook(Chat(notifier, store, settings.base_url, ChatPolicy.from_settings(settings), clock))
