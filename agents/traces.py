"""Trace analyst: latency and error shifts per service and operation, self time on the critical path, the
origin of errors, and the service dependency graph."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace

from agents.base import AnalysisContext, SpecialistResult
from agents.critical_path import Trace, build_traces, critical_path, self_times
from agents.masking import level_of
from agents.stats import mann_whitney_z, median, quantile, rate_increase_p, squash, two_proportion_z
from shared.models import Finding, Widget
from shared.telemetry.models import Span, TelemetrySource, Window, severity_rank

MIN_SAMPLES = 8
LATENCY_Z = 3.0
SURE_Z = 6.0  # a rank-test z this large leaves no doubt; smaller ones scale the score down
MIN_RATIO = 1.3
MAX_WATERFALL_SPANS = 60
MIN_ORIGINS = 5
ORIGIN_P = 1e-3
WIRE_MIN_S = 0.005  # a wire delay smaller than this is noise, whatever its ratio


@dataclass
class _Stats:
    durations: list[float] = field(default_factory=list)
    self_times: list[float] = field(default_factory=list)
    path_share: list[float] = field(default_factory=list)  # critical-path seconds per trace it appears in
    wire: list[float] = field(default_factory=list)  # callers' client-span time outside this service's spans
    errors: int = 0
    calls: int = 0
    origins: int = 0


def _collect(traces: list[Trace]) -> tuple[dict[str, _Stats], dict[tuple[str, str], _Stats]]:
    by_service: dict[str, _Stats] = defaultdict(_Stats)
    by_op: dict[tuple[str, str], _Stats] = defaultdict(_Stats)
    for trace in traces:
        own = self_times(trace)
        for sid, span in trace.spans.items():
            callee = client_of(trace, span)
            if callee:  # the wait outside the callee's own spans is the network's or the callee's queue's
                by_service[callee].wire.append(own[sid])
            for st in (by_service[span.service], by_op[(span.service, span.name)]):
                st.durations.append(span.duration)
                st.self_times.append(0.0 if callee else own[sid])
                st.calls += 1
                st.errors += span.error
        path: dict[str, float] = defaultdict(float)
        for span, seconds in critical_path(trace):
            path[span.service] += seconds
        for service, seconds in path.items():
            by_service[service].path_share.append(seconds)
        for origin in error_origins(trace):
            by_service[origin.service].origins += 1
    return by_service, by_op


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
    return [s for sid, s in trace.spans.items()
            if s.error and not any(c.error for c in trace.children.get(sid, []))]


def mark_logged_errors(spans: list[Span], source: TelemetrySource, window: Window) -> list[Span]:
    """Spans whose own log lines report an error count as failing, even where the tracer set no status
    (many instrumentations record exceptions only in logs correlated by trace and span id)."""
    failing = {(r.trace_id, r.span_id) for r in source.logs(window).items
               if r.span_id and max(severity_rank(r.severity), severity_rank(level_of(r.message))) >=
               severity_rank("ERROR")}
    if not failing:
        return spans
    return [replace(s, error=True, status_message=s.status_message or "error logged")
            if not s.error and (s.trace_id, s.span_id) in failing else s for s in spans]


def topology(spans: list[Span]) -> Counter[tuple[str, str]]:
    by_id = {(s.trace_id, s.span_id): s for s in spans}
    edges: Counter[tuple[str, str]] = Counter()
    for s in spans:
        parent = by_id.get((s.trace_id, s.parent_id)) if s.parent_id else None
        if parent is not None and parent.service != s.service and parent.service and s.service:
            edges[(parent.service, s.service)] += 1
    return edges


def _waterfall(trace: Trace) -> Widget:
    t0 = min(s.start for s in trace.spans.values())
    depth: dict[str, int] = {}
    rows = []
    order = sorted(trace.spans.values(), key=lambda s: (s.start, s.span_id))
    for s in order:
        depth[s.span_id] = depth.get(s.parent_id, -1) + 1 if s.parent_id in trace.spans else 0
    for s in order[:MAX_WATERFALL_SPANS]:
        rows.append({"span_id": s.span_id, "service": s.service, "name": s.name, "depth": depth[s.span_id],
                     "start_ms": round((s.start - t0) * 1000, 3), "duration_ms": round(s.duration * 1000, 3),
                     "error": s.error})
    return Widget(kind="waterfall", title=f"trace {trace.trace_id}", data={"trace_id": trace.trace_id, "spans": rows})


def _exemplars(traces: list[Trace], service: str) -> tuple[list[dict[str, object]], Widget | None]:
    involved = [t for t in traces if any(s.service == service for s in t.spans.values())]
    if not involved:
        return [], None
    slow = max(involved, key=lambda t: (any(s.error for s in t.spans.values()), t.root.duration, t.trace_id))
    ordered = sorted(involved, key=lambda t: (t.root.duration, t.trace_id))
    normal = ordered[len(ordered) // 2]
    ex = [{"trace_id": slow.trace_id, "role": "slow_or_failing", "duration_ms": round(slow.root.duration * 1000, 1)},
          {"trace_id": normal.trace_id, "role": "typical", "duration_ms": round(normal.root.duration * 1000, 1)}]
    return ex, _waterfall(slow)


def analyse(source: TelemetrySource, ctx: AnalysisContext) -> SpecialistResult:
    base_read, inc_read = source.spans(ctx.baseline), source.spans(ctx.incident)
    notes = [r.note for r in (base_read, inc_read) if r.sampled]
    query: dict[str, object] = {"source": source.describe(), "window": [ctx.incident.start, ctx.incident.end],
             "baseline": [ctx.baseline.start, ctx.baseline.end]}
    if not inc_read.items:
        return SpecialistResult([], [*notes, "no spans in the incident window"])
    base_spans = mark_logged_errors(base_read.items, source, ctx.baseline)
    inc_spans = mark_logged_errors(inc_read.items, source, ctx.incident)
    base_traces, inc_traces = build_traces(base_spans), build_traces(inc_spans)
    base_svc, base_ops = _collect(base_traces)
    inc_svc, inc_ops = _collect(inc_traces)
    if not base_read.items:
        notes.append("no baseline spans: latency and error shifts cannot be scored")
    findings: list[Finding] = []
    edges = topology(base_read.items + inc_read.items)
    findings.append(Finding(
        specialist="traces", kind="trace.topology", title=f"service call graph: {len(edges)} edges",
        query=query, details={"edges": [[a, b, n] for (a, b), n in sorted(edges.items())]}))
    for service in sorted(inc_svc):
        inc, base = inc_svc[service], base_svc.get(service)
        if base is None or len(base.durations) < MIN_SAMPLES or len(inc.durations) < MIN_SAMPLES:
            continue
        findings += _latency(service, base, inc, base_ops, inc_ops, inc_traces, ctx, query)
        findings += _wire(service, base, inc, query)
        findings += _errors(service, base, inc, inc_traces, query)
    findings.sort(key=lambda f: (-f.score, f.kind, f.service))
    return SpecialistResult(findings, notes)


def _latency(service: str, base: _Stats, inc: _Stats, base_ops: dict[tuple[str, str], _Stats],
             inc_ops: dict[tuple[str, str], _Stats], traces: list[Trace], ctx: AnalysisContext,
             query: dict[str, object]) -> list[Finding]:
    z_self = mann_whitney_z(base.self_times, inc.self_times)
    z_dur = mann_whitney_z(base.durations, inc.durations)
    b_self, i_self = quantile(base.self_times, 0.9), quantile(inc.self_times, 0.9)
    b_dur, i_dur = quantile(base.durations, 0.9), quantile(inc.durations, 0.9)
    self_ratio = i_self / b_self if b_self > 0 else (10.0 if i_self > 0 else 1.0)
    dur_ratio = i_dur / b_dur if b_dur > 0 else (10.0 if i_dur > 0 else 1.0)
    if max(z_self, z_dur) < LATENCY_Z or max(self_ratio, dur_ratio) < MIN_RATIO:
        return []
    worst_op, worst_ratio = "", 0.0
    for (svc, op), st in inc_ops.items():
        b = base_ops.get((svc, op))
        if svc != service or b is None or len(b.durations) < 3 or len(st.durations) < 3:
            continue
        r = median(st.durations) / max(median(b.durations), 1e-9)
        if r > worst_ratio:
            worst_op, worst_ratio = op, r
    own = self_ratio >= MIN_RATIO and z_self >= LATENCY_Z
    strength = min(1.0, z_self / SURE_Z) * squash(self_ratio - 1, 1.0) if own else 0.0
    waiting = min(1.0, z_dur / SURE_Z) * squash(dur_ratio - 1, 1.5)
    score = round(min(0.99, max(strength, 0.6 * waiting)), 4)
    exemplars, widget = _exemplars(traces, service)
    what = "its own (self) time grew" if own else "it waits longer on its callees"
    return [Finding(
        specialist="traces", kind="trace.latency_shift", service=service, resource=worst_op,
        title=f"{service} latency up: p90 {b_dur * 1000:.0f} -> {i_dur * 1000:.0f} ms ({what})",
        magnitude=round(dur_ratio, 3), score=score, query=query, exemplars=exemplars, widget=widget,
        details={"operation": worst_op, "baseline_p50": median(base.durations), "incident_p50": median(inc.durations),
                 "baseline_p90": b_dur, "incident_p90": i_dur, "self_time_ratio": round(self_ratio, 3),
                 "duration_ratio": round(dur_ratio, 3), "z_self": round(z_self, 2), "z_duration": round(z_dur, 2),
                 "own_time_grew": own, "n": len(inc.durations), "baseline_n": len(base.durations),
                 "critical_path_p50_ms": [round(median(x) * 1000, 3) if x else None
                                          for x in (base.path_share, inc.path_share)]},
    )]


def _wire(service: str, base: _Stats, inc: _Stats, query: dict[str, object]) -> list[Finding]:
    """Callers wait longer outside this service's spans: a slow network to it, or requests queueing in front."""
    if len(base.wire) < MIN_SAMPLES or len(inc.wire) < MIN_SAMPLES:
        return []
    z = mann_whitney_z(base.wire, inc.wire)
    b, i = quantile(base.wire, 0.9), quantile(inc.wire, 0.9)
    ratio = i / b if b > 0 else (10.0 if i > 0 else 1.0)
    if z < LATENCY_Z or ratio < MIN_RATIO or i - b < WIRE_MIN_S:
        return []
    return [Finding(
        specialist="traces", kind="trace.wire_delay", service=service,
        title=f"calls to {service} wait longer outside it: p90 {b * 1000:.1f} -> {i * 1000:.1f} ms "
              f"(network or queueing in front of {service})",
        magnitude=round(ratio, 3), score=round(min(0.95, min(1.0, z / SURE_Z) * squash(ratio - 1, 1.0)), 4),
        query=query, details={"baseline_p90": b, "incident_p90": i, "ratio": round(ratio, 3), "z": round(z, 2),
                              "n": len(inc.wire), "baseline_n": len(base.wire)})]


