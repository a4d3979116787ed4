"""The deployment's Pub/Sub topology, in one place: the emulator runner and infra/ both follow it."""

from __future__ import annotations

from functions.pipeline import Pipeline
from shared import topics
from shared.bus.pubsub import SubscriptionSpec
from shared.models import SPECIALISTS
from shared.ports import Handler


def subscriptions(prefix: str = "") -> list[SubscriptionSpec]:
    """One subscription per function; specialists filter the tasks topic on their own name."""
    specs = [SubscriptionSpec(f"{prefix}intake", topics.ALERTS)]
    specs += [SubscriptionSpec(f"{prefix}specialist-{name}", topics.TASKS, {"specialist": name})
              for name in SPECIALISTS]
    specs += [SubscriptionSpec(f"{prefix}synthesize", topics.FINDINGS),
              SubscriptionSpec(f"{prefix}execute", topics.ACTIONS),
              SubscriptionSpec(f"{prefix}dead-letter-archive", topics.DEAD_LETTER, dead_letter_topic="")]
    return specs


def routes(pipeline: Pipeline, prefix: str = "") -> list[tuple[SubscriptionSpec, Handler]]:
    """Each subscription with the pipeline handler behind it (the dead-letter archive is read by people)."""
    handler_of: dict[str, Handler] = {topics.ALERTS: pipeline.on_alert, topics.TASKS: pipeline.on_task,
                                      topics.FINDINGS: pipeline.on_findings}
    return [(spec, handler_of[spec.topic]) for spec in subscriptions(prefix) if spec.topic in handler_of]
