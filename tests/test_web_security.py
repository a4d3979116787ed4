"""An automated scan of every page of the web view with hostile data in every field: nothing is rendered as
markup, every response carries the security headers, and POST without the CSRF token is refused."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from agents.context import AnalysisContext, SpecialistResult
from agents.remediation.policy import Policy
from functions.handlers.web import create_app
from functions.remediation import Remediation
from functions.runtime import embedded, make_runner
from functions.web_security import SECURITY_HEADERS, iap_identity, local_hosts
from shared import topics
from shared.config import Settings
from shared.models import Finding, Widget
from shared.ports import TelemetrySource
from shared.store.sqlite import SqliteEventStore

DRY_RUN = make_runner(Settings())  # the default executor: records the plan, changes nothing

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


def dangerous(body: str, scripts: int = 0) -> list[str]:
    """`scripts`: how many of the page's script elements are the one constant script the link page may carry."""
    from functions.web_render import APPROVE_SCRIPT

    markup = Markup()
    markup.feed(body)
    assert body.count(f"<script>{APPROVE_SCRIPT}</script>") == scripts
    bad = [t for t in markup.tags if t in ("script", "img", "iframe", "object", "embed")][scripts:]
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
    log_counter = None  # no pre-aggregation capability (the port's attribute)

    def describe(self) -> dict[str, str]:
        return {"source": EVIL}


def test_every_page_with_hostile_data_in_every_field() -> None:
    from functions.web_security import APPROVE_PAGE_CSP

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
    remediation = Remediation(store=store, runner=DRY_RUN, key=b"s" * 32, policy=Policy({"*": ["runbook_webhook"]}),
                              approvers=frozenset({"alice@example.com"}))
    pid = next(iter(remediation.log.read(incident_id).proposals))
    token = remediation.link_token(incident_id, pid)
    web = create_app(store, remediation, "alice@example.com").test_client()
    pages = ["/", f"/incidents/{incident_id}", "/approve", f"/approve?token={token}", f"/approve?token={EVIL}",
             f"/incidents/{EVIL}", "/api/incidents", f"/api/incidents/{incident_id}", f"/api/incidents/{EVIL}"]
    responses = [(path, web.get(path)) for path in pages]
    responses += [(f"POST preview {t[:9]}", web.post("/approve/preview", data={"token": t})) for t in (token, EVIL)]
    for path, response in responses:
        body = response.get_data(as_text=True)
        link_page = path == "/approve"
        for header, value in SECURITY_HEADERS.items():
            expected = APPROVE_PAGE_CSP if link_page and header == "Content-Security-Policy" else value
            assert response.headers.get(header) == expected, (path, header)
        if response.mimetype == "text/html":
            assert dangerous(body, scripts=1 if link_page else 0) == [], path
            assert "&lt;script&gt;" in body or response.status_code in (400, 403, 404) or link_page, path
            assert EVIL not in body, path
            assert token not in body or path == f"POST preview {token[:9]}", path  # only its form carries it
        else:
            assert response.mimetype == "application/json"
    assert web.post("/approve", data={"token": token, "decision": "approve"}).status_code == 403  # no CSRF token
    assert not remediation.log.read(incident_id).decisions


# ------------------------------------------------------------------ identity, Host, logs


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from demo.generator import generate

    return generate("bad_deploy", tmp_path_factory.mktemp("demo"), seed=3)


def approvable(tmp_path: Path, scenario: Any) -> tuple[SqliteEventStore, Remediation, str, str]:
    """An incident with a rollback proposal the policy allows and alice may approve."""
    from functions.local import triage
    from shared.telemetry.bundle import BundleSource

    store = SqliteEventStore(str(tmp_path / "events.db"))
    incident_id = triage(scenario.alert_path.read_bytes(), BundleSource(scenario.bundle_dir), store=store).incident_id
    remediation = Remediation(store=store, runner=DRY_RUN, key=b"s" * 32, policy=Policy({"*": ["rollback_cloud_run"]}),
                              approvers=frozenset({"alice@example.com"}))
    state = remediation.log.read(incident_id)
    assert state is not None
    pid = next(p for p, x in state.proposals.items() if x.action == "rollback_cloud_run")
    return store, remediation, incident_id, pid


