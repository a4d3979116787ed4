"""The deployment's Pub/Sub topology, in one place: the emulator runner and infra/ both follow it."""

from __future__ import annotations

from functions.pipeline import TOPIC_ALERTS, TOPIC_DEAD_LETTER, TOPIC_FINDINGS, TOPIC_TASKS, Pipeline
from shared.bus_pubsub import SubscriptionSpec
from shared.models import SPECIALISTS
from shared.ports import Handler

TOPIC_ACTIONS = "actions"
TOPICS = [TOPIC_ALERTS, TOPIC_TASKS, TOPIC_FINDINGS, TOPIC_ACTIONS, TOPIC_DEAD_LETTER]


def subscriptions(prefix: str = "") -> list[SubscriptionSpec]:
    """One subscription per function; specialists filter the tasks topic on their own name."""
    specs = [SubscriptionSpec(f"{prefix}intake", TOPIC_ALERTS)]
    specs += [SubscriptionSpec(f"{prefix}specialist-{name}", TOPIC_TASKS, {"specialist": name})
              for name in SPECIALISTS]
    specs += [SubscriptionSpec(f"{prefix}synthesize", TOPIC_FINDINGS),
              SubscriptionSpec(f"{prefix}execute", TOPIC_ACTIONS),
              SubscriptionSpec(f"{prefix}dead-letter-archive", TOPIC_DEAD_LETTER, dead_letter_topic="")]
    return specs


def routes(pipeline: Pipeline, prefix: str = "") -> list[tuple[SubscriptionSpec, Handler]]:
    """Each subscription with the pipeline handler behind it (the dead-letter archive is read by people)."""
    handler_of: dict[str, Handler] = {TOPIC_ALERTS: pipeline.on_alert, TOPIC_TASKS: pipeline.on_task,
                                      TOPIC_FINDINGS: pipeline.on_findings}
    return [(spec, handler_of[spec.topic]) for spec in subscriptions(prefix) if spec.topic in handler_of]
