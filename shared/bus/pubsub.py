"""Pub/Sub `Bus`: publishing. The topology (topics, filtered subscriptions, dead letters) and the pull workers that
play push subscriptions' part against the emulator are shared/bus/pubsub_topology.py's: a function that publishes
imports neither.
"""

from __future__ import annotations

from typing import Any

PUBLISH_TIMEOUT_S = 30.0
# How long the client holds a message to batch it with others before sending it. `publish` waits for every message's
# id, so a batch only ever fills with the messages other threads publish meanwhile: the client's default of 10 ms
# was 10 ms added to every publish (four of them in a row at intake).
PUBLISH_BATCH_LATENCY_S = 0.001


def topic_path(project: str, topic: str) -> str:
    return topic if topic.startswith("projects/") else f"projects/{project}/topics/{topic}"


class PubSubBus:
    """`Bus` over Pub/Sub: `publish` waits for the server's message id (bounded by `timeout`)."""

    def __init__(self, project: str, publisher: Any = None, timeout: float = PUBLISH_TIMEOUT_S):
        if publisher is None:
            from google.cloud import pubsub_v1  # type: ignore[attr-defined]

            publisher = pubsub_v1.PublisherClient(
                batch_settings=pubsub_v1.types.BatchSettings(max_latency=PUBLISH_BATCH_LATENCY_S))
        self.project = project
        self.timeout = timeout
        self._publisher = publisher

    def publish(self, topic: str, data: bytes, attributes: dict[str, str] | None = None) -> str:
        future = self._publisher.publish(topic_path(self.project, topic), data, **(attributes or {}))
        return str(future.result(timeout=self.timeout))

    def publish_all(self, topic: str, messages: list[tuple[bytes, dict[str, str]]]) -> list[str]:
        """All handed to the publisher first (one batch when they fit), then each waited for."""
        path = topic_path(self.project, topic)
        futures = [self._publisher.publish(path, data, **attributes) for data, attributes in messages]
        return [str(future.result(timeout=self.timeout)) for future in futures]


