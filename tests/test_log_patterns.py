"""Pattern mining: one global configuration, measured on Loghub-2k ground truth, and its known failure modes."""

from __future__ import annotations

import random

import pytest

from agents.log_patterns import PatternMiner
from bench.log_eval import SYSTEMS, grouping_accuracy, load, parsing_accuracy
from tests.data import loghub_dir


def parse(lines: list[str], miner: PatternMiner | None = None) -> tuple[list[int], PatternMiner]:
    miner = miner or PatternMiner()
    keys = [miner.add(line) for line in lines]
    assignment = miner.assign()
    return [assignment[k] for k in keys], miner


@pytest.fixture(scope="module")
def accuracy() -> dict[str, float]:
    out = {}
    for system in SYSTEMS:
        data = load(loghub_dir(), system, "corrected")
        ids, _ = parse(data.contents)
        out[system] = grouping_accuracy(ids, data.event_ids)
    return out


def test_grouping_accuracy_on_all_eight_systems(accuracy: dict[str, float]) -> None:
    assert sum(accuracy.values()) / len(accuracy) >= 0.95, accuracy
    assert min(accuracy.values()) >= 0.85, accuracy


def test_one_meaningful_token_keeps_patterns_apart() -> None:
    lines = [f'10.0.0.{i} "{verb} /v2/{i:x}ab/servers HTTP/1.1" status: 200 len: {i * 7} time: 0.{i}'
             for i in range(60) for verb in ("GET", "POST", "DELETE")]
    ids, miner = parse(lines)
    assert len(set(ids)) == 3
    assert {miner.template(i).split()[1] for i in set(ids)} == {'"GET', '"POST', '"DELETE'}


def test_variable_length_parameters_share_a_pattern() -> None:
    rng = random.Random(1)
    lines = [f"Fan speeds ( {' '.join(str(rng.randint(1000, 5000)) for _ in range(n))} )"
             for n in (3, 4, 5, 6) for _ in range(10)]
    ids, miner = parse(lines)
    assert len(set(ids)) == 1 and miner.template(ids[0]) == "Fan speeds ( <*> )"


def test_fresh_parameter_values_do_not_explode_clusters() -> None:
    rng = random.Random(2)
    lines = [f"Connection from 10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}:"
             f"{rng.randint(1000, 65000)} closed after {rng.randint(1, 9999)} ms, request id "
             f"{rng.getrandbits(64):016x}, user u{rng.randint(10000, 99999)}" for _ in range(5000)]
    ids, miner = parse(lines)
    assert len(set(ids)) == 1 and miner.pattern_count == 1


def test_memory_is_bounded_and_says_so() -> None:
    miner = PatternMiner(max_lines=50)
    ids, miner = parse([f"event kind{chr(97 + i % 26)}{chr(97 + i // 26 % 26)} happened" for i in range(500)], miner)
    assert miner.saturated and len(miner._lines) <= 50 + miner.pattern_count
    assert len(ids) == 500


def test_parsing_accuracy_is_measured_against_templates() -> None:
    data = load(loghub_dir(), "HDFS", "corrected")
    ids, miner = parse(data.contents)
    assert parsing_accuracy([miner.template(i) for i in ids], data.templates) > 0.5


def test_digit_shape_cache_is_exact_on_real_lines() -> None:
    """The cache keys lines by their digit-normalised shape when masking leaves no digit: then masking must give
    the same result for every line of that shape."""
    from agents.log_patterns import _DIGIT, _shape
    from agents.masking import CODE_LOCATION

    cached = 0
    for system in SYSTEMS:
        for line in load(loghub_dir(), system, "").contents:
            masked = PatternMiner.preprocess(line)
            if not _DIGIT.search(CODE_LOCATION.sub("", masked)):
                cached += 1
                assert masked == PatternMiner.preprocess(_shape(line)), line
    assert cached > 10_000  # most real lines are cacheable


def test_match_finds_the_pattern_without_learning() -> None:
    data = load(loghub_dir(), "HDFS", "corrected")
    ids, miner = parse(data.contents)
    before = (miner.pattern_count, len(miner._lines))
    rng = random.Random(4)
    fresh = ["".join(str(rng.randint(0, 9)) if ch.isdigit() else ch for ch in line) for line in data.contents]
    assert [miner.match(line) for line in data.contents] == ids
    assert sum(miner.match(line) == i for line, i in zip(fresh, ids, strict=True)) >= 0.98 * len(ids)
    assert miner.match("kernel panic - not syncing: VFS: unable to mount root fs") is None
    assert (miner.pattern_count, len(miner._lines)) == before


def nezha_lines(limit: int = 4000) -> list[str]:
    """Application lines of a Nezha TrainTicket case (the Log column holds a docker JSON line)."""
    import csv
    import json

    from tests.data import nezha_dir

    out: list[str] = []
    for path in sorted((nezha_dir() / "cases" / "tt-20230129-102620" / "logs").glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as f:
            out += [json.loads(row["Log"])["log"].strip() for row in csv.DictReader(f)]
    return out[:limit]


def test_each_code_location_is_its_own_pattern() -> None:
    """Java lines name their log statement (TravelServiceImpl#366): two statements whose text differs only in
    numbers are still two patterns, so that one of them falling silent can be seen."""
    import re

    lines = nezha_lines()
    ids, miner = parse(lines)
    location = re.compile(r"\s([\w.$\[\]]+#\d+)\s")
    statements: dict[int, set[str]] = {}
    for line, pid in zip(lines, ids, strict=True):
        m = location.search(line)
        if m:
            statements.setdefault(pid, set()).add(m.group(1))
    assert len(statements) > 30
    assert all(len(s) == 1 for s in statements.values()), [s for s in statements.values() if len(s) > 1][:3]
    calc = [miner.template(pid) for pid, s in statements.items() if s & {"t.s.TravelServiceImpl#366",
                                                                         "t.s.TravelServiceImpl#372"}]
    assert len(calc) == 2 and all("[getTickets][Calculate distance]" in t for t in calc)


def test_digit_shape_cache_keeps_code_lines_exact() -> None:
    from agents.log_patterns import _DIGIT, _shape
    from agents.masking import CODE_LOCATION

    cached = 0
    for line in nezha_lines():
        masked = PatternMiner.preprocess(line)
        if not _DIGIT.search(CODE_LOCATION.sub("", masked)):
            cached += 1
            assert masked == PatternMiner.preprocess(_shape(line)), line
    assert cached > 2000
