"""The real `autosre` command in a subprocess: exit codes, what goes to stdout and what to stderr.

Exit codes: 0 a complete report, 3 a partial one (a specialist failed, or no telemetry in the incident window),
2 bad input, 1 anything else. Progress only on a terminal; stack traces only with --debug.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import pty
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from demo.generator import Scenario, generate
from functions.cli import build_parser

REPO = Path(__file__).resolve().parents[1]
TIMEOUT_S = 240
TRACEBACK_MARKERS = ("Traceback", "stack_trace")


def autosre() -> str:
    """The `autosre` script of the environment running the tests (the README's `pip install -e` puts it there)."""
    beside = Path(sys.executable).parent / "autosre"
    found = str(beside) if beside.exists() else shutil.which("autosre")
    if found is None:
        pytest.fail("no `autosre` command: install the checkout with pip install -e '.[dev]'", pytrace=False)
    return found


def run(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None,
        stderr_tty: bool = False) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    command = [autosre(), *map(str, args)]
    if not stderr_tty:
        return subprocess.run(command, capture_output=True, text=True, env=environ, cwd=cwd, timeout=TIMEOUT_S,
                              check=False)
    controller, terminal = pty.openpty()  # stderr on a terminal, as in an interactive shell
    chunks: list[bytes] = []

    def drain() -> None:  # read while it runs: a full terminal buffer would block the command
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the other end is closed and drained
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=terminal, text=True, env=environ, cwd=cwd,
                              timeout=TIMEOUT_S, check=False)
    finally:
        os.close(terminal)
        reader.join(timeout=10)
        os.close(controller)
    return subprocess.CompletedProcess(command, proc.returncode, proc.stdout, b"".join(chunks).decode())


def no_traceback(text: str) -> bool:
    return not any(marker in text for marker in TRACEBACK_MARKERS)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return generate("bad_deploy", tmp_path_factory.mktemp("cli") / "bad_deploy", seed=7)


def copy_bundle(scenario: Scenario, to: Path) -> Path:
    shutil.copytree(scenario.bundle_dir, to)
    return to


def alert_variant(scenario: Scenario, to: Path, **changes: Any) -> Path:
    """The scenario's alert with incident fields changed (a value of None removes the field)."""
    doc = json.loads(scenario.alert_path.read_text())
    for key, value in changes.items():
        if value is None:
            doc["incident"].pop(key, None)
        elif key == "service_name":
            doc["incident"]["resource"]["labels"]["service_name"] = value
        else:
            doc["incident"][key] = value
    to.write_text(json.dumps(doc))
    return to


def replace_lines(path: Path, lines: dict[int, str]) -> None:
    """Replace 1-based line numbers of a JSON-lines file."""
    text = path.read_text().splitlines()
    for number, line in lines.items():
        text[number - 1] = line
    path.write_text("\n".join(text) + "\n")


def head(stdout: str, before: str = "RANKED CAUSES") -> str:
    """The report's top: everything before its ranked causes."""
    assert before in stdout
    return stdout.split(before, 1)[0]


# ------------------------------------------------------------------ version, help


def test_version_names_this_checkout() -> None:
    r = run("--version")
    assert r.returncode == 0 and r.stderr == ""
    assert r.stdout.startswith("autosre ") and r.stdout.strip().endswith(f"from {REPO}"), (
        f"`autosre` runs {r.stdout.strip()!r}, not the checkout under test {REPO}: pip install -e it")


@pytest.mark.parametrize("command", [(), ("demo",), ("triage",), ("serve",), ("eval", "nezha")])
def test_help_states_the_exit_codes_and_every_options_default(command: tuple[str, ...]) -> None:
    r = run(*command, "--help")
    assert r.returncode == 0 and r.stderr == ""
    text = " ".join(r.stdout.split())  # argparse wraps lines
    if command != ("serve",):
        assert "exit codes: 0 a complete report; 3 a partial report" in text and "2 bad input" in text
    assert "--debug" in text


def _options(parser: argparse.ArgumentParser) -> list[tuple[str, Any]]:
    out = []
    for action in parser._actions:
        if action.dest in ("help", "version"):
            continue
        choices = getattr(action, "choices", None)
        if isinstance(choices, dict):  # subcommands
            for sub in choices.values():
                out += _options(sub)
            continue
        out.append((f"{parser.prog} {'/'.join(action.option_strings) or action.dest}", action))
    return out



def test_every_option_has_help_that_names_its_default() -> None:
    options = _options(build_parser())
    assert len(options) > 20
    for name, action in options:
        assert action.help, f"{name} has no help text"
        if action.option_strings and not action.required:
            assert "default" in action.help, f"{name}: the help does not say the default"


