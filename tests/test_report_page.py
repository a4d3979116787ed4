"""The report page as the on-call engineer sees it, in a real browser (headless Chromium): what the page renders
(text and layout by bounding boxes), not what its HTML holds. At 1366x768 the first screen holds the cause with its
confidence, its strongest evidence and the action's button; a partial report shows its banner first; an action the
policy refuses offers no approval; every box of the causal graph shows its role and service."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agents.remediation.policy import Policy
from demo.generator import generate
from functions.handlers.web import create_app
from functions.local import triage
from functions.remediation import Remediation
from shared.incident_log import IncidentLog
from shared.incident_state import IncidentState
from shared.models import DETAILED_CAUSES
from shared.store.sqlite import SqliteEventStore
from shared.telemetry.bundle import BundleSource
from shared.telemetry_records import Window
from tests.test_browser import APPROVER, DRY_RUN, browser  # noqa: F401  (the Chromium fixture)

LAPTOP = {"width": 1366, "height": 768}


class TraceStoreDown(BundleSource):
    """A bundle whose traces cannot be read: the traces specialist fails and the report is partial."""

    def spans(self, window: Window, services: list[str] | None = None):  # type: ignore[no-untyped-def]
        raise RuntimeError("trace store unreachable")


@dataclass
class Site:
    url: str
    state: IncidentState


def serve(tmp_path: Path, broken_traces: bool = False) -> Iterator[Site]:
    from werkzeug.serving import make_server

    scenario = generate("bad_deploy", tmp_path / "demo", seed=3)
    store = SqliteEventStore(str(tmp_path / "events.db"))
    source = (TraceStoreDown if broken_traces else BundleSource)(scenario.bundle_dir)
    result = triage(scenario.alert_path.read_bytes(), source, store=store)
    remediation = Remediation(store=store, runner=DRY_RUN, key=b"report-page-test-key" * 2,
                              approvers=frozenset({APPROVER}), policy=Policy({"*": ["rollback_cloud_run"]}))
    server = make_server("127.0.0.1", 0, create_app(store, remediation, APPROVER), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state = IncidentLog(store).read(result.incident_id)
    assert state is not None
    yield Site(f"http://127.0.0.1:{server.server_port}/incidents/{result.incident_id}", state)
    server.shutdown()


@pytest.fixture()
def site(tmp_path: Path) -> Iterator[Site]:
    yield from serve(tmp_path)


@pytest.fixture()
def partial_site(tmp_path: Path) -> Iterator[Site]:
    yield from serve(tmp_path, broken_traces=True)


@pytest.fixture()
def laptop(browser):  # type: ignore[no-untyped-def]  # noqa: F811
    context = browser.new_context(viewport=LAPTOP)
    yield context.new_page()
    context.close()


def visible_text(locator) -> list[str]:  # type: ignore[no-untyped-def]
    return [t.text_content().strip() for t in locator.all() if t.is_visible()]


def in_first_screen(locator) -> bool:  # type: ignore[no-untyped-def]
    box = locator.bounding_box()
    return box is not None and box["height"] > 0 and box["y"] >= 0 and box["y"] + box["height"] <= LAPTOP["height"]


def test_every_causal_graph_node_shows_its_role_and_service(site: Site, laptop) -> None:  # type: ignore[no-untyped-def]
    laptop.goto(site.url)
    report = site.state.latest_report
    assert report is not None and report.causes
    graphs = laptop.locator("svg.causal-graph")
    assert graphs.count() == min(len(report.causes), DETAILED_CAUSES)
    for graph, cause in zip(graphs.all(), report.causes, strict=False):
        nodes = graph.locator("g.node").all()
        assert len(nodes) == len(cause.chain)
        for node, step in zip(nodes, cause.chain, strict=True):
            shown = visible_text(node.locator("text"))
            assert shown[:2] == [step.role, step.service[:28]], (step.role, shown)
            box = node.locator("rect").bounding_box()
            for text in node.locator("text").all():  # inside its box
                t = text.bounding_box()
                assert t is not None and box is not None
                assert box["x"] <= t["x"] and t["x"] + t["width"] <= box["x"] + box["width"] + 1


def test_the_first_screen_holds_the_cause_its_evidence_and_the_action(site: Site, laptop) -> None:  # type: ignore[no-untyped-def]
    laptop.goto(site.url)
    report = site.state.latest_report
    assert report is not None
    top = report.causes[0]
    cause = laptop.locator("#cause")
    assert in_first_screen(cause.locator(".big")) and cause.locator(".big").inner_text() == top.service
    assert in_first_screen(cause.locator(".conf")) and f"{top.confidence:.0%}" in cause.locator(".conf").inner_text()
    evidence = cause.locator("ol.evidence li")
    assert evidence.count() >= 2
    for item in evidence.all()[:2]:
        assert in_first_screen(item) and item.inner_text().strip()
    titles = {site.state.findings[f].title for f in top.evidence}
    assert any(t[:40] in evidence.first.inner_text() for t in titles)  # the text of the finding, not its id
    button = laptop.locator(".action[data-action=rollback_cloud_run] a.approval-link")
    assert button.count() == 1 and in_first_screen(button) and "approve" in button.inner_text().lower()
    assert in_first_screen(laptop.locator("#changed svg.changes"))
    assert "dry run" in laptop.locator("#actions").inner_text()
    assert "the previous serving revision" not in laptop.locator("#actions").inner_text()
    assert "revision '" in laptop.locator(".action[data-action=rollback_cloud_run]").inner_text()


def test_an_action_the_policy_refuses_offers_no_approval(site: Site, laptop) -> None:  # type: ignore[no-untyped-def]
    laptop.goto(site.url)
    refused = laptop.locator(".action[data-action=runbook_webhook]")
    assert refused.count() == 1
    assert "refused by policy" in refused.inner_text()
    assert refused.locator("a, button").count() == 0 and "approve" not in refused.inner_text().lower()
    assert laptop.locator("a.approval-link").count() == 1  # the allowed one only


def test_a_partial_report_shows_its_banner_first(partial_site: Site, laptop) -> None:  # type: ignore[no-untyped-def]
    laptop.goto(partial_site.url)
    banner = laptop.locator(".banner.partial")
    assert banner.count() == 1 and in_first_screen(banner)
    assert "Partial report" in banner.inner_text() and "traces" in banner.inner_text()
    first = laptop.locator("main > *").first
    assert "partial" in (first.get_attribute("class") or "")
    assert banner.bounding_box()["y"] < laptop.locator("h1").bounding_box()["y"]  # type: ignore[index]


def test_the_page_follows_the_systems_dark_setting(site: Site, browser) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    context = browser.new_context(viewport=LAPTOP, color_scheme="dark")
    page = context.new_page()
    page.goto(site.url)
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    rgb = [int(x) for x in background[background.index("(") + 1:background.index(")")].split(",")[:3]]
    assert sum(rgb) < 120, background
    context.close()


def test_the_page_says_what_the_text_report_warns_of(tmp_path: Path) -> None:
    """An alert outside the bundle's time range: the text report warns and is partial (exit 3); so is the page."""
    import json

    from functions.report_text import render_report

    scenario = generate("bad_deploy", tmp_path / "demo", seed=3)
    doc = json.loads(scenario.alert_path.read_text())
    doc["incident"]["started_at"] = 1600000000
    store = SqliteEventStore(str(tmp_path / "events.db"))
    result = triage(json.dumps(doc).encode(), BundleSource(scenario.bundle_dir), store=store)
    assert not result.complete and result.warnings
    text = render_report(result.state, result.report, warnings=result.warnings, no_data=result.no_data)
    web = create_app(store).test_client()
    page = web.get(f"/incidents/{result.incident_id}").get_data(as_text=True)
    api = web.get(f"/api/incidents/{result.incident_id}").get_json()["report"]
    assert api["partial"] is True and api["warnings"] == result.warnings and api["windows"]["incident"]
    assert "[PARTIAL]" in text and "class='banner partial'" in page
    assert page.index("class='banner partial'") < page.index("<h1>")
    for warning in result.warnings:
        assert f"WARNING: {warning}"[:60] in " ".join(text.split()) and warning.replace("'", "&#x27;") in page


