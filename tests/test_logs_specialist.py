"""Incident vs baseline on real log lines: new, spiking and quiet patterns, severity, exemplars, masking."""

from __future__ import annotations

from dataclasses import dataclass, field

from agents import logs
from agents.base import AnalysisContext
from functions.log_eval import load
from shared.telemetry.models import ChangeEvent, LogRecord, MetricSeries, ReadResult, Span, Window
from tests.data import loghub_dir

BASE = Window(0.0, 3600.0)
INCIDENT = Window(3600.0, 4800.0)
CTX = AnalysisContext("inc", "frontend", "m", 4500.0, INCIDENT, BASE)


@dataclass
class ListSource:
    """A TelemetrySource over records held in memory (logs only)."""

    records: list[LogRecord] = field(default_factory=list)

    def logs(self, window: Window, services: list[str] | None = None) -> ReadResult[LogRecord]:
        return ReadResult([r for r in self.records if window.contains(r.timestamp)])

    def spans(self, window: Window, services: list[str] | None = None) -> ReadResult[Span]:
        return ReadResult([])

    def metrics(self, window: Window, services: list[str] | None = None) -> ReadResult[MetricSeries]:
        return ReadResult([])

    def changes(self, window: Window, services: list[str] | None = None) -> ReadResult[ChangeEvent]:
        return ReadResult([])

    def describe(self) -> dict[str, str]:
        return {"source": "memory"}


def spread(lines: list[str], window: Window, service: str) -> list[LogRecord]:
    step = window.seconds / max(len(lines), 1)
    return [LogRecord(window.start + i * step, service, line, instance=f"{service}-0") for i, line in enumerate(lines)]


def hdfs() -> list[str]:
    return load(loghub_dir(), "HDFS", "corrected").contents


def test_same_system_in_both_windows_gives_no_new_patterns() -> None:
    lines = hdfs()
    source = ListSource(spread(lines[:1500], BASE, "hdfs") + spread(lines[1500:], INCIDENT, "hdfs"))
    found = logs.analyse(source, CTX).findings
    assert not [f for f in found if f.kind == "log.new_pattern" and f.details["count"] >= 5]


def test_real_error_lines_from_another_system_are_new_and_ranked_first() -> None:
    bgl = load(loghub_dir(), "BGL", "corrected")
    errors = [c for c in bgl.contents if "error" in c.lower()][:40]
    assert len(errors) >= 10
    lines = hdfs()
    source = ListSource(spread(lines[:1500], BASE, "hdfs") + spread(lines[1500:], INCIDENT, "hdfs")
                        + spread(errors, Window(4000.0, 4400.0), "kernel"))
    found = logs.analyse(source, CTX).findings
    assert found and found[0].kind == "log.new_pattern" and found[0].service == "kernel"
    top = found[0]
    assert top.details["baseline_count"] == 0 and top.details["count"] >= 3 and top.details["errorish"]
    assert 4000.0 <= top.details["first_seen"] < 4400.0 and top.onset == top.details["first_seen"]
    assert top.widget is not None and top.widget.kind == "pattern_table" and top.exemplars


def test_spike_is_a_significant_rate_change_with_a_minimum_count() -> None:
    lines = hdfs()
    base = spread(lines[:1500], BASE, "hdfs")
    pattern = "Exception in receiveBlock for block blk_{} java.io.IOException: Connection reset by peer"
    rare = spread([pattern.format(i) for i in range(6)], BASE, "hdfs")  # 6 an hour in the baseline
    burst = spread([pattern.format(i) for i in range(60)], Window(4000.0, 4600.0), "hdfs")  # 60 in 10 minutes
    few = spread([pattern.format(i) for i in range(3)], Window(4000.0, 4600.0), "hdfs")
    spiking = logs.analyse(ListSource(base + rare + burst), CTX).findings
    (spike,) = [f for f in spiking if f.kind == "log.spike"]
    assert spike.details["ratio"] > 10 and spike.details["p_value"] < 1e-6 and spike.details["count"] == 60
    quiet = logs.analyse(ListSource(base + rare + few), CTX).findings
    assert not [f for f in quiet if f.kind == "log.spike"]  # 3 lines: no significant change


def test_exemplars_are_masked() -> None:
    lines = hdfs()
    leak = [f"Login failed for admin@corp.example password=Sup3rS3cret! token=ghp_{'a1' * 18} attempt {i}"
            for i in range(8)]
    source = ListSource(spread(lines[:1500], BASE, "hdfs") + spread(leak, INCIDENT, "auth"))
    (finding,) = [f for f in logs.analyse(source, CTX).findings if f.service == "auth"]
    text = str(finding.model_dump())
    assert "Sup3rS3cret" not in text and "admin@corp.example" not in text and "ghp_" not in text


def test_a_code_path_that_stopped_logging_is_a_drop() -> None:
    lines = hdfs()
    steady = [line for line in lines if "Receiving block" not in line]
    path = [line for line in lines if "Receiving block" in line]
    assert len(path) > 100
    base = spread(steady[:800] + path[:200], BASE, "hdfs")
    incident = spread(steady[800:1300], INCIDENT, "hdfs")  # same service, busy, but that path is silent
    (drop,) = [f for f in logs.analyse(ListSource(base + incident), CTX).findings if f.kind == "log.drop"]
    assert "Receiving block" in drop.details["template"] and drop.details["count"] == 0
    assert drop.score < 0.5  # absence is weaker evidence than a new error


def test_pre_aggregated_counts_give_the_same_verdict_as_lines() -> None:
    """A source that pre-aggregates where the logs live (BigQuery) hands the analyst counts, not lines."""
    import re
    from collections import Counter

    from shared.telemetry.bigquery_logs import PatternCount

    bgl = load(loghub_dir(), "BGL", "corrected")
    errors = [c for c in bgl.contents if "error" in c.lower()][:40]
    records = spread(hdfs()[:1500], BASE, "hdfs") + spread(errors, Window(4000.0, 4400.0), "kernel")

    class Aggregating(ListSource):
        def log_pattern_counts(self, baseline: Window, incident: Window, services: list[str] | None = None
                               ) -> tuple[list[PatternCount], bool]:
            groups: Counter[tuple[str, str, str]] = Counter()
            first: dict[tuple[str, str, str], LogRecord] = {}
            for r in self.records:
                key = (re.sub(r"[0-9]+", "<*>", r.message), r.service,
                       "incident" if incident.contains(r.timestamp) else "baseline")
                groups[key] += 1
                first.setdefault(key, r)
            return [PatternCount(k[0], k[1], k[2], n, first[k].timestamp, first[k].message, 0)
                    for k, n in groups.items()], False

        def logs(self, window: Window, services: list[str] | None = None) -> ReadResult[LogRecord]:
            raise AssertionError("an aggregating source is not read line by line")

    found = logs.analyse(Aggregating(records), CTX).findings
    from_lines = logs.analyse(ListSource(records), CTX).findings
    assert found[0].kind == "log.new_pattern" and found[0].service == "kernel"
    assert found[0].query["mode"] == "aggregated" and from_lines[0].query["mode"] == "lines"
    verdict = sorted((f.kind, f.service, f.details["count"]) for f in found)
    assert verdict == sorted((f.kind, f.service, f.details["count"]) for f in from_lines)