def test_json_on_every_command_that_prints_a_report() -> None:
    for command in (("demo",), ("triage",), ("eval", "nezha")):
        assert "--json" in run(*command, "--help").stdout, command


# ------------------------------------------------------------------ triage: complete, partial, warnings


def test_a_complete_report_exits_0_with_its_windows_and_progress_only_on_a_terminal(scenario: Scenario) -> None:
    r = run("triage", "--alert", scenario.alert_path, "--telemetry", scenario.bundle_dir, stderr_tty=True)
    assert r.returncode == 0, r.stderr
    assert "round 1: dispatching logs, traces, metrics, changes" in r.stderr and "report published" in r.stderr
    assert "round 1: dispatching" not in r.stdout
    top = head(r.stdout)
    assert "Incident window: 2026-01-15 09:47:14 UTC to 2026-01-15 10:07:14 UTC (20 min)" in top
    assert "Baseline window: 2026-01-15 08:47:14 UTC to 2026-01-15 09:47:14 UTC (60 min)" in top
    assert "PARTIAL" not in r.stdout and "WARNING" not in top
    assert "#1 payment" in r.stdout
    j = run("triage", "--alert", scenario.alert_path, "--telemetry", scenario.bundle_dir, "--json")
    assert j.returncode == 0
    assert j.stderr == ""  # not a terminal: no progress lines; and nothing to warn about
    assert json.loads(j.stdout)["causes"][0]["service"] == "payment"


def test_corrupt_lines_are_skipped_counted_and_said_at_the_top(scenario: Scenario, tmp_path: Path) -> None:
    bundle = copy_bundle(scenario, tmp_path / "bundle")
    replace_lines(bundle / "logs.jsonl", {11: '{"timestamp": "yesterday"}'})
    replace_lines(bundle / "spans.jsonl", {5: '{"spanId": "x", "startTime": "soon", "endTime": "later"}'})
    replace_lines(bundle / "metrics.jsonl", {3: '{"metric": {"type": "m"}, "points": [{"interval": {"endTime": '
                                                '"2026-01-15T10:00:00Z"}, "value": {"doubleValue": "lots"}}]}'})
    r = run("triage", "--alert", scenario.alert_path, "--telemetry", bundle)
    assert r.returncode == 0, r.stderr  # an answer from the rest of the data, which says what it skipped
    assert no_traceback(r.stderr) and "partial report" not in r.stderr
    for name, line in (("logs.jsonl", 11), ("spans.jsonl", 5), ("metrics.jsonl", 3)):
        assert f"warning: corrupt telemetry: {name}: 1 corrupt line skipped" in r.stderr
        assert f"{name}:{line}: " in r.stderr
    top = " ".join(head(r.stdout).split())
    assert "WARNING: corrupt telemetry: logs.jsonl: 1 corrupt line skipped" in top
    assert "logs.jsonl:11: not a timestamp: 'yesterday'" in top
    coverage = r.stdout.split("COVERAGE", 1)[1]
    assert "logs (incident window): logs.jsonl: 1 corrupt line skipped" in coverage


@pytest.mark.parametrize(("name", "line", "failed"), [
    ("logs.jsonl", "{not json", "logs"),
    ("spans.jsonl", '{"spanId": "x", "startTime": "2026-13-45T99:00:00Z", "endTime": "2026-01-15T10:00:00Z"}',
     "traces"),
    ("metrics.jsonl", '{"metric": {"type": "m"}, "points": [{"interval": {"endTime": "2026-01-15T10:00:00Z"}, '
                      '"value": {"doubleValue": "NaN-ish"}}]}', "metrics"),
])
def test_an_unreadable_file_makes_a_partial_report_that_says_so_first_and_exits_3(
        scenario: Scenario, tmp_path: Path, name: str, line: str, failed: str) -> None:
    bundle = copy_bundle(scenario, tmp_path / "bundle")
    (bundle / name).write_text(line + "\n")  # no line of the file is readable: it fails, not a sample
    r = run("triage", "--alert", scenario.alert_path, "--telemetry", bundle)
    assert r.returncode == 3, r.stderr
    assert no_traceback(r.stderr), r.stderr
    why = f"{failed}: failed: BundleError: {name}: none of its 1 non-blank lines is a valid record"
    assert r.stderr.count("autosre triage: partial report, built without ") == 1 and why in r.stderr
    lines = r.stdout.splitlines()
    assert lines[1].endswith("[PARTIAL]")
    assert lines[3].startswith("PARTIAL REPORT: built without")
    failures = list(itertools.takewhile(lambda line: line.startswith("  - "), lines[4:]))  # one line each
    assert any(line.startswith(f"  - {why}") for line in failures), failures
    assert lines[4 + len(failures)].startswith("Alert:")  # the failures come before the alert and any cause


