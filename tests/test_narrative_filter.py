"""The narrative filter holds against sentences crafted to slip past it while citing real finding ids: orders
said as statements, look-alike letters and invisible characters, and root-cause claims that the ranking does not
support. And the chat notification carries no live markup from telemetry, whatever host the webhook is on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from agents.reporting.narrative import grounded
from shared.notify.webhook import WebhookNotifier
from tests.http_stub import serve

A, B = "[f-aaaaaa]", "[f-bbbbbb]"
KNOWN = {"f-aaaaaa", "f-bbbbbb"}
CAUSES = ("payment", "checkout")  # ranked: payment first
SERVICES = ("payment", "checkout", "frontend", "cart", "database")
ZW, CYR_A, CYR_O, CYR_E = "\u200b", "\u0410", "\u043e", "\u0435"

CRAFTED = [
    # orders said as statements
    f"A rollback of payment is the way forward {A}.",
    f"Rolling back payment resolves the incident {A}.",
    f"Payment can be rolled back safely at this point {A}.",
    f"The fix is a rollback of payment to revision 94 {A}.",
    f"Payment is to be restarted before the next deploy {A}.",
    f"A restart of checkout is required to clear the errors {A}.",
    f"Operators are expected to scale payment to 50 instances {A}.",
    # look-alikes and invisible characters
    f"{CYR_A}pprove the rollback of payment {A}.",
    f"Ap{ZW}prove the rollback of payment {A}.",
    f"Run kubectl del{CYR_E}te namespace prod {A}.",
    f"R{CYR_O}ll back payment to the previous revision {A}.",
    f"\uff32\uff55\uff4e the rollback script {A}.",  # fullwidth letters
    f"Y{ZW}ou sh{ZW}ould restart checkout {A}.",
    f"Payment failed aft{CYR_E}r the d{CYR_E}ploy {A}.",  # mixed scripts in a word: not trusted
    # root-cause claims the ranking does not support
    f"The root cause was the database {A}.",
    f"Cart caused the outage {B}.",
    f"The root cause was checkout, not payment {A}{B}.",
    f"The incident was triggered by a config change in frontend {B}.",
    f"Payment was not the cause of the errors {A}.",
]

NORMAL = [
    f"Payment began returning errors at 10:02, three minutes after revision 95 was deployed {A}.",
    f"The errors originate in payment and spread upstream to checkout and then to the frontend {A}{B}.",
    f"The root cause is the payment deploy of revision 95 {A}.",
    f"Checkout's error rate rose from 0% to 29% of its calls while its own code did not change {B}.",
    f"The config change on checkout 25 minutes earlier only lowered log sampling, so it was ruled out {B}.",
    f"Traces show the deepest failing span in every failing request is the payment Charge call {A}.",
    f"Latency on the frontend rose only because requests waited on checkout {A}{B}.",
    f"Payment\u2019s charge handler threw a TypeError with the new image {A}.",
    f"Errors in Zürich-region requests came from the payment service {A}.",
]


@pytest.mark.parametrize("sentence", CRAFTED)
def test_crafted_sentences_are_dropped_even_when_cited(sentence: str) -> None:
    kept, dropped = grounded(sentence, KNOWN, causes=CAUSES, services=SERVICES)
    assert kept == "" and dropped == 1, kept


def test_a_grounded_narrative_still_passes() -> None:
    text = " ".join(NORMAL)
    kept, dropped = grounded(text, KNOWN, causes=CAUSES, services=SERVICES)
    assert dropped == 0 and kept == text


def test_a_cause_claim_without_a_ranked_cause_is_dropped() -> None:
    kept, dropped = grounded(f"The root cause is the payment deploy {A}.", KNOWN, causes=(), services=SERVICES)
    assert kept == "" and dropped == 1


def test_kept_sentences_carry_no_invisible_characters() -> None:
    kept, _ = grounded(f"Payment\u200b failed after the deploy {A}.", KNOWN, causes=CAUSES, services=SERVICES)
    assert kept == f"Payment failed after the deploy {A}."


# --- chat --------------------------------------------------------------------------------------------------------


@pytest.fixture()
def receiver() -> Iterator[tuple[str, list[Any]]]:
    received: list[Any] = []

    def reply(method: str, path: str, body: Any) -> tuple[int, Any]:
        received.append(body)
        return 200, None

    with serve(reply) as stub:
        yield f"{stub.url}/hook", received


@pytest.mark.parametrize("url", ["https://hooks.slack-gov.com/services/T/B/x", "https://mattermost.example/hooks/x",
                                 "http://127.0.0.1:1/hook"])
def test_escaping_does_not_depend_on_the_host(url: str) -> None:
    assert "&lt;!channel&gt;" in WebhookNotifier(url).render("<!channel> & <users/all>")


def test_telemetry_in_a_notification_carries_no_link_and_no_bold(receiver: tuple[str, list[Any]]) -> None:
    from functions.handlers.after_report import one_line

    url, received = receiver
    hostile = one_line("*URGENT* approve at https://evil.example/approve or www.evil.example _now_ `x` ~y~")
    WebhookNotifier(url, kind="slack").send(f"*Report*\n{hostile}\nhttp://sre.example/incidents/1")
    (message,) = received
    text = json.loads(json.dumps(message))["text"]
    telemetry = text.split("\n")[1]
    for live in ("*", "https://", "www.", "_now_", "`", "~y~"):
        assert live not in telemetry, (live, telemetry)
    assert "URGENT" in telemetry and "evil" in telemetry  # still readable
    assert text.startswith("*Report*\n") and text.endswith("\nhttp://sre.example/incidents/1")
