"""`autosre serve --store firestore --project P`: a Google Cloud deployment's incidents read locally with the
user's own credentials (here the Firestore emulator, which the client finds through FIRESTORE_EMULATOR_HOST as it
finds Application Default Credentials otherwise): read-only without an approver. Run as a person runs it (a
subprocess), read in Chromium by rendered text."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from demo.generator import generate
from functions.local import triage
from shared.incident_log import IncidentLog
from shared.store.firestore import FirestoreEventStore
from shared.telemetry.bundle import BundleSource
from tests.emulators import free_port
from tests.test_browser import browser, page  # noqa: F401  (fixtures)

pytestmark = pytest.mark.emulator
ROOT = Path(__file__).resolve().parents[1]


def autosre(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **env}
    environ.pop("AUTOSRE_APPROVAL_KEY", None)
    return subprocess.Popen([sys.executable, "-m", "functions.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=environ, cwd=ROOT)


@pytest.fixture()
def deployment(firestore_emulator: Any, project_id: str, tmp_path: Path) -> tuple[str, str, FirestoreEventStore]:
    """A deployment's Firestore holding one triaged incident."""
    scenario = generate("bad_deploy", tmp_path / "demo", seed=3)
    store = FirestoreEventStore(project_id)
    result = triage(scenario.alert_path.read_bytes(), BundleSource(scenario.bundle_dir), store=store)
    return project_id, result.incident_id, store


@pytest.fixture()
def served(deployment: tuple[str, str, FirestoreEventStore]) -> Iterator[tuple[str, str, FirestoreEventStore, str]]:
    project, incident_id, store = deployment
    port = free_port()
    process = autosre("serve", "--store", "firestore", "--project", project, "--port", str(port),
                      env={"FIRESTORE_EMULATOR_HOST": os.environ["FIRESTORE_EMULATOR_HOST"]})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + "/", timeout=5).read()
                break
            except (urllib.error.URLError, ConnectionError):
                assert process.poll() is None and time.monotonic() < deadline, process.communicate()[1]
                time.sleep(0.3)
        yield url, incident_id, store, project
    finally:
        process.terminate()
        _out, err = process.communicate(timeout=30)
        assert f"serving the Firestore of project {project} (read-only)" in err, err


def test_a_deployments_incidents_read_locally_and_nothing_written(
        served: tuple[str, str, FirestoreEventStore, str], page: Any) -> None:  # noqa: F811
    url, incident_id, store, _ = served
    events = len(store.load(incident_id))
    page.goto(url + "/")
    assert incident_id in page.inner_text("main table")
    page.click(f"a[href='/incidents/{incident_id}']")
    page.wait_for_selector("#cause")
    shown = page.inner_text("main")
    state = IncidentLog(store).read(incident_id)
    assert state is not None and state.latest_report is not None
    assert state.latest_report.headline in shown and state.latest_report.causes[0].service in page.inner_text("#cause")
    assert "approvals are off on this server" in page.inner_text("#actions")  # read-only: nothing to approve
    assert "I'm on it" not in shown  # no verified identity: nothing to acknowledge with
    request = urllib.request.Request(f"{url}/incidents/{incident_id}/acknowledge", data=b"csrf=x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403
    assert len(store.load(incident_id)) == events


def test_firestore_needs_a_project(tmp_path: Path) -> None:
    process = autosre("serve", "--store", "firestore", env={})
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 2 and "--store firestore needs --project" in err, err


def test_an_approver_without_the_deployments_key_is_refused(deployment: tuple[str, str, FirestoreEventStore]) -> None:
    project, _, _ = deployment
    process = autosre("serve", "--store", "firestore", "--project", project, "--approver", "alice@example.com",
                      "--port", str(free_port()),
                      env={"FIRESTORE_EMULATOR_HOST": os.environ["FIRESTORE_EMULATOR_HOST"]})
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 2 and "AUTOSRE_APPROVAL_KEY" in err, err


def test_with_an_approver_an_approval_goes_to_the_deployments_actions_topic(
        deployment: tuple[str, str, FirestoreEventStore], pubsub_emulator: Any) -> None:
    """What `serve --store firestore --approver` does with an approval: recorded in the deployment's Firestore and
    handed to its actions topic (its `execute` function runs it), never run on the laptop."""
    import re

    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    from functions.cli_serve import approvals_on_firestore
    from functions.handlers.web import create_app
    from shared import topics
    from shared.bus.pubsub_topology import SubscriptionSpec, ensure_topology
    from shared.config import Settings

    project, incident_id, store = deployment
    ensure_topology(project, topics.ALL, [SubscriptionSpec("probe-actions", topics.ACTIONS, dead_letter_topic="")])
    settings = Settings(store="firestore", project=project, approval_key="k" * 32,
                        policy='{"allow": {"*": ["rollback_cloud_run"]}}')
    remediation = approvals_on_firestore(settings, store)
    remediation.approvers = frozenset({"alice@example.com"})
    web = create_app(store, remediation, "alice@example.com").test_client()
    report = web.get(f"/incidents/{incident_id}").get_data(as_text=True)
    token = re.findall(r"class=approval-link href='/approve#token=([^']+)'", report)[0]
    form = web.post("/approve/preview", data={"token": token}).get_data(as_text=True)
    csrf = re.findall(r"name=csrf value='([^']+)'", form)[0]
    done = web.post("/approve", data={"token": token, "csrf": csrf, "decision": "approve"})
    assert done.status_code == 200, done.get_data(as_text=True)
    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(project, "probe-actions")
    got = subscriber.pull(request={"subscription": path, "max_messages": 10}, timeout=10).received_messages
    (message,) = got
    assert message.message.attributes["incident_id"] == incident_id
    state = IncidentLog(store).read(incident_id)
    assert state is not None and [d.approver for d in state.decisions.values()] == ["alice@example.com"]
    assert not state.executions  # nothing ran here
