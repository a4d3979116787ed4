"""Trace analyst: latency and error shifts per service (tested per operation, baseline against incident), the
service's own time on the critical path against the time it only waits, delay on the wire to a service, the
origin of errors (the deepest failing span, not the callers that report it), and the service call graph.

Latency is compared with a rank test (Mann-Whitney) on each operation's durations and self times; errors with a
two-proportion test per operation; a service's finding is its strongest operation, the others listed. A client
span (a span whose children all run in one other service) spends its own time waiting outside the callee: that
time is the network's or the callee's queue's, so it is counted as the callee's wire delay, never as the
caller's own work. Own-time and wire findings weigh by how much of their traces' end-to-end rise they explain on
the critical path, so a real but small slowdown off the path does not outrank the one users wait on. Onsets come
from a CUSUM over the calls in time order (slow: above the baseline's p90; or failed).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from statistics import fmean

from agents.context import AnalysisContext, SpecialistResult
from agents.specialists.stats import (
    cusum_onset,
    mann_whitney_z,
    median,
    normal_sf,
    quantile,
    rank_test_sureness,
    rate_increase_p,
    squash,
    two_proportion_z,
)
from agents.specialists.traces.critical_path import (
    Trace,
    build_traces,
    client_of,
    critical_path,
    error_origins,
    failing_callers,
    self_times,
    topology,
)
from shared.finding_details import (
    LINKED_TRACES,
    ErrorOriginDetails,
    TopologyDetails,
    TraceErrorDetails,
    TraceLatencyDetails,
    WireDelayDetails,
)
from shared.models import Finding, Widget
from shared.ports import TelemetrySource
from shared.severity import severity_of, severity_rank
from shared.telemetry_records import Dependency, Span, Window

MIN_SAMPLES = 8  # calls of an operation needed in each window to compare it
FOCUSED_MIN_SAMPLES = 5  # ... in a follow-up round about a few services (the rank test's sureness scales with n)
LATENCY_Z = 3.0
SURE_Z = 6.0  # a rank-test z this large leaves no doubt; smaller ones scale the score down
MIN_RATIO = 1.3
MIN_SHIFT_S = 0.002  # a latency shift smaller than this is below anything a latency alert can be about
RATIO_FLOOR_S = 1e-4  # added to both sides of a latency ratio so sub-0.1 ms times do not make huge ratios
WIRE_MIN_S = 0.005  # a wire delay smaller than this is noise, whatever its ratio
PEER_MIN_SERVICES = 3  # without a baseline of its own, calls to a service are set against calls to this many others
PEER_MIN_RATIO = 5.0  # ... and must wait this many times longer than theirs: links differ more than a link over time
PEER_WEIGHT = 0.7  # a contrast with other links at the same time is weaker evidence than one with the same link
ERROR_Z = 3.0
MIN_ERRORS = 3
MIN_ORIGINS = 5
ORIGIN_P = 1e-3
MAX_WATERFALL_SPANS = 60
MAX_OPERATIONS = 5  # shifted operations listed in a finding's details
IMPACT_FULL = 0.5  # own or wire time that explains half of its traces' end-to-end rise weighs in full
IMPACT_FLOOR = 0.1
E2E_NOISE = 0.1  # an end-to-end rise below this share of the traces' time is treated as this much
ONSET_GAP = 0.2  # onset: CUSUM drift this far above the baseline's rate of slow (or failed) calls
ONSET_H = 3.0  # ... and the excess of such calls a run must gather


@dataclass
class _Samples:
    """One operation's calls in one window: parallel lists, one entry per span."""

    durations: list[float] = field(default_factory=list)
    self_times: list[float] = field(default_factory=list)
    failed: list[bool] = field(default_factory=list)
    trace_ids: list[str] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(self.failed)


