"""The deployment's Pub/Sub topology, in one place: the emulator runner and infra/ both follow it.

Retry settings come in two profiles. PRODUCTION is what infra/ deploys: a storm (Firestore contention, Logging
read quota 429s, a slow dependency) can make handlers fail for many minutes, so a message is retried up to 30
times with a backoff from 10 s growing to 600 s (about four hours) before it is dead-lettered; poison input is
never retried (intake records it and acks). LOCAL keeps emulator runs and tests quick.
"""

from __future__ import annotations

from dataclasses import dataclass

from functions.pipeline import Pipeline
from shared import topics
from shared.bus.pubsub_topology import SubscriptionSpec
from shared.ports import Handler
from shared.specialists import SPECIALISTS


@dataclass(frozen=True)
class RetryProfile:
    max_delivery_attempts: int  # the service accepts 5..100
    min_backoff_s: float
    max_backoff_s: float  # the service accepts up to 600


PRODUCTION = RetryProfile(max_delivery_attempts=30, min_backoff_s=10.0, max_backoff_s=600.0)
LOCAL = RetryProfile(max_delivery_attempts=5, min_backoff_s=1.0, max_backoff_s=10.0)


def subscriptions(prefix: str = "", retry: RetryProfile = LOCAL) -> list[SubscriptionSpec]:
    """One subscription per function; specialists filter the tasks topic on their own name."""
    def spec(name: str, topic: str, only: dict[str, str] | None = None) -> SubscriptionSpec:
        return SubscriptionSpec(f"{prefix}{name}", topic, only or {}, max_delivery_attempts=retry.max_delivery_attempts,
                                min_backoff_s=retry.min_backoff_s, max_backoff_s=retry.max_backoff_s)

    specs = [spec("intake", topics.ALERTS)]
    specs += [spec(f"specialist-{name}", topics.TASKS, {"specialist": name}) for name in SPECIALISTS]
    specs += [spec("synthesize", topics.FINDINGS), spec("execute", topics.ACTIONS),
              SubscriptionSpec(f"{prefix}dead-letter-archive", topics.DEAD_LETTER, dead_letter_topic="")]
    return specs


def topic_of_subscription(name: str, prefix: str = "") -> str | None:
    """The topic a subscription of this topology reads (for replaying what it dead-lettered)."""
    short = name.rsplit("/", 1)[-1]
    return next((s.topic for s in subscriptions(prefix) if s.name == short), None)


def routes(pipeline: Pipeline, prefix: str = "") -> list[tuple[SubscriptionSpec, Handler]]:
    """Each subscription with the pipeline handler behind it (the dead-letter archive is read by people)."""
    handler_of: dict[str, Handler] = {topics.ALERTS: pipeline.on_alert, topics.TASKS: pipeline.on_task,
                                      topics.FINDINGS: pipeline.on_findings}
    return [(spec, handler_of[spec.topic]) for spec in subscriptions(prefix) if spec.topic in handler_of]
