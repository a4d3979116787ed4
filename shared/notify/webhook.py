"""Notifications to a Google Chat or Slack incoming webhook: retried with backoff, a failure (a malformed address,
one that is not http(s), or a redirect, which is never followed) is returned (and recorded by the caller), never
raised into the pipeline.

The text carries telemetry (a log line can say anything), so the notifier escapes markup: in Slack and in Google
Chat text messages (and the Slack-compatible webhooks of other hosts) `<...>` makes mentions (`<!channel>`,
`<users/all>`) and links (`<https://x|label>`), so `&`, `<` and `>` are sent as `&amp;`, `&lt;`, `&gt;`, which
render as the plain characters. This holds whatever host the webhook is on: a host name does not prove the
receiver has no markup. The notification's own formatting uses only `*bold*` and bare URLs, never angle
brackets; telemetry inside it goes through `plain()` first, so it can make neither (no `*`, `_`, `~` or backtick
markup, and links written so that no channel links them: `https[:]//evil[.]example`).
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from shared.outbound import UnsupportedScheme, describe, post
from shared.textnorm import plain as plain  # telemetry made inert inside a chat message


def escape_markup(text: str) -> str:
    """Slack's and Google Chat's text markup escaped: `&` first, then the angle brackets."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")




@dataclass
class WebhookNotifier:
    url: str
    attempts: int = 4
    backoff_s: float = 0.5
    timeout_s: float = 5.0
    sleep: Callable[[float], None] = time.sleep
    kind: str = ""  # "slack" | "chat" | "webhook"; default: from the URL

    @property
    def channel(self) -> str:
        if self.kind:
            return self.kind
        try:
            host = (urlsplit(self.url).hostname or "").lower()
        except ValueError:  # a malformed address: send says so
            host = ""
        return "chat" if host == "chat.googleapis.com" else "slack" if host == "hooks.slack.com" else "webhook"

    def render(self, text: str) -> str:
        """The text as the channel must receive it: markup escaped, whatever the channel or host (a receiver
        without markup shows `&lt;` where `<` was, which loses nothing)."""
        return escape_markup(text)

    def send(self, text: str) -> tuple[bool, str]:
        """POST {"text": ...} (both Chat and Slack accept it). Returns (delivered, detail)."""
        return self._post(self.url, {"text": self.render(text)})

    def send_threaded(self, text: str, thread_key: str) -> tuple[bool, str]:
        """In Google Chat, the message in the thread named `thread_key` (started by the first message that names
        it): the body's `thread.threadKey` with `messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD` on the
        URL, as Chat's webhooks document. Other channels' webhooks have no threads: a message of its own."""
        if self.channel != "chat":
            return self.send(text)
        try:
            parts = urlsplit(self.url)
            query = urlencode([*parse_qsl(parts.query, keep_blank_values=True),
                               ("messageReplyOption", "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD")])
            url = urlunsplit(parts._replace(query=query))
        except ValueError:
            url = self.url  # a malformed address: the post says so
        return self._post(url, {"text": self.render(text), "thread": {"threadKey": thread_key[:4000]}})

    def _post(self, url: str, payload: dict[str, object]) -> tuple[bool, str]:
        body = json.dumps(payload).encode()
        detail = ""
        for attempt in range(1, self.attempts + 1):
            try:
                request = urllib.request.Request(url, data=body, method="POST",
                                                 headers={"Content-Type": "application/json; charset=UTF-8"})
                with post(request, self.timeout_s) as response:
                    return True, f"HTTP {response.status} after {attempt} attempt(s)"
            except urllib.error.HTTPError as exc:
                detail = describe(exc)
                if exc.code < 500 and exc.code != 429:
                    return False, f"{detail}: not retried"
            except (UnsupportedScheme, ValueError, http.client.InvalidURL) as exc:  # no attempt can reach it
                return False, f"{type(exc).__name__}: {exc}: not retried"
            except (urllib.error.URLError, TimeoutError, OSError, http.client.HTTPException) as exc:
                detail = f"{type(exc).__name__}: {exc}"  # unreachable, timed out, or an answer that is not HTTP
            if attempt < self.attempts:
                self.sleep(self.backoff_s * 2 ** (attempt - 1))
        return False, f"{detail} after {self.attempts} attempts"
