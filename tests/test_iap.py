"""The approver's identity behind IAP: only a signed `X-Goog-IAP-JWT-Assertion`, verified with google-auth against
IAP's public keys (here a locally generated EC P-256 key, served as a JWK set by a local HTTP stand-in) and the
configured audience. Every bad token, and the plain `X-Goog-Authenticated-User-Email` header, is refused."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from google.auth import jwt as gjwt
from google.auth.crypt import es
from werkzeug.test import EnvironBuilder

from shared.iap import IAP_ISSUER, CachedKeys, IapError, IapVerifier, keys_from_document
from tests.http_stub import Stub, serve

AUDIENCE = "/projects/123456/global/backendServices/987654"
KID = "test-key-1"
APPROVER = "alice@example.com"


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


KEY = new_key()


def pem_private(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def pem_public(key: ec.EllipticCurvePrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def b64url(n: int) -> str:
    return base64.urlsafe_b64encode(n.to_bytes(32, "big")).rstrip(b"=").decode()


def jwk_set(key: ec.EllipticCurvePrivateKey, kid: str = KID) -> dict[str, Any]:
    """IAP's public_key-jwk document shape."""
    numbers = key.public_key().public_numbers()
    return {"keys": [{"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
                      "x": b64url(numbers.x), "y": b64url(numbers.y)}]}


def sign(claims: dict[str, Any] | None = None, key: ec.EllipticCurvePrivateKey = KEY, kid: str = KID,
         **overrides: Any) -> str:
    now = int(time.time())
    payload = {"iss": IAP_ISSUER, "aud": AUDIENCE, "email": APPROVER, "sub": "accounts.google.com:1234",
               "iat": now - 5, "exp": now + 600, **(claims or {}), **overrides}
    signer = es.EsSigner.from_string(pem_private(key), kid)
    return gjwt.encode(signer, payload).decode()


def verifier(key: ec.EllipticCurvePrivateKey = KEY) -> IapVerifier:
    public = pem_public(key)
    return IapVerifier(AUDIENCE, keys=lambda kid: {KID: public})


def test_a_valid_assertion_yields_its_email() -> None:
    assert verifier().email(sign()) == APPROVER
    assert verifier().email(sign(email="Alice@Example.COM")) == APPROVER


