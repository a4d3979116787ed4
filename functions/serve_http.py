"""How `autosre serve` listens (functions/cli_serve.py): on a production WSGI server (waitress), loopback only.

- Limits: a request body over `MAX_BODY_BYTES` is answered 413 from its Content-Length, before any of it is read;
  headers over `MAX_HEADER_BYTES` are refused; a connection idle (or trickling a request) for `IDLE_TIMEOUT_S` is
  closed, so idle connections cannot hold the server; the connection limit bounds what they cost.
- Who is deciding: the approver the operator started the server with, and only for a client connecting from this
  machine (the peer address, never a header: a `Host: 127.0.0.1` header makes no remote client the operator).
  That fixed identity is not verified per person, so the server binds loopback addresses only: reaching it from
  other machines needs a verified identity (the web function behind IAP), or a tunnel (`ssh -L`).
- The executor line says what an approval will really do, from the same runner the approval path uses.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from flask import request

from functions.remediation import Remediation
from functions.web_security import Identity
from shared.config import Settings

MAX_BODY_BYTES = 1 << 20  # the largest form this server takes is a feedback note
MAX_HEADER_BYTES = 64 << 10
IDLE_TIMEOUT_S = 10
CONNECTION_LIMIT = 256
THREADS = 8


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or `localhost`) names this machine only."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def non_loopback_refusal(host: str) -> str:
    """Why `--host host` is refused ("" when it is a loopback address)."""
    if is_loopback(host):
        return ""
    return (f"--host {host}: not a loopback address. This server has no verified identity source: every approval "
            "is made as the --approver it was started with, so any client that could reach it would decide as "
            "that person. Bind 127.0.0.1 (the default) and reach it through a tunnel (ssh -L), or deploy the web "
            "function behind IAP, which verifies each person")


def local_only(identity: str) -> Identity:
    """The operator's fixed identity for a request from this machine (by its peer address), else nobody."""
    value = identity.strip().lower()

    def who() -> str:
        return value if is_loopback(request.remote_addr or "") else ""
    return who


def executor_line(remediation: Remediation, settings: Settings) -> str:
    """What an approved action will really do, from the runner the approval path uses."""
    if remediation.dry_run:
        return "dry run (actions only record their plan; AUTOSRE_EXECUTOR=cloud_run runs them)"
    actions = getattr(remediation.runner, "actions", {})
    ready = sorted(name for name in actions if name not in remediation.unavailable)
    webhook = f"; runbook webhook {settings.runbook_webhook_url}" if settings.runbook_webhook_url else ""
    return (f"LIVE, AUTOSRE_EXECUTOR={settings.executor}: an approval runs {', '.join(ready) or 'nothing'} "
            f"(project {settings.project or '(unset)'}, region {settings.region}{webhook})")


def listen(host: str, port: int) -> socket.socket:
    """The bound, listening socket (so what `serve` prints is where it listens). Raises OSError."""
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host.strip("[]"), port))
        listener.listen(128)
    except OSError:
        listener.close()
        raise
    return listener


def server(app: Any, listener: socket.socket) -> Any:
    """A waitress server over `listener` with this module's limits; `.run()` serves, `.close()` stops."""
    from waitress.server import create_server

    return create_server(app, sockets=[listener], threads=THREADS, connection_limit=CONNECTION_LIMIT,
                         channel_timeout=IDLE_TIMEOUT_S, cleanup_interval=1, max_request_body_size=MAX_BODY_BYTES,
                         max_request_header_size=MAX_HEADER_BYTES, asyncore_use_poll=True, ident="autosre",
                         expose_tracebacks=False, clear_untrusted_proxy_headers=True)