def preview(web: Any, token: str, **kwargs: Any) -> Any:
    """What the page an approval link opens does with the token it reads from the link's fragment."""
    return web.post("/approve/preview", data={"token": token}, **kwargs)


def form_of(page: str) -> dict[str, str]:
    fields = dict(re.findall(r"name=(token|csrf) value='([^']+)'", page))
    return {**fields, "decision": "approve"}


def test_the_plain_iap_header_is_never_an_identity(scenario: Any, tmp_path: Path) -> None:
    """Behind IAP only the signed assertion counts; a forged plain header, a missing or bad assertion: 403."""
    from tests.test_iap import APPROVER, new_key, sign, verifier

    store, remediation, incident_id, pid = approvable(tmp_path, scenario)
    web = create_app(store, remediation, identity=iap_identity(verifier())).test_client()
    token = remediation.link_token(incident_id, pid)
    refused = [{"X-Goog-Authenticated-User-Email": f"accounts.google.com:{APPROVER}"}, {},
               {"X-Goog-IAP-JWT-Assertion": sign(aud="/projects/1/global/backendServices/2")},
               {"X-Goog-IAP-JWT-Assertion": sign(iss="https://evil.example")},
               {"X-Goog-IAP-JWT-Assertion": sign(exp=int(time.time()) - 600, iat=int(time.time()) - 900)},
               {"X-Goog-IAP-JWT-Assertion": sign(key=new_key())},
               {"X-Goog-IAP-JWT-Assertion": "x.y.z"}]
    good = {"X-Goog-IAP-JWT-Assertion": sign()}
    form = form_of(preview(web, token, headers=good).get_data(as_text=True))  # the preview decides nothing
    for headers in refused:
        page = preview(web, token, headers=headers).get_data(as_text=True)
        assert APPROVER not in page and "value=approve" not in page, headers
        assert web.post("/approve", data=form, headers=headers).status_code == 403, headers
        assert not remediation.log.read(incident_id).decisions  # type: ignore[union-attr]
    page = preview(web, token, headers=good).get_data(as_text=True)
    assert APPROVER in page and "value=approve" in page
    assert web.post("/approve", data=form, headers=good).status_code == 200
    assert remediation.log.read(incident_id).decisions[pid].approver == APPROVER  # type: ignore[union-attr]


def test_the_local_identity_ignores_every_header(scenario: Any, tmp_path: Path) -> None:
    """`autosre serve`: the identity is the one the operator started it with, whatever the request says."""
    store, remediation, incident_id, pid = approvable(tmp_path, scenario)
    web = create_app(store, remediation, "").test_client()  # no --approver: nobody is signed in
    token = remediation.link_token(incident_id, pid)
    spoof = {"X-Goog-Authenticated-User-Email": "accounts.google.com:alice@example.com"}
    page = preview(web, token, headers=spoof).get_data(as_text=True)
    assert "alice@example.com" not in page and "value=approve" not in page
    csrf = preview(create_app(store, remediation, "alice@example.com").test_client(), token).get_data(as_text=True)
    assert web.post("/approve", data=form_of(csrf), headers=spoof).status_code == 403
    assert not remediation.log.read(incident_id).decisions  # type: ignore[union-attr]


