"""Incident vs baseline on real log lines: new, spiking and quiet patterns, severity, exemplars, masking."""

from __future__ import annotations

import dataclasses
import random

from agents.context import AnalysisContext
from agents.specialists.logs import analysis as logs
from bench.log_eval import load
from shared.telemetry.memory import MemorySource
from shared.telemetry_records import LogRecord, ReadResult, Window
from tests.data import loghub_dir

BASE = Window(0.0, 3600.0)
INCIDENT = Window(3600.0, 4800.0)
CTX = AnalysisContext("inc", "frontend", "m", 4500.0, INCIDENT, BASE)


def spread(lines: list[str], window: Window, service: str) -> list[LogRecord]:
    step = window.seconds / max(len(lines), 1)
    return [LogRecord(window.start + i * step, service, line, instance=f"{service}-0") for i, line in enumerate(lines)]


def hdfs() -> list[str]:
    return load(loghub_dir(), "HDFS", "corrected").contents


def test_same_system_in_both_windows_gives_no_new_patterns() -> None:
    lines = hdfs()
    source = MemorySource(spread(lines[:1500], BASE, "hdfs") + spread(lines[1500:], INCIDENT, "hdfs"))
    found = logs.analyse(source, CTX).findings
    assert not [f for f in found if f.kind == "log.new_pattern" and f.details.count >= 5]


def test_real_error_lines_from_another_system_are_new_and_ranked_first() -> None:
    bgl = load(loghub_dir(), "BGL", "corrected")
    errors = [c for c in bgl.contents if "error" in c.lower()][:40]
    assert len(errors) >= 10
    lines = hdfs()
    source = MemorySource(spread(lines[:1500], BASE, "hdfs") + spread(lines[1500:], INCIDENT, "hdfs")
                        + spread(errors, Window(4000.0, 4400.0), "kernel"))
    found = logs.analyse(source, CTX).findings
    assert found and found[0].kind == "log.new_pattern" and found[0].service == "kernel"
    top = found[0]
    assert top.details.baseline_count == 0 and top.details.count >= 3 and top.details.errorish
    assert 4000.0 <= top.details.first_seen < 4400.0 and top.onset == top.details.first_seen
    assert top.widget is not None and top.widget.kind == "pattern_table" and top.exemplars


def test_spike_is_a_significant_rate_change_with_a_minimum_count() -> None:
    lines = hdfs()
    base = spread(lines[:1500], BASE, "hdfs")
    pattern = "Exception in receiveBlock for block blk_{} java.io.IOException: Connection reset by peer"
    rare = spread([pattern.format(i) for i in range(6)], BASE, "hdfs")  # 6 an hour in the baseline
    burst = spread([pattern.format(i) for i in range(60)], Window(4000.0, 4600.0), "hdfs")  # 60 in 10 minutes
    few = spread([pattern.format(i) for i in range(3)], Window(4000.0, 4600.0), "hdfs")
    spiking = logs.analyse(MemorySource(base + rare + burst), CTX).findings
    (spike,) = [f for f in spiking if f.kind == "log.spike"]
    assert spike.details.ratio > 10 and spike.details.p_value < 1e-6 and spike.details.count == 60
    quiet = logs.analyse(MemorySource(base + rare + few), CTX).findings
    assert not [f for f in quiet if f.kind == "log.spike"]  # 3 lines: no significant change


def test_exemplars_are_masked() -> None:
    lines = hdfs()
    leak = [f"Login failed for admin@corp.example password=Sup3rS3cret! token=ghp_{'a1' * 18} attempt {i}"
            for i in range(8)]
    source = MemorySource(spread(lines[:1500], BASE, "hdfs") + spread(leak, INCIDENT, "auth"))
    (finding,) = [f for f in logs.analyse(source, CTX).findings if f.service == "auth"]
    text = str(finding.model_dump())
    assert "Sup3rS3cret" not in text and "admin@corp.example" not in text and "ghp_" not in text


def _split(lines: list[str], key: str) -> tuple[list[str], list[str]]:
    return [x for x in lines if key not in x], [x for x in lines if key in x]


def test_a_code_path_that_stopped_logging_is_a_drop() -> None:
    steady, path = _split(hdfs(), "Receiving block")
    assert len(path) > 100
    baseline = steady[:800] + path[:200]
    random.Random(5).shuffle(baseline)  # the path ran all through the baseline ...
    base = spread(baseline, BASE, "hdfs")
    incident = spread(steady[800:1300], INCIDENT, "hdfs")  # ... and is silent in the incident, the service busy
    (drop,) = [f for f in logs.analyse(MemorySource(base + incident), CTX).findings if f.kind == "log.drop"]
    assert "Receiving block" in drop.details.template and drop.details.count == 0
    assert drop.details.p_value < 1e-10 and drop.details.silent_lines >= 500
    assert drop.onset == INCIDENT.start and drop.exemplars and drop.exemplars[-1]["timestamp"] < INCIDENT.start
    assert drop.score < 0.65  # absence is weaker evidence than a new error


