"""The composition root: telemetry is read from the alert's own project, and clients are built only when a
function first reads telemetry (a cold start pays only for what it uses)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import functions.runtime as runtime
from shared.config import Settings
from shared.core_models import Alert
from shared.events import make_event
from shared.incident_state import fold
from shared.lifecycle_events import IncidentOpened


def state_for(project_label: str, project_id: str) -> object:
    labels = {"service_name": "checkout"} | ({"project_id": project_label} if project_label else {})
    alert = Alert(monitoring_incident_id="m", project_id=project_id, resource_labels=labels)
    return fold([make_event("i", "incident.opened", (), "t", IncidentOpened(alert=alert))])


def test_telemetry_is_read_from_the_alerts_project(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    monkeypatch.setattr(runtime, "gcp_source", lambda settings, project, quotas=None: built.append(project) or object())
    factory = runtime.make_telemetry(Settings(telemetry="gcp", project="deployment"))
    assert built == []  # nothing is built until an incident needs it
    factory(state_for("workload-a", "scoping"))  # type: ignore[arg-type]
    factory(state_for("", "workload-b"))  # type: ignore[arg-type]
    factory(state_for("workload-a", "scoping"))  # type: ignore[arg-type]
    factory(state_for("", ""))  # type: ignore[arg-type]
    assert built == ["workload-a", "workload-b", "deployment"]


def test_a_function_that_reads_no_telemetry_imports_no_telemetry_sdk(tmp_path) -> None:  # type: ignore[no-untyped-def]
    code = (
        "import sys\n"
        "from functions.runtime import from_settings\n"
        "from shared.config import Settings\n"
        f"from_settings(Settings(telemetry='gcp', sqlite_path={str(tmp_path / 'e.db')!r}))\n"
        "loaded = [m for m in ('google.cloud.logging', 'google.cloud.trace_v1', 'google.cloud.monitoring_v3',\n"
        "                      'google.cloud.bigquery', 'google.genai', 'google.cloud.run_v2') if m in sys.modules]\n"
        "print(','.join(loaded))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == ""
