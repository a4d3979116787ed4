"""What guards the web view (functions/handlers/web.py): who is deciding, which hosts are served, the security
headers, and approval tokens kept out of every log.

An approval link is `/approve#token=...`: the token is in the fragment, which browsers never send, so it is in no
URL a server, proxy or load balancer sees or logs; GET /approve returns a page whose one script (allowed by its hash
in that page's CSP) reads the fragment and POSTs it. The approver's identity comes from something signed and
verified: behind IAP, the `X-Goog-IAP-JWT-Assertion` (shared/iap.py); locally, the identity the operator started
the server with. The plain `X-Goog-Authenticated-User-Email` header is never read. A token in a query string (an
old `/approve?token=` link) is refused and never echoed. Requests for a Host we do not serve are refused (DNS
rebinding), and approval tokens are kept out of our own request log too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from flask import Flask, Response, g, request

from functions import web_render as render

if TYPE_CHECKING:  # the verifier (google-auth's JWT, the key fetcher) is imported where IAP is configured
    from shared.iap import IapVerifier

log = logging.getLogger("autosre.web")
Identity = Callable[[], str]  # the verified approver of the current request, "" when there is none
LOOPBACK = ("localhost", "127.0.0.1", "[::1]")
ANY_HOST = "*"
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")  # no script runs on any page but GET /approve's
APPROVE_PAGE_CSP = f"{CSP}; script-src '{render.APPROVE_SCRIPT_HASH}'"  # that one constant script, by its hash
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # no token leaks to other sites; our own POSTs keep a real Origin
    "Cache-Control": "no-store",
}


def fixed_identity(identity: str) -> Identity:
    """`autosre serve`: the identity the operator started the server with; no request can change it."""
    value = identity.strip().lower()
    return lambda: value


def iap_identity(verifier: IapVerifier) -> Identity:
    """Behind IAP: the `email` of a verified `X-Goog-IAP-JWT-Assertion`, else nobody."""
    from shared.iap import IAP_JWT_HEADER, IapError

    def identity() -> str:
        try:
            return verifier.email(request.headers.get(IAP_JWT_HEADER, ""))
        except IapError as exc:
            log.warning("no verified identity: %s", exc.reason)
            return ""
    return identity


def local_hosts(host: str, port: int) -> frozenset[str]:
    """The Host values `autosre serve --host HOST --port PORT` answers to: the bound address and loopback names,
    with the port (a browser sends the port whenever it is not 80)."""
    names = {host.lower(), *LOOPBACK} - {"", "0.0.0.0", "::", "[::]"}
    bracketed = {f"[{n}]" if ":" in n and not n.startswith("[") else n for n in names}
    return frozenset(f"{n}:{port}" for n in bracketed) | (frozenset(bracketed) if port == 80 else frozenset())


def host_allowed(host: str, allowed: Collection[str] | None) -> bool:
    """`allowed` None: loopback names on any port (the safe default); "*" in it: any host (behind IAP, where a
    rebinding page gets no IAP session); else the exact host[:port] values."""
    host = host.strip().lower()
    if allowed is None:
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return name in LOOPBACK
    return ANY_HOST in allowed or host in {h.strip().lower() for h in allowed}


TOKEN_IN_TEXT = re.compile(r"((?:^|[?&#\s\"'])(?:token|csrf)=)[^&\s\"']*", re.IGNORECASE)


class RedactTokens(logging.Filter):
    """Rewrites a record so no approval token (`token=` / `csrf=` in a query string or a fragment) reaches any
    handler. Approval links keep the token out of every URL a server sees; this is the second line."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = TOKEN_IN_TEXT.sub(r"\1[redacted]", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


REDACT_TOKENS = RedactTokens()


LEGACY_LINK = ("This link carries its approval token in the address's query string, which proxies and load "
               "balancers write to their request logs, so it is no longer accepted. Approval links now carry the "
               "token after '#', a part of the address browsers never send. Open the incident's page and follow "
               "its approval link.")


def keep_tokens_out_of_logs() -> None:
    """werkzeug's development server (`autosre serve`) logs every request line, query string included."""
    for name in ("werkzeug", log.name):
        logging.getLogger(name).addFilter(REDACT_TOKENS)  # the same filter object is added once


def html(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/html")


def cross_site() -> Response | None:
    """A POST from another site (its Origin is not the Host it was sent to, which is itself allow-listed)."""
    origin = request.headers.get("Origin")
    if origin and urlsplit(origin).netloc.lower() != request.host.lower():
        return html(render.message_page("Refused", "cross-site request"), 403)
    return None


def guard(app: Flask, allowed_hosts: Collection[str] | None) -> None:
    """Refuse unknown hosts and tokens in query strings before any route runs; every response gets the security
    headers (and the CSP its route chose, `g.csp`)."""
    keep_tokens_out_of_logs()

    @app.before_request
    def known_host() -> Response | None:
        if not host_allowed(request.host, allowed_hosts):
            log.warning("refused a request for an unknown Host")
            return html(render.message_page("Unknown host", "This server does not answer to that host name."), 400)
        return None

    @app.before_request
    def no_token_in_the_url() -> Response | None:
        """An old `/approve?token=` link: its token is in the request logs of every proxy and load balancer on the
        way, so it is refused, and neither echoed nor verified."""
        if request.path.startswith("/approve") and any(name.lower() == "token" for name in request.args):
            log.warning("refused an approval request with a token in its query string")
            return html(render.message_page("Approval link refused", LEGACY_LINK), 400)
        return None

    @app.after_request
    def secure(response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        response.headers["Content-Security-Policy"] = g.get("csp", CSP)
        return response