def test_host_header_outside_the_allow_list_is_refused(scenario: Any, tmp_path: Path) -> None:
    """DNS rebinding: evil.example resolves to 127.0.0.1; its page then sends Host and Origin evil.example.
    Origin == Host proves nothing when both are the attacker's: the Host must be one we serve."""
    store, remediation, incident_id, pid = approvable(tmp_path, scenario)
    web = create_app(store, remediation, "alice@example.com", allowed_hosts=local_hosts("127.0.0.1", 8080)
                     ).test_client()
    token = remediation.link_token(incident_id, pid)
    base = {"base_url": "http://127.0.0.1:8080"}
    page = preview(web, token, **base).get_data(as_text=True)
    form = form_of(page)
    for host in ("evil.example:8080", "evil.example", "127.0.0.1.evil.example:8080", "127.0.0.1:9999"):
        rebound = {"base_url": f"http://{host}"}
        assert web.get("/", **rebound).status_code == 400, host  # type: ignore[arg-type]
        assert web.get("/approve", **rebound).status_code == 400, host  # type: ignore[arg-type]
        assert preview(web, token, headers={"Origin": f"http://{host}"}, **rebound).status_code == 400, host
        response = web.post("/approve", data=form, headers={"Origin": f"http://{host}"}, **rebound)  # type: ignore[arg-type]
        assert response.status_code == 400, host
    assert not remediation.log.read(incident_id).decisions  # type: ignore[union-attr]
    for host in ("127.0.0.1:8080", "localhost:8080", "LOCALHOST:8080"):
        assert web.get("/", base_url=f"http://{host}").status_code == 200, host
    ok = web.post("/approve", data=form, headers={"Origin": "http://localhost:8080"}, base_url="http://localhost:8080")
    assert ok.status_code == 200
    # the default (no allow-list given) is loopback only, on any port
    default = create_app(store, remediation, "alice@example.com").test_client()
    assert default.get("/").status_code == 200
    assert default.get("/", base_url="http://127.0.0.1:5000").status_code == 200
    assert default.get("/", base_url="http://evil.example").status_code == 400


class AccessLog:
    """The request log lines the infrastructure in front of the web view writes, unfiltered: what the HTTPS load
    balancer and Cloud Run send to Cloud Logging (`httpRequest.requestUrl`, `referer`, `userAgent`), and a
    gunicorn-style access line (its default format: the request line, the referer, the user agent)."""

    def __init__(self, app: Any) -> None:
        self.app, self.lines = app, []  # type: list[str]

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        from wsgiref.util import request_uri

        def start(status: str, headers: Any, exc_info: Any = None) -> Any:
            method, referer = environ["REQUEST_METHOD"], environ.get("HTTP_REFERER", "-")
            agent = environ.get("HTTP_USER_AGENT", "-")
            self.lines.append(json.dumps({"httpRequest": {
                "requestMethod": method, "requestUrl": request_uri(environ), "status": int(status[:3]),
                "referer": referer, "userAgent": agent}}))
            self.lines.append(f'{environ.get("REMOTE_ADDR")} - - [{time.strftime("%d/%b/%Y:%H:%M:%S %z")}] '
                              f'"{method} {environ.get("RAW_URI") or environ.get("REQUEST_URI")} '
                              f'{environ["SERVER_PROTOCOL"]}" {status[:3]} - "{referer}" "{agent}"')
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