def _errors(service: str, base: _Stats, inc: _Stats, traces: list[Trace], query: dict[str, object]) -> list[Finding]:
    out: list[Finding] = []
    z = two_proportion_z(base.errors, base.calls, inc.errors, inc.calls)
    b_rate, i_rate = base.errors / base.calls, inc.errors / inc.calls
    if z >= 3.0 and inc.errors >= 3:
        exemplars, widget = _exemplars(traces, service)
        out.append(Finding(
            specialist="traces", kind="trace.error_shift", service=service,
            title=f"{service} error rate up: {b_rate:.1%} -> {i_rate:.1%} of {inc.calls} calls",
            magnitude=round(i_rate - b_rate, 4), score=round(min(0.95, squash(z, 4.0)), 4), query=query,
            exemplars=exemplars, widget=widget,
            details={"baseline_error_rate": b_rate, "incident_error_rate": i_rate, "n": inc.calls, "z": round(z, 2)}))
    origin_p = rate_increase_p(inc.origins, base.origins, inc.calls, max(base.calls, 1))
    if inc.origins >= MIN_ORIGINS and origin_p < ORIGIN_P:
        exemplars, widget = _exemplars(traces, service)
        share = inc.origins / max(1, sum(1 for t in traces if any(s.error for s in t.spans.values())))
        out.append(Finding(
            specialist="traces", kind="trace.error_origin", service=service,
            title=f"errors originate in {service}: deepest failing span in {inc.origins} traces ({share:.0%})",
            magnitude=float(inc.origins), score=round(min(0.97, 0.5 + 0.5 * share), 4), query=query,
            exemplars=exemplars, widget=widget,
            details={"count": inc.origins, "baseline_count": base.origins, "share_of_error_traces": round(share, 3),
                     "p_value": origin_p}))
    return out
