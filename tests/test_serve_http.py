"""`autosre serve` as a black box (a subprocess, raw sockets): it runs on a production WSGI server with request
limits, serves no static folder, says which executor an approval really uses, binds loopback only, and the
operator's identity is never given to a client by a header."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from functions.handlers.web import create_app
from functions.serve_http import local_only
from shared.store.sqlite import SqliteEventStore
from tests.talk_data import SEED

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[tuple[int, str]]:
    port = free_port()
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **(env or {})}
    environ.pop("AUTOSRE_EXECUTOR", None) if env is None or "AUTOSRE_EXECUTOR" not in env else None
    process = subprocess.Popen([sys.executable, "-m", "functions.cli", "serve", "--db", str(tmp_path / "e.db"),
                                "--create", "--port", str(port), *args], cwd=tmp_path, env=environ,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        assert line.startswith("serving"), line + process.stderr.read()
        yield port, line
    finally:
        process.terminate()
        process.wait(10)


def exchange(port: int, raw: bytes, timeout: float = 10.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(raw)
        return s.recv(4096)


def test_a_huge_body_is_refused_before_it_is_read(tmp_path: Path) -> None:
    with serving(tmp_path) as (port, _):
        started = time.monotonic()
        answer = exchange(port, b"POST /approve HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: 1500000000\r\n"
                                b"Content-Type: multipart/form-data; boundary=xyz\r\n\r\n--xyz\r\n" % port)
        assert answer.startswith(b"HTTP/1.1 413") and time.monotonic() - started < 5


def test_idle_connections_are_closed_and_do_not_block_requests(tmp_path: Path) -> None:
    with serving(tmp_path) as (port, _):
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(150)]
        trickle = idle[0]
        trickle.sendall(b"GET / HTTP/1.1\r\n")  # a header that never ends
        answer = exchange(port, b"GET /api/incidents HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n"
                          % port, timeout=5)
        assert answer.startswith(b"HTTP/1.1 200")
        trickle.settimeout(30)
        started = time.monotonic()
        assert trickle.recv(100) == b"" and time.monotonic() - started < 25  # closed by the server
        for s in idle:
            s.close()


def test_no_static_folder_is_served_from_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "secret.txt").write_text("do not serve")
    with serving(tmp_path) as (port, _):
        answer = exchange(port, b"GET /static/secret.txt HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close"
                                b"\r\n\r\n" % port)
    assert answer.startswith(b"HTTP/1.1 404") and b"do not serve" not in answer


def test_the_executor_line_says_what_an_approval_really_does(tmp_path: Path) -> None:
    with serving(tmp_path) as (_, line):
        assert "executor: dry run" in line
    live = {"AUTOSRE_EXECUTOR": "cloud_run", "AUTOSRE_RUNBOOK_WEBHOOK_URL": "https://runbooks.example/hook",
            "AUTOSRE_PROJECT": "my-project"}
    with serving(tmp_path, env=live) as (_, line):
        assert "LIVE" in line and "runbook_webhook" in line and "https://runbooks.example/hook" in line
        assert "dry run" not in line


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10"])
def test_a_non_loopback_bind_is_refused_and_says_why(tmp_path: Path, host: str) -> None:
    r = subprocess.run([sys.executable, "-m", "functions.cli", "serve", "--db", str(tmp_path / "e.db"), "--create",
                        "--host", host, "--approver", "alice@example.com"], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert r.returncode != 0 and "not a loopback address" in r.stderr and "verified identity" in r.stderr


def test_a_loopback_host_header_does_not_make_a_remote_client_the_operator() -> None:
    seen: list[str] = []
    app = create_app(SqliteEventStore(":memory:"), None, identity=local_only("alice@example.com"))

    @app.get("/whoami")
    def whoami() -> str:
        seen.append(local_only("alice@example.com")())
        return "ok"

    client = app.test_client()
    client.get("/whoami", headers={"Host": "127.0.0.1:8080"}, environ_base={"REMOTE_ADDR": "203.0.113.7"})
    client.get("/whoami", headers={"Host": "127.0.0.1:8080"}, environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert seen == ["", "alice@example.com"]


def api(port: int, path: str, body: dict[str, object] | None = None, csrf: str = "") -> tuple[int, dict[str, Any]]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method="POST" if body is not None else "GET",
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json", "X-CSRF-Token": csrf})
    try:
        with urllib.request.urlopen(request, timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def test_with_a_telemetry_bundle_an_investigation_started_over_the_api_runs_to_a_report(tmp_path: Path) -> None:
    """`autosre serve --telemetry BUNDLE_DIR`: a started investigation runs here, through the same pipeline as an
    alert (as `autosre mcp --telemetry` runs it), recorded as the operator; without a bundle the answer says why."""
    from demo.generator import generate

    scenario = generate("bad_deploy", tmp_path / "demo", seed=SEED)
    alert = json.loads(scenario.alert_path.read_text())["incident"]
    service, at = alert["resource"]["labels"]["service_name"], alert["started_at"]
    with serving(tmp_path, "--approver", "bob@example.com") as (port, line):
        token = api(port, "/api/v1/csrf")[1]["csrf"]
        status, refused = api(port, "/api/v1/investigations", {"service": service, "at": at}, token)
        assert status == 501 and "--telemetry" in refused["error"], refused
    with serving(tmp_path, "--approver", "bob@example.com", "--telemetry", str(scenario.bundle_dir)) as (port, line):
        assert "investigations: run here" in line, line
        token = api(port, "/api/v1/csrf")[1]["csrf"]
        status, started = api(port, "/api/v1/investigations", {"service": service, "at": at}, token)
        assert status == 200 and not started["pending"], started
        assert started["incident_id"] and started["causes"][0] == scenario.root_service, started
        status, report = api(port, f"/api/v1/incidents/{started['incident_id']}/report")
    assert status == 200 and report["report"]["causes"][0]["service"] == scenario.root_service
    assert report["summary"]["policy"] == "Auto SRE investigation request"
    events = SqliteEventStore(str(tmp_path / "e.db")).load(started["incident_id"])
    assert "requested by <redacted:email>" in json.dumps([e.data for e in events], default=str)  # as alerts are
