"""Runbooks: the alert policy's documentation (its text and links, as Cloud Monitoring's notification carries them)
and a catalogue of Markdown runbooks with front matter, cited in the report next to the cause and on the proposed
action they match, in the text report and on the report page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.remediation.catalog import action_title
from agents.reporting.runbooks import parse_markdown
from demo.generator import generate
from functions.local import triage
from functions.report_text import render_report
from functions.web_report import report_page
from shared.alerts import parse_alert
from shared.telemetry.bundle import BundleSource

FIXTURES = Path(__file__).parent / "fixtures" / "alerts"


def test_the_documentation_links_of_a_real_notification_are_parsed() -> None:
    alert = parse_alert((FIXTURES / "01_gce_cpu_threshold_closed.v1.2.json").read_bytes())
    assert [(link.display_name, link.url) for link in alert.documentation_links] == [
        ("Playbook", "https://myownpersonaldomain.com/playbook?name=${resource.name}")]
    assert "policy.display_name" in alert.documentation
    doc = json.loads((FIXTURES / "01_gce_cpu_threshold_closed.v1.2.json").read_text())
    doc["incident"]["documentation"]["links"] = [{"displayName": "x", "url": "javascript:alert(1)"}, "junk",
                                                 {"url": "https://ok.example/rb"}]
    assert [link.url for link in parse_alert(doc).documentation_links] == ["https://ok.example/rb"]


def test_front_matter_is_read_in_its_three_list_spellings() -> None:
    rb = parse_markdown("---\ntitle: Orders DB slow\nservices: [postgres-orders, inventory]\nsymptoms:\n"
                        "  - latency\n  - timeouts\nactions: restart, scale_min_instances\n---\n"
                        "# Steps\nCheck disks.\n",
                        "db.md")
    assert rb is not None and rb.title == "Orders DB slow" and rb.services == ["postgres-orders", "inventory"]
    assert rb.symptoms == ["latency", "timeouts"] and rb.actions == ["restart", "scale_min_instances"]
    assert parse_markdown("# no front matter\n", "x.md") is None


@pytest.fixture(scope="module")
def cited(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, str, str]:
    s = generate("bad_deploy", tmp_path_factory.mktemp("bad_deploy"), seed=2)
    alert = json.loads(s.alert_path.read_text())
    alert["incident"]["documentation"] = {
        "content": "Checkout errors. If a deploy went out just before, see [Rollback guide](https://wiki.example/"
                   "rollback) and roll back.", "mime_type": "text/markdown",
        "links": [{"displayName": "Service dashboard", "url": "https://console.cloud.google.com/monitoring/x"}]}
    books = tmp_path_factory.mktemp("runbooks")
    (books / "own.md").write_text(f"---\ntitle: {s.root_service} failing requests\nservices: [{s.root_service}]\n"
                                  "symptoms: [errors, exceptions]\n---\nLook at the last rollout first.\n")
    (books / "other.md").write_text("---\ntitle: Redis memory\nservices: [redis-cart]\nsymptoms: [errors]\n---\n")
    (books / "notes.md").write_text("no front matter: not a runbook\n")
    result = triage(json.dumps(alert).encode(), BundleSource(s.bundle_dir))
    assert result.report.causes[0].service == s.root_service and result.state.proposals
    mp = pytest.MonkeyPatch()
    mp.setenv("AUTOSRE_RUNBOOKS", str(books))
    try:
        text = render_report(result.state, result.report)
        page = report_page(result.state, {})
    finally:
        mp.undo()
    action = next(iter(result.state.proposals.values())).action
    return text, page, s.root_service, action


def test_the_text_report_cites_runbooks_on_the_cause_and_the_action(cited: tuple[str, str, str, str]) -> None:
    text, _, root, action = cited
    text = " ".join(text.split())  # lines wrap anywhere
    causes = text.split("RANKED CAUSES", 1)[1].split("#2", 1)[0]
    assert f"runbook: {root} failing requests (catalogue: own.md; for {root}, symptom errors)" in causes
    assert "runbook: Rollback guide (https://wiki.example/rollback; the alerting policy's documentation)" in causes
    assert "Service dashboard" in causes and "Redis memory" not in text
    section = text.split("RUNBOOKS", 1)[1]
    title = action_title(action)
    assert f"- for {title} on {root}: Rollback guide (https://wiki.example/rollback; describes" in section
    assert "Checkout errors. If a deploy went out" in section


def test_the_report_page_cites_runbooks_on_the_cause_and_the_action(cited: tuple[str, str, str, str]) -> None:
    _, page, root, action = cited
    cause = page.split("id=cause>", 1)[1].split("</section>", 1)[0]
    assert "<a href='https://wiki.example/rollback'" in cause and f"{root} failing requests" in cause
    card = page.split(f"data-action='{action}'", 1)[1].split("</div></div>", 1)[0]
    assert "Rollback guide" in card and "Redis memory" not in page
