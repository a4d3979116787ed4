"""The ranking lists every service a specialist found anomalous: the report shows the first causes in full and
the rest of the ranking one line each, in the text report and the web view."""

from __future__ import annotations

from pathlib import Path

from demo.generator import generate
from functions.handlers.web import create_app
from functions.local import triage
from functions.report_text import render_report
from shared.models import DETAILED_CAUSES
from shared.store.sqlite import SqliteEventStore
from shared.telemetry.bundle import BundleSource

NOT_ANOMALIES = ("trace.topology", "log.none", "change.none")


def test_every_anomalous_service_is_ranked_and_the_tail_is_shown_one_line_each(tmp_path: Path) -> None:
    scenario = generate("pool_exhaustion", tmp_path / "demo", seed=1)
    store = SqliteEventStore(str(tmp_path / "events.db"))
    result = triage(scenario.alert_path.read_bytes(), BundleSource(scenario.bundle_dir), store=store)
    causes = result.report.causes
    anomalous = {f.service for f in result.state.findings.values()
                 if f.service and not f.ruled_out and f.kind not in NOT_ANOMALIES and not f.kind.startswith("change.")}
    assert anomalous <= {c.service for c in causes}
    assert causes[0].service == scenario.root_service
    assert [c.rank for c in causes] == list(range(1, len(causes) + 1))
    tail = [c for c in causes if c.propagation_of]
    assert causes[len(causes) - len(tail):] == tail  # propagation only: listed last, each saying so
    assert all("likely propagation" in c.title for c in tail)
    assert len(causes) > DETAILED_CAUSES, "the scenario has more anomalous services than the report details"
    text = render_report(result.state, result.report)
    rest = text.split("THE REST OF THE RANKING", 1)[1]
    for c in causes[DETAILED_CAUSES:]:
        assert f"#{c.rank} {c.service}  evidence score" in rest
    page = create_app(store).test_client().get(f"/incidents/{result.incident_id}").get_data(as_text=True)
    assert "The rest of the ranking" in page and f"#{causes[-1].rank} {causes[-1].service}" in page
