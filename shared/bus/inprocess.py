"""In-process `Bus`: the embedded default. Messages queue and are delivered by `drain()`, in order.

Subscriptions carry an optional attribute filter, like Pub/Sub filtered subscriptions. A handler that raises
is retried up to `max_attempts`, then the message goes to the dead-letter list (and topic, if subscribed),
so nothing is retried forever and nothing is dropped silently.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from dataclasses import dataclass, field

from shared.ports import Handler, Message

log = logging.getLogger(__name__)


@dataclass
class _Subscription:
    name: str
    topic: str
    handler: Handler
    filter: dict[str, str] = field(default_factory=dict)

    def wants(self, message: Message) -> bool:
        return all(message.attributes.get(k) == v for k, v in self.filter.items())


class InProcessBus:
    def __init__(self, max_attempts: int = 5, dead_letter_topic: str = "dead-letter"):
        self.max_attempts = max_attempts
        self.dead_letter_topic = dead_letter_topic
        self._subs: list[_Subscription] = []
        self._queue: deque[tuple[_Subscription, Message]] = deque()
        self._ids = itertools.count(1)
        self.published: list[Message] = []  # every message ever published, for replay and inspection
        self.dead_letters: list[tuple[str, Message, str]] = []  # (subscription, message, error)

    def subscribe(self, name: str, topic: str, handler: Handler, filter: dict[str, str] | None = None) -> None:
        self._subs.append(_Subscription(name, topic, handler, dict(filter or {})))

    def publish(self, topic: str, data: bytes, attributes: dict[str, str] | None = None) -> str:
        message = Message(data=data, attributes=dict(attributes or {}), message_id=str(next(self._ids)),
                          topic=topic)
        self.published.append(message)
        self.deliver(message)
        return message.message_id

    def publish_all(self, topic: str, messages: list[tuple[bytes, dict[str, str]]]) -> list[str]:
        return [self.publish(topic, data, attributes) for data, attributes in messages]

    def deliver(self, message: Message) -> None:
        """Queue a message for every matching subscription (also used to redeliver a past message)."""
        for sub in self._subs:
            if sub.topic == message.topic and sub.wants(message):
                self._queue.append((sub, message))

    def drain(self, limit: int = 1_000_000) -> int:
        """Deliver queued messages (and those they cause) until none are left; returns how many ran."""
        ran = 0
        while self._queue and ran < limit:
            sub, message = self._queue.popleft()
            ran += 1
            self._run(sub, message)
        return ran

    def _run(self, sub: _Subscription, message: Message) -> None:
        for attempt in range(1, self.max_attempts + 1):
            delivered = Message(message.data, message.attributes, message.message_id, message.topic, attempt)
            try:
                sub.handler(delivered)
                return
            except Exception as exc:  # a handler failure must not stop the bus
                error = f"{type(exc).__name__}: {exc}"
                log.warning("handler %s failed on attempt %d: %s", sub.name, attempt, error)
        self.dead_letters.append((sub.name, message, error))
        attrs = {**message.attributes, "CloudPubSubDeadLetterSourceSubscription": sub.name,
                 "CloudPubSubDeadLetterSourceDeliveryCount": str(self.max_attempts)}
        if message.topic != self.dead_letter_topic:
            self.publish(self.dead_letter_topic, message.data, attrs)
