"""Pub/Sub `Bus`: publishing, the topology (topics, filtered subscriptions, dead letters), and pull workers.

On GCP, push subscriptions deliver to the Cloud Functions; in emulator mode `PullDispatcher` plays that part,
streaming-pulling each subscription and calling the same handlers (ack on success, nack on exception so the
subscription's retry and dead-letter policy apply).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.ports import Handler, Message

log = logging.getLogger(__name__)
PUBLISH_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class SubscriptionSpec:
    name: str
    topic: str
    filter: Mapping[str, str] = field(default_factory=dict)  # attribute equality, ANDed
    ack_deadline_s: int = 300
    max_delivery_attempts: int = 5
    dead_letter_topic: str = "dead-letter"
    push_endpoint: str = ""

    def filter_expression(self) -> str:
        def quote(v: str) -> str:
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'

        return " AND ".join(f"attributes.{k} = {quote(v)}" for k, v in sorted(self.filter.items()))


class PubSubBus:
    def __init__(self, project: str, publisher: Any = None):
        if publisher is None:
            from google.cloud import pubsub_v1  # type: ignore[attr-defined]

            publisher = pubsub_v1.PublisherClient()
        self.project = project
        self._publisher = publisher

    def publish(self, topic: str, data: bytes, attributes: dict[str, str] | None = None) -> str:
        path = self._publisher.topic_path(self.project, topic)
        future = self._publisher.publish(path, data, **(attributes or {}))
        return str(future.result(timeout=PUBLISH_TIMEOUT_S))


def ensure_topology(project: str, topics: list[str], subscriptions: list[SubscriptionSpec],
                    publisher: Any = None, subscriber: Any = None) -> None:
    """Create topics and subscriptions if absent (idempotent)."""
    from google.api_core import exceptions
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    publisher = publisher or pubsub_v1.PublisherClient()
    subscriber = subscriber or pubsub_v1.SubscriberClient()
    for topic in topics:
        try:
            publisher.create_topic(name=publisher.topic_path(project, topic))
        except exceptions.AlreadyExists:
            pass
    for spec in subscriptions:
        request: dict[str, Any] = {
            "name": subscriber.subscription_path(project, spec.name),
            "topic": publisher.topic_path(project, spec.topic),
            "ack_deadline_seconds": spec.ack_deadline_s,
            "retry_policy": {"minimum_backoff": {"seconds": 1}, "maximum_backoff": {"seconds": 10}},
        }
        if spec.filter:
            request["filter"] = spec.filter_expression()
        if spec.dead_letter_topic and spec.topic != spec.dead_letter_topic:
            request["dead_letter_policy"] = {
                "dead_letter_topic": publisher.topic_path(project, spec.dead_letter_topic),
                "max_delivery_attempts": spec.max_delivery_attempts,
            }
        if spec.push_endpoint:
            request["push_config"] = {"push_endpoint": spec.push_endpoint}
        try:
            subscriber.create_subscription(request=request)
        except exceptions.AlreadyExists:
            pass


class PullDispatcher:
    """Streaming-pull workers that deliver each subscription's messages to its handler."""

    def __init__(self, project: str, routes: list[tuple[SubscriptionSpec, Handler]], subscriber: Any = None,
                 max_messages: int = 4):
        from google.cloud import pubsub_v1  # type: ignore[attr-defined]

        self.project = project
        self._routes = {spec.name: (spec, handler) for spec, handler in routes}
        self._subscriber = subscriber or pubsub_v1.SubscriberClient()
        self._flow = pubsub_v1.types.FlowControl(max_messages=max_messages)
        self._futures: list[Any] = []
        self._lock = threading.Lock()
        self._in_flight = 0
        self._last_activity = time.monotonic()
        self.handled = 0
        self.failures = 0

    def _callback(self, subscription: str) -> Any:
        spec, handler = self._routes[subscription]

        def on_message(received: Any) -> None:
            if any(received.attributes.get(k) != v for k, v in spec.filter.items()):
                # The emulator stores subscription filters but does not apply them; the service does.
                # Acking a message the filter excludes is exactly what the service's filter amounts to.
                received.ack()
                return
            with self._lock:
                self._in_flight += 1
                self._last_activity = time.monotonic()
            message = Message(
                data=bytes(received.data),
                attributes=dict(received.attributes),
                message_id=str(received.message_id),
                topic=spec.topic,
                delivery_attempt=int(received.delivery_attempt or 1),
            )
            try:
                handler(message)
                received.ack()
                with self._lock:
                    self.handled += 1
            except Exception:
                log.exception("handler for %s failed; nacked for redelivery", subscription)
                received.nack()
                with self._lock:
                    self.failures += 1
            finally:
                with self._lock:
                    self._in_flight -= 1
                    self._last_activity = time.monotonic()

        return on_message

    def start(self) -> None:
        for name in self._routes:
            path = self._subscriber.subscription_path(self.project, name)
            self._futures.append(self._subscriber.subscribe(path, self._callback(name), flow_control=self._flow))

    def stop(self) -> None:
        for future in self._futures:
            future.cancel()
        for future in self._futures:
            try:
                future.result(timeout=10)
            except Exception:  # cancelled futures raise; nothing to do
                pass
        self._futures.clear()

    def wait_idle(self, timeout: float = 60.0, quiet: float = 1.5) -> bool:
        """True once nothing is in flight and nothing arrived for `quiet` seconds; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                idle = self._in_flight == 0 and time.monotonic() - self._last_activity >= quiet
            if idle:
                return True
            time.sleep(0.1)
        return False
