"""Counting a bundle's log lines by variant (lines told apart by their bytes, decoded once a variant) gives exactly
the counts of decoding and counting every line: on the demo, and on lines written to trip the byte keys up."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agents.context import plan_windows
from agents.specialists.logs import analysis as logs
from agents.specialists.logs.counts import StreamCounts, count_stream, count_variants, digit_blind, identity, merged
from agents.specialists.logs.log_patterns import PatternMiner
from demo.generator import generate
from shared.finding_details import LINKED_TRACES
from shared.telemetry.bundle import LOGS, BundleSource, BundleWriter, to_rfc3339
from shared.telemetry.bundle_lines import MAX_LINE_BYTES
from shared.telemetry.metered import MeteredSource
from shared.telemetry_records import Window

BASE = Window(1000.0, 2000.0)
INCIDENT = Window(2000.0, 2600.0)


def _state(miner: PatternMiner, counts: StreamCounts) -> dict[str, Any]:
    """Everything the analyst takes from the counts and the miner, in order (dict and set orders included)."""
    assignment = miner.assign()
    patterns = merged(counts, assignment)
    return {
        "volume": list(counts.volume.items()),
        "assignment": assignment,
        "lines": [(k, line.cluster, line.count, list(line.context.items())) for k, line in enumerate(miner._lines)],
        "patterns": [(k, p.base, p.inc, p.severity, p.first_seen, list(p.instances.items()), p.exemplars, p.last,
                      list(p.traces)) for k, p in patterns.items()],
        "templates": [miner.template(pid) for pid in sorted(set(assignment.values()))],
    }


def _compare(path: Path, windows: tuple[Window, Window] = (BASE, INCIDENT)) -> dict[str, Any]:
    """The counts both ways (a fresh source each, so that neither reads what the other decoded), lines told by
    their bytes with and without their message's digits; the state."""
    old_source = BundleSource(path, keep_index=False)
    old_miner = PatternMiner()
    old = count_stream(old_miner, [(False, old_source.log_stream(windows[0]).lines),
                                   (True, old_source.log_stream(windows[1]).lines)], logs._severity)
    expected = _state(old_miner, old)
    old_notes = (old_source.log_stream(windows[0]).note(), old_source.log_stream(windows[1]).note())
    for by_shape in (False, True):
        new_source, new_miner = BundleSource(path, keep_index=False), PatternMiner()
        ident, blind = identity(new_miner, logs._severity), digit_blind(new_miner) if by_shape else None
        base = new_source.log_variants(windows[0], ident, 0, blind)
        inc = new_source.log_variants(windows[1], ident, LINKED_TRACES, blind)
        new = count_variants(new_miner, [(False, base), (True, inc)])
        got = _state(new_miner, new)
        for key in expected:
            assert got[key] == expected[key], (key, by_shape)
        assert (base.note(), inc.note()) == old_notes
    return got


def test_the_demo_counts_alike(tmp_path: Path) -> None:
    scenario = generate("bad_deploy", tmp_path / "demo")
    incident, baseline = plan_windows(scenario.onset)
    got = _compare(scenario.bundle_dir, (baseline, incident))
    assert sum(n for _, n in got["volume"]) > 1000


def _line(t: float, service: str, message: str, severity: str = "INFO", instance: str = "", trace: str = "",
          span: str = "", service_key: str = "container_name") -> str:
    labels = {service_key: service, **({"pod_name": instance} if instance else {})}
    entry: dict[str, Any] = {"timestamp": to_rfc3339(t), "severity": severity,
                             "resource": {"type": "k8s_container", "labels": labels}, "textPayload": message}
    if trace:
        entry["trace"] = f"projects/p/traces/{trace}"
    if span:
        entry["spanId"] = span
    return json.dumps(entry, separators=(",", ":"))


def _bundle(path: Path, lines: list[str]) -> Path:
    with BundleWriter(path, {"name": "t"}):
        pass
    (path / LOGS).write_bytes("".join(line + "\n" for line in lines).encode("utf-8", "surrogateescape"))
    return path


