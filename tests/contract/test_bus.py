"""The Bus contract: the in-process bus and Pub/Sub (emulator) deliver, fan out, filter, retry and dead-letter
alike. Each adapter gets a small harness so both run the same test bodies."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import pytest

from shared.bus.inprocess import InProcessBus
from shared.bus.pubsub_topology import SubscriptionSpec, filter_expression, parse_filter_expression
from shared.ports import Handler, Message

MAX_ATTEMPTS = 5  # Pub/Sub's smallest max_delivery_attempts; the in-process bus is set to the same
DEAD_LETTER = "dead-letter"


class Harness(Protocol):
    def subscribe(self, spec: SubscriptionSpec, handler: Handler) -> None: ...

    def publish(self, topic: str, data: bytes, attributes: dict[str, str] | None = None) -> str: ...

    def publish_all(self, topic: str, messages: list[tuple[bytes, dict[str, str]]]) -> list[str]: ...

    def settle(self, until: Callable[[], bool] = lambda: True, quiet: float = 1.0) -> None:
        """Deliver until `until()` holds and nothing more is under way (quiet: seconds without deliveries)."""


class InProcessHarness:
    def __init__(self) -> None:
        self.bus = InProcessBus(max_attempts=MAX_ATTEMPTS, dead_letter_topic=DEAD_LETTER)

    def subscribe(self, spec: SubscriptionSpec, handler: Handler) -> None:
        self.bus.subscribe(spec.name, spec.topic, handler, dict(spec.filter))

    def publish(self, topic: str, data: bytes, attributes: dict[str, str] | None = None) -> str:
        return self.bus.publish(topic, data, attributes)

    def publish_all(self, topic: str, messages: list[tuple[bytes, dict[str, str]]]) -> list[str]:
        return self.bus.publish_all(topic, messages)

    def settle(self, until: Callable[[], bool] = lambda: True, quiet: float = 1.0) -> None:
        self.bus.drain()
        assert until(), "condition not met once the in-process bus was drained"


class PubSubHarness:
    """Subscriptions are created (ensure_topology) and the dispatcher started at the first publish; the
    dispatcher gets {name: handler} only, so topic, filter and policies come back from the emulator."""

    def __init__(self, project: str) -> None:
        from shared.bus.pubsub import PubSubBus

        self.project = project
        self.bus = PubSubBus(project)
        self.specs: list[SubscriptionSpec] = []
        self.handlers: dict[str, Handler] = {}
        self.dispatcher: Any = None

    def subscribe(self, spec: SubscriptionSpec, handler: Handler) -> None:
        assert self.dispatcher is None, "subscribe before the first publish"
        fast = SubscriptionSpec(spec.name, spec.topic, spec.filter, ack_deadline_s=10,
                                max_delivery_attempts=MAX_ATTEMPTS, dead_letter_topic=DEAD_LETTER,
                                min_backoff_s=0.1, max_backoff_s=1.0)
        self.specs.append(fast)
        self.handlers[spec.name] = handler

    def _start(self) -> None:
        from shared.bus.pubsub_topology import PullDispatcher, ensure_topology

        ensure_topology(self.project, [DEAD_LETTER], self.specs)
        ensure_topology(self.project, [DEAD_LETTER], self.specs)  # idempotent: a second run changes nothing
        self.dispatcher = PullDispatcher(self.project, self.handlers)
        self.dispatcher.start()

    def publish(self, topic: str, data: bytes, attributes: dict[str, str] | None = None) -> str:
        if self.dispatcher is None:
            self._start()
        return self.bus.publish(topic, data, attributes)

    def publish_all(self, topic: str, messages: list[tuple[bytes, dict[str, str]]]) -> list[str]:
        if self.dispatcher is None:
            self._start()
        return self.bus.publish_all(topic, messages)

    def settle(self, until: Callable[[], bool] = lambda: True, quiet: float = 1.0) -> None:
        assert self.dispatcher is not None
        deadline = time.monotonic() + 60
        while not until() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.dispatcher.wait_idle(timeout=60, quiet=quiet), "the dispatcher never went idle"
        assert until(), "condition not met within 60 s"

    def close(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.stop()


@pytest.fixture(params=["inprocess", pytest.param("pubsub", marks=pytest.mark.emulator)])
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    if request.param == "inprocess":
        yield InProcessHarness()
        return
    request.getfixturevalue("pubsub_emulator")
    h = PubSubHarness(request.getfixturevalue("project_id"))
    yield h
    h.close()


class Recorder:
    """A handler that records what it handled; it raises on its first `fail_times` calls."""

    def __init__(self, fail_times: int = 0):
        self.messages: list[Message] = []
        self.attempts: list[int] = []
        self.fail_times = fail_times
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, message: Message) -> None:
        with self.lock:
            self.calls += 1
            self.attempts.append(message.delivery_attempt)
            if self.calls <= self.fail_times:
                raise RuntimeError("handler failure")
            self.messages.append(message)


def test_publish_delivers_data_attributes_id_and_topic(harness: Harness) -> None:
    got = Recorder()
    harness.subscribe(SubscriptionSpec("sub-a", "topic-a"), got)
    message_id = harness.publish("topic-a", b"\x00hello\xff", {"k": "v", "quote": 'a"b'})
    harness.settle(lambda: len(got.messages) >= 1)
    [message] = got.messages
    assert (message.data, message.attributes, message.topic) == (b"\x00hello\xff", {"k": "v", "quote": 'a"b'},
                                                                 "topic-a")
    assert message_id and message.message_id == message_id
    assert message.delivery_attempt == 1


def test_publish_all_delivers_each_message_once_with_its_own_attributes_and_id(harness: Harness) -> None:
    logs, traces = Recorder(), Recorder()
    harness.subscribe(SubscriptionSpec("sub-all-logs", "topic-all", {"specialist": "logs"}), logs)
    harness.subscribe(SubscriptionSpec("sub-all-traces", "topic-all", {"specialist": "traces"}), traces)
    ids = harness.publish_all("topic-all", [(b"l1", {"specialist": "logs"}), (b"t1", {"specialist": "traces"}),
                                            (b"l2", {"specialist": "logs", "n": "2"})])
    harness.settle(lambda: len(logs.messages) >= 2 and len(traces.messages) >= 1)
    assert len(ids) == 3 and len(set(ids)) == 3 and all(ids)
    assert sorted((m.data, m.message_id) for m in logs.messages) == sorted([(b"l1", ids[0]), (b"l2", ids[2])])
    assert [(m.data, m.attributes, m.message_id) for m in traces.messages] == [(b"t1", {"specialist": "traces"},
                                                                                 ids[1])]
    assert {m.data: m.attributes for m in logs.messages}[b"l2"] == {"specialist": "logs", "n": "2"}
    assert harness.publish_all("topic-all", []) == []


def test_every_subscription_of_a_topic_gets_each_message(harness: Harness) -> None:
    first, second, other = Recorder(), Recorder(), Recorder()
    harness.subscribe(SubscriptionSpec("sub-one", "topic-fan"), first)
    harness.subscribe(SubscriptionSpec("sub-two", "topic-fan"), second)
    harness.subscribe(SubscriptionSpec("sub-other", "topic-other"), other)
    for i in range(3):
        harness.publish("topic-fan", str(i).encode())
    harness.settle(lambda: len(first.messages) >= 3 and len(second.messages) >= 3)
    assert sorted(m.data for m in first.messages) == sorted(m.data for m in second.messages) == [b"0", b"1", b"2"]
    assert other.calls == 0


def test_attribute_filters_route_only_matching_messages(harness: Harness) -> None:
    logs, traces, both = Recorder(), Recorder(), Recorder()
    harness.subscribe(SubscriptionSpec("sub-logs", "tasks", {"specialist": "logs"}), logs)
    harness.subscribe(SubscriptionSpec("sub-traces", "tasks", {"specialist": "traces"}), traces)
    harness.subscribe(SubscriptionSpec("sub-both", "tasks", {"specialist": "logs", "round": "2"}), both)
    harness.publish("tasks", b"1", {"specialist": "logs", "round": "1"})
    harness.publish("tasks", b"2", {"specialist": "traces"})
    harness.publish("tasks", b"3", {"specialist": "logs", "round": "2"})
    harness.publish("tasks", b"4", {"specialist": "metrics"})
    harness.publish("tasks", b"5")
    harness.settle(lambda: len(logs.messages) >= 2 and len(traces.messages) >= 1 and len(both.messages) >= 1)
    assert sorted(m.data for m in logs.messages) == [b"1", b"3"]
    assert [m.data for m in traces.messages] == [b"2"]
    assert [m.data for m in both.messages] == [b"3"]


def test_transient_failure_is_retried(harness: Harness) -> None:
    flaky = Recorder(fail_times=1)
    steady = Recorder()
    harness.subscribe(SubscriptionSpec("sub-flaky", "topic-f"), flaky)
    harness.subscribe(SubscriptionSpec("sub-steady", "topic-f"), steady)
    harness.publish("topic-f", b"x", {"k": "v"})
    harness.settle(lambda: len(flaky.messages) >= 1)
    assert [(m.data, m.attributes) for m in flaky.messages] == [(b"x", {"k": "v"})]
    assert flaky.attempts == [1, 2]
    assert [m.delivery_attempt for m in steady.messages] == [1]  # one subscriber's failure is its own


def test_poison_message_ends_in_dead_letter_not_retried_forever(harness: Harness) -> None:
    poison = Recorder(fail_times=10_000)
    dead = Recorder()
    harness.subscribe(SubscriptionSpec("sub-poison", "topic-p"), poison)
    harness.subscribe(SubscriptionSpec("sub-dead", DEAD_LETTER), dead)
    harness.publish("topic-p", b"poison", {"k": "v"})
    harness.settle(lambda: len(dead.messages) >= 1)
    assert poison.attempts == list(range(1, MAX_ATTEMPTS + 1))
    [letter] = dead.messages
    assert letter.data == b"poison" and letter.attributes["k"] == "v"
    assert letter.attributes["CloudPubSubDeadLetterSourceSubscription"] == "sub-poison"
    assert letter.attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == str(MAX_ATTEMPTS)
    harness.settle(quiet=3.0)  # longer than any redelivery backoff: nothing more arrives
    assert poison.calls == MAX_ATTEMPTS and len(dead.messages) == 1


def test_filter_expression_is_the_pubsub_filter_language() -> None:
    assert filter_expression({"specialist": "logs"}) == 'attributes.specialist = "logs"'
    assert filter_expression({"b": "2", "a": 'q"\\'}) == 'attributes.a = "q\\"\\\\" AND attributes.b = "2"'
    assert filter_expression({"iana.org/lang": "en"}) == 'attributes."iana.org/lang" = "en"'
    assert filter_expression({}) == ""
    with pytest.raises(ValueError):
        filter_expression({"k": "v" * 300})


@pytest.mark.parametrize("attributes", [{}, {"specialist": "logs"}, {"b": "x AND attributes.c = \"y\"", "a": "\\"},
                                        {"iana.org/lang": 'e"n', "_k9": ""}])
def test_filter_expression_parses_back(attributes: dict[str, str]) -> None:
    assert parse_filter_expression(filter_expression(attributes)) == attributes


def test_foreign_filter_is_not_parsed() -> None:
    assert parse_filter_expression('hasPrefix(attributes.k, "v")') is None
    assert parse_filter_expression('attributes.a = "1" OR attributes.b = "2"') is None
