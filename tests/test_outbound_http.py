"""Outbound POSTs (the runbook webhook runner, the chat notifier) never follow a redirect and never use a scheme
other than http(s): a redirect turns the POST into a body-less GET elsewhere (an SSO login page answers 200)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from shared.actions.runbook_webhook import RunbookWebhookRunner
from shared.models import Proposal
from shared.notify.webhook import WebhookNotifier


@contextmanager
def redirecting(status: int = 302) -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            seen.append(f"{self.command} {self.path}")
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            if self.path.startswith("/login"):
                body = b"<html>sign in</html>"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_response(status)
            self.send_header("Location", "/login?next=hook")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/hook", seen
    finally:
        httpd.shutdown()
        httpd.server_close()


def proposal() -> Proposal:
    return Proposal(proposal_id="p1", action="rollback", service="checkout", rationale="r", preview="v")


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_the_runner_fails_on_a_redirect_and_names_its_location(status: int) -> None:
    with redirecting(status) as (url, seen), pytest.raises(Exception) as caught:
        RunbookWebhookRunner(url, timeout_s=5).run(proposal())
    assert f"HTTP {status}" in str(caught.value) and "/login?next=hook" in str(caught.value)
    assert seen == ["POST /hook"]  # the redirect was not followed


def test_the_notifier_fails_on_a_redirect_and_names_its_location() -> None:
    with redirecting() as (url, seen):
        delivered, detail = WebhookNotifier(url, backoff_s=0.0).send("hello")
    assert not delivered and "HTTP 302" in detail and "/login?next=hook" in detail
    assert seen == ["POST /hook"]


@pytest.mark.parametrize("url", ["file:///etc/hostname", "ftp://127.0.0.1/x", "data:,hello"])
def test_non_http_schemes_are_refused(url: str) -> None:
    with pytest.raises(Exception, match="http"):
        RunbookWebhookRunner(url).run(proposal())
    delivered, detail = WebhookNotifier(url, backoff_s=0.0).send("hello")
    assert not delivered and "not retried" in detail and "http" in detail
