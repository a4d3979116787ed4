"""Pattern counts over every log line of both windows, streamed: each line is added to the miner and counted per
(line key, service) as it passes, then kept only as far as a few exemplars and the latest lines go, so memory grows
with the distinct lines (bounded by the miner's `max_lines`), not with the lines. The deep analyses (silences in
a service's timeline, code paths per request) read a sample of whole traces instead.

A source that tells lines apart by their bytes (a bundle: `LogVariants`) gives each window's lines as variants, and
`count_variants` makes the same counts in bulk per variant (12 bytes a line held: its variant and its time).
"""

from __future__ import annotations

from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from agents.specialists.logs.log_patterns import PatternMiner
from shared.finding_details import LINKED_TRACES
from shared.telemetry_records import SKIPPED, LogRecord, LogVariants

EXEMPLARS = 3


@dataclass
class Tally:
    """A pattern's tally in one service."""

    base: int = 0
    inc: int = 0
    severity: int = 0
    first_seen: float = float("inf")
    instances: Counter[str] = field(default_factory=Counter)
    exemplars: list[LogRecord] = field(default_factory=list)  # the first lines in the incident window
    last: list[LogRecord] = field(default_factory=list)  # the latest lines seen, in either window
    traces: set[str] = field(default_factory=set)  # traces of its incident lines (up to LINKED_TRACES)


@dataclass
class LineCounts:
    """One distinct line's counts in one service (the fields of the analyst's per-pattern tally, plus the order
    of its first incident line and of its latest line, to merge the lines of one pattern in stream order)."""

    base: int = 0
    inc: int = 0
    severity: int = 0
    first_seen: float = float("inf")
    instances: Counter[str] = field(default_factory=Counter)
    exemplars: list[tuple[int, LogRecord]] = field(default_factory=list)  # the first incident lines
    last: list[tuple[float, int, LogRecord]] = field(default_factory=list)  # the latest lines, either window
    traces: set[str] = field(default_factory=set)


@dataclass
class StreamCounts:
    """Per (line key, service) counts of both windows and each service's volume per window."""

    lines: dict[tuple[int, str], LineCounts] = field(default_factory=dict)
    volume: Counter[tuple[str, bool]] = field(default_factory=Counter)


def count_stream(miner: PatternMiner, windows: Iterable[tuple[bool, Iterable[LogRecord]]],
                 severity: Callable[[LogRecord], int]) -> StreamCounts:
    """Add every line of each window (baseline first: `start_window` between) to `miner` and count it."""
    out = StreamCounts()
    lines, volume = out.lines, out.volume
    seq = 0
    for incident, records in windows:
        if incident:
            miner.start_window()
        add = miner.add
        sizes: dict[str, int] = {}  # this window's lines per service (a plain dict: the hot path)
        for r in records:
            seq += 1
            service = r.service
            k = (add(r.message), service)
            c = lines.get(k)
            if c is None:
                c = lines[k] = LineCounts()
            sizes[service] = sizes.get(service, 0) + 1
            t = r.timestamp
            if incident:
                c.inc += 1
                c.instances[r.instance] += 1
                if t < c.first_seen:
                    c.first_seen = t
                s = severity(r)
                if s > c.severity:
                    c.severity = s
                if len(c.exemplars) < EXEMPLARS:
                    c.exemplars.append((seq, r))
                if r.trace_id and len(c.traces) < LINKED_TRACES:
                    c.traces.add(r.trace_id)
            else:
                c.base += 1
            last = c.last
            if not last or t >= last[-1][0]:
                if len(last) >= EXEMPLARS:
                    del last[0]
                last.append((t, seq, r))
        for service, n in sizes.items():
            volume[(service, incident)] += n
    return out


def merged(counts: StreamCounts, assignment: dict[int, int]) -> dict[tuple[int, str], Tally]:
    """The streamed per-line counts as per (pattern, service) tallies: the lines of a pattern merged in stream
    order, as if they had been tallied by pattern."""
    parts: dict[tuple[int, str], list[LineCounts]] = defaultdict(list)
    for (key, service), c in counts.lines.items():
        parts[(assignment[key], service)].append(c)
    out: dict[tuple[int, str], Tally] = {}
    for k, cs in parts.items():
        p = out[k] = Tally()
        for c in cs:
            p.base += c.base
            p.inc += c.inc
            p.instances.update(c.instances)
            p.first_seen = min(p.first_seen, c.first_seen)
            p.severity = max(p.severity, c.severity)
            p.traces.update(list(c.traces)[:max(0, LINKED_TRACES - len(p.traces))])
        p.exemplars = [r for _, r in sorted((e for c in cs for e in c.exemplars), key=lambda e: e[0])[:EXEMPLARS]]
        for _, _, r in sorted((e for c in cs for e in c.last), key=lambda e: e[1]):
            if not p.last or r.timestamp >= p.last[-1].timestamp:
                p.last = [*p.last[-(EXEMPLARS - 1):], r]
    return out


