"""A person's path through the web view, in a real browser (headless Chromium driven by Playwright): open the
demo incident's report, see the causal graph and charts, follow an approval link, approve, and see the
executed (dry-run) remediation on the timeline. Screenshots are saved under artifacts/browser/."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.policy import Policy
from demo.generator import generate
from functions.local import triage
from functions.remediation import Remediation
from functions.web import create_app
from shared.store.sqlite import SqliteEventStore
from shared.telemetry.bundle import BundleSource

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or ""
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "browser"
APPROVER = "alice@example.com"


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[str]:
    from werkzeug.serving import make_server

    scenario = generate("bad_deploy", tmp_path / "demo", seed=3)
    store = SqliteEventStore(str(tmp_path / "events.db"))
    triage(scenario.alert_path.read_bytes(), BundleSource(scenario.bundle_dir), store=store)
    remediation = Remediation(store=store, key=b"browser-test-key-" * 2, approvers=frozenset({APPROVER}),
                              policy=Policy({"*": ["rollback_cloud_run"]}))
    server = make_server("127.0.0.1", 0, create_app(store, remediation, APPROVER), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture()
def page():  # type: ignore[no-untyped-def]
    if not CHROMIUM:
        if os.environ.get("CI") == "true":
            raise RuntimeError("chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield browser.new_page(viewport={"width": 1200, "height": 900})
        browser.close()


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_report_to_approved_dry_run_in_a_real_browser(served: str, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(served + "/")
    assert "Incidents" in page.title()
    shot(page, "1-incidents")
    page.click("a[href^='/incidents/']")
    page.wait_for_selector("svg.causal-graph")
    assert page.locator("svg.causal-graph").count() >= 1
    assert page.locator("svg.chart, svg.waterfall").count() >= 1
    assert "Likely root cause" in page.inner_text("h1")
    shot(page, "2-report")
    row = page.locator("tr", has_text="rollback_cloud_run")
    row.locator("a.approval-link").first.click()
    page.wait_for_selector("button.approve")
    assert "It will do exactly this" in page.content()
    shot(page, "3-approval")
    page.click("button.approve")
    page.wait_for_selector("h1")
    assert "Recorded: approve" in page.inner_text("h1") and "DRY RUN" in page.content()
    shot(page, "4-approved")
    page.go_back()
    page.go_back()
    page.reload()
    timeline = page.inner_text("table.timeline")
    assert "remediation.executed" in timeline and "approval.decided" in timeline and "DRY RUN" in timeline
    shot(page, "5-timeline")
