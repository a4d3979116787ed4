"""Hand-offs behind one port: PagerDuty's Events API v2 and Jira's REST API v3, each on a stand-in enforcing its
documented answers (tests/api_standins.py). A hand-off is asked through a signed link by a verified person (or is
automatic after a report), recorded (who asked, what the service answered), and sent once however often it is
redelivered; the service's refusals are recorded with their reasons; credentials come from Secret Manager when the
settings name a secret."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import google_crc32c
import pytest

from functions.handoffs import HandOffError, HandOffs
from functions.runtime import embedded
from shared import approvals
from shared.config import Settings
from shared.handoff import LazyTarget, make_targets
from shared.handoff.jira import JiraHandOff
from shared.handoff.pagerduty import PagerDutyHandOff
from shared.incident_state import fold
from shared.ports import HandOffTarget
from shared.secrets import SecretError, credential
from shared.store.sqlite import SqliteEventStore
from shared.telemetry.memory import MemorySource
from tests.api_standins import Jira, PagerDuty, is_adf, serve
from tests.test_chat_thread import REDELIVERIES, alert, concurrently, world

KEY = b"k" * 32
PERSON = "alice@example.com"
ROUTING_KEY = "R" * 32


@pytest.fixture()
def pagerduty() -> Iterator[tuple[PagerDuty, str]]:
    api = PagerDuty()
    with serve(api.reply) as url:
        yield api, f"{url}/v2/enqueue"


@pytest.fixture()
def jira() -> Iterator[tuple[Jira, str]]:
    api = Jira()
    with serve(api.reply) as url:
        yield api, url


def reported_incident() -> tuple[SqliteEventStore, str]:
    """An incident with its (partial) report."""
    from shared.notify.webhook import WebhookNotifier

    w = world(WebhookNotifier("http://127.0.0.1:9/none", attempts=1))
    w.pipeline.notifier = None
    w.pipeline.sweep()
    return w.store, w.incident_id


def handoffs(store: SqliteEventStore, **targets: HandOffTarget) -> HandOffs:
    return HandOffs(store, targets, "http://sre.example", key=KEY, allowed=frozenset({PERSON}),
                    clock=lambda: 1_700_000_000.0)


def test_a_pagerduty_hand_off_is_signed_recorded_and_sent_once_under_redelivery(pagerduty) -> None:  # type: ignore[no-untyped-def]
    api, url = pagerduty
    store, incident_id = reported_incident()
    h = handoffs(store, pagerduty=PagerDutyHandOff(ROUTING_KEY, url, sleep=lambda s: None))
    token = h.link_token(incident_id, "pagerduty")
    concurrently(REDELIVERIES, lambda: h.request(token, PERSON))
    for _ in range(REDELIVERIES):
        h.request(token, PERSON)
    (event,) = api.events  # one event, whatever was redelivered
    assert event["event_action"] == "trigger" and event["dedup_key"] == f"autosre-{incident_id}"
    assert event["payload"]["source"] == "servicenow-sre-poc" and event["payload"]["severity"] == "critical"
    assert event["links"][0]["href"] == f"http://sre.example/incidents/{incident_id}"
    state = fold(store.load(incident_id))
    status, record = state.handoffs["pagerduty"]
    assert status == "sent" and record.reference == f"autosre-{incident_id}" and record.by == PERSON
    audit = [line for _, type_, _, line in state.timeline if type_.startswith("handoff.")]
    assert audit[0] == f"pagerduty: asked by {PERSON}" and "Event processed" in audit[-1]


def test_pagerduty_refusals_are_recorded_and_throttling_retried(pagerduty) -> None:  # type: ignore[no-untyped-def]
    api, url = pagerduty
    store, incident_id = reported_incident()
    h = handoffs(store, pagerduty=PagerDutyHandOff("too-short", url, sleep=lambda s: None))
    refused = h.request(h.link_token(incident_id, "pagerduty"), PERSON)
    assert "HTTP 400" in refused.detail and "routing_key" in refused.detail and api.events == []
    assert fold(store.load(incident_id)).handoffs["pagerduty"][0] == "failed"

    waits: list[float] = []
    api.throttle = 2
    h = handoffs(store, pagerduty=PagerDutyHandOff(ROUTING_KEY, url, backoff_s=0.5, sleep=waits.append))
    sent = h.request(h.link_token(incident_id, "pagerduty"), PERSON)  # a failed hand-off may be asked again
    assert sent.reference and len(api.events) == 1 and waits == [0.5, 1.0]  # 429: retried after a while
    assert fold(store.load(incident_id)).handoffs["pagerduty"][0] == "sent"


def test_a_jira_issue_carries_the_reports_summary_and_link_once(jira) -> None:  # type: ignore[no-untyped-def]
    api, url = jira
    store, incident_id = reported_incident()
    target = JiraHandOff(url, api.email, api.token, "OPS", sleep=lambda s: None)
    h = handoffs(store, jira=target)
    token = h.link_token(incident_id, "jira")
    concurrently(REDELIVERIES, lambda: h.request(token, PERSON))
    (issue,) = api.issues
    state = fold(store.load(incident_id))
    assert issue["summary"] == " ".join(state.latest_report.headline.split())
    assert is_adf(issue["description"]) and f"http://sre.example/incidents/{incident_id}" in \
        json.dumps(issue["description"])
    assert f"autosre-autosre-{incident_id}" in issue["labels"]
    status, record = state.handoffs["jira"]
    assert status == "sent" and record.reference == "OPS-1" and record.link == f"{url}/browse/OPS-1"


@pytest.mark.parametrize(("change", "said"), [({"api_token": "wrong"}, "HTTP 401"),
                                              ({"project": "NOPE"}, "project: Specify a valid project"),
                                              ({"issue_type": "Epicish"}, "issuetype")])
def test_jiras_refusals_are_recorded_with_their_reasons(jira, change: dict[str, str], said: str) -> None:  # type: ignore[no-untyped-def]
    api, url = jira
    store, incident_id = reported_incident()
    options: dict[str, Any] = {"site": url, "email": api.email, "api_token": api.token, "project": "OPS",
                               "sleep": lambda s: None, **change}
    h = handoffs(store, jira=JiraHandOff(**options))
    record = h.request(h.link_token(incident_id, "jira"), PERSON)
    assert said in record.detail and api.issues == []
    assert fold(store.load(incident_id)).handoffs["jira"][0] == "failed"


def test_a_long_multiline_headline_becomes_a_summary_jira_accepts(jira) -> None:  # type: ignore[no-untyped-def]
    from shared.ports import HandOffRequest

    api, url = jira
    request = HandOffRequest(incident_id="i", dedup_key="autosre-i", summary="line one\nline two " + "x" * 400,
                             service="s", severity="", link="http://sre.example/incidents/i")
    assert JiraHandOff(url, api.email, api.token, "OPS", sleep=lambda s: None).send(request).ok
    assert len(api.issues[0]["summary"]) == 255 and "\n" not in api.issues[0]["summary"]


def test_only_a_signed_link_and_a_person_allowed_may_ask(pagerduty) -> None:  # type: ignore[no-untyped-def]
    api, url = pagerduty
    store, incident_id = reported_incident()
    h = handoffs(store, pagerduty=PagerDutyHandOff(ROUTING_KEY, url, sleep=lambda s: None))
    token = h.link_token(incident_id, "pagerduty")
    with pytest.raises(HandOffError, match="may not"):
        h.request(token, "mallory@example.com")
    with pytest.raises(approvals.TokenError):
        h.request(token[:-4] + "AAAA", PERSON)  # forged
    approval = approvals.issue(KEY, incident_id, "some-proposal", "pagerduty")
    with pytest.raises(approvals.TokenError, match="not a hand-off link"):
        h.request(approval, PERSON)
    with pytest.raises(HandOffError, match="not configured"):
        h.link_token(incident_id, "jira")
    assert api.events == [] and not fold(store.load(incident_id)).handoffs


def test_automatic_hand_offs_run_once_after_the_report(pagerduty) -> None:  # type: ignore[no-untyped-def]
    api, url = pagerduty
    clock = [1_700_000_000.0]
    store = SqliteEventStore(":memory:")
    settings = Settings(pagerduty_routing_key=ROUTING_KEY, pagerduty_url=url, handoff_auto=("pagerduty",))
    pipeline, bus = embedded(store, MemorySource(), clock=lambda: clock[0], settings=settings)
    assert pipeline.handoffs is not None
    pipeline.handoffs.targets["pagerduty"].target.sleep = lambda s: None  # type: ignore[attr-defined]
    from shared import topics

    bus.publish(topics.ALERTS, alert())
    while bus._queue:
        name, message = bus._queue.popleft()
        if message.topic == topics.ALERTS:
            bus._run(name, message)
    clock[0] += pipeline.round_deadline_s + 1
    for _ in range(REDELIVERIES):
        pipeline.sweep()
    (event,) = api.events  # one, however often the sweep ran
    (summary,) = store.summaries()
    assert event["dedup_key"] == f"autosre-{summary['incident_id']}"
    state = fold(store.load(summary["incident_id"]))
    assert state.handoffs["pagerduty"][0] == "sent" and state.handoffs["pagerduty"][1].by == "autosre"
    assert "partial:handoff" in state.report_round.steps_done


def secret_manager(secrets: dict[str, bytes]) -> Any:
    """Secret Manager's versions.access as documented: the version's name, its payload base64 with its CRC32C."""
    def get(url: str) -> tuple[int, bytes]:
        name = url.split("/v1/", 1)[1].removesuffix(":access")
        if name not in secrets:
            return 404, json.dumps({"error": {"code": 404, "status": "NOT_FOUND"}}).encode()
        data = secrets[name]
        return 200, json.dumps({"name": name, "payload": {"data": base64.b64encode(data).decode(),
                                                          "dataCrc32c": str(google_crc32c.value(data))}}).encode()

    return get


def test_credentials_come_from_secret_manager_when_the_settings_name_a_secret() -> None:
    get = secret_manager({"projects/p/secrets/pd/versions/latest": ROUTING_KEY.encode() + b"\n"})
    assert credential("", "projects/p/secrets/pd", get) == ROUTING_KEY
    assert credential("from-env", "projects/p/secrets/pd", get) == "from-env"  # the environment wins (locally)
    assert credential("", "", get) == ""
    with pytest.raises(SecretError, match="HTTP 404"):
        credential("", "projects/p/secrets/missing", get)
    with pytest.raises(SecretError, match="not a Secret Manager secret name"):
        credential("", "pd-routing-key", get)

    def corrupted(url: str) -> tuple[int, bytes]:
        status, body = get(url)
        doc = json.loads(body)
        doc["payload"]["data"] = base64.b64encode(b"tampered").decode()
        return status, json.dumps(doc).encode()

    with pytest.raises(SecretError, match="checksum"):
        credential("", "projects/p/secrets/pd", corrupted)


def test_the_settings_configure_each_integration() -> None:
    targets = make_targets(Settings(pagerduty_routing_key=ROUTING_KEY, jira_url="https://x.atlassian.net",
                                    jira_email="a@x", jira_api_token="t", jira_project="OPS"))
    assert set(targets) == {"pagerduty", "jira"}
    assert make_targets(Settings(jira_url="https://x.atlassian.net", jira_project="OPS")) == {}  # no token
    env = Settings.from_env({"AUTOSRE_HANDOFF_AUTO": "pagerduty, jira"})
    assert env.handoff_auto == ("pagerduty", "jira")


def test_the_cli_hands_an_incident_off_once_as_the_local_identity(pagerduty, tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from functions.cli import main

    api, url = pagerduty
    memory, incident_id = reported_incident()
    db = tmp_path / "autosre.db"
    store = SqliteEventStore(str(db))
    for event in memory.load(incident_id):
        store.append(event)
    for name, value in {"AUTOSRE_PAGERDUTY_ROUTING_KEY": ROUTING_KEY, "AUTOSRE_PAGERDUTY_URL": url,
                        "AUTOSRE_APPROVERS": PERSON, "AUTOSRE_LOCAL_IDENTITY": PERSON}.items():
        monkeypatch.setenv(name, value)
    assert main(["handoff", incident_id, "pagerduty", "--db", str(db)]) == 0
    assert main(["handoff", incident_id, "pagerduty", "--db", str(db)]) == 0
    assert len(api.events) == 1 and "pagerduty: sent: PagerDuty: Event processed" in capsys.readouterr().out
    assert main(["handoff", incident_id, "jira", "--db", str(db)]) == 2  # not configured
    assert main(["handoff", incident_id, "pagerduty", "--db", str(db), "--as", "mallory@example.com"]) == 2


def test_a_pagerduty_alert_handed_off_resolves_with_the_incident_once(pagerduty, jira) -> None:  # type: ignore[no-untyped-def]

    api, url = pagerduty
    jira_api, jira_url = jira
    clock = [1_700_000_000.0]
    store = SqliteEventStore(":memory:")
    settings = Settings(pagerduty_routing_key=ROUTING_KEY, pagerduty_url=url, jira_url=jira_url,
                        jira_email=jira_api.email, jira_api_token=jira_api.token, jira_project="OPS",
                        handoff_auto=("pagerduty", "jira"))
    pipeline, bus = embedded(store, MemorySource(), clock=lambda: clock[0], settings=settings)
    assert pipeline.handoffs is not None and all(isinstance(t, LazyTarget) for t in pipeline.handoffs.targets.values())
    from shared import topics

    def deliver(payload: bytes, times: int = 1) -> None:
        for _ in range(times):
            bus.publish(topics.ALERTS, payload)
        while bus._queue:
            name, message = bus._queue.popleft()
            if message.topic == topics.ALERTS:
                bus._run(name, message)

    deliver(alert())
    clock[0] += pipeline.round_deadline_s + 1
    pipeline.sweep()
    deliver(alert("closed"), times=REDELIVERIES)
    assert [e["event_action"] for e in api.events] == ["trigger", "resolve"]  # resolved once
    assert api.events[1]["dedup_key"] == api.events[0]["dedup_key"] and len(jira_api.issues) == 1
    (summary,) = store.summaries()
    state = fold(store.load(summary["incident_id"]))
    assert state.handoffs["pagerduty"][0] == "resolved" and state.handoffs["jira"][0] == "sent"
