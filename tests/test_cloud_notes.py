"""An incident the Google Cloud pipeline triaged (no local check of the data beside it) shows on its page every
warning and note the text report of a local triage shows: a missing start time, windows with no telemetry, the
partial flag, the specialists' coverage and sampling notes. Checked in Chromium, by the text a person reads."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from demo.generator import generate
from functions.handlers.web import create_app
from functions.local import triage
from functions.report_text import render_report
from functions.runtime import embedded
from shared import topics
from shared.incident_log import IncidentLog
from shared.incident_state import IncidentState
from shared.store.sqlite import SqliteEventStore
from shared.telemetry.bundle import BundleSource
from tests.test_browser import browser, page  # noqa: F401  (fixtures)


def cloud_triaged(alert: bytes, bundle: Path) -> tuple[SqliteEventStore, IncidentState]:
    """The deployment's path: the alert on the alerts topic, the handlers wired as the subscriptions are, and no
    `check` of the data afterwards (only a local triage runs one)."""
    store = SqliteEventStore()
    _pipeline, bus = embedded(store, BundleSource(bundle))
    bus.publish(topics.ALERTS, alert)
    bus.drain()
    (summary,) = store.summaries()
    state = IncidentLog(store).read(summary["incident_id"])
    assert state is not None and state.latest_report is not None
    return store, state


@pytest.fixture()
def without_start(tmp_path: Path) -> tuple[bytes, Path]:
    scenario = generate("bad_deploy", tmp_path / "demo", seed=3)
    doc = json.loads(scenario.alert_path.read_text())
    doc["incident"].pop("started_at", None)
    return json.dumps(doc).encode(), scenario.bundle_dir


@pytest.fixture()
def served(without_start: tuple[bytes, Path]) -> Iterator[tuple[str, IncidentState]]:
    from werkzeug.serving import make_server

    store, state = cloud_triaged(*without_start)
    server = make_server("127.0.0.1", 0, create_app(store), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/incidents/{state.incident_id}", state
    server.shutdown()


def warnings_of(text: str) -> list[str]:
    """The WARNING lines of a text report, each up to its first parenthesis (the rest names times and ranges)."""
    lines = " ".join(text.split()).split("WARNING: ")[1:]
    return [w.split(" (")[0].split(" Alert:")[0] for w in lines]


def test_a_cloud_triaged_page_says_what_the_local_text_report_says(
        served: tuple[str, IncidentState], without_start: tuple[bytes, Path], page: Any) -> None:  # noqa: F811
    url, state = served
    local = triage(without_start[0], BundleSource(without_start[1]), store=SqliteEventStore())
    text = render_report(local.state, local.report, warnings=local.warnings, no_data=local.no_data)
    expected = warnings_of(text)
    assert "the alert has no start time" in expected and "no telemetry in the incident window" in expected
    page.goto(url)
    shown = " ".join(page.inner_text("main").split())
    assert shown.startswith("Partial report")  # the banner first, as the text report's [PARTIAL]
    for warning in expected:
        assert warning in shown, warning
    report = state.latest_report
    assert report is not None
    for name, notes in ((n, ns) for r in state.rounds.values() for n, ns in r.notes.items()):
        for note in notes:
            assert " ".join(f"{name}: {note}".split()) in shown


def test_the_cloud_triaged_json_is_partial_too(without_start: tuple[bytes, Path]) -> None:
    store, state = cloud_triaged(*without_start)
    body: dict[str, Any] = create_app(store).test_client().get(f"/api/incidents/{state.incident_id}").get_json()
    assert body["report"]["partial"] is True
    assert any(w.startswith("the alert has no start time") for w in body["report"]["warnings"])
