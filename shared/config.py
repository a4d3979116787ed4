"""Configuration in one place: environment variables prefixed AUTOSRE_ (see docs/configuration.md).

The annotations are evaluated as the class is made (no `from __future__ import annotations`): every entry point
makes the settings model as it starts, and pydantic would otherwise compile each field's string on its own. For the
same reason each setting is described by the comment above it (docs/configuration.md is the reference) and a
`Field` is used only for a setting's bounds: a `Field` per setting cost every cold start ~10 M instructions."""

import os
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from shared.llm_models import DEFAULT_MODEL, check_model
from shared.specialists import SPECIALISTS

# List prices of the cost ledger's estimate, defined once: the defaults of Settings' `price_*` and of
# shared/cost_ledger.py's `Prices`. Checked against the pricing pages; free tiers not deducted. What the
# estimate counts: BigQuery bytes billed, Cloud Monitoring time series returned, LLM tokens. Reads of Cloud Logging
# (entries.list) and Cloud Trace (ListTraces) are priced at zero: both bill ingestion only ("No additional charges
# for querying and analyzing log data"; Trace: $0.20 per million spans ingested) per
# https://cloud.google.com/stackdriver/pricing, so the ledger counts their calls, entries and spans at $0.
# https://cloud.google.com/bigquery/pricing: on-demand compute $6.25 per TiB (first 1 TiB a month free).
LIST_PRICE_BQ_TIB = 6.25
# https://cloud.google.com/stackdriver/pricing: Monitoring read API, since 2 October 2025, $0.50 per million time
# series returned (first 1 million a month per billing account free); it was $0.01 per 1,000 read calls.
LIST_PRICE_MONITORING_MILLION_SERIES = 0.50
# https://ai.google.dev/gemini-api/docs/pricing: gemini-3.5-flash-lite (the default model, shared/llm_models.py), paid
# tier, $0.30 per million input tokens and $2.50 per million output tokens, thinking tokens included (the same
# list prices as gemini-2.5-flash, which it replaces).
LIST_PRICE_LLM_1K_TOKENS_IN = 0.0003
LIST_PRICE_LLM_1K_TOKENS_OUT = 0.0025


TUPLE_SETTINGS = ("specialists", "approvers", "readers", "notify_severities", "notify_services",
                  "quiet_hours_severities", "handoff_auto")  # comma-separated in the environment


