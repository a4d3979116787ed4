"""Pub/Sub's topology and pull workers: topics, filtered subscriptions with their dead letters, and
`PullDispatcher`, the streaming-pull workers that play push subscriptions' part in emulator mode, calling the same
handlers (ack on success, nack on exception so the subscription's retry and dead-letter policy apply). Publishing is
shared/bus/pubsub.py's.

The emulator stores a subscription's filter but does not apply it (checked with gcloud SDK 528), so the
dispatcher also applies attribute filters itself; acking a message the filter excludes is what the service does.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.bus.pubsub import topic_path
from shared.ports import Handler, Message

log = logging.getLogger(__name__)
MAX_FILTER_BYTES = 256  # the service's limit on a subscription filter
_BARE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CLAUSE = re.compile(r'attributes\.(?:([A-Za-z_][A-Za-z0-9_]*)|"((?:[^"\\]|\\.)*)")\s*=\s*"((?:[^"\\]|\\.)*)"')
_AND = re.compile(r"\s+AND\s+")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def subscription_path(project: str, name: str) -> str:
    return name if name.startswith("projects/") else f"projects/{project}/subscriptions/{name}"


def filter_expression(attributes: Mapping[str, str]) -> str:
    """The Pub/Sub filter matching messages whose attributes include all of `attributes`: `attributes.k = "v"
    AND ...` (keys that are not plain identifiers are quoted). Raises ValueError past the service's 256 bytes."""
    clauses = []
    for key, value in sorted(attributes.items()):
        name = key if _BARE_KEY.match(key) else _quote(key)
        clauses.append(f"attributes.{name} = {_quote(value)}")
    expression = " AND ".join(clauses)
    if len(expression.encode("utf-8")) > MAX_FILTER_BYTES:
        raise ValueError(f"subscription filter longer than {MAX_FILTER_BYTES} bytes: {expression[:80]}...")
    return expression


def parse_filter_expression(expression: str) -> dict[str, str] | None:
    """The attribute equalities of a filter written by `filter_expression`; None for any other filter."""
    text = expression.strip()
    out: dict[str, str] = {}
    pos = 0
    while pos < len(text):
        if out:
            joint = _AND.match(text, pos)
            if joint is None:
                return None
            pos = joint.end()
        clause = _CLAUSE.match(text, pos)
        if clause is None:
            return None
        bare, quoted, value = clause.groups()
        out[bare if bare is not None else _unquote(quoted)] = _unquote(value)
        pos = clause.end()
    return out


@dataclass(frozen=True)
class SubscriptionSpec:
    name: str
    topic: str
    filter: Mapping[str, str] = field(default_factory=dict)  # attribute equality, ANDed
    ack_deadline_s: int = 300
    max_delivery_attempts: int = 5  # the service accepts 5..100
    dead_letter_topic: str = "dead-letter"  # "" = no dead-letter policy (retried until acked)
    push_endpoint: str = ""
    min_backoff_s: float = 1.0
    max_backoff_s: float = 10.0

    def filter_expression(self) -> str:
        return filter_expression(self.filter)

    def matches(self, attributes: Mapping[str, str]) -> bool:
        return all(attributes.get(k) == v for k, v in self.filter.items())


def _duration(seconds: float) -> dict[str, int]:
    whole = int(seconds)
    return {"seconds": whole, "nanos": round((seconds - whole) * 1e9)}


def _seconds(duration: Any) -> float:
    """Seconds of a Duration field as proto-plus hands it over (a timedelta) or as a raw protobuf Duration."""
    if duration is None:
        return 0.0
    if hasattr(duration, "total_seconds"):
        return float(duration.total_seconds())
    return float(duration.seconds) + float(duration.nanos) / 1e9


def subscription_request(project: str, spec: SubscriptionSpec) -> dict[str, Any]:
    """The CreateSubscription request for a spec (also what infra/ must express)."""
    request: dict[str, Any] = {
        "name": subscription_path(project, spec.name),
        "topic": topic_path(project, spec.topic),
        "ack_deadline_seconds": spec.ack_deadline_s,
        "retry_policy": {"minimum_backoff": _duration(spec.min_backoff_s),
                         "maximum_backoff": _duration(spec.max_backoff_s)},
        "expiration_policy": {},  # no ttl: never expires (the default deletes a subscription after 31 quiet days)
    }
    if spec.filter:
        request["filter"] = spec.filter_expression()
    if spec.dead_letter_topic and spec.topic != spec.dead_letter_topic:
        request["dead_letter_policy"] = {"dead_letter_topic": topic_path(project, spec.dead_letter_topic),
                                         "max_delivery_attempts": spec.max_delivery_attempts}
    if spec.push_endpoint:
        request["push_config"] = {"push_endpoint": spec.push_endpoint}
    return request


def ensure_topology(project: str, topics: list[str], subscriptions: list[SubscriptionSpec],
                    publisher: Any = None, subscriber: Any = None) -> None:
    """Create the topics (and every topic a subscription names) and the subscriptions if absent. Idempotent:
    an existing topic or subscription is left as it is (Pub/Sub cannot change a subscription's filter)."""
    from google.api_core import exceptions
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    publisher = publisher or pubsub_v1.PublisherClient()
    subscriber = subscriber or pubsub_v1.SubscriberClient()
    wanted = list(dict.fromkeys([*topics, *(s.topic for s in subscriptions),
                                 *(s.dead_letter_topic for s in subscriptions if s.dead_letter_topic)]))
    for topic in wanted:
        try:
            publisher.create_topic(name=topic_path(project, topic))
        except exceptions.AlreadyExists:
            pass
    for spec in subscriptions:
        try:
            subscriber.create_subscription(request=subscription_request(project, spec))
        except exceptions.AlreadyExists:
            pass