@dataclass
class _Window:
    traces: dict[str, Trace]
    ops: dict[tuple[str, str], _Samples] = field(default_factory=lambda: defaultdict(_Samples))
    wire: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    wire_starts: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    # per service, one entry per trace it takes part in: its own seconds on the critical path, the seconds its
    # callers' client spans to it spend on the path outside it (wire), and the trace's end-to-end seconds
    path: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    wire_path: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    roots: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    origins: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))  # service -> op -> n
    callers: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))  # failing ancestors
    origin_traces: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # service -> trace ids
    error_traces: int = 0

    def service_ops(self, service: str) -> list[str]:
        return sorted(op for svc, op in self.ops if svc == service)

    def calls(self, service: str) -> int:
        return sum(len(s.durations) for (svc, _), s in self.ops.items() if svc == service)

    def errors(self, service: str) -> int:
        return sum(s.errors for (svc, _), s in self.ops.items() if svc == service)


def mark_logged_errors(spans: list[Span], source: TelemetrySource, window: Window) -> list[Span]:
    """Spans whose own log lines report an error count as failing, even where the tracer set no status
    (many instrumentations record exceptions only in logs correlated by trace and span id)."""
    failing = {(r.trace_id, r.span_id) for r in source.logs(window).items
               if r.span_id and max(severity_rank(r.severity), severity_rank(severity_of(r.message))) >=
               severity_rank("ERROR")}
    if not failing:
        return spans
    return [replace(s, error=True, status_message=s.status_message or "error logged")
            if not s.error and (s.trace_id, s.span_id) in failing else s for s in spans]


def collect(spans: list[Span]) -> _Window:
    """Per-operation samples, wire time, own critical-path time and error origins of one window's spans."""
    traces = build_traces(spans)
    w = _Window({t.trace_id: t for t in traces})
    for trace in traces:
        own = self_times(trace)
        clients: dict[str, str] = {}
        for sid, span in sorted(trace.spans.items()):
            callee = client_of(trace, span)
            if callee:  # the wait outside the callee's own spans is the network's or the callee's queue's
                clients[sid] = callee
                w.wire[callee].append(own[sid])
                w.wire_starts[callee].append(span.start)
            samples = w.ops[(span.service, span.name)]
            samples.durations.append(span.duration)
            samples.self_times.append(0.0 if callee else own[sid])
            samples.failed.append(span.error)
            samples.trace_ids.append(trace.trace_id)
            samples.starts.append(span.start)
        services = sorted({s.service for s in trace.spans.values()})
        on_path, wire_on_path = dict.fromkeys(services, 0.0), dict.fromkeys(services, 0.0)
        for span, seconds in critical_path(trace):
            if span.span_id in clients:
                wire_on_path[clients[span.span_id]] += seconds
            else:
                on_path[span.service] += seconds
        for service in services:
            w.path[service].append(on_path[service])
            w.wire_path[service].append(wire_on_path[service])
            w.roots[service].append(trace.root.duration)
        origins = error_origins(trace)
        w.error_traces += bool(origins)
        for origin in origins:
            where = answered_by(trace, origin)
            w.origins[where.service][where.name] += 1
            if len(w.origin_traces[where.service]) < LINKED_TRACES:
                w.origin_traces[where.service].add(trace.trace_id)
            w.callers[where.service].update(failing_callers(trace, where) | ({origin.service} - {where.service}))
    return w


def answered_by(trace: Trace, origin: Span) -> Span:
    """Where a failure starts: the deepest failing span, or, when that is a client span whose call reached the
    callee (its server span is there and did not fail), the callee's span: the answer it gave failed the call,
    and the caller only reports it (a callee that handles its exception into an error response, or whose
    instrumentation marks no failure, absorbs the failure into its callers otherwise)."""
    if not client_of(trace, origin):
        return origin
    answered = sorted(trace.children.get(origin.span_id, []), key=lambda s: (s.start, s.span_id))
    return answered[-1] if answered else origin


def onset_of(events: list[tuple[float, bool]], base_rate: float) -> float | None:
    """When events (a slow call, a failed call) started to come more often than `base_rate`: the start of the
    strongest run of a Bernoulli CUSUM over the calls in time order. None when no run stands out."""
    ordered = sorted(events)
    k = cusum_onset([1.0 if hit else 0.0 for _, hit in ordered], drift=min(0.95, base_rate + ONSET_GAP),
                    threshold=ONSET_H)
    return ordered[k][0] if k is not None else None


