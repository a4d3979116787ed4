"""An automated scan of every page of the web view with hostile data in every field: nothing is rendered as
markup, every response carries the security headers, and POST without the CSRF token is refused."""

from __future__ import annotations

import json
from html.parser import HTMLParser

from agents.context import AnalysisContext, SpecialistResult
from agents.policy import Policy
from functions.remediation import Remediation
from functions.runtime import embedded
from functions.web import SECURITY_HEADERS, create_app
from shared import topics
from shared.models import Finding, Widget
from shared.ports import TelemetrySource
from shared.store.sqlite import SqliteEventStore

EVIL = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)><svg onload=alert(3)>javascript:alert(4)"


class Markup(HTMLParser):
    """Every element and attribute the browser would build from a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(k, v or "") for k, v in attrs]


def dangerous(body: str) -> list[str]:
    markup = Markup()
    markup.feed(body)
    bad = [t for t in markup.tags if t in ("script", "img", "iframe", "object", "embed")]
    bad += [k for k, _ in markup.attributes if k.startswith("on")]
    bad += [v for k, v in markup.attributes if k in ("href", "src", "action") and "javascript:" in v.lower()]
    return bad


def hostile_specialist(name: str):  # type: ignore[no-untyped-def]
    def analyse(source: TelemetrySource, ctx: AnalysisContext) -> SpecialistResult:
        widget = {"logs": Widget(kind="pattern_table", title=EVIL, data={"rows": [
                      {"pattern": EVIL, "count": 3, "baseline_count": 0, "exemplars": [EVIL]}]}),
                  "traces": Widget(kind="waterfall", title=EVIL, data={"spans": [
                      {"service": EVIL, "name": EVIL, "depth": 0, "start_ms": 0, "duration_ms": 5, "error": True}]}),
                  "metrics": Widget(kind="timeseries", title=EVIL, data={"series": [
                      {"name": EVIL, "points": [[1, 2], [2, 3]]}], "onset": 1.5}),
                  "changes": Widget(kind="table", title=EVIL, data={"rows": [{"description": EVIL}]})}[name]
        kind = {"logs": "log.new_pattern", "traces": "trace.error_origin", "metrics": "metric.anomaly",
                "changes": "change.deploy"}[name]
        return SpecialistResult([Finding(specialist=name, kind=kind, service="svc" + EVIL, resource=EVIL, title=EVIL,
                                         score=0.9, exemplars=[{"line": EVIL}], widget=widget,
                                         details={"metric": "cpu" + EVIL, "previous": EVIL})])
    return analyse


class Empty:
    def describe(self) -> dict[str, str]:
        return {"source": EVIL}


def test_every_page_with_hostile_data_in_every_field() -> None:
    store = SqliteEventStore()
    pipeline, bus = embedded(store, Empty())  # type: ignore[arg-type]
    for name in pipeline.specialists:
        pipeline._loaded[name] = hostile_specialist(name)
    alert = {"incident": {"incident_id": "0.evil", "policy_name": EVIL, "condition_name": EVIL, "summary": EVIL,
                          "state": "open", "started_at": 1_768_471_320, "severity": EVIL, "url": EVIL,
                          "resource_name": EVIL, "resource": {"type": EVIL, "labels": {"service_name": EVIL}},
                          "metric": {"type": EVIL, "labels": {EVIL: EVIL}}, "documentation": EVIL},
             "version": "1.2"}
    bus.publish(topics.ALERTS, json.dumps(alert).encode())
    bus.drain()
    (summary,) = store.summaries()
    incident_id = summary["incident_id"]
    remediation = Remediation(store=store, key=b"s" * 32, policy=Policy({"*": ["runbook_webhook"]}),
                              approvers=frozenset({"alice@example.com"}))
    pid = next(iter(remediation.log.read(incident_id).proposals))
    token = remediation.link_token(incident_id, pid)
    web = create_app(store, remediation, "alice@example.com").test_client()
    pages = ["/", f"/incidents/{incident_id}", f"/approve?token={token}", f"/approve?token={EVIL}",
             f"/incidents/{EVIL}", "/api/incidents", f"/api/incidents/{incident_id}", f"/api/incidents/{EVIL}"]
    for path in pages:
        response = web.get(path)
        body = response.get_data(as_text=True)
        for header, value in SECURITY_HEADERS.items():
            assert response.headers.get(header) == value, (path, header)
        if response.mimetype == "text/html":
            assert dangerous(body) == [], path
            assert "&lt;script&gt;" in body or response.status_code in (403, 404), path
        else:
            assert response.mimetype == "application/json"
    assert web.post("/approve", data={"token": token, "decision": "approve"}).status_code == 403  # no CSRF token
    assert not remediation.log.read(incident_id).decisions
