"""Google Cloud's own incidents as outside causes: Service Health events read from a bundle, matched to the products
and locations the services run in, a `change.provider_incident` finding of the changes specialist, ranked like any
other cause: first when it is the cause (a regional outage), not when it is unrelated (another region, another
product, a healthy service)."""

from __future__ import annotations

import pytest

from agents.context import AnalysisContext
from agents.specialists.changes.analysis import analyse
from demo.generator import Scenario, generate
from functions.local import TriageResult, triage
from shared.telemetry.bundle import BundleSource, BundleWriter
from shared.telemetry.provider_incidents import covers, decode_event, touching
from shared.telemetry_records import Placement, ProviderIncident, Window

SEED = 1
ONSET = 1_768_471_200.0


@pytest.fixture(scope="module")
def triaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Scenario, TriageResult]]:
    out = {}
    for kind in ("regional_outage", "unrelated_outage"):
        s = generate(kind, tmp_path_factory.mktemp(kind), seed=SEED)
        out[kind] = (s, triage(s.alert_path.read_bytes(), BundleSource(s.bundle_dir)))
    return out


def test_a_regional_google_outage_that_is_the_cause_ranks_first(
        triaged: dict[str, tuple[Scenario, TriageResult]]) -> None:
    s, result = triaged["regional_outage"]
    assert s.truth["outside_cause"]
    top = result.report.causes[0]
    assert top.service == s.root_service
    outside = [f for f in result.state.findings.values() if f.kind == "change.provider_incident"]
    assert [f.service for f in outside] == [s.root_service]
    assert outside[0].finding_id in top.chain[0].evidence  # the cause step cites Google's incident
    assert "Google Cloud incident" in top.chain[0].statement


def test_unrelated_google_incidents_do_not_rank_first(triaged: dict[str, tuple[Scenario, TriageResult]]) -> None:
    s, result = triaged["unrelated_outage"]
    assert not s.truth["outside_cause"] and len(s.truth["provider_incidents"]) == 3
    top = result.report.causes[0]
    assert top.service == s.root_service
    outside = [f for f in result.state.findings.values() if f.kind == "change.provider_incident"]
    # another region and an unused product touch nothing; the used product in the region touches a healthy service
    assert len(outside) == 1 and outside[0].service != s.root_service
    assert all(f.finding_id not in top.evidence for f in outside)
    assert any(r.service == outside[0].service and "Google Cloud incident" in r.reason
               for r in result.report.ruled_out)


def test_service_health_events_are_matched_by_product_and_location() -> None:
    event = decode_event({
        "name": "projects/p/locations/global/events/e1", "title": "Cloud SQL degraded", "category": "INCIDENT",
        "state": "ACTIVE", "startTime": "2026-01-15T09:58:00Z",
        "eventImpacts": [{"product": {"productName": "Cloud SQL"}, "location": {"locationName": "us-central1"}}]})
    placed = [Placement("db", "Cloud SQL", "us-central1"), Placement("api", "Cloud Run", "us-central1"),
              Placement("db-eu", "cloud  sql", "europe-west1")]
    window = Window(ONSET - 7200, ONSET + 300)
    hit = touching([event], placed, window)
    assert [(c.service, c.kind) for c in hit] == [("db", "provider_incident")]
    assert touching([event], placed, Window(ONSET + 3600, ONSET + 7200)) != []  # still active: no end
    closed = ProviderIncident(event.event, event.title, event.start, "CLOSED", event.start + 60, event.impacts)
    assert touching([closed], placed, Window(ONSET + 3600, ONSET + 7200)) == []
    assert covers("us-central1", "us-central1-a") and covers("global", "asia-east1")
    assert not covers("us-central1", "us-central2") and not covers("us-east1", "us-east1x")
    for bad in ({"title": "no name", "startTime": "2026-01-15T09:58:00Z"},
                {"name": "n", "title": "t", "startTime": "2026-01-15T09:58:00Z", "category": "PLANNED_MAINTENANCE"},
                {"name": "n", "title": "t", "startTime": "2026-01-15T09:58:00Z", "state": "OPEN"},
                {"name": "n", "title": "t", "startTime": "2026-01-15T09:58:00Z", "eventImpacts": [{"product": {}}]}):
        with pytest.raises((KeyError, ValueError)):
            decode_event(bad)


def test_the_changes_specialist_scores_an_outage_under_way_high_and_one_over_low(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path)) / "b"
    with BundleWriter(folder, {"name": "t"}) as w:
        w.placement(Placement("db", "Cloud SQL", "us-central1"))
        w.provider_incident(ProviderIncident("e/1", "SQL slow", ONSET - 3600, impacts=(("Cloud SQL", "us-central1"),)))
        w.provider_incident(ProviderIncident("e/2", "SQL blip", ONSET - 5000, "CLOSED", ONSET - 4000,
                                             (("Cloud SQL", "us-central1"),)))
    ctx = AnalysisContext("i", "frontend", "m", ONSET, Window(ONSET - 900, ONSET + 300),
                          Window(ONSET - 4500, ONSET - 900))
    found = {f.details.model_dump().get("event"): f for f in analyse(BundleSource(folder), ctx).findings
             if f.kind == "change.provider_incident"}
    assert set(found) == {"e/1", "e/2"}
    assert found["e/1"].score > 0.7 > 0.2 > found["e/2"].score  # an hour-old outage under way still counts


def test_a_corrupt_incident_line_is_skipped_and_said(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path)) / "b"
    with BundleWriter(folder, {"name": "t"}) as w:
        w.placement(Placement("db", "Cloud SQL", "us-central1"))
        w.provider_incident(ProviderIncident("e/1", "SQL slow", ONSET - 60, impacts=(("Cloud SQL", "us-central1"),)))
    with open(folder / "provider_incidents.jsonl", "a") as f:
        f.write('{"name": "e/2", "title": "x", "startTime": "2026-01-15T10:00:00Z", "state": "OPEN"}\n')
    read = BundleSource(folder).changes(Window(ONSET - 7200, ONSET + 300))
    assert [c.kind for c in read.items] == ["provider_incident"]
    assert read.sampled and "provider_incidents.jsonl:2" in read.note