class Settings(BaseModel):
    # GCP project id (or the emulators' project)
    project: str = "autosre-local"
    store: Literal["sqlite", "firestore"] = "sqlite"
    # SQLite file for the embedded store
    sqlite_path: str = "autosre.db"
    # collection-name prefix in Firestore
    firestore_prefix: str = "autosre"
    # Firestore: stamp expire_at this many days after each event (a TTL policy on it deletes old incidents); 0:
    # keep
    retention_days: float = Field(0.0, ge=0)
    bus: Literal["inprocess", "pubsub"] = "inprocess"
    # bundle:<folder> for a telemetry bundle
    telemetry: str = ""
    # project.dataset._AllLogs: pre-aggregate logs in BigQuery
    log_analytics_table: str = ""
    # a graph.jsonl file (one {"caller", "callee"} a line) declaring dependencies that emit no spans (managed
    # databases, queues, APIs)
    service_graph: str = ""
    # a placements.jsonl file (one {"service", "product", "location"} a line): Google Cloud incidents (Service
    # Health) touching them are read as changes
    service_placements: str = ""
    # read the alerting service's SLOs (Cloud Monitoring service monitoring) for the report's header
    slos: bool = False
    # a folder of Markdown runbooks with front matter (services, symptoms, actions) cited in reports where they
    # match
    runbooks: str = ""
    specialists: tuple[str, ...] = SPECIALISTS
    round_deadline_s: float = 600.0
    # seconds every read of one specialist run shares (a follow-up round's runs share what is left of the first
    # round's): past it reads are refused and the specialist reports what it read (keep it well inside the
    # function timeout, 300 s)
    read_deadline_s: float = Field(240.0, gt=0)
    # 2: an open first ranking gets a targeted second round
    max_rounds: int = Field(2, ge=1, le=2)
    # HMAC key for approval links (>= 32 bytes; Secret Manager on GCP)
    approval_key: str = ""
    # e-mails allowed to approve remediations
    approvers: tuple[str, ...] = ()
    # e-mails besides the approvers who may read the incidents through the MCP server behind IAP
    readers: tuple[str, ...] = ()
    # the approver identity in embedded mode (no IAP)
    local_identity: str = ""
    # the web view's IAP audience: /projects/NUMBER/global/backendServices/ID, or
    # /projects/NUMBER/locations/REGION/services/NAME (Cloud Run)
    iap_audience: str = ""
    # IAP's public keys (a JWK set, or a {kid: PEM} map)
    iap_certs_url: str = "https://www.gstatic.com/iap/verify/public_key-jwk"
    # comma-separated Host values the web function answers to (empty: any, behind IAP)
    allowed_hosts: str = ""
    # JSON: {"allow": {"<service>|*": ["<action>"]}, "max_actions_per_hour": 3}
    policy: str = ""
    # seconds after an executed action the sweep reads the alerting SLI to check recovery (0: no recovery checks)
    recovery_check_s: float = Field(900.0, ge=0)
    # the last points after an action that must all be back on the good side for a recovered verdict
    recovery_sustain: int = Field(3, ge=1)
    # Google Chat or Slack incoming webhook: a message per incident update
    webhook_url: str = ""
    # The incident's chat thread (functions/chat_thread.py): Slack's Web API when a bot token is set, else the webhook
    # a Slack bot token (chat:write): one thread per incident, its first message edited as the incident moves
    # (Secret Manager on GCP)
    slack_bot_token: str = ""
    # the Secret Manager secret holding the Slack bot token (projects/P/secrets/NAME[/versions/V]), read when
    # slack_bot_token is empty
    slack_bot_token_secret: str = ""
    # the Slack channel id (C...) the bot posts incidents to
    slack_channel: str = ""
    # alert severities the channel is told of (empty: all)
    notify_severities: tuple[str, ...] = ()
    # services the channel is told of (empty: all)
    notify_services: tuple[str, ...] = ()
    # HH:MM-HH:MM (UTC): inside it updates wait and the sweep sends them when it ends, except for the severities
    # in quiet_hours_severities
    quiet_hours: str = ""
    # severities told even in quiet hours
    quiet_hours_severities: tuple[str, ...] = ("critical",)
    # Hand-offs (functions/handoffs.py): PagerDuty's Events API v2 and Jira's REST API
    # integrations every report is handed to without being asked (pagerduty, jira)
    handoff_auto: tuple[str, ...] = ()
    # a PagerDuty Events API v2 integration key (32 characters)
    pagerduty_routing_key: str = ""
    # the Secret Manager secret holding it
    pagerduty_routing_key_secret: str = ""
    # the Events API v2 endpoint
    pagerduty_url: str = "https://events.pagerduty.com/v2/enqueue"
    # the Jira site, https://YOUR-SITE.atlassian.net
    jira_url: str = ""
    # the Atlassian account the API token belongs to
    jira_email: str = ""
    # its API token
    jira_api_token: str = ""
    # the Secret Manager secret holding the Jira API token
    jira_api_token_secret: str = ""
    # the key of the Jira project issues are created in
    jira_project: str = ""
    # the issue type created
    jira_issue_type: str = "Task"
    # dry_run records the plan only
    executor: Literal["dry_run", "cloud_run"] = "dry_run"
    # seconds the executor waits for a Cloud Run operation (well inside the function timeout, 300 s): past it the
    # outcome is recorded as pending and the sweep reads it later
    action_wait_s: float = Field(120.0, gt=0, le=240)
    # where the runbook_webhook action POSTs (cloud_run executor)
    runbook_webhook_url: str = ""
    # the Cloud Run region the executor acts in
    region: str = "us-central1"
    # enables the grounded narrative (google-genai)
    gemini_api_key: str = ""
    # the Gemini model of the narrative; a model that has been shut down is refused (shared/llm_models.py)
    gemini_model: str = DEFAULT_MODEL
    # override the API endpoint (tests, proxies)
    gemini_base_url: str = ""
    # use Gemini on Vertex AI in this project with the function's own identity (ADC) instead of an API key
    gemini_vertex_project: str = ""
    # the Vertex AI region for Gemini
    gemini_location: str = "us-central1"
    # thinking tokens allowed on top of the narrative's
    gemini_thinking_budget: int = Field(512, ge=0)
    # where the web view is served, for links
    base_url: str = "http://127.0.0.1:8080"
    # bytes a Log Analytics query may bill (maximum_bytes_billed); a query over it fails and the logs are read as
    # lines
    log_analytics_max_bytes: int = Field(10 * 2**30, ge=1)
    # API requests an investigation may send (0: no cap)
    budget_api_calls: int = Field(0, ge=0)
    # log entries an investigation may read (0: no cap)
    budget_log_entries: int = Field(0, ge=0)
    # bytes an investigation's queries may bill (0: no cap)
    budget_bytes_billed: int = Field(0, ge=0)
    # the cost ledger's list prices: defaults from the one definition above
    # USD per TiB a BigQuery query bills (on-demand list price)
    price_bq_tib: float = Field(LIST_PRICE_BQ_TIB, ge=0)
    # USD per million time series read from Cloud Monitoring
    price_monitoring_million_series: float = Field(LIST_PRICE_MONITORING_MILLION_SERIES, ge=0)
    # USD per 1,000 LLM input tokens (gemini-3.5-flash-lite list price)
    price_llm_1k_tokens_in: float = Field(LIST_PRICE_LLM_1K_TOKENS_IN, ge=0)
    # USD per 1,000 LLM output tokens, thinking included (gemini-3.5-flash-lite list price)
    price_llm_1k_tokens_out: float = Field(LIST_PRICE_LLM_1K_TOKENS_OUT, ge=0)

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str) -> str:
        if value.strip():
            start, dash, end = value.partition("-")
            times = [t.strip().split(":") for t in (start, end)]
            if not dash or not all(len(t) == 2 and t[0].isdigit() and t[1].isdigit() and int(t[0]) < 24
                                   and int(t[1]) < 60 for t in times):
                raise ValueError(f"quiet_hours {value!r} is not HH:MM-HH:MM (UTC)")
        return value

    @field_validator("gemini_model")
    @classmethod
    def _current_model(cls, model: str) -> str:
        return check_model(model)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name in cls.model_fields:
            raw = env.get(f"AUTOSRE_{name.upper()}")
            if raw is None:
                continue
            values[name] = tuple(s.strip() for s in raw.split(",") if s.strip()) \
                if name in TUPLE_SETTINGS else raw
        if "project" not in values and env.get("GOOGLE_CLOUD_PROJECT"):
            values["project"] = env["GOOGLE_CLOUD_PROJECT"]
        return cls.model_validate(values)