def test_stack_traces_only_with_debug_and_json_is_partial_too(scenario: Scenario, tmp_path: Path) -> None:
    bundle = copy_bundle(scenario, tmp_path / "bundle")
    (bundle / "logs.jsonl").write_text("{not json\n")
    r = run("triage", "--alert", scenario.alert_path, "--telemetry", bundle, "--json", "--debug")
    assert r.returncode == 3
    report = json.loads(r.stdout)
    assert set(report["failed_specialists"]) >= {"logs"}
    assert "Traceback" in r.stderr and "stack_trace" in r.stderr  # --debug
    assert "partial report, built without logs" in r.stderr


def test_an_alert_outside_the_bundles_time_range_warns_and_exits_3(scenario: Scenario, tmp_path: Path) -> None:
    alert = alert_variant(scenario, tmp_path / "alert.json", started_at=1600000000)
    r = run("triage", "--alert", alert, "--telemetry", scenario.bundle_dir)
    assert r.returncode == 3, r.stderr
    warning = ("no telemetry in the incident window (2020-09-13 12:11:40 UTC to 2020-09-13 12:31:40 UTC); the "
               "telemetry runs from 2026-01-15 08:45:00 UTC to 2026-01-15 10:15:00 UTC")
    assert f"autosre triage: warning: {warning}" in r.stderr
    top = " ".join(head(r.stdout).split())
    assert f"WARNING: {warning}" in top and "Incident window: 2020-09-13 12:11:40 UTC" in top


def test_an_alert_without_a_start_time_says_its_windows_are_now(scenario: Scenario, tmp_path: Path) -> None:
    alert = alert_variant(scenario, tmp_path / "alert.json", started_at=None)
    r = run("triage", "--alert", alert, "--telemetry", scenario.bundle_dir)
    assert r.returncode == 3  # and there is no telemetry around "now"
    assert "warning: the alert has no start time (started_at): its windows were placed around the time of " \
           "triage" in r.stderr
    top = " ".join(head(r.stdout).split())
    assert "WARNING: the alert has no start time" in top and "Alert started: unknown" in top


def test_an_alert_on_a_service_without_telemetry_says_so_and_invents_no_call(scenario: Scenario,
                                                                           tmp_path: Path) -> None:
    alert = alert_variant(scenario, tmp_path / "alert.json", service_name="storefront-typo")
    r = run("triage", "--alert", alert, "--telemetry", scenario.bundle_dir)
    assert r.returncode == 0, r.stderr  # a complete report: the cause is still found, from the others' data
    assert "warning: no telemetry for storefront-typo in the incident or baseline window" in r.stderr
    top = " ".join(head(r.stdout).split())
    assert "WARNING: no telemetry for storefront-typo" in top
    assert "no telemetry for storefront-typo, where the alert on" in top  # the headline
    symptom = next(line for line in r.stdout.splitlines() if line.strip().startswith("symptom: storefront-typo"))
    assert "no telemetry for storefront-typo" in symptom and "it calls" not in symptom
    assert "#1 payment" in r.stdout  # the ranking is unchanged


# ------------------------------------------------------------------ bad input: one line, exit 2


