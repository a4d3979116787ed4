"""The Bus contract: the in-process bus and Pub/Sub (emulator) route, filter, retry and dead-letter alike."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Protocol

import pytest

from shared.bus_inprocess import InProcessBus
from shared.bus_pubsub import SubscriptionSpec
from shared.ports import Handler, Message


class Harness(Protocol):
    def subscribe(self, spec: SubscriptionSpec, handler: Handler) -> None: ...
    def publish(self, topic: str, data: bytes, attributes: dict[str, str] | None = None) -> str: ...
    def settle(self) -> None: ...


class InProcessHarness:
    def __init__(self) -> None:
        self.bus = InProcessBus(max_attempts=3)

    def subscribe(self, spec: SubscriptionSpec, handler: Handler) -> None:
        self.bus.subscribe(spec.name, spec.topic, handler, dict(spec.filter))

    def publish(self, topic: str, data: bytes, attributes: dict[str, str] | None = None) -> str:
        return self.bus.publish(topic, data, attributes)

    def settle(self) -> None:
        self.bus.drain()


class PubSubHarness:
    def __init__(self, project: str) -> None:
        from shared.bus_pubsub import PubSubBus

        self.project = project
        self.bus = PubSubBus(project)
        self.specs: list[tuple[SubscriptionSpec, Handler]] = []
        self.dispatcher = None

    def subscribe(self, spec: SubscriptionSpec, handler: Handler) -> None:
        self.specs.append((SubscriptionSpec(spec.name, spec.topic, spec.filter, ack_deadline_s=10,
                                            max_delivery_attempts=5), handler))

    def _start(self) -> None:
        from shared.bus_pubsub import PullDispatcher, ensure_topology

        topics = sorted({s.topic for s, _ in self.specs} | {"dead-letter"})
        ensure_topology(self.project, topics, [s for s, _ in self.specs])
        self.dispatcher = PullDispatcher(self.project, self.specs)
        self.dispatcher.start()

    def publish(self, topic: str, data: bytes, attributes: dict[str, str] | None = None) -> str:
        if self.dispatcher is None:
            self._start()
        return self.bus.publish(topic, data, attributes)

    def settle(self) -> None:
        assert self.dispatcher is not None
        assert self.dispatcher.wait_idle(timeout=90, quiet=4.0)

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
    def __init__(self, fail_times: int = 0):
        self.messages: list[Message] = []
        self.fail_times = fail_times
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, message: Message) -> None:
        with self.lock:
            self.calls += 1
            if self.calls <= self.fail_times:
                raise RuntimeError("transient failure")
            self.messages.append(message)


def test_publish_delivers_data_and_attributes(harness: Harness) -> None:
    got = Recorder()
    harness.subscribe(SubscriptionSpec("sub-a", "topic-a"), got)
    harness.publish("topic-a", b"hello", {"k": "v"})
    harness.settle()
    assert [(m.data, m.attributes.get("k")) for m in got.messages] == [(b"hello", "v")]
    assert got.messages[0].message_id


def test_attribute_filters_route_only_matching_messages(harness: Harness) -> None:
    logs, traces = Recorder(), Recorder()
    harness.subscribe(SubscriptionSpec("sub-logs", "tasks", {"specialist": "logs"}), logs)
    harness.subscribe(SubscriptionSpec("sub-traces", "tasks", {"specialist": "traces"}), traces)
    harness.publish("tasks", b"1", {"specialist": "logs"})
    harness.publish("tasks", b"2", {"specialist": "traces"})
    harness.publish("tasks", b"3", {"specialist": "logs"})
    harness.publish("tasks", b"4", {"specialist": "metrics"})
    harness.settle()
    assert sorted(m.data for m in logs.messages) == [b"1", b"3"]
    assert [m.data for m in traces.messages] == [b"2"]


def test_transient_failure_is_retried(harness: Harness) -> None:
    flaky = Recorder(fail_times=1)
    harness.subscribe(SubscriptionSpec("sub-flaky", "topic-f"), flaky)
    harness.publish("topic-f", b"x")
    harness.settle()
    assert [m.data for m in flaky.messages] == [b"x"] and flaky.calls == 2
    assert flaky.messages[0].delivery_attempt >= 2


def test_poison_message_ends_in_dead_letter_not_retried_forever(harness: Harness) -> None:
    poison = Recorder(fail_times=10_000)
    dead = Recorder()
    harness.subscribe(SubscriptionSpec("sub-poison", "topic-p"), poison)
    harness.subscribe(SubscriptionSpec("sub-dead", "dead-letter"), dead)
    harness.publish("topic-p", b"poison", {"k": "v"})
    deadline = time.monotonic() + 120
    while not dead.messages and time.monotonic() < deadline:
        harness.settle()
    assert [m.data for m in dead.messages] == [b"poison"]
    assert dead.messages[0].attributes.get("k") == "v"
    assert any(k.startswith("CloudPubSubDeadLetter") for k in dead.messages[0].attributes)
    calls = poison.calls
    harness.settle()
    assert poison.calls == calls  # no further deliveries after dead-lettering