Identity = tuple[int, str, str, int]  # a variant of a line: (line key, service, instance, severity)


def identity(miner: PatternMiner, severity: Callable[[LogRecord], int]) -> Callable[[LogRecord], Identity]:
    """What the counts tell lines apart by; the line key learnt by `miner` (called in stream order)."""
    return lambda r: (miner.key(r.message), r.service, r.instance, severity(r))


def digit_blind(miner: PatternMiner) -> Callable[[LogRecord], bool]:
    """Whether a line's `identity` holds for every line equal to it but for the ASCII digits of its message: its
    line key does (`PatternMiner.digit_blind`, asked after `identity` learnt it), and so does its severity (a level
    word holds no digit, and a digit is a word character as a letter is: the words a line states are the same)."""
    return lambda r: miner.digit_blind(r.message)


def count_variants(miner: PatternMiner, windows: Iterable[tuple[bool, LogVariants[Identity]]]) -> StreamCounts:
    """The counts `count_stream` makes of the same lines, from each window's lines by variant (baseline first,
    read with `identity` of this miner; the incident's with LINKED_TRACES trace ids a variant): counted in bulk
    per variant, with only a variant's first and last few lines looked at (read again for the records kept)."""
    out = StreamCounts()
    lines, volume = out.lines, out.volume
    seq = 0  # the stream's lines before this window's
    for incident, lv in windows:
        if incident:
            miner.start_window()
        ids, vids, times = lv.variants, lv.lines, lv.times
        keyof = [i[0] for i in ids]
        miner.add_keys([keyof[v] for v in vids if v != SKIPPED] if SKIPPED in vids else
                       list(map(keyof.__getitem__, vids)))
        sizes = Counter(vids)
        firsts = _occurrences(vids, EXEMPLARS if incident else 1, last=False)
        lasts = _occurrences(vids, EXEMPLARS, last=True)
        window: dict[tuple[int, str], tuple[LineCounts, list[int]]] = {}  # this window's groups: their variants
        per_service: dict[str, int] = {}
        for v, (key, service, instance, sev) in enumerate(ids):
            n = sizes[v]
            k = (key, service)
            c = lines.get(k)
            if c is None:
                c = lines[k] = LineCounts()
            group = window.get(k)
            if group is None:
                group = window[k] = (c, [])
            group[1].append(v)
            per_service[service] = per_service.get(service, 0) + n
            if incident:
                c.inc += n
                c.instances[instance] += n
                first = times[firsts[0][v]]
                if first < c.first_seen:
                    c.first_seen = first
                if sev > c.severity:
                    c.severity = sev
            else:
                c.base += n
        for c, vs in window.values():
            if incident:
                shown = sorted(f[v] for f in firsts for v in vs if v in f)[:EXEMPLARS]
                c.exemplars = [*c.exemplars, *((seq + n, lv.record(n)) for n in shown)][:EXEMPLARS]
                traced = sorted(t for v in vs for t in lv.traces.get(v, ()))
                for _, trace in traced:
                    if len(c.traces) >= LINKED_TRACES:
                        break
                    c.traces.add(trace)
            latest = sorted(f[v] for f in lasts for v in vs if v in f)[-EXEMPLARS:]
            if c.last:  # a line earlier than the latest kept is not kept (the windows' order)
                latest = [n for n in latest if times[n] >= c.last[-1][0]]
            c.last = [*c.last, *((times[n], seq + n, lv.record(n)) for n in latest)][-EXEMPLARS:]
        for service, n in per_service.items():
            volume[(service, incident)] += n
        seq += len(vids)
    return out


def _occurrences(vids: Sequence[int], k: int, last: bool) -> list[dict[int, int]]:
    """Per variant the line of its first (`last`: its last) occurrence, then of its second, ... (k of them)."""
    rest = array("I", vids)
    out: list[dict[int, int]] = []
    for _ in range(k):
        if last:
            found = dict(zip(rest, range(len(rest)), strict=True))
        else:
            found = dict(zip(reversed(rest), range(len(rest) - 1, -1, -1), strict=True))
        found.pop(SKIPPED, None)
        if not found:
            break
        out.append(found)
        for n in found.values():
            rest[n] = SKIPPED
    return out
