"""The `autosre` command as a new user meets it, in a subprocess of this checkout (`python -m functions.cli`): the
usage line and the README name every command; `serve` listens where it says and refuses a bad port, an unknown
action or an approver that is not an e-mail address in one line; `triage` says what is wrong with a missing
folder or a corrupt line, and that it wrote index files into the bundle; `--json` says partial when the command
exits 3; `demo --keep-open` leaves an incident a person can approve a remediation of."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from demo.generator import Scenario, generate

REPO = Path(__file__).resolve().parents[1]
TIMEOUT_S = 240


def cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "functions.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd or REPO, timeout=TIMEOUT_S, check=False)


def one_line(r: subprocess.CompletedProcess[str], code: int, text: str) -> None:
    """Exit `code`, nothing on stdout, one line on stderr that holds `text`."""
    assert r.returncode == code, (r.returncode, r.stderr)
    assert r.stdout == "" and r.stderr.count("\n") == 1 and text in r.stderr, r.stderr


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return generate("bad_deploy", tmp_path_factory.mktemp("usage") / "bad_deploy", seed=7)


def commands() -> list[str]:
    r = cli("--help")
    assert r.returncode == 0
    usage = r.stdout.split("\n\n", 1)[0]
    found = re.search(r"\{([a-z,-]+)\}", usage)
    assert found, usage
    return found.group(1).split(",")


def test_the_usage_line_names_every_command() -> None:
    from functions.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert sub.choices is not None
    assert commands() == list(sub.choices) and "postmortem" in commands()


def test_the_readme_lists_the_commands_help_lists() -> None:
    section = (REPO / "README.md").read_text().split("## Commands", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^- `autosre ([a-z-]+)", section, flags=re.M)
    assert listed == commands()


def test_serve_refuses_a_port_out_of_range(tmp_path: Path) -> None:
    r = cli("serve", "--db", tmp_path / "a.db", "--create", "--port", "99999")
    assert r.returncode == 2 and r.stdout == "" and "99999 is not a port (1 to 65535)" in r.stderr, r.stderr


def test_serve_refuses_an_unknown_action(tmp_path: Path) -> None:
    r = cli("serve", "--db", tmp_path / "a.db", "--create", "--allow", "rollback_cloud_run,bogus_action")
    one_line(r, 2, "autosre serve: --allow rollback_cloud_run,bogus_action: unknown action bogus_action (the "
                   "actions are ")


def test_serve_refuses_an_approver_that_is_not_an_email_address(tmp_path: Path) -> None:
    one_line(cli("serve", "--db", tmp_path / "a.db", "--create", "--approver", "notanemail"), 2,
             "autosre serve: --approver notanemail: not an e-mail address")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_serve_listens_on_the_port_it_prints(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "functions.cli", "serve", "--db", str(tmp_path / "a.db"),
                             "--create", "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=REPO)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert f"http://127.0.0.1:{port}/" in line and "executor: dry run" in line, line
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    assert response.status == 200 and "Incidents" in response.read().decode()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_serve_on_a_port_in_use_says_so_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = cli("serve", "--db", tmp_path / "a.db", "--create", "--port", str(port))
    one_line(r, 1, f"autosre serve: cannot listen on 127.0.0.1:{port}: Address already in use (another server "
                   "has it: pick another with --port)")


def test_triage_on_a_missing_folder_says_there_is_no_such_folder(scenario: Scenario, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-bundle"
    one_line(cli("triage", "--alert", scenario.alert_path, "--telemetry", missing), 2,
             f"autosre triage: --telemetry {missing}: no such folder")


def test_a_corrupt_line_says_what_is_wrong_with_it(scenario: Scenario, tmp_path: Path) -> None:
    bundle = shutil.copytree(scenario.bundle_dir, tmp_path / "bundle")
    lines = (bundle / "spans.jsonl").read_text().splitlines()
    record = json.loads(lines[4])
    del record["spanId"]
    lines[4] = json.dumps(record)
    (bundle / "spans.jsonl").write_text("\n".join(lines) + "\n")
    r = cli("triage", "--alert", scenario.alert_path, "--telemetry", bundle)
    assert r.returncode == 0, r.stderr
    assert "spans.jsonl:5: missing field 'spanId'" in r.stderr and "spans.jsonl:5: missing field 'spanId'" in r.stdout


def test_triage_says_it_wrote_index_files_into_the_bundle(scenario: Scenario, tmp_path: Path) -> None:
    bundle = shutil.copytree(scenario.bundle_dir, tmp_path / "bundle")
    for index in bundle.glob("*.idx"):
        index.unlink()
    first = cli("triage", "--alert", scenario.alert_path, "--telemetry", bundle)
    assert first.returncode == 0, first.stderr
    written = sorted(p.name for p in bundle.glob("*.idx"))
    assert written
    assert f"note: wrote {len(written)} read index file" in first.stderr and str(bundle) in first.stderr
    assert all(name in first.stderr for name in written)
    again = cli("triage", "--alert", scenario.alert_path, "--telemetry", bundle)
    assert again.returncode == 0 and "read index" not in again.stderr  # nothing new written


def test_json_tells_the_same_story_as_the_text(scenario: Scenario, tmp_path: Path) -> None:
    doc = json.loads(scenario.alert_path.read_text())
    doc["incident"]["started_at"] = 1600000000  # outside the bundle: no telemetry in the incident window
    alert = tmp_path / "alert.json"
    alert.write_text(json.dumps(doc))
    r = cli("triage", "--alert", alert, "--telemetry", scenario.bundle_dir, "--json")
    assert r.returncode == 3, r.stderr
    report = json.loads(r.stdout)
    assert report["partial"] is True and any("no telemetry in the incident window" in w for w in report["warnings"])
    assert report["windows"]["incident"][0] < 1600000000 < report["windows"]["incident"][1]
    text = cli("triage", "--alert", alert, "--telemetry", scenario.bundle_dir)
    assert text.returncode == 3 and "[PARTIAL]" in text.stdout
    ok = json.loads(cli("triage", "--alert", scenario.alert_path, "--telemetry", scenario.bundle_dir, "--json").stdout)
    assert ok["partial"] is False and ok["windows"]["baseline"][1] == ok["windows"]["incident"][0]
    cited = ok["causes"][0]["evidence"]
    assert cited and all(ok["evidence"][fid]["text"] and ok["evidence"][fid]["query"] for fid in cited)


def test_demo_keep_open_leaves_an_incident_to_approve(tmp_path: Path) -> None:
    from agents.remediation.policy import Policy
    from functions.handlers.web import create_app
    from functions.remediation import Remediation
    from functions.runtime import make_runner
    from shared.config import Settings
    from shared.incident_log import IncidentLog
    from shared.store.sqlite import SqliteEventStore

    for flag, status in (("--keep-open", "open"), ("", "resolved")):
        db = tmp_path / f"demo{flag}.db"
        r = cli("demo", "--db", db, *([flag] if flag else []))
        assert r.returncode == 0, r.stderr
        store = SqliteEventStore(str(db))
        (summary,) = IncidentLog(store).summaries()
        assert summary["status"] == status
        remediation = Remediation(store=store, runner=make_runner(Settings()), key=b"k" * 32,
                                  approvers=frozenset({"you@example.com"}),
                                  policy=Policy({"*": ["rollback_cloud_run"]}))
        web = create_app(store, remediation, "you@example.com").test_client()
        page = web.get(f"/incidents/{summary['incident_id']}").get_data(as_text=True)
        index = web.get("/").get_data(as_text=True)
        if status == "open":
            assert "class=approval-link" in page and "<td class=pending>1</td>" in index
        else:
            assert "class=approval-link" not in page and "not offered: the incident is resolved" in page
            assert "<td class=pending>-</td>" in index
