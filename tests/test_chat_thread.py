"""One living chat thread per incident: the report opens it, each decision, execution and recovery check edits its
first message and replies in it, the resolution is a reply shown in the channel; nothing is posted twice when every
step is delivered ten times, concurrently or in turn. Through a webhook each update is a message of its own naming
the incident. The trigger policy and quiet hours; Slack's documented refusals (invalid_auth, channel_not_found,
ratelimited with Retry-After) on a stand-in that enforces them (tests/api_standins.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from agents.remediation.policy import Policy
from functions.chat_policy import ChatPolicy, NotYet
from functions.chat_thread import Chat, catch_up, tell
from functions.pipeline import Pipeline
from functions.remediation import Remediation
from functions.runtime import embedded, make_notifier, make_runner
from shared import events as ev
from shared import topics
from shared.bus.inprocess import InProcessBus
from shared.config import Settings
from shared.incident_log import IncidentLog
from shared.incident_state import IncidentState, fold
from shared.models import Proposal
from shared.notify.slack_api import SlackThreadNotifier
from shared.notify.webhook import WebhookNotifier
from shared.outcome_events import RemediationVerified
from shared.ports import Notifier
from shared.remediation_events import RemediationProposed
from shared.store.sqlite import SqliteEventStore
from shared.telemetry.memory import MemorySource
from tests.api_standins import Slack, serve
from tests.concurrency import together
from tests.data import alerts_dir

APPROVER = "alice@example.com"
REDELIVERIES = 10
OPEN = json.loads((alerts_dir() / "03_cloud_run_5xx_open.v1.2.json").read_text())


def alert(state: str = "open", severity: str | None = "CRITICAL") -> bytes:
    doc = json.loads(json.dumps(OPEN))
    doc["incident"]["severity"] = severity
    if state == "closed":
        doc["incident"].update(state="closed", ended_at=int(doc["incident"]["started_at"]) + 600)
    return json.dumps(doc).encode()


@pytest.fixture()
def slack() -> Iterator[tuple[Slack, str]]:
    api = Slack()
    with serve(api.reply) as url:
        yield api, f"{url}/api"


def slack_notifier(url: str, token: str = "xoxb-test-token", channel: str = "incidents",
                   waits: list[float] | None = None) -> SlackThreadNotifier:
    sleep: Callable[[float], None] = (waits.append if waits is not None else (lambda s: None))
    return SlackThreadNotifier(token, channel, api_url=url, backoff_s=0.01, sleep=sleep)


@dataclass
class World:
    store: SqliteEventStore
    pipeline: Pipeline
    bus: InProcessBus
    clock: list[float]
    incident_id: str = ""

    def deliver_alerts(self, payload: bytes, times: int = 1) -> None:
        for _ in range(times):
            self.bus.publish(topics.ALERTS, payload)
        while self.bus._queue:  # the alerts only: no specialist runs, the report is the sweep's partial one
            name, message = self.bus._queue.popleft()
            if message.topic == topics.ALERTS:
                self.bus._run(name, message)

    def state(self) -> IncidentState:
        return fold(self.store.load(self.incident_id))


def world(notifier: Notifier | None, policy: ChatPolicy | None = None, severity: str | None = "CRITICAL"
          ) -> World:
    clock = [1_700_000_000.0]
    store = SqliteEventStore(":memory:")
    pipeline, bus = embedded(store, MemorySource(), clock=lambda: clock[0], notifier=notifier,
                             settings=Settings(base_url="http://sre.example"))
    if policy is not None:
        pipeline.chat_policy = policy
    w = World(store, pipeline, bus, clock)
    w.deliver_alerts(alert(severity=severity))
    (summary,) = store.summaries()
    w.incident_id = summary["incident_id"]
    clock[0] += pipeline.round_deadline_s + 1
    return w


def concurrently(n: int, work: Callable[[], Any]) -> None:
    """`work` run by n threads released together (redeliveries racing before any has recorded its step)."""
    together([work] * n)


def chat_of(w: World) -> Chat:
    assert w.pipeline.notifier is not None
    return Chat(w.pipeline.notifier, w.store, w.pipeline.base_url, w.pipeline.chat_policy, w.pipeline.clock)


def propose(w: World) -> str:
    proposal = Proposal(proposal_id="p-rollback", action="rollback_cloud_run", service="servicenow-sre-poc",
                        preview="roll servicenow-sre-poc back to its previous revision", risk="low")
    with w.pipeline.log.incident(w.incident_id) as incident:
        incident.record(ev.REMEDIATION_PROPOSED, (proposal.proposal_id,), "synthesize",
                        RemediationProposed(proposal=proposal))
    return proposal.proposal_id


def live_incident(w: World) -> str:
    """The incident's whole life, each update delivered REDELIVERIES times at once, before any has recorded it (the
    race redeliveries run), then REDELIVERIES times more in turn: the report, the approval, the execution, the
    recovery check, the resolution. Each step is recorded with the channel detached, so every delivery finds the
    update still to tell."""
    from functions.chat_thread import told_hook
    from functions.handlers.after_report import follow_through
    from functions.handlers.sweep import sweep_all

    notifier, w.pipeline.notifier = w.pipeline.notifier, None
    w.pipeline.sweep()  # the partial report, its notification not yet run
    w.pipeline.notifier = notifier

    def redeliver_report() -> None:
        with w.pipeline.log.incident(w.incident_id) as incident:
            report = incident.state.latest_report
            assert report is not None
            follow_through(w.pipeline, incident, report)

    concurrently(REDELIVERIES, redeliver_report)
    pid = propose(w)
    r = Remediation(store=w.store, runner=make_runner(Settings()), key=b"k" * 32,
                    policy=Policy({"*": ["rollback_cloud_run"]}), approvers=frozenset({APPROVER}),
                    clock=lambda: w.clock[0])
    r.decide_and_deliver(r.link_token(w.incident_id, pid), "approve", APPROVER)  # no hook yet: told below

    def redeliver_updates() -> None:
        with IncidentLog(w.store).incident(w.incident_id) as incident:
            catch_up(chat_of(w), incident)

    concurrently(REDELIVERIES, redeliver_updates)
    r.told = told_hook(chat_of(w))
    with w.pipeline.log.incident(w.incident_id) as incident:
        incident.record(ev.REMEDIATION_VERIFIED, (pid,), "verify", RemediationVerified(
            proposal_id=pid, verdict="recovered: the error rate is back under its line", outcome="recovered"))
    concurrently(REDELIVERIES, lambda: sweep_all(w.pipeline, None))
    w.pipeline.notifier = None
    w.deliver_alerts(alert("closed"))
    w.pipeline.notifier = notifier
    concurrently(REDELIVERIES, redeliver_updates)
    for _ in range(REDELIVERIES):  # and in turn, once everything is recorded
        redeliver_report()
        redeliver_updates()
        sweep_all(w.pipeline, None)
        w.deliver_alerts(alert("closed"))
    r.execute(w.incident_id, pid)  # a redelivered execution: already run, told once
    return pid


def test_one_thread_per_incident_edited_in_place_with_a_reply_per_update_and_a_resolved_notice(slack) -> None:  # type: ignore[no-untyped-def]
    api, url = slack
    api.delay = 0.05  # deliveries overlap
    w = world(slack_notifier(url))
    pid = live_incident(w)
    (root,) = api.top_level  # one thread, whatever was redelivered
    state = w.state()
    assert state.chat_thread is not None and (state.chat_thread.conversation, state.chat_thread.ts) == \
        ("C0INCIDENTS", root.ts)  # the thread's id is an event; edits name the channel's id, not its name
    replies = api.replies(root.ts)
    kinds = [m.text.split("\n")[0] for m in replies]
    assert len(replies) == 4, kinds  # approval, execution, recovery check, resolved: each once
    assert "approved by alice@example.com" in replies[0].text and "dry run" in replies[1].text
    assert replies[2].text.startswith("*Recovery check") and "recovered" in replies[2].text
    assert replies[3].text.startswith("*Resolved") and replies[3].broadcast  # the resolved notice shows in the channel
    assert all(not m.broadcast for m in replies[:3])
    assert len(root.edits) == 4  # the first message edited at each update after the report
    assert root.edits[0].startswith("*[OPEN]") and root.text.startswith("*[RESOLVED]")
    assert "Roll back to the previous revision on servicenow-sre-poc: recovered" in root.text  # what people read
    assert "rollback_cloud_run" not in root.text and not any("rollback_cloud_run" in r.text for r in replies)
    assert root.text.endswith(f"http://sre.example/incidents/{w.incident_id}")
    told = {n for n in state.notified}
    assert {"report:1:partial", f"approval:{pid}", f"execution:{pid}", f"recovery:{pid}", "resolved"} <= told
    assert [n.status for n in state.notifications] == ["sent"] * 5
    assert state.summary()["chat_pending"] == 0
    assert not [c for c in api.calls if c[0] not in ("chat.postMessage", "chat.update")]


def test_through_a_webhook_each_update_is_one_message_naming_the_incident() -> None:
    received: list[dict[str, Any]] = []

    def reply(method: str, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        received.append(body)
        return 200, None, {}

    def slow(method: str, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        time.sleep(0.05)  # deliveries overlap
        return reply(method, path, body, headers)

    with serve(slow) as url:
        w = world(WebhookNotifier(f"{url}/hook", kind="slack", backoff_s=0.01))
        live_incident(w)
    texts = [m["text"] for m in received]
    assert len(texts) == 5, texts  # report, approval, execution, recovery check, resolved: each once
    assert all(f"http://sre.example/incidents/{w.incident_id}" in t for t in texts)
    assert texts[-1].startswith("*Resolved") and w.state().chat_thread is None


def test_in_google_chat_an_incidents_messages_share_one_thread_keyed_by_the_incident() -> None:
    from tests.api_standins import GoogleChatWebhook

    space = GoogleChatWebhook()
    with serve(space.reply) as url:
        w = world(WebhookNotifier(f"{url}/v1/spaces/S/messages?key=k&token=t", kind="chat", backoff_s=0.01))
        live_incident(w)
    (texts,) = space.threads.values()  # one thread: report, approval, execution, recovery check, resolved
    assert len(texts) == 5 and texts[-1].startswith("*Resolved") and list(space.keys) == [w.incident_id]


def test_the_trigger_policy_tells_only_the_severities_and_services_chosen(slack) -> None:  # type: ignore[no-untyped-def]
    api, url = slack
    w = world(slack_notifier(url), ChatPolicy(severities=("critical",)), severity="WARNING")
    w.pipeline.sweep()
    w.deliver_alerts(alert("closed", severity="WARNING"))
    assert api.messages == []
    state = w.state()
    assert {n.status for n in state.notifications} == {"skipped"}
    assert "severity warning is not among those notified" in state.notifications[0].detail
    assert "complete:notify" in state.report_round.steps_done or "partial:notify" in state.report_round.steps_done
    assert state.summary()["chat_pending"] == 0  # skipped once, never re-driven

    other = world(slack_notifier(url), ChatPolicy(services=("checkout",)))
    other.pipeline.sweep()
    assert api.messages == [] and "service servicenow-sre-poc" in other.state().notifications[0].detail


def test_quiet_hours_hold_updates_until_they_end_except_for_the_severities_that_break_through(slack) -> None:  # type: ignore[no-untyped-def]
    api, url = slack
    minute = (1_700_000_000 // 60) % 1440  # the world's clock, as minutes of the UTC day
    quiet = ChatPolicy(quiet=(minute, (minute + 60) % 1440), quiet_severities=("critical",))
    w = world(slack_notifier(url), quiet, severity="WARNING")
    w.clock[0] = 1_700_000_000.0 + 40 * 60  # past the round's deadline, inside the quiet hours
    w.pipeline.sweep()
    assert api.messages == [] and not w.state().notifications  # held: not recorded, so it is sent later
    assert "partial:notify" not in w.state().report_round.steps_done
    w.clock[0] += 30 * 60  # the quiet hours are over
    w.pipeline.sweep()
    assert len(api.top_level) == 1 and "partial:notify" in w.state().report_round.steps_done

    loud = world(slack_notifier(url), quiet, severity="CRITICAL")
    loud.clock[0] = 1_700_000_000.0 + 40 * 60
    loud.pipeline.sweep()
    assert len(api.top_level) == 2  # a critical incident is told even in quiet hours


def test_quiet_hours_wrap_midnight() -> None:
    policy = ChatPolicy.from_settings(Settings(quiet_hours="22:00-07:00"))
    state = IncidentState("i")
    day = 86400 * 20000
    assert policy.holds(state, day + 23 * 3600) and policy.holds(state, day + 3600)
    assert not policy.holds(state, day + 12 * 3600) and not policy.holds(state, day + 7 * 3600)
    for bad in ("25:00-07:00", "22:00", "10pm-7am"):
        with pytest.raises(ValueError, match="HH:MM-HH:MM"):
            Settings(quiet_hours=bad)


def test_slacks_refusals_are_recorded_not_retried_and_its_rate_limit_is_waited_out(slack) -> None:  # type: ignore[no-untyped-def]
    api, url = slack
    refused = slack_notifier(url, token="xoxb-revoked").post("hello")
    assert not refused.ok and "invalid_auth" in refused.detail and len(api.calls) == 1  # not retried
    assert "channel_not_found" in slack_notifier(url, channel="#nowhere").post("hello").detail
    unauthenticated = SlackThreadNotifier("", "incidents", api_url=url, sleep=lambda s: None).post("hello")
    assert "not_authed" in unauthenticated.detail

    waits: list[float] = []
    api.rate_limited, api.retry_after = 2, "2"
    posted = slack_notifier(url, waits=waits).post("hello")
    assert posted.ok and posted.conversation == "C0INCIDENTS" and waits == [2.0, 2.0]  # Retry-After honoured
    api.rate_limited, api.retry_after = 1, "120"
    waits.clear()
    late = slack_notifier(url, waits=waits).post("hello")
    assert not late.ok and "ratelimited" in late.detail and waits == []  # too long to wait: the step is re-driven

    reply = slack_notifier(url).post("a reply", thread=posted.ts)
    assert reply.ok and api.replies(posted.ts)[0].text == "a reply"
    assert "thread_not_found" in slack_notifier(url).post("x", thread=reply.ts).detail  # a reply's ts is no thread
    edit = slack_notifier(url).edit("C0INCIDENTS", "1.000000", "new")
    assert not edit.ok and "message_not_found" in edit.detail


def test_a_refused_thread_is_recorded_as_failed_and_the_next_update_opens_it(slack) -> None:  # type: ignore[no-untyped-def]
    api, url = slack
    w = world(slack_notifier(url, token="xoxb-revoked"))
    w.pipeline.sweep()
    state = w.state()
    assert state.notifications[0].status == "failed" and "invalid_auth" in state.notifications[0].detail
    assert state.chat_thread is None and api.messages == []
    w.pipeline.notifier = slack_notifier(url)
    w.deliver_alerts(alert("closed"))
    (root,) = api.top_level
    assert root.text.startswith("*[RESOLVED]") and api.replies(root.ts)[0].text.startswith("*Resolved")


def test_text_from_telemetry_cannot_mention_or_link_in_slack(slack) -> None:  # type: ignore[no-untyped-def]
    api, url = slack
    assert slack_notifier(url).post("<!channel> <https://evil.example|Approve> & co").ok
    assert api.messages[0].text == "&lt;!channel&gt; &lt;https://evil.example|Approve&gt; &amp; co"


def test_a_bot_token_chooses_slacks_web_api_and_a_webhook_otherwise() -> None:
    chosen = make_notifier(Settings(slack_bot_token="xoxb-1", slack_channel="C1", webhook_url="https://x.example"))
    assert isinstance(chosen, SlackThreadNotifier) and chosen.conversation == "C1"
    assert isinstance(make_notifier(Settings(webhook_url="https://x.example")), WebhookNotifier)
    assert make_notifier(Settings()) is None
    lazy = make_notifier(Settings(slack_bot_token_secret="projects/p/secrets/slack", slack_channel="C1"))
    assert isinstance(lazy, SlackThreadNotifier) and lazy.token == ""  # nothing read at start-up
    lazy.token_source = lambda: (_ for _ in ()).throw(RuntimeError("no credentials"))
    unread = lazy.post("hello")
    assert not unread.ok and "the bot token could not be read" in unread.detail
    settings = Settings.from_env({"AUTOSRE_NOTIFY_SEVERITIES": "critical, error", "AUTOSRE_QUIET_HOURS": "22:00-07:00"})
    assert settings.notify_severities == ("critical", "error")


def test_tell_raises_not_yet_while_another_delivery_opens_the_thread(slack) -> None:  # type: ignore[no-untyped-def]
    api, url = slack
    w = world(slack_notifier(url))
    w.store.claim(f"chat-thread:{w.incident_id}", "another delivery")
    with w.pipeline.log.incident(w.incident_id) as incident, pytest.raises(NotYet):
        tell(chat_of(w), incident, "resolved", "*Resolved*")
    assert api.messages == [] and w.store.lookup(f"chat:{w.incident_id}:resolved") is None  # released for later


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/api", "not a url", "http://[::1/api"])
def test_an_unreachable_slack_is_reported_never_raised(url: str) -> None:
    posted = SlackThreadNotifier("xoxb-1", "C1", api_url=url, attempts=2, sleep=lambda s: None).post("hello")
    assert not posted.ok and posted.detail


def approve_untold(w: World) -> str:
    """A rollback proposed, approved and run (dry run) with no chat hook: its updates are still to tell."""
    pid = propose(w)
    r = Remediation(store=w.store, runner=make_runner(Settings()), key=b"k" * 32,
                    policy=Policy({"*": ["rollback_cloud_run"]}), approvers=frozenset({APPROVER}),
                    clock=lambda: w.clock[0])
    r.decide_and_deliver(r.link_token(w.incident_id, pid), "approve", APPROVER)
    return pid


def test_an_update_told_by_another_delivery_since_this_state_was_read_does_not_hold_back_the_next() -> None:
    """A sweep that read the incident before another delivery told the approval still tells the execution: the
    held claim is checked against the log, not taken as "still being told" (which left the update to a later
    sweep and, under load, told nothing in the pass)."""
    received: list[str] = []

    def reply(method: str, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        received.append(body["text"])
        return 200, None, {}

    with serve(reply) as url:
        w = world(WebhookNotifier(f"{url}/hook", kind="slack", backoff_s=0.01))
        pid = approve_untold(w)
        with IncidentLog(w.store).incident(w.incident_id) as stale:
            assert stale.state.chat_due == [f"approval:{pid}", f"execution:{pid}"]  # read before the other
            with IncidentLog(w.store).incident(w.incident_id) as other:
                assert tell(chat_of(w), other, f"approval:{pid}", "approved")
            assert catch_up(chat_of(w), stale) == [f"execution:{pid}"]
    assert received == ["approved", received[1]] and "Incident" in received[1]
    assert w.state().chat_due == []


def test_a_delivery_that_told_something_tells_what_became_due_while_it_was_telling() -> None:
    """The recovery verdict recorded by a concurrent sweep while this delivery tells the updates before it (that
    sweep found them claimed and stopped, in order) is told by this delivery before it returns."""
    received: list[str] = []
    w: World
    pid = ""

    def reply(method: str, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        received.append(body["text"])
        if len(received) == 1:  # while the approval is being told, another sweep records the verdict
            with IncidentLog(w.store).incident(w.incident_id) as other:
                other.record(ev.REMEDIATION_VERIFIED, (pid,), "verify", RemediationVerified(
                    proposal_id=pid, verdict="recovered: back under its line", outcome="recovered"))
        return 200, None, {}

    with serve(reply) as url:
        w = world(WebhookNotifier(f"{url}/hook", kind="slack", backoff_s=0.01))
        pid = approve_untold(w)
        with IncidentLog(w.store).incident(w.incident_id) as incident:
            told = catch_up(chat_of(w), incident)
    assert told == [f"approval:{pid}", f"execution:{pid}", f"recovery:{pid}"]
    assert len(received) == 3 and received[2].startswith("*Recovery check")