@dataclass
class _Route:
    spec: SubscriptionSpec
    handler: Handler
    client_filter: bool  # apply spec.filter here (False when the server's filter is not one we can read)


class PullDispatcher:
    """Streaming-pull workers that deliver each subscription's messages to its handler.

    `handlers` is either {subscription name: handler} (topic, filter and policies are read from the server) or
    a list of (SubscriptionSpec, handler). Ack on success, nack on exception. `wait_idle` returns once nothing
    is in flight, no nacked message still awaits redelivery, and nothing arrived for a quiet period.
    """

    def __init__(self, project: str,
                 handlers: Mapping[str, Handler] | Iterable[tuple[SubscriptionSpec, Handler]],
                 subscriber: Any = None, max_messages: int = 4):
        from google.cloud import pubsub_v1  # type: ignore[attr-defined]

        self.project = project
        self._subscriber = subscriber or pubsub_v1.SubscriberClient()
        self._flow = pubsub_v1.types.FlowControl(max_messages=max_messages)
        if isinstance(handlers, Mapping):
            self._routes = {name: self._route_from_server(name, handler) for name, handler in handlers.items()}
        else:
            self._routes = {spec.name: _Route(spec, handler, True) for spec, handler in handlers}
        self._futures: list[Any] = []
        self._lock = threading.Lock()
        self._in_flight = 0
        self._awaiting: dict[tuple[str, str], float] = {}  # nacked (subscription, message id) -> expected by
        self._last_activity = time.monotonic()
        self.handled = 0
        self.failures = 0

    def _route_from_server(self, name: str, handler: Handler) -> _Route:
        sub = self._subscriber.get_subscription(subscription=subscription_path(self.project, name))
        parsed = parse_filter_expression(sub.filter or "")
        dead_letter = sub.dead_letter_policy.dead_letter_topic if sub.dead_letter_policy else ""
        min_backoff = max_backoff = 0.0  # no retry policy: a nacked message comes back at once
        if "retry_policy" in sub:  # the service's defaults for an unset bound: 10 s and 600 s
            min_backoff = _seconds(sub.retry_policy.minimum_backoff) or 10.0
            max_backoff = _seconds(sub.retry_policy.maximum_backoff) or 600.0
        spec = SubscriptionSpec(
            name=name, topic=sub.topic.rsplit("/", 1)[-1], filter=parsed or {},
            ack_deadline_s=int(sub.ack_deadline_seconds or 10),
            max_delivery_attempts=int(sub.dead_letter_policy.max_delivery_attempts or 5) if dead_letter else 5,
            dead_letter_topic=dead_letter.rsplit("/", 1)[-1] if dead_letter else "",
            min_backoff_s=min_backoff, max_backoff_s=max_backoff,
        )
        if parsed is None:
            log.warning("subscription %s has a filter this dispatcher cannot read; relying on the server", name)
        return _Route(spec, handler, parsed is not None)

    def _callback(self, subscription: str) -> Any:
        route = self._routes[subscription]
        spec = route.spec

        def on_message(received: Any) -> None:
            key = (subscription, str(received.message_id))
            if route.client_filter and not spec.matches(received.attributes):
                received.ack()
                return
            with self._lock:
                self._in_flight += 1
                self._awaiting.pop(key, None)
                self._last_activity = time.monotonic()
            attempt = int(received.delivery_attempt or 1)
            message = Message(data=bytes(received.data), attributes=dict(received.attributes),
                              message_id=key[1], topic=spec.topic, delivery_attempt=attempt)
            ok = False
            try:
                route.handler(message)
                ok = True
            except Exception:
                log.exception("handler for %s failed (attempt %d); nacked", subscription, attempt)
            with self._lock:
                if ok:
                    self.handled += 1
                else:
                    self.failures += 1
                    if not spec.dead_letter_topic or attempt < spec.max_delivery_attempts:
                        self._awaiting[key] = time.monotonic() + spec.max_backoff_s + 5.0
                self._in_flight -= 1
                self._last_activity = time.monotonic()
            if ok:
                received.ack()
            else:
                received.nack()

        return on_message

    def start(self) -> None:
        for name in self._routes:
            path = subscription_path(self.project, name)
            self._futures.append(self._subscriber.subscribe(path, self._callback(name), flow_control=self._flow))

    def stop(self) -> None:
        for future in self._futures:
            future.cancel()
        for future in self._futures:
            try:
                future.result(timeout=10)
            except Exception:  # a cancelled streaming pull ends with an exception; nothing to do
                pass
        self._futures.clear()

    def idle(self, quiet: float = 1.5) -> bool:
        now = time.monotonic()
        with self._lock:
            self._awaiting = {k: by for k, by in self._awaiting.items() if by > now}
            return not self._in_flight and not self._awaiting and now - self._last_activity >= quiet

    def wait_idle(self, timeout: float = 60.0, quiet: float = 1.5) -> bool:
        """True once idle (see the class doc) for `quiet` seconds; False if that did not happen by `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.idle(quiet):
                return True
            time.sleep(0.05)
        return False
