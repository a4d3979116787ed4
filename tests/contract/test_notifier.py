"""The Notifier contract (shared/ports.py), run against every adapter of shared/notify/ (the chat webhook, as each
kind of channel it speaks to: Slack, Google Chat, a plain webhook) on a local HTTP stub.

A text the channel accepts is posted once and said delivered; a refusal is not retried; a failing channel is retried
and then reported; and whatever happens (unreachable, too slow, an answer that is not HTTP, a malformed address)
`send` returns (False, why) and never raises."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from shared.notify.webhook import WebhookNotifier
from shared.ports import Notifier
from tests.http_stub import Stub, serve

TEXT = "checkout: 5% of requests fail since 09:12 UTC; likely root cause: payment deploy 00118"
ATTEMPTS = 3
BROKEN = ["http://127.0.0.1:9/nothing",  # unreachable
          "hooks.slack.com/services/T/B/x",  # no scheme
          "http://chat example.com/x",  # a space in the host
          "http://[::1/x"]  # an address that does not parse


@dataclass
class Channel:
    kind: str
    stub: Stub
    make: Callable[..., Notifier]  # (path, **options) -> a notifier posting to that path of the stub

    def posts(self, path: str) -> list[Any]:
        return [body for method, at, body, _headers in self.stub.requests if (method, at) == ("POST", path)]


class Endpoint:
    """The channel's side: /ok accepts, /flaky fails twice then accepts, /slow answers late, /refuse refuses, /fail
    keeps failing, /nonsense answers with a status line that is not HTTP."""

    def __init__(self) -> None:
        self.flaky = 2

    def reply(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if path == "/flaky" and self.flaky > 0:
            self.flaky -= 1
            return 503, None
        if path == "/slow":
            time.sleep(0.6)
        return {"/ok": 200, "/flaky": 200, "/slow": 200, "/refuse": 403, "/fail": 500, "/nonsense": 99}[path], None


@pytest.fixture(scope="module")
def endpoint() -> Iterator[tuple[Stub, Endpoint]]:
    state = Endpoint()
    with serve(lambda method, path, body: state.reply(method, path, body)) as stub:
        yield stub, state


@pytest.fixture(params=["slack", "chat", "webhook"])
def channel(request: pytest.FixtureRequest, endpoint: tuple[Stub, Endpoint]) -> Channel:
    kind = str(request.param)
    stub, state = endpoint
    stub.requests.clear()
    state.flaky = 2

    def make(path: str, **options: Any) -> Notifier:
        url = f"{stub.url}{path}" if path.startswith("/") else path
        return WebhookNotifier(url, **{"attempts": ATTEMPTS, "backoff_s": 0.01, "kind": kind, **options})

    return Channel(kind, stub, make)


def test_the_channel_is_named(channel: Channel) -> None:
    name = channel.make("/ok").channel
    assert isinstance(name, str) and name == channel.kind
    assert all(channel.make(url).channel == channel.kind for url in BROKEN)  # even when the address is malformed


def test_an_accepted_text_is_posted_once_and_said_delivered(channel: Channel) -> None:
    delivered, detail = channel.make("/ok").send(TEXT)
    assert delivered is True and detail
    assert [body["text"] for body in channel.posts("/ok")] == [TEXT]


def test_a_passing_failure_is_retried_until_delivered(channel: Channel) -> None:
    delivered, detail = channel.make("/flaky").send(TEXT)
    assert delivered is True and detail
    assert len(channel.posts("/flaky")) == ATTEMPTS


def test_a_refusal_is_reported_and_not_retried(channel: Channel) -> None:
    assert channel.make("/refuse").send(TEXT) == (False, "HTTP 403: not retried")
    assert len(channel.posts("/refuse")) == 1


def test_a_failing_channel_is_retried_then_reported(channel: Channel) -> None:
    delivered, detail = channel.make("/fail").send(TEXT)
    assert delivered is False and "500" in detail
    assert len(channel.posts("/fail")) == ATTEMPTS


@pytest.mark.parametrize("where", [*BROKEN, "/nonsense", "/slow"])
def test_send_never_raises(channel: Channel, where: str) -> None:
    notifier = channel.make(where, attempts=1, timeout_s=0.2)
    delivered, detail = notifier.send(TEXT)
    assert delivered is False and isinstance(detail, str) and detail
