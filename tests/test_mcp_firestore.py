"""`autosre mcp --store firestore --project P`: a deployment's incidents for an MCP client, run as a person runs it (a
subprocess over stdio, driven by the `mcp` SDK's own client) against the Firestore emulator, which the client finds
through FIRESTORE_EMULATOR_HOST as it finds Application Default Credentials otherwise: list, read, ask, hint."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from demo.generator import generate
from functions.local import triage
from shared.store.firestore import FirestoreEventStore
from shared.telemetry.bundle import BundleSource

pytest.importorskip("mcp", reason="the MCP server needs the optional mcp package (pip install 'autosre[mcp]')")
import anyio  # installed with mcp

pytestmark = pytest.mark.emulator
ROOT = Path(__file__).resolve().parents[1]
WHO = "mcp-firestore@example.com"


async def conversation(project: str, incident_id: str) -> dict[str, Any]:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PUBSUB_EMULATOR_HOST", None)  # nothing here may need Pub/Sub: list, read, ask and re-rank
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "functions.cli", "mcp", "--store", "firestore", "--project", project,
                                      "--as", WHO], env=env, cwd=str(ROOT))
    out: dict[str, Any] = {}
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()

        async def call(name: str, **arguments: Any) -> Any:
            result = await session.call_tool(name, arguments)
            return json.loads(result.content[0].text)  # type: ignore[union-attr]

        out["list"] = await call("list_incidents")
        out["report"] = await call("read_report", incident_id=incident_id)
        causes = out["report"]["report"]["causes"]
        out["findings"] = await call("read_findings", incident_id=incident_id, finding_ids=causes[0]["evidence"][:2])
        other = causes[1]["service"] if len(causes) > 1 else causes[0]["service"]
        out["ask"] = await call("ask", incident_id=incident_id, question=f"why not {other}?")
        out["hint"] = await call("add_hint", incident_id=incident_id, kind="service", service=other)
        out["after"] = await call("read_report", incident_id=incident_id)
    return out


def test_an_mcp_client_reads_asks_and_hints_on_a_deployments_firestore(firestore_emulator: Any, project_id: str,
                                                                      tmp_path: Path) -> None:
    scenario = generate("dual_fault", tmp_path / "demo", seed=7)
    store = FirestoreEventStore(project_id)
    incident_id = triage(scenario.alert_path.read_bytes(), BundleSource(scenario.bundle_dir),
                         store=store).incident_id
    out = anyio.run(conversation, project_id, incident_id)
    assert "error" not in out["list"], out["list"]
    assert [s["incident_id"] for s in out["list"]["incidents"]] == [incident_id]
    assert "error" not in out["report"], out["report"]
    causes = out["report"]["report"]["causes"]
    assert [f["finding_id"] for f in out["findings"]["findings"]] == causes[0]["evidence"][:2]
    assert out["ask"]["source"] == "findings" and out["ask"]["cited"], out["ask"]
    assert out["hint"].get("recorded") is True and not out["hint"]["pending"], out["hint"]
    after = out["after"]
    assert after["questions"][0]["by"] == WHO and after["hints"][0]["by"] == WHO
    assert after["report"]["round"] == out["hint"]["round"]


async def start(project: str, at: float) -> dict[str, Any]:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(
        command=sys.executable, args=["-m", "functions.cli", "mcp", "--store", "firestore", "--project", project,
                                      "--as", WHO], env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=str(ROOT))
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        result = await session.call_tool("start_investigation", {"service": "checkout", "at": at})
        return json.loads(result.content[0].text)  # type: ignore[no-any-return, union-attr]


def test_a_started_investigation_goes_to_the_deployments_alerts_topic(firestore_emulator: Any, pubsub_emulator: Any,
                                                                     project_id: str) -> None:
    """`start_investigation` records nothing itself: it hands the requested alert to the topic the deployment's
    intake reads (here the Pub/Sub emulator, found through PUBSUB_EMULATOR_HOST), and says the request is pending."""
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    from functions.topology import subscriptions
    from shared import topics
    from shared.bus.pubsub_topology import ensure_topology

    ensure_topology(project_id, topics.ALL, subscriptions())
    out = anyio.run(start, project_id, 1768471345.0)
    assert "error" not in out, out
    assert out["pending"] is True and out["incident_id"] == "" and out["request"].startswith("0.requested-")
    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(project_id, "intake")
    (received,) = subscriber.pull(request={"subscription": path, "max_messages": 10}, timeout=20).received_messages
    alert = json.loads(received.message.data)["incident"]
    assert alert["incident_id"] == out["request"] and alert["resource"]["labels"]["service_name"] == "checkout"
    assert alert["condition_name"] == f"requested by {WHO}" and received.message.attributes["autosre_requested"] == "1"
