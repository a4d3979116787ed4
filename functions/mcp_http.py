"""The MCP server over the SDK's streamable HTTP transport, behind Identity-Aware Proxy (the `mcp` function on
Google Cloud). Each request's caller is the `email` of IAP's signed `X-Goog-IAP-JWT-Assertion`, verified
(shared/iap.py); never a plain header. A request without a verified assertion gets 401, and a verified identity
that is not on the deployment's readers or approvers list gets 403: the incidents are read only by those.
Questions and hints are recorded under the verified identity; as over stdio, no tool approves or runs anything.

Stateless: each request gets a server of its own, bound to its caller, answering in JSON (no session to keep
between the instances Cloud Run scales to).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from typing import Any

from functions.talk import Talk
from shared.iap import IAP_JWT_HEADER, IapError, IapVerifier

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
PATH = "/mcp"


async def _refuse(send: Send, status: int, reason: str) -> None:
    body = json.dumps({"error": reason}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _assertion(scope: Scope) -> str:
    wanted = IAP_JWT_HEADER.lower().encode()
    for name, value in scope.get("headers") or []:
        if bytes(name).lower() == wanted:
            return bytes(value).decode("latin-1")
    return ""


class IapMcp:
    """An ASGI app: IAP's verified caller, scoped to `readers`, then the MCP server's streamable HTTP transport."""

    def __init__(self, talk: Talk, verifier: IapVerifier, readers: Collection[str]):
        self.talk = talk
        self.verifier = verifier
        self.readers = frozenset(r.strip().lower() for r in readers if r.strip())

    async def caller(self, scope: Scope) -> tuple[str, int, str]:
        """(identity, 0, "") for a verified reader, else ("", HTTP status, reason)."""
        import anyio

        try:  # the first assertion fetches IAP's keys: off the event loop
            email = await anyio.to_thread.run_sync(self.verifier.email, _assertion(scope))
        except IapError as exc:
            log.warning("MCP request refused: %s", exc.reason)
            return "", 401, "no verified IAP identity"
        if email not in self.readers:
            log.warning("MCP request refused: %s is not a reader", email)
            return "", 403, f"{email} may not read this deployment's incidents"
        return email, 0, ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan and websockets: nothing to do here
            return
        identity, status, reason = await self.caller(scope)
        if not identity:
            await _refuse(send, status, reason)
            return
        from mcp.server.transport_security import TransportSecuritySettings

        from functions.mcp_server import build_server

        server = build_server(self.talk, identity)
        # behind IAP the Host is the deployment's; a DNS-rebinding page gets no IAP session, so no host check
        app = server.streamable_http_app(streamable_http_path=PATH, stateless_http=True, json_response=True,
                                         transport_security=TransportSecuritySettings(
                                             enable_dns_rebinding_protection=False))
        async with server.session_manager.run():
            await app({**scope, "path": PATH, "raw_path": PATH.encode(), "root_path": ""}, receive, send)