def _slow_onset(base: list[float], starts: list[float], values: list[float]) -> float | None:
    """Onset of a latency shift: calls slower than the baseline's p90 (a tenth of the baseline's calls are)."""
    bar = quantile(base, 0.9)
    return onset_of([(t, v > bar) for t, v in zip(starts, values, strict=True)], 0.1)


def _ratio(after: float, before: float) -> float:
    return (after + RATIO_FLOOR_S) / (before + RATIO_FLOOR_S)


@dataclass
class _Shift:
    """One distribution (an operation's durations or self times, or a service's critical-path time) compared."""

    z: float
    base_q: tuple[float, float, float]  # p50, p90, p95
    inc_q: tuple[float, float, float]
    n: tuple[int, int] = (0, 0)  # samples in the baseline and incident windows

    @property
    def ratio(self) -> float:
        return max(_ratio(self.inc_q[0], self.base_q[0]), _ratio(self.inc_q[1], self.base_q[1]))

    @property
    def significant(self) -> bool:
        grew = max(self.inc_q[0] - self.base_q[0], self.inc_q[1] - self.base_q[1])
        return self.z >= LATENCY_Z and self.ratio >= MIN_RATIO and grew >= MIN_SHIFT_S

    @property
    def strength(self) -> float:
        if not self.significant:
            return 0.0
        return rank_test_sureness(self.z, *self.n, SURE_Z) * squash(self.ratio - 1, 1.0)


def _shift(base: list[float], inc: list[float]) -> _Shift:
    def qs(xs: list[float]) -> tuple[float, float, float]:
        return quantile(xs, 0.5), quantile(xs, 0.9), quantile(xs, 0.95)

    return _Shift(mann_whitney_z(base, inc), qs(base), qs(inc), (len(base), len(inc)))


def analyse(source: TelemetrySource, ctx: AnalysisContext) -> SpecialistResult:
    base_read, inc_read = source.spans(ctx.baseline), source.spans(ctx.incident)
    notes = [r.note for r in (base_read, inc_read) if r.sampled]
    query: dict[str, object] = {"source": source.describe(), "window": [ctx.incident.start, ctx.incident.end],
                                "baseline": [ctx.baseline.start, ctx.baseline.end]}
    declared = source.dependencies()
    if declared.sampled:
        notes.append(declared.note)
    edges = topology(base_read.items + inc_read.items)
    graph = [_graph_finding(edges, declared.items, query)] if inc_read.items or declared.items else []
    if not inc_read.items:
        return SpecialistResult(graph, [*notes, "no spans in the incident window"])
    if not base_read.items:
        notes.append("no baseline spans: latency and error shifts cannot be scored")
    base = collect(mark_logged_errors(base_read.items, source, ctx.baseline))
    inc = collect(mark_logged_errors(inc_read.items, source, ctx.incident))
    findings = list(graph)
    services = sorted({svc for svc, _ in inc.ops})
    # a follow-up round compares the few services it is about on thinner samples
    n_min = FOCUSED_MIN_SAMPLES if ctx.focus else MIN_SAMPLES
    if ctx.focus:
        services = [s for s in services if s in ctx.focus]
    for service in services:
        findings += _latency(service, base, inc, query, n_min)
        findings += _wire(service, base, inc, query, n_min)
        findings += _errors(service, base, inc, query)
        findings += _origins(service, base, inc, query)
    thin = [s for s in services if not any(_comparable(base, inc, s, op, n_min) for op in inc.service_ops(s))]
    if base_read.items and thin:
        notes.append(f"{len(thin)} of {len(services)} services had no operation with {n_min}+ calls in both "
                     f"windows: their latency was not compared ({', '.join(thin[:5])}{'...' if len(thin) > 5 else ''})")
    findings.sort(key=lambda f: (-f.score, f.kind, f.service, f.resource))
    return SpecialistResult(findings, notes)


