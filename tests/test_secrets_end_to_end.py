"""Black box: every format of the secret corpus planted in a telemetry bundle (as log lines; base64 key bodies one
line per entry; a corrupt line whose timestamp quotes a credential; the alert's summary and documentation),
triaged by the `autosre` command, and by the deployed pipeline with a chat webhook and a narrative model
configured, and every output grepped: the store, the text report, the JSON report, the web page and the API (in
process and from a real `autosre serve`), the postmortem, the chat message and the model's prompt. Not one secret
may appear in any of them."""

from __future__ import annotations

import html
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from demo.generator import generate
from functions.handlers.web import create_app
from shared.store.sqlite import SqliteEventStore
from tests.http_stub import Stub, serve
from tests.test_secret_corpus import CORPUS

pytest.importorskip("google.genai")

CORRUPT_SECRET = "ghp_" + "Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0LzXcVb"  # a token a corrupt line quotes as its timestamp
ALERT_SECRET = "Tr0ub4dor&3-" + "alert"
LINE_BY_LINE = {"pem-one-line-per-entry", "pem-rsa-private-key", "openssh-private-key", "rfc4716-ssh2-private-key",
                "rfc4716-ssh2-key-body"}
SECRETS = sorted({s for e in CORPUS for s in e["secret"]} | {CORRUPT_SECRET, ALERT_SECRET})


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("planted")
    scenario = generate("bad_deploy", root, seed=5)
    logs = scenario.bundle_dir / "logs.jsonl"
    records = [json.loads(line) for line in logs.read_text().splitlines() if line.strip()]
    labels = {"service_name": scenario.root_service, "pod_name": f"{scenario.root_service}-7d9f8b6c5d-x2vzq"}
    t = scenario.onset + 20
    for i, entry in enumerate(CORPUS):
        # base64 key bodies arrive one line per entry, as a logger that splits lines writes them; every other
        # format as one entry (a hex-only key body, one line per entry, cannot be told from a hash or a trace id)
        per_line = entry["format"] in LINE_BY_LINE
        for j, line in enumerate(entry["text"].splitlines() if per_line else [entry["text"]]):
            records.append({"timestamp": _iso(t + i * 0.7 + j * 0.01), "severity": "ERROR",
                            "resource": {"type": "k8s_container", "labels": labels}, "textPayload": line})
    records.sort(key=lambda r: r["timestamp"])
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    lines.insert(len(lines) // 2, json.dumps({"timestamp": f"Bearer {CORRUPT_SECRET}", "severity": "ERROR",
                                              "textPayload": "x"}))
    logs.write_text("\n".join(lines) + "\n")
    for index in scenario.bundle_dir.glob("*.idx"):
        index.unlink()
    alert = json.loads(scenario.alert_path.read_text())
    alert["incident"]["summary"] += f"; repro: curl -u admin:{ALERT_SECRET} https://checkout.internal/pay"
    alert["incident"]["documentation"] = {"content": f"Runbook: mysql -u root -p{ALERT_SECRET} orders",
                                          "mime_type": "text/markdown"}
    scenario.alert_path.write_text(json.dumps(alert))
    return scenario.bundle_dir, scenario.alert_path


@pytest.fixture(scope="module")
def endpoints() -> Iterator[Stub]:
    def reply(method: str, path: str, body: Any) -> tuple[int, Any]:
        if path.startswith("/hook"):
            return 200, None
        prompt = json.dumps(body)
        ids = sorted(set(part[:18] for part in prompt.split("[f-")[1:]))
        text = " ".join(f"Errors were recorded [f-{fid[:16]}]." for fid in ids[:3])
        return 200, {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}],
                     "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": 20, "totalTokenCount": 120}}

    with serve(reply) as stub:
        yield stub


