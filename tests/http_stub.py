"""A local HTTP stand-in for the APIs that have no emulator (Logging, Trace, Gemini, webhooks): each request
is recorded and answered by a function of (method, path, JSON body) -> (status, JSON reply)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

Reply = Callable[[str, str, Any], tuple[int, Any]]


@dataclass
class Stub:
    url: str
    requests: list[tuple[str, str, Any, dict[str, str]]] = field(default_factory=list)  # method, path, body, headers


@contextmanager
def serve(reply: Reply) -> Iterator[Stub]:
    stub = Stub("")

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            stub.requests.append((self.command, self.path, body, dict(self.headers)))
            status, payload = reply(self.command, self.path, body)
            data = json.dumps(payload).encode() if payload is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    stub.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield stub
    finally:
        httpd.shutdown()
