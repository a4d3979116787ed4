"""The HandOffTarget contract (shared/ports.py), run against every adapter of shared/handoff/ (PagerDuty's Events
API v2, Jira's REST API v3) on stand-ins enforcing each API's documented answers (tests/api_standins.py).

Accepted: `ok` with the service's reference, one request; refused (the API's 4xx): not ok, the API's reasons in the
detail, not retried; failing (5xx): retried, then not ok; unreachable or malformed address: not ok. Never raises."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from shared.handoff.jira import JiraHandOff
from shared.handoff.pagerduty import PagerDutyHandOff
from shared.ports import HandOffRequest, HandOffTarget
from tests.api_standins import Jira, PagerDuty, serve

REQUEST = HandOffRequest(incident_id="inc-1", dedup_key="autosre-inc-1", summary="checkout: 5% of requests fail",
                         service="checkout", severity="CRITICAL", link="https://sre.example/incidents/inc-1",
                         details=(("top cause", "payment: deploy 00118"),))
ATTEMPTS = 3


@dataclass
class Service:
    name: str
    make: Callable[..., HandOffTarget]  # (base url, refuse=False) -> an adapter
    requests: Callable[[], int]  # what the service accepted
    failing: list[int]  # the next this many requests answer 503


@pytest.fixture(params=["pagerduty", "jira"])
def service(request: pytest.FixtureRequest) -> Iterator[Service]:
    failing = [0]
    if request.param == "pagerduty":
        pd = PagerDuty()
        api: Any = pd

        def make(url: str, refuse: bool = False) -> HandOffTarget:
            return PagerDutyHandOff("x" if refuse else "R" * 32, f"{url}/v2/enqueue", attempts=ATTEMPTS,
                                    sleep=lambda s: None)

        count = pd.events.__len__
    else:
        jira = Jira()
        api = jira

        def make(url: str, refuse: bool = False) -> HandOffTarget:
            return JiraHandOff(url, jira.email, jira.token, "NOPE" if refuse else "OPS", attempts=ATTEMPTS,
                               sleep=lambda s: None)

        count = jira.issues.__len__
    calls = [0]

    def reply(method: str, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        calls[0] += 1
        if failing[0] > 0:
            failing[0] -= 1
            return 503, None, {}
        status, payload, extra = api.reply(method, path, body, headers)
        return status, payload, extra

    with serve(reply) as url:
        yield Service(str(request.param), lambda refuse=False: make(url, refuse), count, failing)


def test_an_accepted_hand_off_returns_the_services_reference(service: Service) -> None:
    result = service.make().send(REQUEST)
    assert result.ok and result.reference and service.requests() == 1
    assert service.make().name == service.name


def test_a_refusal_says_why_and_is_not_retried(service: Service) -> None:
    result = service.make(refuse=True).send(REQUEST)
    assert not result.ok and "HTTP 400: not retried" in result.detail and service.requests() == 0
    assert ("routing_key" if service.name == "pagerduty" else "project") in result.detail


def test_a_failing_service_is_retried_then_reported(service: Service) -> None:
    service.failing[0] = ATTEMPTS - 1
    assert service.make().send(REQUEST).ok and service.requests() == 1  # retried past the failures
    service.failing[0] = ATTEMPTS
    result = service.make().send(REQUEST)
    assert not result.ok and f"HTTP 503 after {ATTEMPTS} attempts" in result.detail


@pytest.mark.parametrize("url", ["http://127.0.0.1:9", "not a url", "http://[::1"])
def test_an_unreachable_service_is_reported_never_raised(url: str) -> None:
    for target in (PagerDutyHandOff("R" * 32, url + "/v2/enqueue", attempts=2, sleep=lambda s: None),
                   JiraHandOff(url, "a@x", "t", "OPS", attempts=2, sleep=lambda s: None)):
        result = target.send(REQUEST)
        assert not result.ok and result.detail
