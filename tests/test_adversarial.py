"""The adversarial demo scenarios (demo/adversarial.py), each triaged end to end against its goal: the red herring
is never ranked first, an alert on noise names no cause above 50%, a fault that recovered before triage is
reported recovered with nothing proposed, both faults of a dual fault are in the top 3, and a fault on a service
that writes no logs is still found."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.ranking.calibration import CONFIDENT
from demo.generator import ADVERSARIAL_KINDS, FAULT_KINDS, Scenario, generate
from functions.local import TriageResult, triage
from shared.telemetry.bundle import BundleSource
from shared.telemetry_records import Window

SEED = 1


@pytest.fixture(scope="module")
def triaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Scenario, TriageResult]]:
    out = {}
    for kind in ADVERSARIAL_KINDS:
        s = generate(kind, tmp_path_factory.mktemp(kind), seed=SEED)
        out[kind] = (s, triage(s.alert_path.read_bytes(), BundleSource(s.bundle_dir)))
    return out


def whole(s: Scenario) -> Window:
    return Window(s.onset - 24 * 3600, s.onset + 24 * 3600)


def test_adversarial_scenarios_are_kinds_of_their_own_with_their_truth(tmp_path: Path) -> None:
    assert not set(ADVERSARIAL_KINDS) & set(FAULT_KINDS)  # `demo --fault all` still runs the four fault kinds
    a = generate("dual_fault", tmp_path / "a", seed=3)
    b = generate("dual_fault", tmp_path / "b", seed=3)
    for name in ("bundle/logs.jsonl", "bundle/spans.jsonl", "bundle/metrics.jsonl", "alert.json", "truth.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    truth = json.loads((tmp_path / "a" / "truth.json").read_text())
    assert len(set(truth["root_services"])) == 2 and tuple(truth["root_services"]) == a.root_services
    assert truth["root_service"] == a.root_service == truth["root_services"][0] and b.root_services == a.root_services
    with pytest.raises(ValueError, match="unknown fault"):
        generate("gremlins", tmp_path / "c")


def test_the_red_herring_deploy_is_never_ranked_first(triaged: dict[str, tuple[Scenario, TriageResult]]) -> None:
    s, result = triaged["red_herring_deploy"]
    herring = s.truth["red_herring"]
    assert herring and herring not in s.root_services
    deploys = [c for c in BundleSource(s.bundle_dir).changes(whole(s)).items
               if c.service == herring and c.kind == "deploy"]
    assert any(0 < s.onset - c.timestamp <= 180 for c in deploys), "a rollout of the herring just before the onset"
    ranked = [c.service for c in result.report.causes]
    assert ranked[0] != herring and ranked[0] == s.root_service
    assert result.report.causes[0].confidence >= CONFIDENT and not result.report.recovered


def test_an_alert_on_noise_names_no_confident_cause(triaged: dict[str, tuple[Scenario, TriageResult]]) -> None:
    s, result = triaged["noisy_healthy"]
    assert s.root_services == () and s.truth["noisy"]
    report = result.report
    assert all(c.confidence <= 0.5 for c in report.causes)
    assert not report.confident
    assert report.headline.startswith(("No confident root cause", "No root cause found"))
    for cause in report.causes:  # the ranking is kept, but neither the headline nor the summary names a cause
        assert cause.service not in report.headline and f"cause: {cause.service}" not in report.summary
    assert "Checked" in report.summary


def test_a_fault_that_recovered_before_triage_is_reported_so_and_nothing_is_proposed(
        triaged: dict[str, tuple[Scenario, TriageResult]]) -> None:
    s, result = triaged["recovered"]
    assert s.recovered and s.truth["recovered_at"] < result.report.onset + 300  # it ended inside the window
    report = result.report
    assert report.recovered and report.recovery and report.headline.startswith("Recovered before triage")
    assert "No remediation is proposed" in report.summary
    assert result.state.proposals == {}
    assert report.causes[0].service == s.root_service  # what happened is still explained
    for kind in ("red_herring_deploy", "dual_fault", "silent_service"):  # ongoing faults are not called recovered
        assert not triaged[kind][1].report.recovered, kind
        assert triaged[kind][1].state.proposals, kind


def test_both_faults_of_a_dual_fault_are_in_the_top_three(triaged: dict[str, tuple[Scenario, TriageResult]]) -> None:
    s, result = triaged["dual_fault"]
    assert len(s.root_services) == 2
    top3 = [c.service for c in result.report.causes[:3]]
    assert set(s.root_services) <= set(top3)


def test_a_fault_on_a_service_that_writes_no_logs_is_still_found(
        triaged: dict[str, tuple[Scenario, TriageResult]]) -> None:
    s, result = triaged["silent_service"]
    silent = s.truth["silent_service"]
    assert silent == s.root_service
    source = BundleSource(s.bundle_dir)
    assert source.logs(whole(s), [silent]).items == []
    assert source.spans(Window(s.onset, s.onset + 600), [silent]).items  # its traces and metrics still show it
    assert result.report.causes[0].service == silent