def test_a_collapsed_share_is_a_drop_but_a_past_burst_is_not() -> None:
    steady, path = _split(hdfs(), "Receiving block")
    rng = random.Random(6)
    baseline, incident = steady[:800] + path[:200], steady[800:1300]
    rng.shuffle(baseline)
    for i in range(12):  # 20% of the lines before, 2% during, evenly: still there, much rarer, no long silence
        incident.insert(i * 43 + 21, path[200 + i])
    found = logs.analyse(MemorySource(spread(baseline, BASE, "hdfs") + spread(incident, INCIDENT, "hdfs")), CTX)
    (drop,) = [f for f in found.findings if f.kind == "log.drop"]
    assert drop.details.count == 12 and drop.details.ratio < 0.25 and drop.details.silent_lines is None
    burst = path[:60] + steady[:800]  # a burst at the start of the baseline hour, then nothing: not a drop
    found = logs.analyse(MemorySource(spread(burst, BASE, "hdfs") + spread(steady[800:1300], INCIDENT, "hdfs")), CTX)
    assert not [f for f in found.findings if f.kind == "log.drop"]


def test_a_path_that_stops_mid_incident_gives_its_onset() -> None:
    """Three statements logged at steady random times; one of them stops inside the incident window."""
    rng = random.Random(7)
    records = []
    for text, per_minute in (("accepted order {} from cart {}", 12), ("reserved stock for order {} in {} ms", 12),
                             ("charged card for order {} in {} ms", 6)):
        t = BASE.start
        while t < INCIDENT.end:
            t += rng.expovariate(per_minute / 60)
            if t < INCIDENT.end and not (text.startswith("charged") and t >= 4200.0):
                records.append(LogRecord(t, "checkout", text.format(rng.randint(1, 10**6), rng.randint(1, 999)),
                                         instance=f"checkout-{rng.randint(0, 2)}"))
    (drop,) = [f for f in logs.analyse(MemorySource(records), CTX).findings if f.kind == "log.drop"]
    assert drop.details.template == "charged card for order <*> in <*>" and drop.service == "checkout"
    last = max(r.timestamp for r in records if r.message.startswith("charged"))
    assert drop.onset is not None and drop.details.last_seen == last and last < drop.onset < 4200.0 + 20
    assert drop.exemplars[-1]["timestamp"] == last and drop.exemplars[-1]["instance"].startswith("checkout-")
    assert 4200.0 - 60 < drop.details.silent_from == drop.onset


def test_identical_distributions_give_no_findings_only_a_ruled_out_service() -> None:
    lines = hdfs()
    random.Random(8).shuffle(lines)
    records = spread(lines[:1500], BASE, "hdfs") + spread(lines[1500:], INCIDENT, "hdfs")
    records += spread(lines[:30], BASE, "small") + spread(lines[30:40], INCIDENT, "small")
    result = logs.analyse(MemorySource(records), CTX)
    assert [(f.kind, f.service, f.ruled_out) for f in result.findings] == [("log.none", "hdfs", True)]
    assert result.findings[0].score == 0.0  # "small" logged too little to tell


def test_findings_are_bounded_and_ranked() -> None:
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
    new = [f"ERROR {a}-{b} subsystem failed: state {c} unreachable" for a in words for b in words[:6]
           for c in ("cold", "warm")]
    records = spread(hdfs()[:1500], BASE, "hdfs") + spread(new * 3, INCIDENT, "api")
    found = [f for f in logs.analyse(MemorySource(records), CTX).findings if not f.ruled_out]
    assert len(found) == logs.MAX_FINDINGS
    assert [f.score for f in found] == sorted((f.score for f in found), reverse=True)