@pytest.fixture(scope="module")
def outputs(planted: tuple[Path, Path], endpoints: Stub, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    bundle, alert = planted
    db = tmp_path_factory.mktemp("db") / "incidents.db"
    env = {**os.environ, "AUTOSRE_WEBHOOK_URL": f"{endpoints.url}/hook", "AUTOSRE_GEMINI_API_KEY": "test-key",
           "AUTOSRE_GEMINI_BASE_URL": endpoints.url, "AUTOSRE_BASE_URL": "http://sre.example"}

    def autosre(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "functions.cli", *argv], capture_output=True, text=True,
                              timeout=600, env=env)

    as_json = autosre("triage", "--alert", str(alert), "--telemetry", str(bundle), "--db", str(db), "--json")
    assert as_json.returncode in (0, 3), as_json.stderr
    incident_id = json.loads(as_json.stdout)["incident_id"]
    as_text = autosre("triage", "--alert", str(alert), "--telemetry", str(bundle))
    assert as_text.returncode in (0, 3), as_text.stderr
    postmortem = autosre("postmortem", incident_id, "--db", str(db))
    assert postmortem.returncode == 0, postmortem.stderr
    store = SqliteEventStore(str(db))
    events = json.dumps([e.data for s in store.summaries() for e in store.load(s["incident_id"])],
                        ensure_ascii=False)
    raw = b"".join(p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name))
    served = _served(db, incident_id, env)
    web = create_app(store).test_client()
    pages = {path: web.get(path).get_data(as_text=True) for path in (
        "/", f"/incidents/{incident_id}", f"/api/incidents/{incident_id}", f"/incidents/{incident_id}/postmortem.md",
        "/api/incidents")}
    api = json.dumps(json.loads(pages.pop(f"/api/incidents/{incident_id}")), ensure_ascii=False)
    # `triage` posts no chat message and writes no narrative: the pipeline a deployment runs does both
    from functions.runtime import embedded
    from shared import topics
    from shared.config import Settings
    from shared.notify.webhook import WebhookNotifier
    from shared.telemetry.bundle import BundleSource

    deployed = SqliteEventStore()
    _, bus = embedded(deployed, BundleSource(bundle), notifier=WebhookNotifier(f"{endpoints.url}/hook"),
                      settings=Settings(base_url="http://sre.example", gemini_api_key="test-key",
                                        gemini_base_url=endpoints.url))
    bus.publish(topics.ALERTS, alert.read_bytes())
    bus.drain()
    chat = [json.dumps(body, ensure_ascii=False) for _, path, body, _ in endpoints.requests if path.startswith("/hook")]
    prompts = [json.dumps(body, ensure_ascii=False) for _, path, body, _ in endpoints.requests
               if not path.startswith("/hook")]
    assert chat and prompts, "the chat webhook and the narrative model were both called"
    return {"store (events)": events, "store (file bytes)": raw.decode("utf-8", "replace"),
            "text report": as_text.stdout + as_text.stderr, "JSON report": as_json.stdout + as_json.stderr,
            "web pages": html.unescape("".join(pages.values())), "API": api, "autosre serve": served,
            "postmortem": postmortem.stdout, "chat": "".join(chat), "LLM prompt": "".join(prompts)}


def _served(db: Path, incident_id: str, env: dict[str, str]) -> str:
    """The pages and API answers of a real `autosre serve` over the store (unescaped HTML and JSON)."""
    import socket
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "functions.cli", "serve", "--db", str(db), "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base, texts = f"http://127.0.0.1:{port}", []
    try:
        for _ in range(100):  # up within 20 s
            try:
                urllib.request.urlopen(f"{base}/", timeout=2).read()
                break
            except OSError:
                time.sleep(0.2)
        for path in ("/", f"/incidents/{incident_id}", f"/api/incidents/{incident_id}",
                     f"/incidents/{incident_id}/postmortem.md", "/api/incidents"):
            body = urllib.request.urlopen(f"{base}{path}", timeout=30).read().decode()
            texts.append(json.dumps(json.loads(body), ensure_ascii=False) if path.startswith("/api/")
                         else html.unescape(body))
    finally:
        server.terminate()
        server.wait(timeout=30)
    return "".join(texts)


def test_the_planted_secrets_reached_the_pipeline(outputs: dict[str, str]) -> None:
    """Not a vacuous pass: the planted lines were read, and masked where they were shown."""
    assert "payment" in outputs["text report"]
    assert outputs["store (events)"].count("<redacted:") + outputs["store (events)"].count("<TOKEN>") >= 10
    assert "corrupt" in outputs["text report"]
    assert "payment" in outputs["autosre serve"] and "<redacted:" in outputs["autosre serve"]


@pytest.mark.parametrize("where", ["store (events)", "store (file bytes)", "text report", "JSON report", "web pages",
                                   "API", "autosre serve", "postmortem", "chat", "LLM prompt"])
def test_no_planted_secret_reaches_any_output(outputs: dict[str, str], where: str) -> None:
    found = [s for s in SECRETS if s in outputs[where]]
    assert not found, f"{len(found)} of {len(SECRETS)} secrets in the {where}: {found[:5]}"
