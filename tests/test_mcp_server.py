"""The MCP server, driven by the `mcp` SDK's own client over stdio (`autosre mcp`): list incidents, read a report
and its findings, ask a follow-up, add a hint that re-ranks, start an investigation; no tool approves or runs."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.talk_data import copy_of

pytest.importorskip("mcp", reason="the MCP server needs the optional mcp package (pip install 'autosre[mcp]')")
import anyio  # installed with mcp

ROOT = Path(__file__).resolve().parents[1]
WHO = "mcp-test@example.com"


async def conversation(db: Path, bundle: Path, incident_id: str, start_at: float) -> dict[str, Any]:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(
        command=sys.executable, args=["-m", "functions.cli", "mcp", "--db", str(db), "--telemetry", str(bundle),
                                      "--as", WHO],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=str(ROOT))
    out: dict[str, Any] = {}
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        out["tools"] = sorted(t.name for t in (await session.list_tools()).tools)

        async def call(name: str, **arguments: Any) -> Any:
            result = await session.call_tool(name, arguments)
            return json.loads(result.content[0].text)  # type: ignore[union-attr]

        out["list"] = await call("list_incidents")
        out["report"] = await call("read_report", incident_id=incident_id)
        top = out["report"]["report"]["causes"][0]
        out["findings"] = await call("read_findings", incident_id=incident_id, finding_ids=top["evidence"][:2])
        second = out["report"]["report"]["causes"][1]["service"]
        out["ask"] = await call("ask", incident_id=incident_id, question=f"why not {second}?")
        out["hint"] = await call("add_hint", incident_id=incident_id, kind="service", service=second)
        out["bad_hint"] = await call("add_hint", incident_id=incident_id, kind="approve", service="x")
        out["start"] = await call("start_investigation", service="cart", at=start_at)
        out["after"] = await call("read_report", incident_id=incident_id)
    return out


def test_an_mcp_client_lists_reads_asks_hints_and_starts_over_stdio(tmp_path: Path) -> None:
    t, db = copy_of("dual_fault", tmp_path)
    onset = json.loads(Path(t.scenario.alert_path).read_text())["incident"]["started_at"]
    out = anyio.run(conversation, db, t.scenario.bundle_dir, t.incident_id, float(onset))
    assert out["tools"] == sorted(["list_incidents", "read_report", "read_findings", "ask", "add_hint",
                                   "start_investigation"])  # nothing approves or runs a remediation
    assert [s["incident_id"] for s in out["list"]["incidents"]] == [t.incident_id]
    causes = out["report"]["report"]["causes"]
    assert [f["finding_id"] for f in out["findings"]["findings"]] == causes[0]["evidence"][:2]
    assert out["ask"]["intent"] == "why_not" and out["ask"]["source"] == "findings" and out["ask"]["cited"]
    assert out["hint"]["after"][0] == causes[1]["service"]  # the hinted true cause moved up
    assert "error" in out["bad_hint"]
    assert out["start"]["incident_id"] and out["start"]["incident_id"] != t.incident_id
    assert not out["start"]["pending"] and out["start"]["causes"]
    after = out["after"]
    assert after["questions"][0]["by"] == WHO and after["hints"][0]["by"] == WHO
    assert after["report"]["causes"][0]["service"] == causes[1]["service"]
