"""Broken code paths: where a request's flow through a service stopped going the way it always went.

A request leaves a trail in each service it passes: the start of the service's operations that log, its log lines
(as steps: the constant lead of their pattern) and its calls to other services, in time order, per visit. Over
the baseline, each event's successors have a distribution ("after line A comes line B 9 times in 10"). In the
incident window, a successor that became much rarer after the same event is a code path that broke between the
two: an exception thrown or an early return between two log statements, a call that is no longer made. The test
is one-sided binomial on the incident's count of A -> B given the incident's count of A, against the baseline
share of B (shrunk towards zero by one pseudo-observation, so a handful of baseline requests cannot make it
certain); the size of the break is measured from its onset (a break starts at a moment).
Requests that now go on to a branch the baseline already took after A (a shift in the mix of inputs) are weaker
evidence than requests that go where they never went: the end of the visit, an error, a new step.

Only the first event of a broken flow is tested with evidence (after the break, the later events do not occur),
so a break is reported once, where it happened. A break right after a call to another service says that the
call's outcome changed (it failed or timed out): evidence about the callee, marked `after_call`.
Needs log lines that carry a trace id; spans, when there are any, add the operation starts and calls.
Pure and deterministic.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import accumulate, chain, repeat
from operator import itemgetter
from typing import NamedTuple

from agents.specialists.stats import cusum_onset
from shared.telemetry_records import LogRecord, Span

END = "(end of the request in this service)"
MIN_BASE = 3  # baseline occurrences of an event before its successors are known
MIN_INCIDENT = 5  # incident occurrences before a break can be told
MIN_SUCCESSOR = 3  # baseline occurrences of a successor worth expecting
FLOW_P = 1e-6  # many transitions are tested: a break must be this unlikely by chance
FOCUSED_FLOW_P = 1e-4  # ... fewer when a follow-up round tests only the few services it is about
FOCUSED_MIN_INCIDENT = 3
MIN_DROP = 0.3  # ... and the successor's share must have fallen by at least this much
FLOW_SURE = 12.0  # -log10 of the chance at which a break is beyond doubt
NOVEL_SHARE = 0.05  # a successor rarer than this after the same step in the baseline is a new branch
KNOWN_BRANCH = 0.3  # what a break keeps when its requests went on to branches the baseline already took
ONSET_H = 3.0  # CUSUM threshold (in missed requests beyond the drift) that marks the onset of a break


class Event(NamedTuple):
    """One step of a request's trail in a service: a log pattern, an operation's start or a call. A named tuple:
    events are hashed and compared millions of times on a big incident, and a tuple does it in C."""

    label: str  # log steps are told apart by their label alone: patterns with one label are one step
    kind: str  # log | error (a log pattern that reads as an error) | start | call | end

    @property
    def callee(self) -> str:
        return self.label.removeprefix("call ") if self.kind == "call" else ""


@dataclass(frozen=True)
class FlowBreak:
    service: str
    before: Event  # the last event that still happened
    expected: Event  # what used to follow it
    instead: Event | None  # what follows it most often now
    base_count: int  # baseline occurrences of `before`
    base_share: float  # share of them followed by `expected`
    count: int  # incident occurrences of `before`
    share: float  # share of them followed by `expected`
    p_value: float  # of the whole incident window's count (the onset below is not chosen to make it smaller)
    count_since: int  # occurrences of `before` from the break's onset on (a break starts at a moment) ...
    share_since: float  # ... and the share of them still followed by `expected`
    instances: tuple[tuple[str, int], ...]
    traces: tuple[str, ...]  # exemplar incident traces where the flow broke
    first_seen: float  # the onset: the first request of the run that no longer went on to `expected`
    novel_share: float  # share of the requests since then that went on to a step rare there in the baseline

    @property
    def after_call(self) -> bool:
        return self.before.kind == "call"

    @property
    def drop(self) -> float:
        return self.base_share - self.share_since

    @property
    def region(self) -> str:
        return f"{self.before.label} -> {self.expected.label}"


Trail = list[tuple[float, int, Event, str]]  # (time, order, event, instance)


def trails(lines: Iterable[tuple[LogRecord, int]], spans: Iterable[Span], logging_ops: set[tuple[str, str]],
           label: Callable[[int], str], errorish: Callable[[int], bool]) -> dict[tuple[str, str, str], Trail]:
    """Per visit of a request to a service (its entry span: one whose parent is in another service, or the
    root), the time-ordered events; per (trace, service) for lines whose span is unknown. `lines` pairs each line
    with its pattern id; only the operations in `logging_ops` ((service, name) pairs) contribute their start, so
    that spans that never log do not dilute the trail. A span whose parent is in another service is a call from
    that service's visit."""
    span_list = list(spans)
    by_id = {(s.trace_id, s.span_id): s for s in span_list}  # span ids are unique within a trace only
    entry: dict[tuple[str, str], str] = {}

    def entry_of(s: Span) -> str:
        chain: list[tuple[str, str]] = []
        while (s.trace_id, s.span_id) not in entry:
            parent = by_id.get((s.trace_id, s.parent_id))
            chain.append((s.trace_id, s.span_id))
            if parent is None or parent.service != s.service or (parent.trace_id, parent.span_id) in chain:
                entry[(s.trace_id, s.span_id)] = s.span_id
                break
            s = parent
        top = entry[(s.trace_id, s.span_id)]
        for key in chain:
            entry[key] = top
        return top

    # Events are made once per operation, callee and pattern: a big incident has few of them and many requests.
    starts = {op: Event(f"{op[1]} start", "start") for op in logging_ops}
    calls: dict[str, Event] = {}
    steps: dict[int, Event] = {}
    out: dict[tuple[str, str, str], Trail] = defaultdict(list)  # (service, trace, entry span)
    own: set[tuple[str, str, str]] = set()  # visits with an event of their own code (not only calls)
    order = 0
    for s in span_list:
        start = starts.get((s.service, s.name))
        if start is not None:
            visit = (s.service, s.trace_id, entry_of(s))
            out[visit].append((s.start, order, start, s.instance))
            own.add(visit)
            order += 1
        parent = by_id.get((s.trace_id, s.parent_id))
        if parent is not None and parent.service != s.service:
            call = calls.get(s.service)
            if call is None:
                call = calls[s.service] = Event(f"call {s.service}", "call")
            out[(parent.service, parent.trace_id, entry_of(parent))].append((s.start, order, call, parent.instance))
            order += 1
    for r, pid in lines:
        if not r.trace_id:
            continue
        span = by_id.get((r.trace_id, r.span_id))
        visit = (r.service, r.trace_id, entry_of(span) if span is not None and span.service == r.service else "")
        step = steps.get(pid)
        if step is None:
            step = steps[pid] = Event(label(pid), "error" if errorish(pid) else "log")
        out[visit].append((r.timestamp, order, step, r.instance))
        own.add(visit)
        order += 1
    kept = {}
    for key, trail in out.items():
        if key in own:  # calls alone say nothing about the caller's code
            trail.sort()  # by time, then order: no two events share an order
            kept[key] = trail
    return kept


