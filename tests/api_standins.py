"""Local stand-ins for the chat and hand-off APIs, each enforcing what its documentation says it answers.

- Slack's Web API (chat.postMessage, chat.update): `Authorization: Bearer` (none: not_authed; another token:
  invalid_auth), a JSON body, HTTP 200 with `{"ok": false, "error": ...}` for a refusal (channel_not_found,
  no_text, message_not_found, cant_update_message, msg_too_long), HTTP 429 with `Retry-After` and
  `"error": "ratelimited"` when rate limited; postMessage answers the channel's id and the message's `ts`; chat.update
  needs the id (not the name) and a `ts` of a message the bot posted; a reply's `thread_ts` must be a top-level
  message (Slack: "avoid using a reply's ts value; use its parent instead"; the stand-in refuses one).
- PagerDuty's Events API v2 (/v2/enqueue): 202 `{"status": "success", "message": "Event processed", "dedup_key"}`;
  400 `{"status": "invalid event", ...}` for a routing key not 32 characters, an unknown event_action, a missing
  payload.summary/source or an unknown severity, a dedup_key over 255 characters or a summary over 1024; 429 when
  told to throttle. Events with one dedup key fold into one alert.
- Jira Cloud's REST API v3 (POST /rest/api/3/issue): basic auth (else 401), fields.project.key of a known project,
  fields.issuetype, a one-line summary of at most 255 characters, an ADF description; 201 `{"id", "key", "self"}`,
  400 `{"errorMessages": [...], "errors": {...}}`.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = Callable[[str, str, Any, dict[str, str]], tuple[int, Any, dict[str, str]]]


@contextmanager
def serve(reply: Reply) -> Iterator[str]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = ValueError("not JSON")
            with lock:
                status, payload, headers = reply(self.command, self.path, body, dict(self.headers))
            data = json.dumps(payload).encode() if payload is not None else b""
            self.send_response(status)
            for k, v in {"Content-Type": "application/json", **headers}.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    thread_ts: str = ""
    broadcast: bool = False
    edits: list[str] = field(default_factory=list)  # earlier texts, oldest first


@dataclass
class Slack:
    token: str = "xoxb-test-token"
    channels: dict[str, str] = field(default_factory=lambda: {"C0INCIDENTS": "incidents"})  # id -> name
    messages: list[Message] = field(default_factory=list)
    rate_limited: int = 0  # the next this many calls answer 429
    retry_after: str = "1"
    calls: list[tuple[str, Any]] = field(default_factory=list)
    delay: float = 0.0  # seconds each answer takes (so that concurrent calls overlap)
    _clock: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def reply(self, method: str, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        name = path.removeprefix("/api/")
        self.calls.append((name, body))
        time.sleep(self.delay)
        if self.rate_limited > 0:
            self.rate_limited -= 1
            return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": self.retry_after}
        auth = headers.get("Authorization", "")
        if not auth.removeprefix("Bearer").strip():  # no token provided
            return 200, {"ok": False, "error": "not_authed"}, {}
        if auth != f"Bearer {self.token}":
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        if not headers.get("Content-Type", "").startswith("application/json") or not isinstance(body, dict):
            return 200, {"ok": False, "error": "invalid_post_type" if isinstance(body, dict) else "invalid_json"}, {}
        channel = self.channel_id(str(body.get("channel", "")))
        if channel is None:
            return 200, {"ok": False, "error": "channel_not_found"}, {}
        text = body.get("text")
        if not isinstance(text, str) or not text:
            return 200, {"ok": False, "error": "no_text"}, {}
        if len(text) > 40000:
            return 200, {"ok": False, "error": "msg_too_long"}, {}
        if name == "chat.postMessage":
            return self.post(channel, text, body)
        if name == "chat.update":
            if body.get("channel") != channel:  # chat.update takes the channel's id, not its name
                return 200, {"ok": False, "error": "channel_not_found"}, {}
            found = self.find(channel, str(body.get("ts", "")))
            if found is None:
                return 200, {"ok": False, "error": "message_not_found"}, {}
            found.edits.append(found.text)
            found.text = text
            return 200, {"ok": True, "channel": channel, "ts": found.ts, "text": text}, {}
        return 404, {"ok": False, "error": "unknown_method"}, {}

    def post(self, channel: str, text: str, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        thread = str(body.get("thread_ts") or "")
        if thread:
            parent = self.find(channel, thread)
            if parent is None or parent.thread_ts:
                return 200, {"ok": False, "error": "thread_not_found"}, {}
        ts = f"1700000000.{next(self._clock):06d}"
        self.messages.append(Message(channel, ts, text, thread, bool(body.get("reply_broadcast"))))
        return 200, {"ok": True, "channel": channel, "ts": ts,
                     "message": {"type": "message", "text": text, "ts": ts, **({"thread_ts": thread} if thread
                                                                               else {})}}, {}

    def channel_id(self, given: str) -> str | None:
        if given in self.channels:
            return given
        name = given.removeprefix("#")
        return next((cid for cid, n in self.channels.items() if n == name), None)

    def find(self, channel: str, ts: str) -> Message | None:
        return next((m for m in self.messages if m.channel == channel and m.ts == ts), None)

    @property
    def top_level(self) -> list[Message]:
        return [m for m in self.messages if not m.thread_ts]

    def replies(self, ts: str) -> list[Message]:
        return [m for m in self.messages if m.thread_ts == ts]


PD_SEVERITIES = ("critical", "error", "warning", "info")


@dataclass
class PagerDuty:
    throttle: int = 0  # the next this many events answer 429
    events: list[dict[str, Any]] = field(default_factory=list)  # accepted
    alerts: dict[str, int] = field(default_factory=dict)  # dedup key -> events folded into it

    def reply(self, method: str, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if path != "/v2/enqueue":
            return 404, None, {}
        if self.throttle > 0:
            self.throttle -= 1
            return 429, {"status": "throttle event", "message": "Requests for this service are arriving too "
                                                                "quickly. Please retry later."}, {}
        errors = self.invalid(body)
        if errors:
            return 400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors}, {}
        key = str(body.get("dedup_key") or f"generated-{len(self.events)}")
        self.events.append(body)
        self.alerts[key] = self.alerts.get(key, 0) + 1
        return 202, {"status": "success", "message": "Event processed", "dedup_key": key}, {}

    @staticmethod
    def invalid(body: Any) -> list[str]:
        if not isinstance(body, dict):
            return ["Event object is not JSON"]
        errors = []
        if len(str(body.get("routing_key", ""))) != 32:
            errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
        if body.get("event_action") not in ("trigger", "acknowledge", "resolve"):
            errors.append("'event_action' is invalid (must be one of: trigger, acknowledge, resolve)")
        if len(str(body.get("dedup_key", ""))) > 255:
            errors.append("'dedup_key' is too long (maximum is 255 characters)")
        if body.get("event_action") == "trigger":
            payload = body.get("payload")
            if not isinstance(payload, dict):
                return [*errors, "'payload' is missing or is not an object"]
            for name in ("summary", "source"):
                if not isinstance(payload.get(name), str) or not payload[name]:
                    errors.append(f"'payload.{name}' is missing or blank")
            if len(str(payload.get("summary", ""))) > 1024:
                errors.append("'payload.summary' is too long (maximum is 1024 characters)")
            if payload.get("severity") not in PD_SEVERITIES:
                errors.append("'payload.severity' is invalid (must be one of: critical, error, warning, info)")
        return errors


@dataclass
class Jira:
    email: str = "sre@example.com"
    token: str = "jira-api-token"
    projects: tuple[str, ...] = ("OPS",)
    issue_types: tuple[str, ...] = ("Task", "Bug", "Incident")
    issues: list[dict[str, Any]] = field(default_factory=list)

    def reply(self, method: str, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if path != "/rest/api/3/issue":
            return 404, {"errorMessages": ["Not found"], "errors": {}}, {}
        expected = "Basic " + base64.b64encode(f"{self.email}:{self.token}".encode()).decode()
        if headers.get("Authorization") != expected:
            return 401, {"errorMessages": ["You are not authenticated. Authentication required to perform this "
                                           "operation."], "errors": {}}, {}
        fields = body.get("fields") if isinstance(body, dict) else None
        if not isinstance(fields, dict):
            return 400, {"errorMessages": ["Invalid request payload. Refer to the REST API documentation and try "
                                           "again."], "errors": {}}, {}
        errors: dict[str, str] = {}
        if (fields.get("project") or {}).get("key") not in self.projects:
            errors["project"] = "Specify a valid project ID or key"
        if (fields.get("issuetype") or {}).get("name") not in self.issue_types:
            errors["issuetype"] = "Specify a valid issue type"
        summary = fields.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            errors["summary"] = "You must specify a summary of the issue."
        elif len(summary) > 255:
            errors["summary"] = "Summary must be less than 255 characters."
        elif "\n" in summary:
            errors["summary"] = "Field 'summary' cannot contain newline characters."
        if not is_adf(fields.get("description")):
            errors["description"] = "Operation value must be an Atlassian Document (see the Atlassian Document " \
                                    "Format)."
        if errors:
            return 400, {"errorMessages": [], "errors": errors}, {}
        number = len(self.issues) + 1
        key = f"{fields['project']['key']}-{number}"
        self.issues.append({"key": key, **fields})
        return 201, {"id": str(10000 + number), "key": key, "self": f"/rest/api/3/issue/{10000 + number}"}, {}


def is_adf(doc: Any) -> bool:
    """An ADF document: type doc, version 1, content a list of nodes each with a type (text nodes with text)."""
    if not isinstance(doc, dict) or doc.get("type") != "doc" or doc.get("version") != 1:
        return False

    def node_ok(node: Any) -> bool:
        if not isinstance(node, dict) or not isinstance(node.get("type"), str):
            return False
        if node["type"] == "text":
            return isinstance(node.get("text"), str) and bool(node["text"])
        return all(node_ok(n) for n in node.get("content", []))

    return isinstance(doc.get("content"), list) and all(node_ok(n) for n in doc["content"])


@dataclass
class GoogleChatWebhook:
    """A Google Chat space's incoming webhook: POST /v1/spaces/SPACE/messages?key=...&token=... with a JSON
    message; `thread.threadKey` (at most 4000 characters) replies in that key's thread only with
    `messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD` (or REPLY_MESSAGE_OR_FAIL); without it every message
    starts a new thread (MESSAGE_REPLY_OPTION_UNSPECIFIED ignores the key). Answers the message resource."""

    threads: dict[str, list[str]] = field(default_factory=dict)  # thread name -> texts, oldest first
    keys: dict[str, str] = field(default_factory=dict)  # thread key -> thread name

    def reply(self, method: str, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        from urllib.parse import parse_qs, urlsplit

        parts = urlsplit(path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if not parts.path.startswith("/v1/spaces/") or "key" not in query or "token" not in query:
            return 401 if "token" not in query else 404, {"error": {"code": 401, "status": "UNAUTHENTICATED"}}, {}
        option = query.get("messageReplyOption", "MESSAGE_REPLY_OPTION_UNSPECIFIED")
        if option not in ("MESSAGE_REPLY_OPTION_UNSPECIFIED", "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD",
                          "REPLY_MESSAGE_OR_FAIL"):
            return 400, {"error": {"code": 400, "status": "INVALID_ARGUMENT"}}, {}
        if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body["text"]:
            return 400, {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "Message cannot be empty"}}, {}
        key = str((body.get("thread") or {}).get("threadKey") or "")
        if len(key) > 4000:
            return 400, {"error": {"code": 400, "status": "INVALID_ARGUMENT"}}, {}
        if key and option != "MESSAGE_REPLY_OPTION_UNSPECIFIED":
            name = self.keys.setdefault(key, f"spaces/S/threads/T{len(self.threads) + 1}")
        else:
            name = f"spaces/S/threads/T{len(self.threads) + 1}"
        self.threads.setdefault(name, []).append(body["text"])
        return 200, {"name": f"{name}/messages/M{sum(map(len, self.threads.values()))}", "text": body["text"],
                     "thread": {"name": name, **({"threadKey": key} if key else {})}}, {}