def test_evidence_read_from_google_cloud_links_to_its_console_page() -> None:
    import json
    from urllib.parse import parse_qs, unquote, urlsplit

    from functions.console_links import console_link
    from shared.models import Finding

    gcp = {"source": {"source": "gcp", "project": "shop-prod"}, "window": [1768470434.0, 1768471634.0]}
    logs = Finding(specialist="logs", kind="log.new_pattern", service="payment", title="t",
                   query={**gcp, "filter": {"service": "payment"}})
    label, url = console_link(logs) or ("", "")
    assert label == "Logs Explorer" and url.startswith("https://console.cloud.google.com/logs/query;query=")
    assert "project=shop-prod" in url and 'resource.labels.service_name = "payment"' in unquote(url)
    assert "startTime=2026-01-15T09:47:14Z;endTime=2026-01-15T10:07:14Z" in url
    traces = Finding(specialist="traces", kind="trace.error_shift", service="payment", title="t", query=gcp)
    assert console_link(traces) == ("Trace", "https://console.cloud.google.com/traces/list?project=shop-prod&"
                                             "start=1768470434000&end=1768471634000")
    metric = Finding(specialist="metrics", kind="metric.anomaly", service="payment", title="t",
                     query={**gcp, "filter": {"metric": "run.googleapis.com/request_latencies", "service": "payment"}})
    label, url = console_link(metric) or ("", "")
    state = json.loads(parse_qs(urlsplit(url).query)["pageState"][0])
    assert label == "Metrics Explorer" and state["xyChart"]["dataSets"][0]["timeSeriesFilter"]["filter"] == \
        'metric.type="run.googleapis.com/request_latencies" resource.labels.service_name="payment"'
    bundle = logs.model_copy(update={"query": {"source": {"source": "bundle"}, "window": gcp["window"]}})
    assert console_link(bundle) is None  # a bundle has no console to point at
