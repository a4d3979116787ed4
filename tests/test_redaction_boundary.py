"""Secrets are masked at one boundary that every specialist's findings and the alert pass through: nothing of them
reaches the event log, the report, the chat message or the prompt of the narrative's model."""

from __future__ import annotations

import json

from agents.context import AnalysisContext, SpecialistResult
from functions.runtime import embedded
from shared import topics
from shared.models import Finding, Widget
from shared.ports import TelemetrySource
from shared.store.sqlite import SqliteEventStore
from tests.test_pipeline import ALERT, NoTelemetry
from tests.test_reliability import RecordingNotifier

SECRETS = ["hunter2-Secret!", "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
           "GOCSPX-" + "abcDEF123ghiJKL456mnoPQR789", "alice.smith@example.com", "s3cr3tDbPass"]


def leaky(name: str) -> object:
    def analyse(source: TelemetrySource, ctx: AnalysisContext) -> SpecialistResult:
        return SpecialistResult(findings=[Finding(
            specialist=name, kind={"logs": "log.new_pattern", "traces": "trace.error_origin",
                                   "metrics": "metric.anomaly", "changes": "change.deploy"}[name],
            service="payment", score=0.9, onset=ctx.onset,
            title=f"GET /pay?api_key=x&token={SECRETS[1]} failed for {SECRETS[3]}",
            exemplars=[{"line": f"connect postgres://app:{SECRETS[0]}@db:5432/pay refused"}],
            details={"request": {"dbPassword": SECRETS[4], "client_secret": SECRETS[2]}},
            widget=Widget(kind="text", title=f"Authorization: Bearer {SECRETS[1]}"),
        )])
    return analyse


def test_no_secret_reaches_the_log_the_report_the_chat_or_the_model() -> None:
    store, chat, prompts = SqliteEventStore(), RecordingNotifier(), []
    pipeline, bus = embedded(store, NoTelemetry(), notifier=chat)  # type: ignore[arg-type]
    for name in pipeline.specialists:
        pipeline._loaded[name] = leaky(name)  # type: ignore[assignment]

    def model(prompt: str, max_output_tokens: int) -> str:
        prompts.append(prompt)
        return ""

    pipeline.writer = model
    alert = json.loads(json.dumps(ALERT))
    alert["incident"]["summary"] = f"errors up; DB_PASS={SECRETS[4]} seen in {SECRETS[3]}'s request"
    alert["incident"]["documentation"] = {"content": f"runbook token={SECRETS[1]}"}
    bus.publish(topics.ALERTS, json.dumps(alert).encode())
    bus.drain()
    (summary,) = store.summaries()
    written = json.dumps([e.data for e in store.load(summary["incident_id"])]) + json.dumps(summary)
    everything = written + "".join(chat.sent) + "".join(prompts)
    assert chat.sent and prompts and "payment" in written
    for secret in SECRETS:
        assert secret not in everything, secret