def test_a_sampled_read_is_said() -> None:
    class Sampling(MemorySource):
        def logs(self, window: Window, services: list[str] | None = None) -> ReadResult[LogRecord]:
            return ReadResult(super().logs(window).items, sampled=True, note="stopped after 10000 lines")

    lines = hdfs()
    result = logs.analyse(Sampling(spread(lines[:1500], BASE, "hdfs") + spread(lines[1500:], INCIDENT, "hdfs")), CTX)
    assert any("stopped after 10000 lines" in n and "incident" in n for n in result.notes)
    focused = logs.analyse(Sampling(spread(lines[:1500], BASE, "hdfs") + spread(lines[1500:], INCIDENT, "hdfs")),
                           dataclasses.replace(CTX, round=2, focus=("hdfs",)))  # a targeted round says it too
    assert any("stopped after 10000 lines" in n and "baseline" in n for n in focused.notes)


def test_pre_aggregated_counts_give_the_same_verdict_as_lines() -> None:
    """A source that pre-aggregates where the logs live (BigQuery) hands the analyst counts, not lines."""
    import re
    from collections import Counter

    from shared.telemetry.bigquery_logs import PatternCount

    bgl = load(loghub_dir(), "BGL", "corrected")
    errors = [c for c in bgl.contents if "error" in c.lower()][:40]
    records = spread(hdfs()[:1500], BASE, "hdfs") + spread(errors, Window(4000.0, 4400.0), "kernel")

    class Aggregating(MemorySource):
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

    aggregating = Aggregating(records)
    aggregating.log_counter = aggregating  # the pre-aggregation capability, as the GCP source has with BigQuery
    found = logs.analyse(aggregating, CTX).findings
    from_lines = logs.analyse(MemorySource(records), CTX).findings
    assert found[0].kind == "log.new_pattern" and found[0].service == "kernel"
    assert found[0].query["mode"] == "aggregated" and from_lines[0].query["mode"] == "lines"
    verdict = sorted((f.kind, f.service, f.details.count) for f in found)
    assert verdict == sorted((f.kind, f.service, f.details.count) for f in from_lines)


def test_nezha_exception_cases_show_the_code_path_that_stopped() -> None:
    """Every TrainTicket case with an injected exception, against the fault-free reference logs as the baseline:
    the labelled service's log statement right after the injected exception falls silent while the service keeps
    logging, and the analyst names that statement (the label's inner root cause ends there)."""
    import json
    import tempfile
    from pathlib import Path

    from agents.context import plan_windows
    from evaluation.nezha_import import import_case
    from shared.telemetry.bundle import BundleSource
    from tests.data import nezha_dir

    root = nezha_dir()
    cases = [c for c in sorted((root / "cases").iterdir())
             if json.loads((c / "label.json").read_text())["fault_type"] == "exception"]
    assert len(cases) >= 4
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            info = import_case(case, Path(tmp) / case.name, root / "reference")
            incident, baseline = plan_windows(info.inject_time + 60)
            ctx = AnalysisContext("inc", "frontend", "latency", info.inject_time + 60, incident, baseline)
            source = BundleSource(info.bundle_dir)
            result = logs.analyse(source, ctx)
            label = info.label
            statement = label["inner_root_cause"].rsplit("_", 1)[-1]
            drops = [f for f in result.findings if f.kind == "log.drop" and f.service == label["service"]
                     and f.details.template.startswith(statement + " ")]
            assert drops, (case.name, [(f.kind, f.service, f.title[:80]) for f in result.findings[:10]])
            drop = drops[0]
            assert drop.onset is not None and incident.start <= drop.onset < incident.end
            assert drop.details.p_value <= logs.STOP_P
            assert drop.widget is not None and drop.widget.kind == "pattern_table"
            assert all(e["trace_id"] and e["instance"].startswith(label["service"]) for e in drop.exemplars)
            if case == cases[0]:
                assert logs.analyse(source, ctx) == result  # deterministic: same findings, same order


def test_users_first_met_in_the_incident_beside_other_lines_are_no_new_pattern() -> None:
    """The incident window has other background lines and users the baseline never had: the analyst mines the two
    windows apart (the users are compared within each), so the session lines stay the baseline's pattern."""
    rng = random.Random(7)
    users = ["root", "alice", "bob", "news", "cyrus", "guest", "test"]
    base = [line for _ in range(300) for line in (f"session opened for user {rng.choice(users[:4])} by sshd",
                                                  f"worker {rng.randint(1, 9)} heartbeat in {rng.randint(1, 99)} ms")]
    incident = [line for _ in range(300) for line in (f"session opened for user {rng.choice(users)} by sshd",
                                                      f"disk {rng.randint(1, 9)} check ok")]
    source = MemorySource(spread(base, BASE, "auth") + spread(incident, INCIDENT, "auth"))
    new = [f for f in logs.analyse(source, CTX).findings if f.kind == "log.new_pattern"]
    assert not [f for f in new if "session" in str(f.model_dump())], [f.title for f in new]
