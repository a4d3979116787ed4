"""The incident list in a real browser (headless Chromium, as tests/test_browser.py): what a person reads after
filtering, searching and waiting for the list to reload itself. Assertions are on rendered text."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from functions.handlers.web import create_app
from shared.store.sqlite import SqliteEventStore
from tests.test_browser import browser, page  # noqa: F401  (fixtures)

T0 = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC


def summary(n: int, status: str, service: str, cause: str, severity: str = "CRITICAL") -> dict[str, Any]:
    return {"incident_id": f"inc-{n:02d}", "status": status, "service": service, "severity": severity,
            "policy": "Error rate", "top_cause": cause, "events": 1, "updated_at": T0 + n,
            "alert_started_at": T0 + n * 60, "pending_approvals": 0}


@pytest.fixture()
def listing(tmp_path: Any) -> Iterator[tuple[str, list[str]]]:
    from werkzeug.serving import make_server

    store = SqliteEventStore(str(tmp_path / "events.db"))
    for s in (summary(1, "open", "checkout", "checkout: connection pool exhausted"),
              summary(2, "resolved", "checkout", "checkout: connection pool exhausted"),
              summary(3, "open", "payments", "payments: bad deploy", "ERROR"),
              summary(4, "open", "checkout", "checkout: memory leak")):
        store.put_summary(s["incident_id"], s)
    app = create_app(store, refresh_s=1)
    paths: list[str] = []

    def counted(environ: dict[str, Any], start: Callable[..., Any]) -> Any:
        paths.append(environ["REQUEST_METHOD"] + " " + environ.get("RAW_URI", environ["PATH_INFO"]))
        return app(environ, start)

    server = make_server("127.0.0.1", 0, counted, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", paths
    server.shutdown()


def listed(page: Any) -> list[str]:  # noqa: F811
    rows = page.locator("main table tr").all_inner_texts()[1:]
    return [r.split()[0] for r in rows]


def test_filters_and_search_narrow_what_the_list_shows(listing: tuple[str, list[str]], page: Any) -> None:  # noqa: F811
    url, _ = listing
    page.goto(url + "/")
    assert listed(page) == ["inc-04", "inc-03", "inc-02", "inc-01"]
    page.select_option("select[name=status]", "open")
    page.fill("input[name=service]", "checkout")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert listed(page) == ["inc-04", "inc-01"]
    page.fill("input[name=q]", "pool exhausted")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert listed(page) == ["inc-01"]
    assert page.input_value("input[name=q]") == "pool exhausted"  # the filters stay as the person set them
    page.goto(url + "/?severity=error")
    assert listed(page) == ["inc-03"]
    page.goto(url + "/?q=nothing+like+this")
    assert "No incident matches these filters" in page.inner_text("main")


def test_the_list_reloads_itself_keeping_its_filters(listing: tuple[str, list[str]], page: Any) -> None:  # noqa: F811
    url, paths = listing
    page.goto(url + "/?status=open")
    time.sleep(2.5)
    reloads = [p for p in paths if p == "GET /?status=open"]
    assert len(reloads) >= 2, paths  # a meta refresh: no script, so the page's CSP holds
    assert listed(page) == ["inc-04", "inc-03", "inc-01"]
    assert "reloads itself every 1 s" in page.inner_text("main")
    assert not [m for m in page.console if "Content Security Policy" in m], page.console
