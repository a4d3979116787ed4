"""The change detective: changes near the onset read through a real bundle, scored by proximity and kind."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from agents.context import AnalysisContext, plan_windows
from agents.specialists.changes import analysis as changes
from shared.telemetry.bundle import BundleSource, BundleWriter
from shared.telemetry_records import ChangeEvent

ONSET = 1_700_000_000.0


def context(onset: float = ONSET) -> AnalysisContext:
    incident, baseline = plan_windows(onset)
    return AnalysisContext("inc", "frontend", "latency", onset, incident, baseline)


def analyse(tmp_path: Path, events: list[ChangeEvent]) -> list[changes.Finding]:
    with BundleWriter(tmp_path, {}) as w:
        for c in events:
            w.change(c)
    return changes.analyse(BundleSource(tmp_path), context()).findings


def test_a_deploy_shortly_before_the_onset_outranks_older_and_later_ones(tmp_path: Path) -> None:
    found = analyse(tmp_path, [
        ChangeEvent(ONSET - 100 * 60, "old", "deploy", "deploy old v7", "ci@example.com"),
        ChangeEvent(ONSET + 60, "late", "deploy", "deploy late v3", "ci@example.com"),
        ChangeEvent(ONSET - 3 * 60, "pay", "deploy", "deploy pay v2", "alice@example.com",
                    (("revision", "pay-00042"),)),
        ChangeEvent(ONSET - 30 * 60, "cart", "deploy", "deploy cart v5", "ci@example.com"),
    ])
    assert [f.service for f in found] == ["pay", "cart", "late", "old"]
    pay = found[0]
    assert pay.kind == "change.deploy" and pay.specialist == "changes" and not pay.ruled_out
    assert pay.score > 0.85 and pay.resource == "pay-00042"
    assert pay.details.description == "deploy pay v2" and pay.details.actor == "alice@example.com"
    assert pay.details.at == ONSET - 180 and pay.details.seconds_before_onset == 180.0
    assert found[2].score < 0.15 and found[3].score < 0.05  # after the onset, or long before: background
    assert found[2].details.seconds_before_onset == -60.0
    assert not any(f.ruled_out for f in found)  # a change near the onset: nothing to rule out


def test_at_the_same_time_a_deploy_outweighs_a_config_change_which_outweighs_scaling(tmp_path: Path) -> None:
    at = ONSET - 5 * 60
    found = analyse(tmp_path, [ChangeEvent(at, "a", "scale", "min instances 2 -> 3"),
                               ChangeEvent(at, "b", "config", "flag on"),
                               ChangeEvent(at, "c", "restart", "rolling restart"),
                               ChangeEvent(at, "d", "deploy", "deploy d v2"),
                               ChangeEvent(at, "e", "rename", "something unusual")])
    by = {f.service: f for f in found}
    assert by["d"].score > by["b"].score > by["a"].score == by["c"].score > by["e"].score > 0
    assert by["e"].kind == "change.other" and by["e"].details.change_kind == "rename"


def test_only_changes_from_two_hours_before_the_incident_to_its_end_are_read(tmp_path: Path) -> None:
    ctx = context()
    found = analyse(tmp_path, [ChangeEvent(ctx.incident.start - 2 * 3600 - 60, "ancient", "deploy", "too early"),
                               ChangeEvent(ctx.incident.end + 60, "future", "deploy", "too late"),
                               ChangeEvent(ctx.incident.start - 3600, "kept", "config", "in the window")])
    assert {f.service for f in found if not f.ruled_out} == {"kept"}


def test_no_change_near_the_onset_is_one_ruled_out_finding_naming_the_nearest(tmp_path: Path) -> None:
    found = analyse(tmp_path, [ChangeEvent(ONSET - 90 * 60, "ads", "deploy", "deploy ads v9")])
    assert [f.service for f in found] == ["ads", ""]
    none = found[-1]
    assert none.ruled_out and none.kind == "change.none" and none.specialist == "changes"
    assert "ads" in none.title and "90 min before" in none.title
    assert none.details.changes_in_window == 1


def test_an_empty_change_log_is_ruled_out_too(tmp_path: Path) -> None:
    (none,) = analyse(tmp_path, [])
    assert none.ruled_out and none.service == "" and "none in the 2 h" in none.title


@given(st.floats(0, 7200), st.floats(0, 7200))
def test_earlier_changes_never_score_higher(a: float, b: float) -> None:
    early, late = max(a, b), min(a, b)  # seconds before the onset
    for kind in changes.KIND_WEIGHT:
        assert changes.change_score(kind, early) <= changes.change_score(kind, late)
        assert changes.change_score(kind, -a - 1) < changes.change_score(kind, min(late, 600))