def _adversarial(rng: random.Random) -> list[str]:
    """Lines equal but in hex letters, in a digit of the service, in escaped quotes or escaped letters, in severity
    or instance, in digits the pattern miner keeps (en0, v2, a code location's line, a hexadecimal prefix) or in
    digits it does not; fields named trace inside the message or nested; keys in another order; corrupt lines
    beside good ones with the same bytes but the time, trace or span; a line too long to read whole; times tied."""
    words = ["cache cafe miss", "cache face miss", "id deadbeef", "id deadbeee", "id 0xdeadbeef", "id 0Xdeadbeef",
             'said "hi" to 7', 'said \\"hi\\" to 7', 'field ,"trace":"projects/p/traces/x" inside', "en0 up",
             "en1 up", "ERROR disk full", "INFO disk full", "user u1234 done", "user u1235 done", "GET /a/1 200",
             "GET /a/2 500", "caf\u00e9 open", "caf\u00e8 open", "tab\there", "en2 up", "ERR1 x", "ERR 1 x",
             "at Shop#48", "at Shop#49",
             "ptr 0x1f", "ptr 0x2f", "size 1x2", "size 2x2", "v2 ready", "v3 ready", "IPV4 on", "IPV6 on",
             "disk 1 of 9 at 10.0.0.1", "disk 2 of 9 at 10.0.0.2", "took 15 ms", "took 25 ms", "took 5 ms",
             "Jan 5 12:00:01 boot", "Jan 6 12:00:02 boot", "job_12_3 done", "job_45_6 done", "(1) or []", "(2) or []"]
    out: list[str] = []
    for _ in range(12_000):
        t = rng.choice([BASE.start, BASE.end, INCIDENT.start]) + rng.randrange(0, 600) + rng.choice([0.0, 0.5])
        service = rng.choice(["svc1", "svc2", "svc11"])
        trace = rng.choice(["", f"{rng.getrandbits(32):08x}", f"{rng.randrange(3):08x}", "a/b"])
        line = _line(t, service, rng.choice(words), rng.choice(["INFO", "ERROR", "DEFAULT", "info"]),
                     rng.choice(["", "pod-1", "pod-2"]), trace, rng.choice(["", "00f1"]) if trace else "",
                     rng.choice(["container_name", "service_name"]))
        kind = rng.randrange(40)
        if kind == 0:  # the same line, its trace named twice (the last one stands)
            line = line.replace('"textPayload"', '"trace":"projects/p/traces/first","textPayload"')
        elif kind == 1:  # a trace or span with a byte a JSON string cannot hold as it is
            line = line.replace('traces/', 'traces/\x01') if rng.random() < 0.5 else line.replace(
                '"spanId":"', '"spanId":"\x01')
        elif kind == 2:  # keys in another order, spaces
            line = json.dumps(dict(reversed(list(json.loads(line).items()))))
        elif kind == 3:  # a nested trace and span, not the record's
            entry = json.loads(line)
            entry.pop("textPayload")
            entry["jsonPayload"] = {"message": "nested", "trace": trace or "t", "spanId": "s"}
            line = json.dumps(entry, separators=(",", ":"))
        elif kind == 4:  # invalid UTF-8 or a broken escape in the message
            line = line.replace('"textPayload":"', '"textPayload":"\\x' if rng.random() < 0.5 else
                                '"textPayload":"\udcff')
        elif kind == 5:  # not an object, or cut short
            line = line[: len(line) // 2]
        elif kind == 6:  # a time escaped
            line = line.replace('"timestamp":"2', '"timestamp":"\\u0032')
        elif kind == 7:  # trailing garbage after the trace
            line = line[:-1] + ',"extra":1}' if trace else line
        out.append(line)
    out.append(_line(INCIDENT.start + 5, "svc1", "stack " + "x" * MAX_LINE_BYTES, "ERROR", "pod-1", "ffff"))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_lines_that_trip_byte_keys_count_alike(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    path = _bundle(tmp_path / "b", _adversarial(rng))
    got = _compare(path)
    assert len(got["patterns"]) > 20
    source = BundleSource(path)
    assert source.log_variants(INCIDENT, identity(PatternMiner(), logs._severity)).note()  # corrupt lines said


def test_a_window_earlier_than_the_one_before_counts_alike(tmp_path: Path) -> None:
    """The latest lines kept across windows out of time order (an incident window before the baseline)."""
    rng = random.Random(5)
    lines = [_line(BASE.start + rng.randrange(1600), "svc", f"job {rng.choice('ab')} done", "INFO",
                   rng.choice(["p1", "p2"]), f"{rng.getrandbits(32):08x}") for _ in range(500)]
    path = _bundle(tmp_path / "b", lines)
    _compare(path, (Window(1500.0, 2600.0), Window(1000.0, 1700.0)))


def test_more_traces_than_kept_count_alike(tmp_path: Path) -> None:
    """A pattern's linked traces: the first LINKED_TRACES of its lines' distinct ids, over several variants."""
    lines = [_line(INCIDENT.start + i / 10, "svc", "charged card", "INFO", f"pod-{i % 3}", f"{i % 700:08x}")
             for i in range(3 * LINKED_TRACES * 2)]
    got = _compare(_bundle(tmp_path / "b", lines))
    assert len(got["patterns"][0][-1]) == LINKED_TRACES


def test_consecutive_keys_count_as_lines_added_one_by_one() -> None:
    """`add_keys` leaves the miner as `add` of each line would, a line's neighbours past MAX_CONTEXT included."""
    rng = random.Random(9)
    messages = [f"step {w} of {v}" for w in "abcdefghijklmnopqrstuvwxyz" for v in ("x", "y y", "z z z")] + \
        [f"{w} happened" for w in range(200)]
    windows = [[rng.choice(messages) for _ in range(3000)] for _ in range(2)]
    one, bulk = PatternMiner(), PatternMiner()
    add: Callable[[str], int] = one.add
    for w, window in enumerate(windows):
        if w:
            one.start_window()
            bulk.start_window()
        for message in window:
            add(message)
        keys = [bulk.key(m) for m in window]
        bulk.add_keys(keys[:1000])
        bulk.add_keys(keys[1000:])
    assert one.assign() == bulk.assign()
    assert [(x.count, list(x.context.items())) for x in one._lines] == \
        [(x.count, list(x.context.items())) for x in bulk._lines]


def test_the_meter_counts_the_lines_read_by_variant_as_streamed(tmp_path: Path) -> None:
    path = _bundle(tmp_path / "b", _adversarial(random.Random(4)))
    streamed, by_variant = MeteredSource(BundleSource(path)), MeteredSource(BundleSource(path))
    assert streamed.log_stream is not None and by_variant.log_variants is not None
    for window in (BASE, INCIDENT):
        stream = streamed.log_stream(window)
        assert stream is not None
        for _ in stream.lines:
            pass
        assert by_variant.log_variants(window, identity(PatternMiner(), logs._severity)) is not None
    assert by_variant.counts.log_entries == streamed.counts.log_entries > 0