def comparable_spans(by_window: dict[str, list[Span]]) -> dict[str, list[Span]]:
    """The spans of the services traced in every window, per window: a trail gains operation starts and calls only
    where the other window can show them too. Otherwise a window without spans (a trace baseline that was not
    kept, a service traced only lately) would make every logged step look followed by new calls: breaks that are
    the data's, not the code's."""
    traced = [{s.service for s in spans} for spans in by_window.values()]
    both = set.intersection(*traced) if traced else set()
    return {name: [s for s in spans if s.service in both] for name, spans in by_window.items()}


@dataclass
class _Transitions:
    counts: Counter[tuple[str, Event, Event]]  # (service, a, b)
    totals: Counter[tuple[str, Event]]  # (service, a)
    instances: dict[tuple[str, Event], Counter[str]]
    traces: dict[tuple[str, Event, Event], list[str]]
    order: dict[tuple[str, Event], list[tuple[float, Event]]]  # (service, a): (when, what followed), in time


def transitions(by_trail: dict[tuple[str, str, str], Trail]) -> _Transitions:
    """Every step of every trail and the one after it (the end of the visit after the last), counted per service,
    in the order of the sorted trails (so ties are broken the same way on every run). Counted in bulk: a big
    incident has tens of thousands of trails of a few steps each."""
    t = _Transitions(Counter(), Counter(), defaultdict(Counter), {}, defaultdict(list))
    keys = sorted(by_trail)
    ordered = [by_trail[k] for k in keys]
    sizes = list(map(len, ordered))
    steps = list(chain.from_iterable(ordered))
    if not steps:
        return t
    events = list(map(itemgetter(2), steps))
    after = events[1:]
    after.append(Event(END, "end"))
    end = after[-1]
    for last in accumulate(sizes):  # the last step of each trail is followed by the end of its visit
        if last:
            after[last - 1] = end
    services = list(chain.from_iterable(map(repeat, map(itemgetter(0), keys), sizes)))
    pairs = list(zip(services, events, strict=True))
    triples = list(zip(services, events, after, strict=True))
    t.counts.update(triples)
    t.totals.update(pairs)
    for (pair, inst), c in Counter(zip(pairs, map(itemgetter(3), steps), strict=True)).items():
        t.instances[pair][inst] += c
    traces = t.traces
    for k, trace in zip(triples, chain.from_iterable(map(repeat, map(itemgetter(1), keys), sizes)), strict=True):
        seen = traces.get(k)
        if seen is None:
            traces[k] = [trace]
        elif len(seen) < 3:
            seen.append(trace)
    order = t.order
    for pair, x in zip(pairs, zip(map(itemgetter(0), steps), after, strict=True), strict=True):
        order[pair].append(x)
    for seq in order.values():
        seq.sort(key=lambda x: (x[0], x[1].kind, x[1].label))
    return t


