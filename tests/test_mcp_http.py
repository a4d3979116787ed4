"""The MCP server over the SDK's streamable HTTP transport behind IAP (the `mcp` function), driven by the SDK's own
client: a caller with a signed IAP assertion who is on the readers list lists and reads incidents, and what they
ask is recorded under the verified e-mail; no assertion, a forged one, the plain e-mail header, or a verified
caller who is not a reader is refused before any tool runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from functions.talk import Talk
from shared.iap import IAP_JWT_HEADER, IapVerifier
from tests.http_stub import serve
from tests.talk_data import copy_of, store_at
from tests.test_iap import APPROVER, AUDIENCE, KEY, KID, jwk_set, new_key, pem_public, sign

pytest.importorskip("mcp", reason="the MCP server needs the optional mcp package (pip install 'autosre[mcp]')")
import anyio  # installed with mcp
import httpx2  # the SDK's HTTP client

URL = "http://autosre-mcp.example/mcp"


def app_over(db: Path, readers: tuple[str, ...] = (APPROVER,)) -> Any:
    from functions.mcp_http import IapMcp

    public = pem_public(KEY)
    return IapMcp(Talk(store_at(db)), IapVerifier(AUDIENCE, keys=lambda kid: {KID: public}), readers)


async def conversation(app: Any, incident_id: str, assertion: str) -> dict[str, Any]:
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    out: dict[str, Any] = {}
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app),
                                  headers={IAP_JWT_HEADER: assertion}) as http, \
            streamable_http_client(URL, http_client=http) as streams, ClientSession(streams[0], streams[1]) as session:
        await session.initialize()

        async def call(name: str, **arguments: Any) -> Any:
            result = await session.call_tool(name, arguments)
            return json.loads(result.content[0].text)  # type: ignore[union-attr]

        out["tools"] = sorted(t.name for t in (await session.list_tools()).tools)
        out["list"] = await call("list_incidents")
        out["ask"] = await call("ask", incident_id=incident_id, question="what changed before the onset?")
        out["report"] = await call("read_report", incident_id=incident_id)
    return out


async def status_of(app: Any, headers: dict[str, str]) -> tuple[int, str]:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "list_incidents", "arguments": {}}}
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app)) as http:
        r = await http.post(URL, json=body, headers={"accept": "application/json, text/event-stream", **headers})
        return r.status_code, r.text


def test_a_verified_reader_lists_reads_and_asks_over_streamable_http(tmp_path: Path) -> None:
    t, db = copy_of("dual_fault", tmp_path)
    out = anyio.run(conversation, app_over(db), t.incident_id, sign())
    assert "approve" not in " ".join(out["tools"]) and len(out["tools"]) == 6
    assert [s["incident_id"] for s in out["list"]["incidents"]] == [t.incident_id]
    assert out["ask"]["source"] == "findings" and out["ask"]["cited"]
    assert out["report"]["questions"][0]["by"] == APPROVER  # the verified e-mail, nothing the client claimed


@pytest.mark.parametrize("headers, status", [
    ({}, 401),
    ({"X-Goog-Authenticated-User-Email": f"accounts.google.com:{APPROVER}"}, 401),
    ({IAP_JWT_HEADER: sign(key=new_key())}, 401),  # forged: signed by a key that is not IAP's
    ({IAP_JWT_HEADER: sign(aud="/projects/1/global/backendServices/2")}, 401),  # another application's
    ({IAP_JWT_HEADER: sign(email="mallory@example.com")}, 403),  # verified, but not a reader
], ids=["none", "plain-header", "forged", "other-audience", "not-a-reader"])
def test_no_tool_runs_without_a_verified_reader(tmp_path: Path, headers: dict[str, str], status: int) -> None:
    t, db = copy_of("dual_fault", tmp_path)
    code, text = anyio.run(status_of, app_over(db), headers)
    assert code == status, text
    assert t.incident_id not in text
    assert not Talk(store_at(db)).read_report(t.incident_id)["questions"]


def test_the_mcp_function_serves_a_reader_behind_iap_through_functions_framework(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The deployed target: functions-framework serves `mcp` with its ASGI server, the settings name the audience,
    IAP's key document and the readers; the keys are fetched from IAP's published JWK set (here a local stand-in)."""
    import functions_framework

    t, db = copy_of("dual_fault", tmp_path)
    with serve(lambda method, path, body: (200, jwk_set(KEY))) as keys:
        for name, value in {"AUTOSRE_STORE": "sqlite", "AUTOSRE_SQLITE_PATH": str(db), "AUTOSRE_IAP_AUDIENCE": AUDIENCE,
                            "AUTOSRE_IAP_CERTS_URL": keys.url, "AUTOSRE_READERS": APPROVER.upper()}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("AUTOSRE_APPROVERS", raising=False)
        monkeypatch.delitem(sys.modules, "main", raising=False)
        source = Path(__file__).resolve().parents[1] / "functions" / "main.py"
        create_app: Any = functions_framework.create_app  # untyped
        app = create_app("mcp", str(source))
        out = anyio.run(conversation, app, t.incident_id, sign())
        refused = anyio.run(status_of, app, {IAP_JWT_HEADER: sign(key=new_key())})
    assert [s["incident_id"] for s in out["list"]["incidents"]] == [t.incident_id]
    assert out["report"]["questions"][0]["by"] == APPROVER
    assert refused[0] == 401
