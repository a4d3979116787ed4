"""Approval links: HMAC-signed tokens bound to an incident, a proposal, an action and an expiry; and the CSRF
token every form that writes carries (`form_token`).

A token is `base64url(claims JSON) "." base64url(HMAC-SHA256(key, claims))`. Verifying checks the signature in
constant time, then the expiry, then (by the caller) that the claims match what is being decided. Single use is
the store's job: deciding claims the token's id once (create-if-absent), so a second use finds it taken.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import NamedTuple

MIN_KEY_BYTES = 32


def form_token(key: bytes, purpose: str, *bound_to: str) -> str:
    """A form's CSRF token: an HMAC with the key of what the form does (`purpose`) and what it is bound to (the
    incident, the person it was rendered for, the approval link), so a token for one form, incident or person is
    refused by every other."""
    return hmac.new(key, "\x1f".join((purpose, *bound_to)).encode(), hashlib.sha256).hexdigest()


def form_token_matches(token: str, key: bytes, purpose: str, *bound_to: str) -> bool:
    """Whether `token` is the form's CSRF token (compared in constant time)."""
    return hmac.compare_digest(token, form_token(key, purpose, *bound_to))


class TokenError(ValueError):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason  # malformed | forged | expired | mismatched | used


class Claims(NamedTuple):
    incident_id: str
    proposal_id: str
    action: str
    expires_at: float
    token_id: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check_key(key: bytes) -> None:
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the approval signing key must have at least {MIN_KEY_BYTES} bytes")


def issue(key: bytes, incident_id: str, proposal_id: str, action: str, ttl_s: float = 3600.0,
          now: float | None = None) -> str:
    check_key(key)
    claims = Claims(incident_id, proposal_id, action, (time.time() if now is None else now) + ttl_s,
                    secrets.token_hex(12))
    body = json.dumps(claims._asdict(), sort_keys=True, separators=(",", ":")).encode()
    return _b64(body) + "." + _b64(hmac.new(key, body, hashlib.sha256).digest())


def verify(key: bytes, token: str, now: float | None = None) -> Claims:
    check_key(key)
    try:
        body_text, signature_text = token.split(".")
        body, signature = _unb64(body_text), _unb64(signature_text)
    except (ValueError, TypeError):
        raise TokenError("malformed", "the approval link is malformed") from None
    if not hmac.compare_digest(signature, hmac.new(key, body, hashlib.sha256).digest()):
        raise TokenError("forged", "the approval link's signature is not valid")
    try:
        claims = Claims(**json.loads(body))
    except (ValueError, TypeError):
        raise TokenError("malformed", "the approval link's claims are malformed") from None
    if (time.time() if now is None else now) >= claims.expires_at:
        raise TokenError("expired", "the approval link has expired")
    return claims


def require_match(claims: Claims, incident_id: str, proposal_id: str) -> None:
    if (claims.incident_id, claims.proposal_id) != (incident_id, proposal_id):
        raise TokenError("mismatched", "the approval link is for another incident or proposal")
