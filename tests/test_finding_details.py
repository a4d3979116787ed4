"""Typed finding details (shared/finding_details.py): one model per kind, chosen by the finding's kind; a stored
finding, its details a plain dict, validates into its kind's model and dumps back as it was written; an event log
written before the details were typed still folds; the wrong model for a kind is refused; no schema is built on
import."""

from __future__ import annotations

import json
import subprocess
import sys
import typing
from pathlib import Path

import pytest
from pydantic import ValidationError

from shared import events as ev
from shared.analysis_events import FindingRecorded
from shared.events import make_event
from shared.finding_details import (
    DETAILS_OF,
    ChangeDetails,
    Details,
    FindingKind,
    LogPatternDetails,
    MetricAnomalyDetails,
    QuietLogsDetails,
    TopologyDetails,
)
from shared.incident_state import fold
from shared.models import Finding

# Findings as the specialists wrote them before their details were typed (abridged from a demo run's event log).
WRITTEN_BEFORE: list[dict[str, typing.Any]] = [
    {"finding_id": "m-1", "specialist": "metrics", "kind": "metric.anomaly", "service": "cart", "title": "cpu up",
     "score": 0.9, "widget": {"kind": "timeseries", "title": "cpu", "data": {"threshold": 50.0}},
     "details": {"metric": "cpu_utilization", "instance": "cart-1", "unit": "%", "baseline_median": 20.0,
                 "incident_value": 97.0, "robust_z": 31.2, "direction": "up", "bad_direction": "up",
                 "host_level": False, "co_movement": None, "retired_key": [1, 2]}},
    {"finding_id": "l-1", "specialist": "logs", "kind": "log.new_pattern", "service": "pay", "title": "new",
     "details": {"template": "pool exhausted after <*> ms", "count": 12, "baseline_count": 0, "rate": 0.8,
                 "ratio": None, "p_value": 1e-9, "severity": "ERROR", "errorish": True, "first_seen": 4100.0,
                 "instances": {"pay-0": 12}, "between": ["charge start", "charge done"], "between_count": 11}},
    {"finding_id": "t-1", "specialist": "traces", "kind": "trace.topology", "title": "graph",
     "details": {"edges": [["front", "pay", 30]], "declared": [["pay", "db"]]}},
    {"finding_id": "c-1", "specialist": "changes", "kind": "change.deploy", "service": "pay", "title": "deploy",
     "details": {"revision": "pay-00042", "previous": "pay-00041", "methodName": "Services.ReplaceService",
                 "description": "deploy pay v2", "at": 3900.0, "actor": "ci@p", "change_kind": "deploy",
                 "seconds_before_onset": 200.0}},
    {"finding_id": "n-1", "specialist": "logs", "kind": "log.none", "service": "auth", "title": "quiet",
     "ruled_out": True, "details": {"lines": 500, "baseline_lines": 480}},
]


def test_every_kind_has_one_details_model() -> None:
    assert sorted(DETAILS_OF) == sorted(typing.get_args(FindingKind))
    assert all(issubclass(model, Details) for model in DETAILS_OF.values())


@pytest.mark.parametrize("written", WRITTEN_BEFORE, ids=[w["kind"] for w in WRITTEN_BEFORE])
def test_a_finding_written_before_loads_typed_and_dumps_as_it_was_written(written: dict[str, typing.Any]) -> None:
    finding = Finding.model_validate_json(json.dumps(written))
    assert type(finding.details) is DETAILS_OF[written["kind"]]
    assert json.loads(finding.model_dump_json())["details"] == written["details"]  # unknown keys kept, none added


def test_the_typed_details_read_as_attributes() -> None:
    metric, line, graph, deploy, quiet = (Finding.model_validate(w) for w in WRITTEN_BEFORE)
    assert isinstance(metric.details, MetricAnomalyDetails) and metric.details.incident_value == 97.0
    assert metric.details.co_movement is None and metric.details.series is None  # written before: not charted
    assert isinstance(line.details, LogPatternDetails) and line.details.between == ("charge start", "charge done")
    assert isinstance(graph.details, TopologyDetails) and graph.details.edges == [("front", "pay", 30)]
    assert isinstance(deploy.details, ChangeDetails) and deploy.details.previous == "pay-00041"
    assert isinstance(quiet.details, QuietLogsDetails) and quiet.details.lines == 500


def test_an_event_log_written_before_folds() -> None:
    events = [make_event("i", ev.FINDING_RECORDED, (w["finding_id"],), w["specialist"],
                         FindingRecorded.model_validate({"round": 1, "finding": w}), at=1.0 + n)
              for n, w in enumerate(WRITTEN_BEFORE)]
    stored = [json.loads(e.model_dump_json()) for e in events]  # as a store holds them: plain JSON
    state = fold([type(events[0]).model_validate(s) for s in stored])
    assert {f.finding_id: type(f.details) for f in state.findings.values()} == {
        w["finding_id"]: DETAILS_OF[w["kind"]] for w in WRITTEN_BEFORE}


def test_a_finding_without_details_gets_its_kinds_empty_model() -> None:
    finding = Finding(specialist="changes", kind="change.none", title="no change", ruled_out=True)
    assert type(finding.details) is DETAILS_OF["change.none"] and finding.model_dump()["details"] == {}


def test_the_wrong_model_for_a_kind_is_refused() -> None:
    with pytest.raises(ValidationError, match="MetricAnomalyDetails"):
        Finding(specialist="logs", kind="log.spike", title="x", details=MetricAnomalyDetails(metric="cpu"))
    with pytest.raises(ValidationError):
        Finding(specialist="logs", kind="log.spike", title="x", details={"count": "many"})


def test_importing_the_models_builds_no_details_schema() -> None:
    code = ("import shared.models, shared.finding_details as d\n"
            "print(sorted(m.__name__ for m in set(d.DETAILS_OF.values()) if m.__pydantic_complete__))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "[]", out.stdout