def _graph_finding(edges: dict[tuple[str, str], int], declared: list[Dependency],
                   query: dict[str, object]) -> Finding:
    """The service graph: the calls the spans show (with their counts), and the declared edges no span shows (one
    call each: a declared edge is known to exist, not measured)."""
    merged = dict(edges)
    extra = [(d.caller, d.callee) for d in declared if d.caller != d.callee and (d.caller, d.callee) not in edges]
    for edge in extra:
        merged[edge] = 1
    title = f"service call graph: {len(merged)} edges"
    if declared:
        title += f" ({len(extra)} declared by the telemetry source, not seen in the spans read)"
    return Finding(specialist="traces", kind="trace.topology", title=title, query=query,
                   details=TopologyDetails(edges=[(a, b, n) for (a, b), n in sorted(merged.items())],
                                           declared=sorted(extra)))


def _comparable(base: _Window, inc: _Window, service: str, op: str, n_min: int = MIN_SAMPLES) -> bool:
    b = base.ops.get((service, op))
    return b is not None and len(b.durations) >= n_min and len(inc.ops[(service, op)].durations) >= n_min


def explained_share(base: list[float], inc: list[float], base_roots: list[float], inc_roots: list[float]) -> float:
    """How much of the rise in end-to-end time one contribution explains (a service's own time, or the wire delay
    to it, on the critical path; one entry per trace it takes part in): the growth of its mean seconds per trace
    over the growth of those traces' mean duration. Critical-path contributions sum to the trace's duration, so
    the shares of all contributions add up to 1. A rise smaller than E2E_NOISE of the traces' time counts as that
    much, so a contribution that grew while the end-to-end time did not explains little."""
    if not base or not inc or not base_roots or not inc_roots:
        return 0.0
    rise = max(fmean(inc_roots) - fmean(base_roots), E2E_NOISE * fmean(inc_roots))
    return max(0.0, (fmean(inc) - fmean(base)) / rise) if rise > 0 else 0.0


def _impact(share: float) -> float:
    """Weight of a shift by how much of the end-to-end rise it explains: a shift that adds little of what users
    wait on is real but hardly the cause of a latency alert."""
    return max(IMPACT_FLOOR, min(1.0, share / IMPACT_FULL))


def _latency(service: str, base: _Window, inc: _Window, query: dict[str, object],
             n_min: int = MIN_SAMPLES) -> list[Finding]:
    compared: list[tuple[float, str, _Shift, _Shift]] = []  # (strength, op, duration shift, self-time shift)
    for op in inc.service_ops(service):
        if not _comparable(base, inc, service, op, n_min):
            continue
        b, i = base.ops[(service, op)], inc.ops[(service, op)]
        dur, own = _shift(b.durations, i.durations), _shift(b.self_times, i.self_times)
        compared.append((max(own.strength, 0.6 * dur.strength), op, dur, own))
    b_path, i_path = base.path.get(service, []), inc.path.get(service, [])
    path = _shift(b_path, i_path) if len(b_path) >= n_min and len(i_path) >= n_min else None
    shifted = [c for c in compared if c[2].significant or c[3].significant]
    if not shifted and path is not None and path.significant and compared:
        shifted = [max(compared, key=lambda c: (c[3].z, c[1]))]  # small own increases that add up on the path
    if not shifted:
        return []
    shifted.sort(key=lambda s: (-s[0], s[1]))
    _, op, dur, own = shifted[0]
    own_grew = any(s[3].significant for s in shifted) or (path is not None and path.significant)
    added = explained_share(b_path, i_path, base.roots.get(service, []), inc.roots.get(service, []))
    own_strength = max([s[3].strength for s in shifted] + [path.strength if path else 0.0]) * _impact(added)
    waiting = max(s[2].strength for s in shifted)
    # Own time that grew makes this origin evidence, weighed by how much of the end-to-end rise it explains; the
    # longer wait alone is a symptom (of what it waits on) and keeps its weight as such.
    score = round(min(0.99, max(own_strength, 0.6 * waiting * (_impact(added) if own_grew else 1.0))), 4)
    exemplars, widget = _exemplars(service, op, base, inc, by_error=False)
    samples, b_samples = inc.ops[(service, op)], base.ops[(service, op)]
    onset = _slow_onset(b_samples.durations, samples.starts, samples.durations)
    what = "its own (self) time grew" if own_grew else "it waits longer on its callees"
    return [Finding(
        specialist="traces", kind="trace.latency_shift", service=service, resource=op,
        title=f"{service} latency up: {op} p90 {dur.base_q[1] * 1000:.0f} -> {dur.inc_q[1] * 1000:.0f} ms ({what})",
        onset=onset, magnitude=round(dur.ratio, 3), score=score, query={**query, "filter": {"service": service}},
        exemplars=exemplars, widget=widget,
        details=TraceLatencyDetails(
            operation=op, baseline_p50=dur.base_q[0], incident_p50=dur.inc_q[0], baseline_p90=dur.base_q[1],
            incident_p90=dur.inc_q[1], baseline_p95=dur.base_q[2], incident_p95=dur.inc_q[2],
            duration_ratio=round(dur.ratio, 3), z_duration=round(dur.z, 2), self_time_ratio=round(own.ratio, 3),
            z_self=round(own.z, 2), own_time_grew=own_grew, p_value=normal_sf(max(dur.z, own.z)),
            n=len(samples.durations), baseline_n=len(b_samples.durations),
            critical_path_p50_ms=[round(median(x) * 1000, 3) if x else None for x in (b_path, i_path)],
            critical_path_z=round(path.z, 2) if path else None, explained_share_of_end_to_end_rise=round(added, 4),
            operations=[{"operation": o, "duration_ratio": round(d.ratio, 3), "z_duration": round(d.z, 2),
                         "self_time_ratio": round(s.ratio, 3), "z_self": round(s.z, 2), "own_time_grew": s.significant}
                        for _, o, d, s in shifted[:MAX_OPERATIONS]]),
    )]