def bad_input(r: subprocess.CompletedProcess[str], command: str, message: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stdout == ""
    assert r.stderr == f"autosre {command}: {message}\n"


def test_bad_db_is_one_line_on_every_command(scenario: Scenario, tmp_path: Path) -> None:
    not_sqlite = tmp_path / "notes.txt"
    not_sqlite.write_text("not a database\n")
    triage = ("triage", "--alert", scenario.alert_path, "--telemetry", scenario.bundle_dir)
    for db, message in ((tmp_path / "nope" / "x.db", f"--db {tmp_path / 'nope' / 'x.db'}: no folder "
                                                     f"{tmp_path / 'nope'}"),
                        (not_sqlite, f"--db {not_sqlite} is not a SQLite database"),
                        (tmp_path, f"--db {tmp_path} is a folder, not a SQLite file")):
        bad_input(run(*triage, "--db", db), "triage", message)
        bad_input(run("demo", "--db", db), "demo", message)
        bad_input(run("serve", "--db", db), "serve", message)


def test_serve_refuses_a_missing_db_unless_create(tmp_path: Path) -> None:
    typo = tmp_path / "autosre.bd"
    bad_input(run("serve", "--db", typo), "serve",
              f"--db {typo} does not exist (give --create to start an empty store there)")
    assert not typo.exists()  # no empty database left behind
    with socket.socket() as taken:  # a port in use: it stops right after opening the store
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        r = run("serve", "--db", typo, "--create", "--port", taken.getsockname()[1])
    assert typo.exists() and no_traceback(r.stderr)
    assert r.returncode == 1 and r.stderr.count("\n") == 1  # the one-line error


def test_eval_without_the_data_says_where_it_comes_from(tmp_path: Path) -> None:
    missing = tmp_path / "cases"
    r = run("eval", "nezha", missing)
    assert r.returncode == 2 and no_traceback(r.stderr) and r.stderr.count("\n") == 1
    assert f"autosre eval nezha: no folder {missing}: the cases are the Nezha paper's" in r.stderr
    assert "github.com/IntelligentDDS/Nezha" in r.stderr and "AUTOSRE_DATASETS" in r.stderr
    missing.mkdir()
    r = run("eval", "nezha", missing)
    assert r.returncode == 2 and f"no cases (folders with label.json) in {missing}" in r.stderr
    r = run("eval", "nezha", env={"AUTOSRE_DATASETS": str(tmp_path / "none")})
    assert r.returncode == 2 and "no datasets folder" in r.stderr and "IntelligentDDS/Nezha" in r.stderr


def test_unreadable_alert_or_bundle_is_one_line(scenario: Scenario, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    r = run("triage", "--alert", bad, "--telemetry", scenario.bundle_dir)
    assert r.returncode == 2 and r.stderr.startswith("autosre triage: alert rejected") and no_traceback(r.stderr)
    bad_input(run("triage", "--alert", tmp_path / "none.json", "--telemetry", scenario.bundle_dir), "triage",
              f"--alert {tmp_path / 'none.json'}: No such file or directory")
    bad_input(run("triage", "--alert", scenario.alert_path, "--telemetry", tmp_path), "triage",
              f"{tmp_path} is not a telemetry bundle (no manifest.json)")


# ------------------------------------------------------------------ demo


def test_demo_json_and_its_temp_folder_is_removed(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    r = run("demo", "--json", env={"TMPDIR": str(tmp)})
    assert r.returncode == 0 and r.stderr == ""
    doc = json.loads(r.stdout)
    (only,) = doc["runs"]
    assert only["correct"] and only["report"]["causes"][0]["service"] == only["injected"] == "payment"
    assert only["bundle"] is None and doc["correct"] == doc["total"] == 1
    assert list(tmp.iterdir()) == []  # nothing left in the temp folder


def test_demo_keeps_its_bundles_with_out_and_shows_progress_on_a_terminal(tmp_path: Path) -> None:
    r = run("demo", "--out", tmp_path / "out", stderr_tty=True)
    assert r.returncode == 0
    assert (tmp_path / "out" / "bad_deploy" / "bundle" / "manifest.json").exists()
    assert f">>> telemetry bundle: {tmp_path / 'out' / 'bad_deploy' / 'bundle'}" in r.stderr
    assert "round 1: dispatching" in r.stderr and "Incident window:" in r.stdout and "CORRECT" in r.stdout


def test_demo_runs_sharing_a_db_are_separate_incidents(tmp_path: Path) -> None:
    """Each demo incident ends with its alert closing, as a real one does: the next run's alert on the same policy
    and service opens an incident of its own instead of joining the last one (where it was reported wrongly)."""
    db = tmp_path / "demo.db"
    faults = []
    for fault in ("bad_deploy", "cpu_saturation"):
        r = run("demo", "--fault", fault, "--db", db, "--json")
        assert r.returncode == 0, r.stderr
        (only,) = json.loads(r.stdout)["runs"]
        faults.append((only["correct"], only["top_cause"]))
    assert faults == [(True, "payment"), (True, "currency")]
    with sqlite3.connect(db) as conn:
        statuses = [row[0] for row in conn.execute("SELECT json_extract(summary, '$.status') FROM summaries")]
    assert statuses == ["resolved", "resolved"]


def test_the_demo_report_reads_well_in_a_terminal() -> None:
    """No line over 120 characters, no title cut mid-word, and a cause's long title printed once, not in every
    chain step and ruled-out line again."""
    r = run("demo")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert max(len(line) for line in lines) <= 120
    assert "(the finding above)" in r.stdout
    causes = lines.index("RANKED CAUSES")
    cause_title = lines[causes + 2].strip()  # the first line of the top cause's title
    assert sum(cause_title in line for line in lines[causes:]) == 1
