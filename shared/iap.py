"""The approver's identity behind Identity-Aware Proxy: IAP's signed `X-Goog-IAP-JWT-Assertion`, verified.

Never the plain `X-Goog-Authenticated-User-Email` header: anyone who reaches the service without passing through
IAP can set that. The assertion is an ES256 JWT signed by IAP; it is accepted only when its signature verifies
against IAP's published keys, its `aud` is this deployment's (the backend service or Cloud Run service, from
configuration), its `iss` is IAP's, and it is within `iat`/`exp`. The identity is its `email` claim.

Verification is google-auth's (`google.auth.jwt.decode`): the same call `google.oauth2.id_token.verify_token`
makes for a `{kid: PEM}` key document. `verify_token` itself is not used because it downloads the keys on every
call (a request per page view) and its JWK branch needs PyJWT, which is not a dependency (and skips the clock
skew). So the keys are fetched here, cached, refetched when an unknown key id appears (IAP rotates keys), and
a JWK set is converted to PEM with `cryptography` (which google-auth already needs for ES256).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from google.auth import exceptions as auth_exceptions

IAP_JWT_HEADER = "X-Goog-IAP-JWT-Assertion"
IAP_ISSUER = "https://cloud.google.com/iap"
IAP_CERTS_URL = "https://www.gstatic.com/iap/verify/public_key-jwk"
MAX_TOKEN_CHARS = 8192


def _decode_header(token: str) -> Any:
    """google-auth's JWT header decoding (imported on the first assertion: the JWT and crypto modules cost a cold
    start ~40 ms, and a web view without IAP never verifies one)."""
    from google.auth import jwt as google_jwt

    decode_header: Callable[[str], Any] = google_jwt.decode_header
    return decode_header(token)


def _decode(token: str, **kwargs: Any) -> Mapping[str, Any]:
    """google-auth's signature, audience and time checks (typed: google-auth carries no type hints)."""
    from google.auth import jwt as google_jwt

    decode: Callable[..., Mapping[str, Any]] = google_jwt.decode
    return decode(token, **kwargs)


# the public keys for a token's key id: {kid: PEM public key}; a cache may refetch on an unknown id
KeySource = Callable[[str], Mapping[str, str]]


class IapError(Exception):
    """The assertion is missing or does not verify; `reason` is safe to log (it never contains the token)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _b64url_int(value: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")


def keys_from_document(doc: Any) -> dict[str, str]:
    """IAP's key document as {kid: PEM}: a JWK set (`public_key-jwk`, EC P-256 keys) or a {kid: PEM} map
    (`public_key`). Keys of any other type are skipped."""
    if not isinstance(doc, dict):
        raise ValueError("the key document is not a JSON object")
    if "keys" not in doc:
        return {str(k): str(v) for k, v in doc.items() if isinstance(v, str) and "BEGIN PUBLIC KEY" in v}
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    keys: dict[str, str] = {}
    for jwk in doc.get("keys") or []:
        if not isinstance(jwk, dict) or jwk.get("kty") != "EC" or jwk.get("crv") != "P-256" or \
                jwk.get("use", "sig") != "sig" or not isinstance(jwk.get("kid"), str):
            continue
        public = ec.EllipticCurvePublicNumbers(_b64url_int(str(jwk["x"])), _b64url_int(str(jwk["y"])),
                                               ec.SECP256R1()).public_key()
        keys[jwk["kid"]] = public.public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return keys


def fetch_keys(url: str, timeout_s: float = 5.0) -> dict[str, str]:
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        return keys_from_document(json.loads(response.read()))


@dataclass
class CachedKeys:
    """IAP's public keys, fetched once and kept for `ttl_s`; a token with a key id not in the cache triggers
    one refetch, at most every `min_refetch_s` (so forged key ids cannot make us hammer the endpoint)."""

    url: str = IAP_CERTS_URL
    ttl_s: float = 3600.0
    min_refetch_s: float = 60.0
    fetch: Callable[[str], dict[str, str]] = fetch_keys
    clock: Callable[[], float] = time.monotonic
    _keys: dict[str, str] = field(default_factory=dict, init=False)
    _fetched_at: float | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __call__(self, kid: str) -> Mapping[str, str]:
        with self._lock:
            now = self.clock()
            stale = self._fetched_at is None or now - self._fetched_at > self.ttl_s
            unknown = kid not in self._keys and (self._fetched_at is None
                                                 or now - self._fetched_at >= self.min_refetch_s)
            if stale or unknown:
                try:
                    self._keys = self.fetch(self.url)
                except (OSError, ValueError) as exc:
                    if not self._keys:
                        raise IapError(f"could not fetch IAP's keys: {type(exc).__name__}") from exc
                else:
                    self._fetched_at = now
            return dict(self._keys)


@dataclass
class IapVerifier:
    """Verifies IAP assertions for one audience: "/projects/PROJECT_NUMBER/global/backendServices/SERVICE_ID"
    (IAP on a load balancer's backend service) or "/projects/PROJECT_NUMBER/locations/REGION/services/NAME"
    (IAP directly on Cloud Run)."""

    audience: str
    keys: KeySource = field(default_factory=CachedKeys)
    clock_skew_s: int = 30

    def __post_init__(self) -> None:
        if not self.audience.strip():
            raise ValueError("an IAP audience is required (AUTOSRE_IAP_AUDIENCE); without it any IAP-signed "
                             "token for another application would be accepted")

    def claims(self, token: str) -> dict[str, Any]:
        if not token:
            raise IapError("no IAP assertion")
        if len(token) > MAX_TOKEN_CHARS:
            raise IapError("IAP assertion too long")
        try:
            header = _decode_header(token)
        except (ValueError, TypeError, auth_exceptions.GoogleAuthError) as exc:
            raise IapError("malformed IAP assertion") from exc
        kid = header.get("kid") if isinstance(header, dict) else None
        if not isinstance(header, dict) or header.get("alg") != "ES256" or not isinstance(kid, str):
            raise IapError("IAP assertion is not ES256 with a key id")
        key = self.keys(kid).get(kid)
        if key is None:
            raise IapError("IAP assertion signed by an unknown key")
        try:
            claims = _decode(token, certs={kid: key}, audience=self.audience, clock_skew_in_seconds=self.clock_skew_s)
        except (ValueError, TypeError, auth_exceptions.GoogleAuthError) as exc:
            raise IapError(f"IAP assertion refused: {type(exc).__name__}") from exc
        if claims.get("iss") != IAP_ISSUER:
            raise IapError("IAP assertion from another issuer")
        return dict(claims)

    def email(self, token: str) -> str:
        """The verified approver: the assertion's `email` claim, lower-cased."""
        email = self.claims(token).get("email")
        if not isinstance(email, str) or "@" not in email:
            raise IapError("IAP assertion without an e-mail")
        return email.strip().lower()
