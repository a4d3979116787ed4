"""Slack's Web API with a bot token: one thread per incident (chat.postMessage, replies with `thread_ts`) whose first
message is edited in place (chat.update).

What the Web API documents and this adapter follows: a method is a POST to https://slack.com/api/<method> with the
token as `Authorization: Bearer`, a JSON body (`application/json; charset=utf-8`); it answers HTTP 200 with
`{"ok": true, ...}` or `{"ok": false, "error": "<code>"}` (invalid_auth, not_authed, channel_not_found,
message_not_found, cant_update_message, msg_too_long, ...), which is a refusal, never retried. A rate-limited call
answers HTTP 429 with a `Retry-After` header (seconds) and `"error": "ratelimited"`: it is retried after that long
(bounded). chat.postMessage answers the channel's id and the message's `ts`; chat.update needs that id (not the
channel's name) and the `ts`. Text is escaped as for the webhook (shared/notify/webhook.py): `<` makes mentions.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.notify.webhook import escape_markup
from shared.ports import ChatPost

SLACK_API = "https://slack.com/api"
MAX_TEXT = 40000  # chat.postMessage truncates longer text; we cut it ourselves, visibly


@dataclass
class SlackThreadNotifier:
    token: str  # a bot token (xoxb-...), chat:write scope
    conversation: str  # the channel's id (C...) or name the bot was invited to
    api_url: str = SLACK_API
    attempts: int = 4
    backoff_s: float = 0.5
    max_wait_s: float = 30.0  # a Retry-After longer than this is not waited for: the step is retried later
    timeout_s: float = 5.0
    sleep: Callable[[float], None] = time.sleep
    token_source: Callable[[], str] | None = None  # reads the token on first use (a Secret Manager secret)

    @property
    def channel(self) -> str:
        return "slack-api"

    def send(self, text: str) -> tuple[bool, str]:
        posted = self.post(text)
        return posted.ok, posted.detail

    def post(self, text: str, thread: str = "", broadcast: bool = False) -> ChatPost:
        body: dict[str, Any] = {"channel": self.conversation, "text": self._text(text), "unfurl_links": False}
        if thread:
            body["thread_ts"] = thread
            if broadcast:
                body["reply_broadcast"] = True
        return self._call("chat.postMessage", body)

    def edit(self, conversation: str, ts: str, text: str) -> ChatPost:
        return self._call("chat.update", {"channel": conversation, "ts": ts, "text": self._text(text)})

    @staticmethod
    def _text(text: str) -> str:
        out = escape_markup(text)
        return out if len(out) <= MAX_TEXT else out[:MAX_TEXT - 1] + "…"

    def _token(self) -> str:
        if not self.token and self.token_source is not None:
            self.token = self.token_source()
        return self.token

    def _call(self, method: str, body: dict[str, Any]) -> ChatPost:
        try:
            token = self._token()
        except Exception as exc:  # the secret could not be read: nothing is posted, the step says why
            return ChatPost(False, f"{method}: the bot token could not be read: {type(exc).__name__}: {exc}")
        data = json.dumps(body).encode()
        detail = ""
        for attempt in range(1, self.attempts + 1):
            wait = self.backoff_s * 2 ** (attempt - 1)
            try:
                request = urllib.request.Request(f"{self.api_url.rstrip('/')}/{method}", data=data, method="POST",
                                                 headers={"Content-Type": "application/json; charset=utf-8",
                                                          "Authorization": f"Bearer {token}"})
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    answer = json.loads(response.read() or b"{}")
                if not isinstance(answer, dict):
                    return ChatPost(False, f"{method}: an answer that is not a JSON object: not retried")
                if answer.get("ok") is True:
                    return ChatPost(True, f"{method} ok after {attempt} attempt(s)", str(answer.get("channel", "")),
                                    str(answer.get("ts", "")))
                return ChatPost(False, f"{method}: {answer.get('error') or 'refused'}: not retried")
            except urllib.error.HTTPError as exc:
                detail = f"{method}: HTTP {exc.code}"
                if exc.code == 429:
                    retry_after = _seconds(exc.headers.get("Retry-After"))
                    if retry_after is None or retry_after > self.max_wait_s:
                        return ChatPost(False, f"{detail} ratelimited, Retry-After {exc.headers.get('Retry-After')}")
                    wait = retry_after
                elif exc.code < 500:
                    return ChatPost(False, f"{detail}: not retried")
            except (ValueError, http.client.InvalidURL) as exc:  # a malformed address or answer: never better
                return ChatPost(False, f"{method}: {type(exc).__name__}: {exc}: not retried")
            except (urllib.error.URLError, TimeoutError, OSError, http.client.HTTPException) as exc:
                detail = f"{method}: {type(exc).__name__}: {exc}"
            if attempt < self.attempts:
                self.sleep(wait)
        return ChatPost(False, f"{detail} after {self.attempts} attempts")


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
