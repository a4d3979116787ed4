"""A credential from the settings, or from Secret Manager when the settings name a secret instead.

Deployed functions may also mount a secret as the setting's environment variable (infra/); naming the secret lets
a credential be read without one. The read is Secret Manager's REST method `versions.access`
(GET https://secretmanager.googleapis.com/v1/projects/P/secrets/S/versions/V:access, the function's own identity
through Application Default Credentials): it answers `{"name": ..., "payload": {"data": base64, "dataCrc32c": ...}}`
and the checksum, when given, is verified (Secret Manager's documented integrity check).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

SECRET_MANAGER = "https://secretmanager.googleapis.com/v1"

Get = Callable[[str], tuple[int, bytes]]  # url -> (HTTP status, body)


class SecretError(RuntimeError):
    pass


def version_name(secret: str) -> str:
    """projects/P/secrets/S -> projects/P/secrets/S/versions/latest; a version named stays as it is."""
    parts = secret.strip("/").split("/")
    if len(parts) == 4 and parts[0] == "projects" and parts[2] == "secrets":
        return "/".join(parts) + "/versions/latest"
    if len(parts) == 6 and parts[0] == "projects" and parts[2] == "secrets" and parts[4] == "versions":
        return "/".join(parts)
    raise SecretError(f"not a Secret Manager secret name: {secret!r} (projects/P/secrets/NAME[/versions/V])")


def credential(value: str, secret: str, get: Get | None = None, endpoint: str = SECRET_MANAGER) -> str:
    """`value` when set, else the secret's payload ("" when neither is set). Raises SecretError when the secret
    cannot be read."""
    if value or not secret:
        return value
    url = f"{endpoint.rstrip('/')}/{version_name(secret)}:access"
    status, body = (get or _adc_get)(url)
    if status != 200:
        raise SecretError(f"Secret Manager answered HTTP {status} for {version_name(secret)}")
    try:
        payload = json.loads(body)["payload"]
        data = base64.b64decode(payload["data"])
    except (ValueError, KeyError, TypeError) as exc:
        raise SecretError(f"Secret Manager's answer has no payload: {exc}") from None
    if payload.get("dataCrc32c") is not None:
        import google_crc32c

        if int(payload["dataCrc32c"]) != google_crc32c.value(data):
            raise SecretError("the secret's payload does not match its checksum")
    return data.decode("utf-8").strip()


def _adc_get(url: str) -> tuple[int, bytes]:
    import google.auth
    from google.auth.transport.requests import AuthorizedSession

    creds, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    response = AuthorizedSession(creds).get(url, timeout=10)  # type: ignore[no-untyped-call]
    return response.status_code, response.content
