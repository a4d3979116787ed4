"""Outbound POSTs to configured endpoints (the runbook webhook, the chat notifier): http(s) only, and a redirect
is an answer, never followed. urllib follows 301/302/303 as a GET without the body, so a webhook behind a sign-in
page would "succeed" on the login page; here any 3xx raises an `HTTPError` whose message names its Location."""

from __future__ import annotations

import urllib.error
import urllib.request
from email.message import Message
from http.client import HTTPResponse
from typing import IO
from urllib.parse import urlsplit

SCHEMES = ("http", "https")


class UnsupportedScheme(ValueError):
    """The endpoint's address is not http(s): no request is made."""


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
                         headers: Message, newurl: str) -> urllib.request.Request | None:
        raise urllib.error.HTTPError(req.full_url, code, f"redirected to {headers.get('Location', '?')} "
                                                         "(not followed)", headers, fp)


OPENER = urllib.request.build_opener(NoRedirects())


def check_scheme(url: str) -> None:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in SCHEMES:
        raise UnsupportedScheme(f"only http and https endpoints are used, not {scheme or 'a relative address'!r}")


def post(request: urllib.request.Request, timeout_s: float) -> HTTPResponse:
    """Open `request` (http(s) only, no redirect followed). Raises UnsupportedScheme, HTTPError (4xx, 5xx and
    3xx), URLError and OSError as urllib does."""
    check_scheme(request.full_url)
    response: HTTPResponse = OPENER.open(request, timeout=timeout_s)
    return response


def describe(exc: urllib.error.HTTPError) -> str:
    """`HTTP 302 (redirected to https://sso.example/login)` for a redirect, `HTTP 500` otherwise."""
    location = exc.headers.get("Location") if exc.headers is not None else None
    return f"HTTP {exc.code}" + (f" (redirected to {location}: not followed)" if 300 <= exc.code < 400 else "")
