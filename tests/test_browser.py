"""A person's path through the web view, in a real browser (headless Chromium driven by Playwright): open the
demo incident's report, see the causal graph and charts, follow an approval link (its token in the fragment, read
by the link page's script and POSTed to the preview), approve, and see the executed (dry-run) remediation on the
timeline; no request the server saw carried the token. Screenshots are saved under artifacts/browser/."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agents.remediation.policy import Policy
from demo.generator import generate
from functions.handlers.web import create_app
from functions.local import triage
from functions.remediation import Remediation
from functions.runtime import make_runner
from shared.config import Settings
from shared.store.sqlite import SqliteEventStore
from shared.telemetry.bundle import BundleSource
from tests.test_web_security import AccessLog, leaks

DRY_RUN = make_runner(Settings())  # the default executor: records the plan, changes nothing

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or ""
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "browser"
APPROVER = "alice@example.com"


@dataclass
class Served:
    url: str
    access: AccessLog  # every request as the load balancer and an access log would record it
    remediation: Remediation


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[Served]:
    from werkzeug.serving import make_server

    scenario = generate("bad_deploy", tmp_path / "demo", seed=3)
    store = SqliteEventStore(str(tmp_path / "events.db"))
    triage(scenario.alert_path.read_bytes(), BundleSource(scenario.bundle_dir), store=store)
    remediation = Remediation(store=store, runner=DRY_RUN, key=b"browser-test-key-" * 2,
                              approvers=frozenset({APPROVER}), policy=Policy({"*": ["rollback_cloud_run"]}))
    access = AccessLog(create_app(store, remediation, APPROVER))
    server = make_server("127.0.0.1", 0, access, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Served(f"http://127.0.0.1:{server.server_port}", access, remediation)
    server.shutdown()


@pytest.fixture()
def browser():  # type: ignore[no-untyped-def]
    if not CHROMIUM:
        if os.environ.get("CI") == "true":
            raise RuntimeError("chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield browser
        browser.close()


@pytest.fixture()
def page(browser):  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.console = []
    page.on("console", lambda message: page.console.append(message.text))
    return page


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def decisions(served: Served) -> dict[str, Any]:
    state = served.remediation.log.read(next(iter(served.remediation.log.summaries()))["incident_id"])
    assert state is not None
    return dict(state.decisions)


def test_report_to_approved_dry_run_in_a_real_browser(served: Served, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(served.url + "/")
    assert "Incidents" in page.title()
    shot(page, "1-incidents")
    page.click("a[href^='/incidents/']")
    page.wait_for_selector("svg.causal-graph")
    report_url = page.url
    assert page.locator("svg.causal-graph").count() >= 1
    assert page.locator("svg.chart, svg.waterfall").count() >= 1
    assert "Likely root cause" in page.inner_text("h1")
    shot(page, "2-report")
    link = page.locator(".action[data-action=rollback_cloud_run] a.approval-link").first
    href = link.get_attribute("href")
    assert href.startswith("/approve#token="), href
    token = href.split("#token=", 1)[1]
    link.click()
    page.wait_for_selector("button.approve")
    assert page.url == served.url + "/approve/preview"  # the POST that carried the token in its body
    assert "It will do exactly this" in page.content() and APPROVER in page.content()
    shot(page, "3-approval")
    assert decisions(served) == {}  # opening the link and the preview decided nothing
    page.click("button.approve")
    page.wait_for_selector("h1")
    assert "Recorded: approve" in page.inner_text("h1") and "DRY RUN" in page.content()
    shot(page, "4-approved")
    page.goto(report_url)
    timeline = page.inner_text("table.timeline")
    assert "remediation.executed" in timeline and "approval.decided" in timeline and "DRY RUN" in timeline
    shot(page, "5-timeline")
    requests = "\n".join(served.access.lines)
    assert '"GET /approve HTTP' in requests and '"POST /approve/preview HTTP' in requests
    assert '"POST /approve HTTP' in requests
    assert leaks(token, served.access.lines) == []  # in no URL and no Referer the server (or a proxy) saw
    assert not [m for m in page.console if "Content Security Policy" in m], page.console


def test_the_link_page_removes_the_fragment_and_says_what_is_missing(served: Served, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(served.url + "/approve#not-a-token=1")
    assert not [m for m in page.console if "Content Security Policy" in m], page.console  # the script may run
    page.wait_for_selector("#status:has-text('no approval token')", timeout=10_000)
    assert page.url == served.url + "/approve"  # history.replaceState removed the fragment
    page.goto(served.url + "/approve?token=abc.def")  # an old link
    assert "no longer accepted" in page.inner_text("main") and "abc.def" not in page.content()


def test_without_javascript_the_link_page_says_it_needs_it(served: Served, browser) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(served.url + "/")
    page.click("a[href^='/incidents/']")
    page.wait_for_selector("a.approval-link")
    page.locator("a.approval-link").first.click()
    page.wait_for_selector("#status")
    assert "needs JavaScript to read the approval link" in page.inner_text("#status")
    shot(page, "6-no-javascript")
    assert "POST" not in "\n".join(served.access.lines) and decisions(served) == {}
    context.close()


def test_actions_read_as_the_catalogs_titles(served: Served, page) -> None:  # type: ignore[no-untyped-def]
    """A person reads "Roll back to the previous revision", never the catalog's key (kept in the JSON API)."""
    page.goto(served.url + "/")
    page.click("a[href^='/incidents/']")
    page.wait_for_selector("#actions")
    report = page.inner_text("main")
    assert "Roll back to the previous revision" in page.inner_text("#actions")
    assert "rollback_cloud_run" not in report
    page.locator("a.approval-link").first.click()
    page.wait_for_selector("button.approve")
    assert "Roll back to the previous revision on" in page.inner_text("main")
    assert "rollback_cloud_run" not in page.inner_text("main")
    incident = page.locator("main a[href^='/incidents/']").first.get_attribute("href")
    api = page.request.get(served.url + "/api" + incident).json()
    assert "rollback_cloud_run" in [p["action"] for p in api["proposals"].values()]  # keys in the JSON
