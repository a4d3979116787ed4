"""Replaying the dead-letter archive after a fix: every message is re-published to the topic it came from.

Where a message came from is taken only from what the system itself wrote, never from what a sender set: intake's
rejections (`autosre_reason`, written by intake, which reads only the alerts topic) go back to the alerts topic,
and intake drops every inbound dead-letter or `autosre_` attribute from the copy it archives, so a poison alert
cannot name another topic; otherwise Pub/Sub's own dead-lettering names the source subscription in the
`CloudPubSubDeadLetterSourceSubscription` attribute (mapped to its topic by functions/topology.py). On replay
the dead-letter bookkeeping attributes are dropped and `autosre_replay` counts the replays, so a message that is
still poison is recorded (and archived) again instead of vanishing. A message whose origin cannot be told is left
in the archive (not acked).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from functions.topology import topic_of_subscription
from shared import topics
from shared.ports import Bus

SOURCE_ATTRIBUTE = "CloudPubSubDeadLetterSourceSubscription"
REPLAY_ATTRIBUTE = "autosre_replay"
REASON_ATTRIBUTE = "autosre_reason"
ARCHIVE = "dead-letter-archive"


@dataclass(frozen=True)
class Replayed:
    message_id: str
    topic: str  # "" when the origin could not be told (left in the archive)


def origin_topic(attributes: Mapping[str, str], prefix: str = "") -> str:
    """The topic a dead-lettered message should go back to ("" when it cannot be told)."""
    if attributes.get(REASON_ATTRIBUTE):  # intake's rejection: intake reads only the alerts topic
        return topics.ALERTS
    if attributes.get(SOURCE_ATTRIBUTE):
        return topic_of_subscription(attributes[SOURCE_ATTRIBUTE], prefix) or ""
    return ""


def is_bookkeeping(name: str) -> bool:
    """An attribute only the system may set (dead-letter bookkeeping): dropped from what a sender sent."""
    return name.startswith(("CloudPubSubDeadLetter", "autosre_"))


def replay_attributes(attributes: Mapping[str, str]) -> dict[str, str]:
    kept = {k: v for k, v in attributes.items() if not is_bookkeeping(k)}
    try:
        previous = int(attributes.get(REPLAY_ATTRIBUTE, "0"))
    except ValueError:
        previous = 0
    kept[REPLAY_ATTRIBUTE] = str(previous + 1)
    return kept


def replay(project: str, bus: Bus, max_messages: int = 100, prefix: str = "", subscriber: Any = None,
           dry_run: bool = False) -> list[Replayed]:
    """Pull up to `max_messages` from the archive subscription and re-publish each to its topic (acked only once
    published). With `dry_run`, nothing is published or acked: it only says where each would go."""
    if subscriber is None:
        from google.cloud import pubsub_v1  # type: ignore[attr-defined]

        subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(project, f"{prefix}{ARCHIVE}")
    response = subscriber.pull(request={"subscription": path, "max_messages": max_messages}, timeout=30)
    done: list[Replayed] = []
    to_ack: list[str] = []
    for received in response.received_messages:
        message = received.message
        attributes = dict(message.attributes)
        topic = origin_topic(attributes, prefix)
        done.append(Replayed(message.message_id, topic))
        if not topic or dry_run:
            continue
        bus.publish(topic, bytes(message.data), replay_attributes(attributes))
        to_ack.append(received.ack_id)
    if to_ack:
        subscriber.acknowledge(request={"subscription": path, "ack_ids": to_ack})
    leave = [r.ack_id for r in response.received_messages if r.ack_id not in to_ack]
    if leave:  # back to the archive at once, not after the ack deadline
        subscriber.modify_ack_deadline(request={"subscription": path, "ack_ids": leave, "ack_deadline_seconds": 0})
    return done