def _wire(service: str, base: _Window, inc: _Window, query: dict[str, object],
          n_min: int = MIN_SAMPLES) -> list[Finding]:
    """Callers wait longer outside this service's spans: a slow network to it, or requests queueing in front.
    Against the same link's baseline when it has one; otherwise against the calls to the other services in the
    same window (a link that alone turned slow stands out from its peers), at a higher bar and a lower weight."""
    b_wire, i_wire = base.wire.get(service, []), inc.wire.get(service, [])
    if len(i_wire) < n_min:
        return []
    if len(b_wire) >= n_min:
        return _wire_finding(service, b_wire, i_wire, base, inc, query)
    peers = [s for s, xs in inc.wire.items() if s != service and len(xs) >= n_min]
    if len(peers) < PEER_MIN_SERVICES:
        return []
    return _wire_finding(service, [x for s in peers for x in inc.wire[s]], i_wire, base, inc, query, peers=len(peers))


def _wire_finding(service: str, b_wire: list[float], i_wire: list[float], base: _Window, inc: _Window,
                  query: dict[str, object], peers: int = 0) -> list[Finding]:
    z = mann_whitney_z(b_wire, i_wire)
    b, i = quantile(b_wire, 0.9), quantile(i_wire, 0.9)
    ratio = _ratio(i, b)
    if z < LATENCY_Z or ratio < (PEER_MIN_RATIO if peers else MIN_RATIO) or i - b < WIRE_MIN_S:
        return []
    if peers:  # no change over time to explain: the share of its traces' time spent waiting on this link
        roots = fmean(inc.roots.get(service) or [0.0])
        added = fmean(inc.wire_path.get(service) or [0.0]) / roots if roots > 0 else 0.0
        onset = None
        against = f"than calls to {peers} other services: p90 {i * 1000:.1f} vs {b * 1000:.1f} ms"
    else:
        added = explained_share(base.wire_path.get(service, []), inc.wire_path.get(service, []),
                                base.roots.get(service, []), inc.roots.get(service, []))
        onset = _slow_onset(b_wire, inc.wire_starts[service], i_wire)
        against = f"p90 {b * 1000:.1f} -> {i * 1000:.1f} ms"
    score = rank_test_sureness(z, len(b_wire), len(i_wire), SURE_Z) * squash(ratio - 1, 1.0) * _impact(added)
    return [Finding(
        specialist="traces", kind="trace.wire_delay", service=service, onset=onset,
        title=f"calls to {service} wait longer outside it{' ' if peers else ': '}{against} "
              f"(network or queueing in front of {service})",
        magnitude=round(ratio, 3), score=round(min(0.95, score * (PEER_WEIGHT if peers else 1.0)), 4),
        query={**query, "filter": {"callee": service}},
        details=WireDelayDetails(
            baseline_p90=b, incident_p90=i, ratio=round(ratio, 3), z=round(z, 2), p_value=normal_sf(z),
            n=len(i_wire), baseline_n=len(b_wire),
            baseline=f"calls to {peers} other services in the incident window" if peers else "its own",
            explained_share_of_end_to_end_rise=round(added, 4)))]