@contextmanager
def serving(app: Any) -> Iterator[tuple[str, AccessLog]]:
    """The real development server (`autosre serve` runs it; it logs every request line) behind the access log."""
    import threading

    from werkzeug.serving import make_server

    access = AccessLog(app)
    server = make_server("127.0.0.1", 0, access, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", access
    finally:
        server.shutdown()


def fetch(url: str, form: dict[str, str] | None = None, referer: str = "") -> str:
    """A browser's request: a link or form target without its fragment (never sent), the Referer a same-origin
    policy sends (the page's URL, never its fragment), an Origin on POST."""
    import urllib.parse
    import urllib.request

    headers = {"User-Agent": "Mozilla/5.0 (test)", **({"Referer": referer.split("#")[0]} if referer else {})}
    if form is not None:
        headers["Origin"] = "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(url))
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url.split("#")[0], data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(response.read().decode())


def approve_as_a_browser(base: str, remediation: Remediation, incident_id: str, pid: str) -> str:
    """From the report page: follow the approval link, let the link page do what its script does (read the token
    from the fragment, POST it to the preview), approve. Returns the token the link carried."""
    from urllib.parse import parse_qs, urljoin, urlsplit

    from shared import approvals

    report_url = f"{base}/incidents/{incident_id}"
    report = fetch(report_url)
    links = [urljoin(report_url, h) for h in re.findall(r"class=approval-link href='([^']+)'", report)]

    def token_of(link: str) -> str:
        parts = urlsplit(link)
        (token,) = parse_qs(parts.fragment or parts.query)["token"]
        return token

    link = next(x for x in links if approvals.verify(remediation.key, token_of(x)).proposal_id == pid)
    page, page_url = fetch(link, referer=report_url), link.split("#")[0]
    if "action='/approve/preview'" in page:  # the link page's script
        page, page_url = fetch(f"{base}/approve/preview", {"token": token_of(link)}, referer=page_url), \
            f"{base}/approve/preview"
    assert "Recorded: approve" in fetch(f"{base}/approve", form_of(page), referer=page_url)
    return token_of(link)


def leaks(token: str, texts: list[str]) -> list[str]:
    body, signature = token.split(".")
    return [t for t in texts if token in t or body in t or signature in t]


def test_no_request_log_of_the_approval_flow_carries_the_token(scenario: Any, tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    """On Google Cloud the load balancer and Cloud Run log every request's full URL (query string included) and its
    Referer: the whole flow, from the report page's link to the decision, must put the token in neither."""
    import logging

    store, remediation, incident_id, pid = approvable(tmp_path, scenario)
    caplog.set_level(logging.INFO)
    with serving(create_app(store, remediation, "alice@example.com")) as (base, access):
        token = approve_as_a_browser(base, remediation, incident_id, pid)
    werkzeug = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert werkzeug, "the request log was captured"
    assert leaks(token, access.lines + werkzeug) == []
    assert sum('"requestMethod": "POST"' in line for line in access.lines) == 2  # the preview, the decision
    assert remediation.log.read(incident_id).decisions[pid].approver == "alice@example.com"  # type: ignore[union-attr]


def test_approval_tokens_never_reach_our_log(scenario: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                             capfd: pytest.CaptureFixture[str]) -> None:
    """Old links and hand-made URLs still put a token in a query string: refused, and werkzeug's request line
    (what `autosre serve` logs) has it redacted."""
    import logging
    import urllib.error

    store, remediation, incident_id, pid = approvable(tmp_path, scenario)
    token = remediation.link_token(incident_id, pid)
    caplog.set_level(logging.DEBUG)
    with serving(create_app(store, remediation, "alice@example.com")) as (base, _):
        for path in (f"/approve?token={token}", f"/approve?token={token}&x=1", f"/nothing?token={token}",
                     f"/approve?csrf=1&token={token}x", f"/approve/preview?token={token}"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                fetch(base + path, {} if "preview" in path else None)
            assert refused.value.code in (400, 404) and token not in refused.value.read().decode(), path
        approve_as_a_browser(base, remediation, incident_id, pid)
    out, err = capfd.readouterr()
    werkzeug_lines = [r for r in caplog.records if r.name == "werkzeug"]
    assert len(werkzeug_lines) >= 5, "the request log was captured"
    assert leaks(token, [caplog.text, out, err, *(r.getMessage() for r in caplog.records)]) == []
    assert remediation.log.read(incident_id).decisions  # type: ignore[union-attr]


def test_a_change_table_shows_times_as_dates_not_epochs() -> None:
    from functions.web_charts import widget_html
    from shared.models import Widget

    html = widget_html(Widget(kind="table", data={"rows": [{"at": 1768471103.000772, "service": "payment"}]}))
    assert "1768471103" not in html and "2026-01-15 09:58:23 UTC" in html
