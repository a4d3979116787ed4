"""Self time and the critical path of a trace: the one implementation every trace analysis uses; and the
trace's structure the analysis reads (client spans, the deepest failing spans, service call edges).

Self time of a span = its duration minus the union of its children's intervals, clipped to the span (parallel
children merged, overlaps counted once). The critical path walks back from the end of the root: at each span,
the last-finishing child that ends before the current cursor is on the path, the cursor moves to that child's
start, and the gaps between path children are the span's own contribution. Contributions along the path sum to
the root's duration.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from shared.telemetry_records import Span


@dataclass
class Trace:
    trace_id: str
    spans: dict[str, Span]
    children: dict[str, list[Span]]
    roots: list[Span]

    @property
    def root(self) -> Span:
        return max(self.roots, key=lambda s: (s.duration, s.span_id))


def build_traces(spans: Iterable[Span]) -> list[Trace]:
    """Group spans into traces; spans whose parent is missing become roots (orphans are kept, not dropped)."""
    by_trace: dict[str, list[Span]] = defaultdict(list)
    for s in spans:
        by_trace[s.trace_id].append(s)
    traces = []
    for trace_id in sorted(by_trace):
        members = {s.span_id: s for s in by_trace[trace_id]}
        children: dict[str, list[Span]] = defaultdict(list)
        roots = []
        for s in members.values():
            if s.parent_id and s.parent_id in members and s.parent_id != s.span_id:
                children[s.parent_id].append(s)
            else:
                roots.append(s)
        for kids in children.values():
            kids.sort(key=lambda c: (c.start, c.span_id))
        if roots:
            traces.append(Trace(trace_id, members, children, roots))
    return traces


def covered(span: Span, kids: list[Span]) -> float:
    """Seconds of `span` covered by the union of its children's intervals (clipped to the span)."""
    intervals = sorted((max(c.start, span.start), min(c.end, span.end)) for c in kids)
    total, cur_start, cur_end = 0.0, None, None
    for a, b in intervals:
        if b <= a:
            continue
        if cur_end is None or a > cur_end:
            if cur_end is not None and cur_start is not None:
                total += cur_end - cur_start
            cur_start, cur_end = a, b
        else:
            cur_end = max(cur_end, b)
    if cur_end is not None and cur_start is not None:
        total += cur_end - cur_start
    return total


def self_times(trace: Trace) -> dict[str, float]:
    """span id -> self time (seconds)."""
    return {sid: max(0.0, s.duration - covered(s, trace.children.get(sid, []))) for sid, s in trace.spans.items()}


def critical_path(trace: Trace, start: Span | None = None) -> list[tuple[Span, float]]:
    """Spans on the critical path with the seconds each contributes to the end-to-end latency, depth first in
    time order (a span, then its path children from the earliest). The contributions sum to the duration of
    `start` (by default the trace's root)."""
    out: list[tuple[Span, float]] = []
    first = start or trace.root
    stack: list[tuple[Span, float, float]] = [(first, first.start, first.end)]
    seen: set[str] = set()
    while stack:
        span, lo, hi = stack.pop()  # the span, clipped to the part of its parent's time it can account for
        if span.span_id in seen:  # defensive: a cycle in bad data
            continue
        seen.add(span.span_id)
        cursor, own = hi, 0.0
        path_children = []
        for child in sorted(trace.children.get(span.span_id, []), key=lambda c: (c.end, c.span_id), reverse=True):
            child_end, child_start = min(child.end, hi), max(child.start, lo)
            if child_end <= cursor and child_start < child_end:
                own += cursor - child_end
                path_children.append((child, child_start, child_end))
                cursor = child_start
        own += max(0.0, cursor - lo)
        out.append((span, own))
        stack.extend(path_children)  # collected latest first, so the earliest is visited next
    return out


def client_of(trace: Trace, span: Span) -> str:
    """The service a client span calls: a span under a span of its own service whose children all belong to
    one other service (OpenTelemetry's CLIENT-under-SERVER shape); "" for any other span."""
    parent = trace.spans.get(span.parent_id)
    kids = trace.children.get(span.span_id, [])
    services = {k.service for k in kids}
    if parent is None or parent.service != span.service or len(services) != 1 or span.service in services:
        return ""
    return next(iter(services))


def error_origins(trace: Trace) -> list[Span]:
    """The deepest failing spans: errors none of whose children failed (the callers only report them)."""
    return [s for sid, s in sorted(trace.spans.items())
            if s.error and not any(c.error for c in trace.children.get(sid, []))]


def failing_callers(trace: Trace, origin: Span) -> set[str]:
    """Services of the failing ancestors of an origin span: the callers that report its error."""
    out: set[str] = set()
    seen = {origin.span_id}
    span = trace.spans.get(origin.parent_id)
    while span is not None and span.span_id not in seen:
        seen.add(span.span_id)
        if span.error and span.service != origin.service:
            out.add(span.service)
        span = trace.spans.get(span.parent_id)
    return out


def topology(spans: list[Span]) -> Counter[tuple[str, str]]:
    """Service call edges (caller service, callee service) -> calls, from parent/child spans."""
    by_id = {(s.trace_id, s.span_id): s for s in spans}
    edges: Counter[tuple[str, str]] = Counter()
    for s in spans:
        parent = by_id.get((s.trace_id, s.parent_id)) if s.parent_id else None
        if parent is not None and parent.service != s.service and parent.service and s.service:
            edges[(parent.service, s.service)] += 1
    return edges