def binomial_cdf_log10(x: int, n: int, p: float) -> float:
    """log10 P(X <= x) for X ~ Binomial(n, p)."""
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 0.0 if x >= n else -math.inf
    terms = [math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * math.log(p)
             + (n - k) * math.log1p(-p) for k in range(x + 1)]
    top = max(terms)
    return (top + math.log(sum(math.exp(v - top) for v in terms))) / math.log(10)


def breaks(base: _Transitions, inc: _Transitions, focus: tuple[str, ...] = ()) -> list[FlowBreak]:
    """The successors that became significantly rarer after the same event, strongest first. With `focus`, only
    those services are tested, against the lower bar that testing fewer transitions allows."""
    p_max, min_incident = (FOCUSED_FLOW_P, FOCUSED_MIN_INCIDENT) if focus else (FLOW_P, MIN_INCIDENT)
    successors, now_after = _followers(base), _followers(inc)
    found: list[FlowBreak] = []
    for (service, a), n_base in base.totals.items():
        n_inc = inc.totals.get((service, a), 0)
        if n_base < MIN_BASE or n_inc < min_incident or (focus and service not in focus):
            continue
        best: FlowBreak | None = None
        for b, c in successors.get((service, a), []):
            if c < MIN_SUCCESSOR or b.kind in ("error", "end"):
                continue  # a request that no longer fails there, or goes further than it did, broke nothing
            p0 = c / (n_base + 1)
            x = inc.counts.get((service, a, b), 0)
            if x / n_inc >= p0 - MIN_DROP:
                continue
            log_p = binomial_cdf_log10(x, n_inc, p0)
            if log_p > math.log10(p_max):
                continue
            now = [(k, v) for k, v in now_after.get((service, a), []) if k != b]
            instead = max(now, key=lambda kv: (kv[1], kv[0].label))[0] if now else None
            since = _since_onset(inc.order[(service, a)], b, p0, min_incident)
            novel = sum(base.counts.get((service, a, k), 0) < NOVEL_SHARE * n_base for _, k in since if k != b)
            brk = FlowBreak(
                service=service, before=a, expected=b, instead=instead, base_count=n_base, base_share=c / n_base,
                count=n_inc, share=x / n_inc, p_value=10 ** max(log_p, -300.0), count_since=len(since),
                share_since=sum(k == b for _, k in since) / len(since),
                instances=tuple(inc.instances[(service, a)].most_common(5)),
                traces=tuple(inc.traces.get((service, a, instead), []) if instead else ()),
                first_seen=next((t for t, k in since if k != b), since[0][0]), novel_share=novel / len(since))
            if best is None or (brk.drop, -brk.p_value) > (best.drop, -best.p_value):
                best = brk
        if best is not None:
            found.append(best)
    found.sort(key=lambda f: (-strength(f), f.service, f.region))
    return found


