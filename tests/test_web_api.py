"""The HTTP API beside the web view (/api/v1/): reads as JSON; writes (a question, a hint, a started
investigation) only from a verified identity, same-site, with the CSRF token bound to that identity, as JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents.remediation.policy import Policy
from functions.handlers.web import create_app
from functions.remediation import Remediation
from functions.runtime import make_runner
from shared.config import Settings
from shared.ports import EventStore
from tests.talk_data import copy_of, store_at

BOB, ALICE = "bob@example.com", "alice@example.com"
KEY = b"k" * 32


def remediation(store: EventStore) -> Remediation:
    return Remediation(store=store, runner=make_runner(Settings()), key=KEY, policy=Policy({"*": []}),
                       approvers=frozenset({ALICE}))


def test_reads_list_the_incidents_the_report_and_the_findings_with_their_evidence(tmp_path: Path) -> None:
    t, db = copy_of("bad_deploy", tmp_path)
    store = store_at(db)
    web = create_app(store, remediation(store), BOB).test_client()
    listed = web.get("/api/v1/incidents").get_json()
    assert [s["incident_id"] for s in listed["incidents"]] == [t.incident_id] and listed["next"] == ""
    report = web.get(f"/api/v1/incidents/{t.incident_id}/report").get_json()
    top = report["report"]["causes"][0]
    assert top["service"] == t.scenario.root_service and report["hints"] == [] and report["questions"] == []
    findings = web.get(f"/api/v1/incidents/{t.incident_id}/findings?ids={top['evidence'][0]}").get_json()
    [f] = findings["findings"]
    assert f["finding_id"] == top["evidence"][0] and "query" in f and "exemplars" in f and "details" in f
    assert web.get("/api/v1/incidents/inc-none/report").status_code == 404
    assert web.get(f"/api/v1/incidents/{t.incident_id}/findings?ids=f-00000000").status_code == 404


def test_writes_need_a_verified_identity_same_site_json_and_the_csrf_token(tmp_path: Path) -> None:
    t, db = copy_of("dual_fault", tmp_path)
    store = store_at(db)
    web = create_app(store, remediation(store), BOB).test_client()
    token = web.get("/api/v1/csrf").get_json()
    assert token["identity"] == BOB
    url = f"/api/v1/incidents/{t.incident_id}/questions"
    ok: dict[str, Any] = {"headers": {"X-CSRF-Token": token["csrf"]}, "json": {"question": "what happened?"}}
    assert web.post(url, json={"question": "what happened?"}).status_code == 403  # no token
    assert web.post(url, headers={"X-CSRF-Token": token["csrf"], "Origin": "https://evil.example"},
                    json={"question": "what happened?"}).status_code == 403
    assert web.post(url, headers={"X-CSRF-Token": token["csrf"]},
                    data={"question": "what happened?"}).status_code == 415  # a form post is not the API
    alice = create_app(store, remediation(store), ALICE).test_client()  # BOB's token is bound to BOB
    assert alice.post(url, **ok).status_code == 403
    anonymous = create_app(store, remediation(store), "").test_client()
    assert anonymous.get("/api/v1/csrf").status_code == 403 and anonymous.post(url, **ok).status_code == 403
    keyless = create_app(store, None, BOB).test_client()
    assert keyless.post(url, **ok).status_code == 404
    assert [e for e in store.load(t.incident_id) if e.type == "question.answered"] == []
    answered = web.post(url, **ok).get_json()
    assert answered["intent"] == "summary" and answered["cited"]
    second = web.get(f"/api/v1/incidents/{t.incident_id}/report").get_json()["report"]["causes"][1]["service"]
    hinted = web.post(f"/api/v1/incidents/{t.incident_id}/hints", headers=ok["headers"],
                      json={"kind": "service", "service": second}).get_json()
    assert hinted["after"][0] == second
    recorded = web.get(f"/api/v1/incidents/{t.incident_id}/report").get_json()
    assert recorded["questions"][0]["by"] == BOB and recorded["hints"][0]["by"] == BOB
    assert any("moved from #2 to #1" in line for line in recorded["report"]["steering"])
    started = web.post("/api/v1/investigations", headers=ok["headers"], json={"service": "cart"})
    assert started.status_code == 501  # nothing here can run it: the answer says why and how to enable it
    assert "no telemetry" in started.get_json()["error"] and "--telemetry" in started.get_json()["error"]
    assert web.post("/api/v1/investigations", headers=ok["headers"], json={"service": ""}).status_code == 400
    bad = web.post(f"/api/v1/incidents/{t.incident_id}/hints", headers=ok["headers"], json={"kind": "approve"})
    assert bad.status_code == 400


def test_no_route_of_the_api_approves_or_runs_anything(tmp_path: Path) -> None:
    _, db = copy_of("bad_deploy", tmp_path)
    store = store_at(db)
    app = create_app(store, remediation(store), BOB)
    api = sorted(str(r) for r in app.url_map.iter_rules() if str(r).startswith("/api/v1/"))
    assert api == ["/api/v1/csrf", "/api/v1/incidents", "/api/v1/incidents/<incident_id>/findings",
                   "/api/v1/incidents/<incident_id>/hints", "/api/v1/incidents/<incident_id>/questions",
                   "/api/v1/incidents/<incident_id>/report", "/api/v1/investigations"]


def test_the_report_page_asks_and_hints_with_its_forms(tmp_path: Path) -> None:
    import re

    t, db = copy_of("dual_fault", tmp_path)
    store = store_at(db)
    web = create_app(store, remediation(store), BOB).test_client()
    page = web.get(f"/incidents/{t.incident_id}").get_data(as_text=True)
    assert "Questions and hints" in page and f"/incidents/{t.incident_id}/ask" in page
    token = re.findall(r"action='/incidents/[^']+/ask'><input type=hidden name=csrf value='([0-9a-f]+)'", page)[0]
    ask = f"/incidents/{t.incident_id}/ask"
    assert web.post(ask, data={"question": "what happened?", "csrf": "0" * 64}).status_code == 403
    assert web.post(ask, data={"question": "what happened?", "csrf": token},
                    headers={"Origin": "https://evil.example"}).status_code == 403
    assert create_app(store, remediation(store), ALICE).test_client().post(
        ask, data={"question": "what happened?", "csrf": token}).status_code == 403  # bound to BOB
    assert "Asking is off here" in create_app(store, remediation(store), "").test_client().get(
        f"/incidents/{t.incident_id}").get_data(as_text=True)
    done = web.post(ask, data={"question": "What was ruled out and how?", "csrf": token})
    assert done.status_code == 303 and done.headers["Location"].endswith("#ask")
    second = web.get(f"/api/v1/incidents/{t.incident_id}/report").get_json()["report"]["causes"][1]["service"]
    assert web.post(f"/incidents/{t.incident_id}/hint",
                    data={"kind": "service", "service": second, "csrf": token}).status_code == 303
    page = web.get(f"/incidents/{t.incident_id}").get_data(as_text=True)
    assert "What was ruled out and how?" in page and "candidate(s) were ruled out" in page
    assert "What responders&#x27; hints changed" in page or "What responders' hints changed" in page
    assert "moved from #2 to #1" in page


def test_a_start_the_bus_refuses_answers_503_and_says_why(tmp_path: Path) -> None:
    """A deployment whose web account may not publish to the alerts topic: the answer names the refusal, not a 500."""
    from functions.runtime import without_telemetry
    from functions.talk import Talk

    class Refusing:
        def publish(self, topic: str, data: bytes, attributes: dict[str, str] | None = None) -> str:
            raise PermissionError("403 User not authorized to perform this action.")

        def publish_all(self, topic: str, messages: list[tuple[bytes, dict[str, str]]]) -> list[str]:
            raise PermissionError("403 User not authorized to perform this action.")

    _, db = copy_of("bad_deploy", tmp_path)
    store = store_at(db)
    pipeline = without_telemetry(store)
    pipeline.bus = Refusing()
    web = create_app(store, remediation(store), BOB, talk=Talk(store, pipeline)).test_client()
    token = web.get("/api/v1/csrf").get_json()["csrf"]
    started = web.post("/api/v1/investigations", headers={"X-CSRF-Token": token}, json={"service": "cart"})
    assert started.status_code == 503
    error = started.get_json()["error"]
    assert "not authorized" in error and "nothing was started" in error and "pubsub.publisher" in error