def _errors(service: str, base: _Window, inc: _Window, query: dict[str, object]) -> list[Finding]:
    """The service's operations whose error rate rose (two-proportion test per operation)."""
    shifted: list[tuple[float, str, int, int, int, int]] = []
    for op in inc.service_ops(service):
        i = inc.ops[(service, op)]
        b = base.ops.get((service, op)) or _Samples()
        z = two_proportion_z(b.errors, len(b.durations), i.errors, len(i.durations))
        if z >= ERROR_Z and i.errors >= MIN_ERRORS:
            shifted.append((z, op, b.errors, len(b.durations), i.errors, len(i.durations)))
    if not shifted:
        return []
    shifted.sort(key=lambda s: (-s[0], s[1]))
    z, op, b_err, b_n, i_err, i_n = shifted[0]
    b_rate, i_rate = b_err / b_n, i_err / i_n
    exemplars, widget = _exemplars(service, op, base, inc, by_error=True)
    svc_calls, base_calls = inc.calls(service), base.calls(service)
    i = inc.ops[(service, op)]
    onset = onset_of(list(zip(i.starts, i.failed, strict=True)), b_rate)
    return [Finding(
        specialist="traces", kind="trace.error_shift", service=service, resource=op,
        title=f"{service} error rate up: {op} {b_rate:.1%} -> {i_rate:.1%} of {i_n} calls", onset=onset,
        magnitude=round(i_rate - b_rate, 4), score=round(min(0.95, squash(z, 4.0)), 4),
        query={**query, "filter": {"service": service}}, exemplars=exemplars, widget=widget,
        details=TraceErrorDetails(
            operation=op, baseline_error_rate=b_rate, incident_error_rate=i_rate, n=i_n, baseline_n=b_n,
            z=round(z, 2), p_value=normal_sf(z),
            service_error_rate=[base.errors(service) / base_calls if base_calls else None,
                                inc.errors(service) / svc_calls],
            operations=[{"operation": o, "z": round(oz, 2), "baseline_error_rate": be / bn,
                         "incident_error_rate": ie / i_n_} for oz, o, be, bn, ie, i_n_ in shifted[:MAX_OPERATIONS]]))]


def _origins(service: str, base: _Window, inc: _Window, query: dict[str, object]) -> list[Finding]:
    """Errors that start in this service: its spans are the deepest failing ones, more often than before."""
    count, base_count = sum(inc.origins[service].values()), sum(base.origins[service].values())
    calls, base_calls = inc.calls(service), base.calls(service)
    origin_p = rate_increase_p(count, base_count, calls, max(base_calls, 1))
    if count < MIN_ORIGINS or origin_p >= ORIGIN_P:
        return []
    op = min(inc.origins[service].items(), key=lambda kv: (-kv[1], kv[0]))[0]
    share = count / max(1, inc.error_traces)
    exemplars, widget = _exemplars(service, op, base, inc, by_error=True)
    callers = sorted(inc.callers[service].items(), key=lambda kv: (-kv[1], kv[0]))
    i = inc.ops[(service, op)]
    onset = onset_of(list(zip(i.starts, i.failed, strict=True)), base_count / max(base_calls, 1))
    return [Finding(
        specialist="traces", kind="trace.error_origin", service=service, resource=op,
        title=f"errors originate in {service} ({op}): deepest failing span in {count} places "
              f"({share:.0%} of failing traces)" + (f", reported by {', '.join(c for c, _ in callers[:3])}"
                                                     if callers else ""),
        onset=onset, magnitude=float(count), score=round(min(0.97, 0.5 + 0.5 * min(1.0, share)), 4),
        query={**query, "filter": {"service": service}}, exemplars=exemplars, widget=widget,
        details=ErrorOriginDetails(
            operation=op, count=count, baseline_count=base_count, callers=[c for c, _ in callers],
            caller_counts=dict(callers), operations=dict(sorted(inc.origins[service].items())),
            share_of_error_traces=round(share, 3), p_value=origin_p,
            trace_ids=sorted(inc.origin_traces[service])))]


