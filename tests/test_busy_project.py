"""A busy project, small: the demo incident served through the Cloud Logging, Trace and Monitoring stand-ins
(bench/busy_standins.py: documented quotas and page limits, per-call latencies on a simulated clock), the real
pipeline run against them. The report comes inside the read deadline, every specialist finishes inside its own,
and the verdict is the embedded run's. Also: a follow-up round reads only in what is left of the investigation's
deadline, and a trace read starved of the project's quota reports so instead of failing its specialist."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.busy_project import run_busy, table
from bench.busy_standins import VirtualClock
from demo.generator import generate
from functions.handlers.synthesize import FOLLOW_UP_MIN_S, follow_up
from functions.runtime import embedded
from shared import events as ev
from shared.lifecycle_events import RoundStarted, RoundWindow
from shared.models import RankedCause
from shared.store.sqlite import SqliteEventStore
from shared.telemetry.cloud_logging import TokenBucket
from shared.telemetry.gcp import CloudTraceReader
from shared.telemetry_records import Window


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("busy") / "case"
    generate("bad_deploy", out, seed=7)
    return out


def test_the_busy_project_reports_inside_the_deadline_with_the_embedded_verdict(scenario: Path) -> None:
    result = run_busy(scenario / "bundle", (scenario / "alert.json").read_bytes(), factor=1)
    assert result.runs and {r.specialist for r in result.runs} == {"logs", "traces", "metrics", "changes"}
    assert all(r.in_time for r in result.runs), table(result)
    assert sum(r.calls for r in result.runs) > 0  # the reads went through the stand-ins
    assert 0 < result.time_to_report_s <= 240.0, table(result)
    assert result.verdict == result.embedded_verdict != "none named", table(result)
    assert result.ok


def test_the_specialists_reading_at_once_send_no_more_requests_than_the_api_call_budget(scenario: Path) -> None:
    result = run_busy(scenario / "bundle", (scenario / "alert.json").read_bytes(), factor=1, budget_api_calls=6)
    assert {r.specialist for r in result.runs} >= {"traces", "metrics"}
    assert sum(r.calls for r in result.runs) <= 6, table(result)
    assert "AUTOSRE_BUDGET_API_CALLS" in result.cap and result.partial


def _incident_with_first_round(clock: VirtualClock) -> tuple[object, str]:
    pipeline, _ = embedded(SqliteEventStore(), source=None, clock=clock)  # type: ignore[arg-type]
    window = RoundWindow(onset=0.0, start=0.0, end=300.0, baseline_start=-3600.0, baseline_end=0.0)
    with pipeline.log.incident("i-1") as incident:
        incident.record(ev.ROUND_STARTED, (1,), "intake", RoundStarted(
            round=1, specialists=["logs", "traces"], deadline=clock() + 600.0, window=window, opened_by="d"))
    return pipeline, "i-1"


def _open_ranking() -> list[RankedCause]:
    return [RankedCause(rank=i + 1, service=s, kind="log.new_pattern", title=s, score=1.0, confidence=0.5)
            for i, s in enumerate(("a", "b"))]


def test_a_follow_up_round_reads_in_what_is_left_of_the_investigations_deadline() -> None:
    clock = VirtualClock(1000.0)
    pipeline, incident_id = _incident_with_first_round(clock)
    clock.sleep(200.0)  # the first round took 200 s of the 240
    with pipeline.log.incident(incident_id) as incident:  # type: ignore[attr-defined]
        assert follow_up(pipeline, incident, 1, _open_ranking(), "d2")  # type: ignore[arg-type]
    state = pipeline.log.read(incident_id)  # type: ignore[attr-defined]
    assert pipeline.read_seconds(state, 1) == 240.0  # type: ignore[attr-defined]
    assert pipeline.read_seconds(state, 2) == pytest.approx(40.0)  # type: ignore[attr-defined]


def test_no_follow_up_round_when_too_little_of_the_deadline_is_left() -> None:
    clock = VirtualClock(1000.0)
    pipeline, incident_id = _incident_with_first_round(clock)
    clock.sleep(240.0 - FOLLOW_UP_MIN_S + 1.0)
    with pipeline.log.incident(incident_id) as incident:  # type: ignore[attr-defined]
        assert not follow_up(pipeline, incident, 1, _open_ranking(), "d2")  # type: ignore[arg-type]
    state = pipeline.log.read(incident_id)  # type: ignore[attr-defined]
    assert 2 not in state.rounds


class NeverCalled:
    def list_traces(self, **kwargs: object) -> object:
        raise AssertionError("no quota: no call")


def test_a_trace_read_starved_of_the_projects_quota_says_so_instead_of_failing() -> None:
    clock = VirtualClock()
    quota = TokenBucket(rate=1, per=60.0, clock=clock, sleep=clock.sleep)
    assert quota.acquire(clock())  # another reader of the project spent it
    reader = CloudTraceReader("p", client=NeverCalled(), budget_s=30.0, clock=clock, quota=quota)
    read = reader.spans(Window(0.0, 60.0))
    assert read.items == [] and read.sampled and "ListTraces quota" in read.note