def hs256_forgery() -> str:
    import hashlib
    import hmac

    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    now = int(time.time())
    head = part({"alg": "HS256", "typ": "JWT", "kid": KID})
    body = part({"iss": IAP_ISSUER, "aud": AUDIENCE, "email": "mallory@example.com", "iat": now, "exp": now + 60})
    sig = hmac.new(pem_public(KEY).encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{base64.urlsafe_b64encode(sig).rstrip(b'=').decode()}"


def unsigned() -> str:
    valid = sign()
    head = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT","kid":"test-key-1"}').rstrip(b"=").decode()
    return head + "." + valid.split(".")[1] + "."


def bad_tokens() -> list[tuple[str, str]]:
    now = int(time.time())
    valid = sign()
    head, _, sig = valid.split(".")
    tampered_body = base64.urlsafe_b64encode(json.dumps(
        {"iss": IAP_ISSUER, "aud": AUDIENCE, "email": "mallory@example.com", "iat": now, "exp": now + 600}).encode()
    ).rstrip(b"=").decode()
    return [
        ("wrong audience", sign(aud="/projects/1/global/backendServices/2")),
        ("expired", sign(iat=now - 3600, exp=now - 1800)),
        ("issued in the future", sign(iat=now + 3600, exp=now + 7200)),
        ("wrong issuer", sign(iss="https://accounts.google.com")),
        ("bad signature (another key)", sign(key=new_key())),
        ("tampered claims", f"{head}.{tampered_body}.{sig}"),
        ("unknown key id", sign(kid="other-key")),
        ("no email", sign(email="")),
        ("alg none", unsigned()),
        ("alg HS256 with the public key as secret", hs256_forgery()),
        ("empty", ""),
        ("garbage", "not.a.jwt"),
    ]


@pytest.mark.parametrize("case", range(12))
def test_bad_assertions_are_refused(case: int) -> None:
    name, token = bad_tokens()[case]
    try:
        verifier().email(token)
    except IapError:
        return
    pytest.fail(f"accepted: {name}")


def test_an_empty_audience_is_a_configuration_error() -> None:
    with pytest.raises(ValueError):
        IapVerifier("", keys=lambda kid: {})


@pytest.fixture()
def key_server() -> Iterator[tuple[Stub, list[dict[str, Any]]]]:
    documents = [jwk_set(KEY)]

    def reply(method: str, path: str, body: Any) -> tuple[int, Any]:
        return 200, documents[0]

    with serve(reply) as stub:
        yield stub, documents


def test_keys_are_fetched_as_a_jwk_set_cached_and_refetched_for_a_new_key(key_server: Any) -> None:
    stub, documents = key_server
    keys = CachedKeys(f"{stub.url}/iap/verify/public_key-jwk", min_refetch_s=0.0)
    v = IapVerifier(AUDIENCE, keys=keys)
    assert v.email(sign()) == APPROVER and v.email(sign()) == APPROVER
    assert len(stub.requests) == 1  # cached
    rotated = new_key()
    documents[0] = jwk_set(rotated, "test-key-2")
    assert v.email(sign(key=rotated, kid="test-key-2")) == APPROVER  # an unknown kid refetches once
    assert len(stub.requests) == 2
    with pytest.raises(IapError):
        v.email(sign())  # the old key is gone from the set


def test_pem_documents_are_accepted_too() -> None:
    assert keys_from_document({KID: pem_public(KEY)}) == {KID: pem_public(KEY)}
    converted = keys_from_document(jwk_set(KEY))
    assert IapVerifier(AUDIENCE, keys=lambda kid: converted).email(sign()) == APPROVER


# ------------------------------------------------------------------ the deployed `web` function


@pytest.fixture(scope="module")
def incident_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    from demo.generator import generate
    from functions.local import triage
    from shared.store.sqlite import SqliteEventStore
    from shared.telemetry.bundle import BundleSource

    root = tmp_path_factory.mktemp("iapweb")
    scenario = generate("bad_deploy", root / "demo", seed=3)
    db = root / "events.db"
    store = SqliteEventStore(str(db))
    result = triage(scenario.alert_path.read_bytes(), BundleSource(scenario.bundle_dir), store=store)
    store.close()  # checkpoints the write-ahead log into the file each test copies
    return db, result.incident_id


@pytest.fixture()
def web_function(incident_db: Any, key_server: Any, monkeypatch: pytest.MonkeyPatch,
                 tmp_path: Path) -> tuple[Any, str]:
    import shutil

    import functions.main as main

    db, incident_id = incident_db
    copy = tmp_path / "events.db"
    shutil.copy(db, copy)
    stub, _ = key_server
    for name, value in {"STORE": "sqlite", "SQLITE_PATH": str(copy), "APPROVAL_KEY": "k" * 32,
                        "APPROVERS": APPROVER, "POLICY": '{"allow": {"*": ["rollback_cloud_run"]}}',
                        "IAP_AUDIENCE": AUDIENCE, "IAP_CERTS_URL": f"{stub.url}/iap/verify/public_key-jwk",
                        "LOCAL_IDENTITY": APPROVER}.items():
        monkeypatch.setenv(f"AUTOSRE_{name}", value)
    monkeypatch.delenv("AUTOSRE_TELEMETRY", raising=False)
    monkeypatch.setattr(main, "_pipeline", None)
    monkeypatch.setattr(main, "_web", None)
    return main, incident_id


def call(main: Any, path: str, method: str = "GET", headers: dict[str, str] | None = None,
         data: dict[str, str] | None = None) -> Any:
    request = EnvironBuilder(path=path, method=method, headers=headers or {}, data=data,
                             base_url="https://sre.example").get_request()
    return main.web(request)


def decisions(main: Any, incident_id: str) -> dict[str, Any]:
    from shared.incident_state import fold

    return dict(fold(main.pipeline().store.load(incident_id)).decisions)


def approve_with(main: Any, incident_id: str, headers: dict[str, str]) -> int:
    import re

    from functions.runtime import remediation_of
    from shared.config import Settings

    remediation = remediation_of(Settings.from_env(), main.pipeline().store)
    state = remediation.log.read(incident_id)
    assert state is not None
    pid = next(iter(state.proposals))
    token = remediation.link_token(incident_id, pid)
    link_page = call(main, "/approve", headers=headers)  # the link's fragment never reaches the function
    assert link_page.status_code == 200 and "script-src 'sha256-" in link_page.headers["Content-Security-Policy"]
    assert call(main, f"/approve?token={token}", headers=headers).status_code == 400  # an old query-string link
    page = call(main, "/approve/preview", "POST", headers=headers, data={"token": token}).get_data(as_text=True)
    csrf = re.search(r"name=csrf value='([^']+)'", page)
    form = {"token": token, "csrf": csrf.group(1) if csrf else "", "decision": "approve"}
    status: int = call(main, "/approve", "POST", headers=headers, data=form).status_code
    return status


def test_the_web_function_takes_the_identity_from_the_verified_assertion_only(web_function: Any) -> None:
    main, incident_id = web_function
    for forged in ({"X-Goog-Authenticated-User-Email": f"accounts.google.com:{APPROVER}"}, {},
                   {"X-Goog-IAP-JWT-Assertion": sign(aud="/projects/1/global/backendServices/2")},
                   {"X-Goog-IAP-JWT-Assertion": sign(key=new_key())},
                   {"X-Goog-IAP-JWT-Assertion": sign(iss="https://cloud.google.com/iap/other")},
                   {"X-Goog-IAP-JWT-Assertion": sign(exp=int(time.time()) - 600)}):
        assert approve_with(main, incident_id, forged) == 403, forged
        assert decisions(main, incident_id) == {}
    ok = approve_with(main, incident_id, {"X-Goog-IAP-JWT-Assertion": sign(),
                                          "X-Goog-Authenticated-User-Email": "accounts.google.com:bob@example.com"})
    assert ok == 200
    (decision,) = decisions(main, incident_id).values()
    assert decision.approver == APPROVER