def _exemplars(service: str, op: str, base: _Window, inc: _Window,
               by_error: bool) -> tuple[list[dict[str, object]], Widget | None]:
    """A slow (or failing) incident trace of the operation with its waterfall, and a typical baseline trace."""
    i = inc.ops.get((service, op))
    if i is None or not i.durations:
        return [], None
    rows = list(zip(i.durations, i.failed, i.trace_ids, strict=True))
    failing = [r for r in rows if r[1]]
    worst = max(failing if by_error and failing else rows, key=lambda r: (r[0], r[2]))
    b = base.ops.get((service, op))
    typical_pool = list(zip(b.durations, b.failed, b.trace_ids, strict=True)) if b and b.durations else rows
    ok = sorted([r for r in typical_pool if not r[1]] or typical_pool, key=lambda r: (r[0], r[2]))
    typical = ok[len(ok) // 2]
    role = "failing" if by_error and worst[1] else "slow"
    exemplars: list[dict[str, object]] = [
        {"trace_id": worst[2], "role": role, "operation": op, "span_ms": round(worst[0] * 1000, 3),
         "error": worst[1]},
        {"trace_id": typical[2], "role": "typical", "operation": op, "span_ms": round(typical[0] * 1000, 3),
         "error": typical[1], "window": "baseline" if b and b.durations else "incident"}]
    return exemplars, waterfall(inc.traces[worst[2]], service)


def waterfall(trace: Trace, focus: str = "") -> Widget:
    """A waterfall widget of one trace: spans in start order with depth, critical-path membership and errors.
    Long traces keep the focus service's spans, their ancestors and the critical path first."""
    t0 = min(s.start for s in trace.spans.values())
    on_path = {s.span_id for s, _ in critical_path(trace)}
    depth: dict[str, int] = {}
    for sid in trace.spans:
        chain, cur, seen = 0, trace.spans[sid], {sid}
        while cur.parent_id in trace.spans and cur.parent_id not in seen:
            seen.add(cur.parent_id)
            cur, chain = trace.spans[cur.parent_id], chain + 1
        depth[sid] = chain
    keep = set(on_path)
    for s in trace.spans.values():
        if s.service == focus:
            cur, seen = s, set()
            while cur.span_id not in seen:
                seen.add(cur.span_id)
                keep.add(cur.span_id)
                if cur.parent_id not in trace.spans:
                    break
                cur = trace.spans[cur.parent_id]
    order = sorted(trace.spans.values(), key=lambda s: (s.start, s.span_id))
    chosen = [s for s in order if s.span_id in keep][:MAX_WATERFALL_SPANS]
    chosen_ids = {s.span_id for s in chosen}
    chosen += [s for s in order if s.span_id not in chosen_ids][:MAX_WATERFALL_SPANS - len(chosen)]
    rows = [{"span_id": s.span_id, "service": s.service, "name": s.name, "depth": depth[s.span_id],
             "start_ms": round((s.start - t0) * 1000, 3), "duration_ms": round(s.duration * 1000, 3),
             "error": s.error, "critical": s.span_id in on_path}
            for s in sorted(chosen, key=lambda s: (s.start, s.span_id))]
    return Widget(kind="waterfall", title=f"trace {trace.trace_id}",
                  data={"trace_id": trace.trace_id, "spans": rows, "focus": focus,
                        "shown": len(rows), "total_spans": len(trace.spans)})