def _since_onset(seq: list[tuple[float, Event]], expected: Event, p0: float,
                 min_incident: int) -> list[tuple[float, Event]]:
    """The requests from the break's onset on: a one-sided CUSUM over "did not go on to `expected`" (rate 1 - p0
    before, at least MIN_DROP more after) finds where the run of misses starts; the whole window when it finds
    none, or too few requests after it to tell."""
    missed = [0.0 if k == expected else 1.0 for _, k in seq]
    start = cusum_onset(missed, drift=(1.0 - p0) + MIN_DROP / 2, threshold=ONSET_H)
    return seq[start:] if start is not None and len(seq) - start >= min_incident else seq


def _followers(t: _Transitions) -> dict[tuple[str, Event], list[tuple[Event, int]]]:
    """Per (service, event), what followed it and how often."""
    out: dict[tuple[str, Event], list[tuple[Event, int]]] = defaultdict(list)
    for (service, a, b), c in t.counts.items():
        out[(service, a)].append((b, c))
    return out


def strength(f: FlowBreak) -> float:
    """How sure and how large: the fall in the successor's share, discounted while chance is not ruled out, and
    while the requests went on to branches they already took in the baseline (a shift in the mix of inputs
    rather than code that broke)."""
    sure = min(1.0, -math.log10(max(f.p_value, 1e-300)) / FLOW_SURE)
    novelty = min(1.0, f.novel_share / f.drop) if f.drop > 0 else 0.0
    return f.drop * sure * (KNOWN_BRANCH + (1.0 - KNOWN_BRANCH) * novelty)


def placements(base: _Transitions, inc: _Transitions) -> dict[tuple[str, str], tuple[str, str, int, int]]:
    """Where each new step of the incident sits in its service's code path: per (service, step label) that the
    baseline never showed, the step that most often came right before it now, and what followed that step in the
    baseline most often: (before, expected, times it came after `before` now, baseline count of `expected` after
    `before`). A new error line between A and B is the region between them, even when too few requests went
    through it to call the path broken."""
    known = {(s, a.label) for s, a in base.totals} | {(s, b.label) for s, _, b in base.counts}
    before: dict[tuple[str, str], Counter[Event]] = defaultdict(Counter)
    for (service, a, b), c in inc.counts.items():
        if b.kind in ("log", "error") and (service, b.label) not in known and (service, a.label) in known:
            before[(service, b.label)][a] += c
    successors = _followers(base)
    out: dict[tuple[str, str], tuple[str, str, int, int]] = {}
    for (service, label), preceding in sorted(before.items()):
        a, n = max(preceding.items(), key=lambda kv: (kv[1], kv[0].label))
        went = [(b, c) for b, c in successors.get((service, a), []) if b.kind in ("log", "error", "call")]
        if not went:
            continue
        b, c = max(went, key=lambda kv: (kv[1], kv[0].label))
        if c >= MIN_SUCCESSOR:
            out[(service, label)] = (a.label, b.label, n, c)
    return out

