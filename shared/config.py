"""Configuration in one place: environment variables prefixed AUTOSRE_ (see docs/configuration.md).

The annotations are evaluated as the class is made (no `from __future__ import annotations`): every entry point
makes the settings model as it starts, and pydantic would otherwise compile each field's string on its own."""

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
    project: str = Field("autosre-local", description="GCP project id (or the emulators' project)")
    store: Literal["sqlite", "firestore"] = "sqlite"
    sqlite_path: str = Field("autosre.db", description="SQLite file for the embedded store")
    firestore_prefix: str = Field("autosre", description="collection-name prefix in Firestore")
    retention_days: float = Field(0.0, ge=0, description="Firestore: stamp expire_at this many days after each event "
                                                          "(a TTL policy on it deletes old incidents); 0: keep")
    bus: Literal["inprocess", "pubsub"] = "inprocess"
    telemetry: str = Field("", description="bundle:<folder> for a telemetry bundle")
    log_analytics_table: str = Field("", description="project.dataset._AllLogs: pre-aggregate logs in BigQuery")
    service_graph: str = Field("", description="a graph.jsonl file (one {\"caller\", \"callee\"} a line) declaring "
                                               "dependencies that emit no spans (managed databases, queues, APIs)")
    service_placements: str = Field("", description="a placements.jsonl file (one {\"service\", \"product\", "
                                    "\"location\"} a line): Google Cloud incidents (Service Health) touching them are "
                                    "read as changes")
    slos: bool = Field(False, description="read the alerting service's SLOs (Cloud Monitoring service monitoring) "
                                          "for the report's header")
    runbooks: str = Field("", description="a folder of Markdown runbooks with front matter (services, symptoms, "
                                          "actions) cited in reports where they match")
    specialists: tuple[str, ...] = SPECIALISTS
    round_deadline_s: float = 600.0
    read_deadline_s: float = Field(240.0, gt=0, description="seconds every read of one specialist run shares (a "
                                   "follow-up round's runs share what is left of the first round's): past it reads "
                                   "are refused and the specialist reports what it read (keep it well inside the "
                                   "function timeout, 300 s)")
    max_rounds: int = Field(2, ge=1, le=2, description="2: an open first ranking gets a targeted second round")
    approval_key: str = Field("", description="HMAC key for approval links (>= 32 bytes; Secret Manager on GCP)")
    approvers: tuple[str, ...] = Field((), description="e-mails allowed to approve remediations")
    readers: tuple[str, ...] = Field((), description="e-mails besides the approvers who may read the incidents "
                                                     "through the MCP server behind IAP")
    local_identity: str = Field("", description="the approver identity in embedded mode (no IAP)")
    iap_audience: str = Field("", description="the web view's IAP audience: /projects/NUMBER/global/backendServices/"
                                              "ID, or /projects/NUMBER/locations/REGION/services/NAME (Cloud Run)")
    iap_certs_url: str = Field("https://www.gstatic.com/iap/verify/public_key-jwk",
                               description="IAP's public keys (a JWK set, or a {kid: PEM} map)")
    allowed_hosts: str = Field("", description="comma-separated Host values the web function answers to "
                                               "(empty: any, behind IAP)")
    policy: str = Field("", description='JSON: {"allow": {"<service>|*": ["<action>"]}, "max_actions_per_hour": 3}')
    recovery_check_s: float = Field(900.0, ge=0, description="seconds after an executed action the sweep reads the "
                                    "alerting SLI to check recovery (0: no recovery checks)")
    recovery_sustain: int = Field(3, ge=1, description="the last points after an action that must all be back on the "
                                                      "good side for a recovered verdict")
    webhook_url: str = Field("", description="Google Chat or Slack incoming webhook: a message per incident update")
    # The incident's chat thread (functions/chat_thread.py): Slack's Web API when a bot token is set, else the webhook
    slack_bot_token: str = Field("", description="a Slack bot token (chat:write): one thread per incident, its first "
                                 "message edited as the incident moves (Secret Manager on GCP)")
    slack_bot_token_secret: str = Field("", description="the Secret Manager secret holding the Slack bot token "
                                        "(projects/P/secrets/NAME[/versions/V]), read when slack_bot_token is empty")
    slack_channel: str = Field("", description="the Slack channel id (C...) the bot posts incidents to")
    notify_severities: tuple[str, ...] = Field((), description="alert severities the channel is told of (empty: all)")
    notify_services: tuple[str, ...] = Field((), description="services the channel is told of (empty: all)")
    quiet_hours: str = Field("", description="HH:MM-HH:MM (UTC): inside it updates wait and the sweep sends them "
                             "when it ends, except for the severities in quiet_hours_severities")
    quiet_hours_severities: tuple[str, ...] = Field(("critical",), description="severities told even in quiet hours")
    # Hand-offs (functions/handoffs.py): PagerDuty's Events API v2 and Jira's REST API
    handoff_auto: tuple[str, ...] = Field((), description="integrations every report is handed to without being "
                                          "asked (pagerduty, jira)")
    pagerduty_routing_key: str = Field("", description="a PagerDuty Events API v2 integration key (32 characters)")
    pagerduty_routing_key_secret: str = Field("", description="the Secret Manager secret holding it")
    pagerduty_url: str = Field("https://events.pagerduty.com/v2/enqueue", description="the Events API v2 endpoint")
    jira_url: str = Field("", description="the Jira site, https://YOUR-SITE.atlassian.net")
    jira_email: str = Field("", description="the Atlassian account the API token belongs to")
    jira_api_token: str = Field("", description="its API token")
    jira_api_token_secret: str = Field("", description="the Secret Manager secret holding the Jira API token")
    jira_project: str = Field("", description="the key of the Jira project issues are created in")
    jira_issue_type: str = Field("Task", description="the issue type created")
    executor: Literal["dry_run", "cloud_run"] = Field("dry_run", description="dry_run records the plan only")
    action_wait_s: float = Field(120.0, gt=0, le=240, description="seconds the executor waits for a Cloud Run "
                                 "operation (well inside the function timeout, 300 s): past it the outcome is "
                                 "recorded as pending and the sweep reads it later")
    runbook_webhook_url: str = Field("", description="where the runbook_webhook action POSTs (cloud_run executor)")
    region: str = Field("us-central1", description="the Cloud Run region the executor acts in")
    gemini_api_key: str = Field("", description="enables the grounded narrative (google-genai)")
    gemini_model: str = Field(DEFAULT_MODEL, description="the Gemini model of the narrative; a model that has been "
                                                        "shut down is refused (shared/llm_models.py)")
    gemini_base_url: str = Field("", description="override the API endpoint (tests, proxies)")
    gemini_vertex_project: str = Field("", description="use Gemini on Vertex AI in this project with the function's "
                                                        "own identity (ADC) instead of an API key")
    gemini_location: str = Field("us-central1", description="the Vertex AI region for Gemini")
    gemini_thinking_budget: int = Field(512, ge=0, description="thinking tokens allowed on top of the narrative's")
    base_url: str = Field("http://127.0.0.1:8080", description="where the web view is served, for links")
    log_analytics_max_bytes: int = Field(10 * 2**30, ge=1, description="bytes a Log Analytics query may bill "
                                         "(maximum_bytes_billed); a query over it fails and the logs are read as lines")
    budget_api_calls: int = Field(0, ge=0, description="API requests an investigation may send (0: no cap)")
    budget_log_entries: int = Field(0, ge=0, description="log entries an investigation may read (0: no cap)")
    budget_bytes_billed: int = Field(0, ge=0, description="bytes an investigation's queries may bill (0: no cap)")
    # the cost ledger's list prices: defaults from the one definition above
    price_bq_tib: float = Field(LIST_PRICE_BQ_TIB, ge=0, description="USD per TiB a BigQuery query bills "
                                                                      "(on-demand list price)")
    price_monitoring_million_series: float = Field(LIST_PRICE_MONITORING_MILLION_SERIES, ge=0,
                                                   description="USD per million time series read from Cloud "
                                                               "Monitoring")
    price_llm_1k_tokens_in: float = Field(LIST_PRICE_LLM_1K_TOKENS_IN, ge=0, description="USD per 1,000 LLM input "
                                          "tokens (gemini-3.5-flash-lite list price)")
    price_llm_1k_tokens_out: float = Field(LIST_PRICE_LLM_1K_TOKENS_OUT, ge=0, description="USD per 1,000 LLM output "
                                           "tokens, thinking included (gemini-3.5-flash-lite list price)")

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
