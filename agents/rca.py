"""Root-cause analyst: combine the specialists' findings on the service dependency graph into ranked causes,
each with a causal chain (cause -> propagation -> symptom -> impact) citing finding ids, and what was ruled out.

Method (deterministic, no LLM):
1. Evidence per service is split into *own* evidence (its self time grew, errors originate in it, its resources
   saturate, new error patterns, a change shortly before the onset on an anomalous service) and *symptoms*
   (waiting on callees, error rates, latency/error metrics) that a caller shows when a callee is at fault.
2. Scores per specialist are combined by noisy-OR, so corroboration across specialists counts.
3. A service whose callees (transitively) hold stronger own evidence is discounted: its anomaly is explained as
   propagation. The most downstream service with strong own evidence ranks first.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from agents.base import AnalysisContext
from agents.causal_graph import ServiceGraph
from shared.models import ChainStep, Finding, RankedCause, RuledOut

RESOURCE_WORDS = ("cpu", "memory", "pool", "thread", "gc", "disk", "syscall", "network", "restart", "throttl",
                  "queue", "connection", "fd", "oom", "heap", "receive", "transmit")
PROPAGATION_DISCOUNT = 0.4
CHANGE_NEEDS_ANOMALY = 0.3


def is_own(f: Finding) -> bool:
    """Evidence that points at the service itself rather than at something it waits on."""
    if f.kind == "trace.latency_shift":
        return bool(f.details.get("own_time_grew"))
    if f.kind in ("trace.error_origin", "trace.wire_delay", "metric.fleet_outlier"):
        return True
    if f.kind == "metric.anomaly":
        metric = str(f.details.get("metric", "")).lower()
        return any(w in metric for w in RESOURCE_WORDS) and not f.details.get("host_level")
    return f.kind in ("log.new_pattern", "log.spike", "log.drop")


def noisy_or(scores: list[float]) -> float:
    p = 1.0
    for s in scores:
        p *= 1.0 - max(0.0, min(1.0, s))
    return 1.0 - p


@dataclass
class _Evidence:
    own: dict[str, Finding] = field(default_factory=dict)  # specialist -> strongest own finding
    symptom: dict[str, Finding] = field(default_factory=dict)
    changes: list[Finding] = field(default_factory=list)
    all: list[Finding] = field(default_factory=list)

    def own_score(self) -> float:
        return noisy_or([f.score for f in self.own.values()])

    def any_score(self) -> float:
        best: dict[str, float] = defaultdict(float)
        for f in list(self.own.values()) + list(self.symptom.values()):
            best[f.specialist] = max(best[f.specialist], f.score)
        return noisy_or(list(best.values()))


@dataclass
class RcaResult:
    causes: list[RankedCause]
    ruled_out: list[RuledOut]


def _gather(findings: list[Finding]) -> dict[str, _Evidence]:
    ev: dict[str, _Evidence] = defaultdict(_Evidence)
    for f in findings:
        if f.ruled_out or f.kind == "trace.topology" or not f.service:
            continue
        e = ev[f.service]
        e.all.append(f)
        if f.kind.startswith("change."):
            e.changes.append(f)
            continue
        bucket = e.own if is_own(f) else e.symptom
        if f.specialist not in bucket or f.score > bucket[f.specialist].score:
            bucket[f.specialist] = f
    return ev


def rank(findings: list[Finding], ctx: AnalysisContext, top_k: int = 5) -> RcaResult:
    graph = ServiceGraph.from_findings(findings)
    ev = _gather(findings)
    own = {s: e.own_score() for s, e in ev.items()}
    anomaly = {s: e.any_score() for s, e in ev.items()}
    scores: dict[str, float] = {}
    explained_by: dict[str, str] = {}
    for s, e in ev.items():
        base = own[s] + 0.25 * anomaly[s] * (1 - own[s])
        best_change = max((c.score for c in e.changes), default=0.0)
        if anomaly[s] >= CHANGE_NEEDS_ANOMALY:  # a change matters on a service that misbehaves
            base = noisy_or([base, 0.6 * best_change])
        stronger = [d for d in graph.downstream(s) if own.get(d, 0.0) > own[s] + 0.05]
        if stronger:
            explained_by[s] = max(stronger, key=lambda d: (own[d], d))
            base *= PROPAGATION_DISCOUNT
        if base > 0:
            scores[s] = round(base, 4)
    order = sorted(scores, key=lambda s: (-scores[s], s))
    causes = []
    for i, s in enumerate(order[:top_k]):
        causes.append(_cause(i + 1, s, ev, scores, order, graph, ctx, findings))
    return RcaResult(causes, _ruled_out(ev, explained_by, anomaly, findings, set(order[:1])))


def _confidence(s: str, scores: dict[str, float], order: list[str], specialists: int) -> float:
    top = scores[s]
    rest = [scores[o] for o in order if o != s][:2]
    margin = top / (top + sum(rest)) if rest else 1.0
    corroboration = min(1.0, 0.5 + 0.2 * specialists)
    return round(max(0.0, min(1.0, top * margin * corroboration * 1.3)), 3)


def _cause(rank_no: int, s: str, ev: dict[str, _Evidence], scores: dict[str, float], order: list[str],
           graph: ServiceGraph, ctx: AnalysisContext, findings: list[Finding]) -> RankedCause:
    e = ev[s]
    lead = max(list(e.own.values()) or list(e.symptom.values()) or e.changes, key=lambda f: (f.score, f.finding_id))
    cause_findings = sorted(list(e.own.values()) + [c for c in e.changes if c.score >= 0.2],
                            key=lambda f: (-f.score, f.finding_id)) or [lead]
    chain = [ChainStep(role="cause", service=s, statement=lead.title,
                       evidence=[f.finding_id for f in cause_findings])]
    targets = [ctx.alert_service] if ctx.alert_service in graph else graph.entries()
    path = graph.path_up(s, targets)
    for hop in path[1:-1]:
        hop_findings = ev[hop].all if hop in ev else []
        chain.append(ChainStep(role="propagation", service=hop,
                               statement=_hop_statement(hop, hop_findings, path[path.index(hop) - 1]),
                               evidence=[f.finding_id for f in hop_findings[:5]]))
    symptom_service = path[-1] if len(path) > 1 else (ctx.alert_service or s)
    sym_findings = ev[symptom_service].all if symptom_service in ev else []
    if symptom_service != s:
        chain.append(ChainStep(role="symptom", service=symptom_service,
                               statement=_hop_statement(symptom_service, sym_findings,
                                                        path[-2] if len(path) > 1 else s),
                               evidence=[f.finding_id for f in sym_findings[:5]]))
    chain.append(ChainStep(role="impact", service=ctx.alert_service or symptom_service,
                           statement=f"the alert fired on {ctx.alert_metric or 'its metric'}"
                           f" for {ctx.alert_service or symptom_service}", evidence=[]))
    evidence = sorted({f.finding_id for f in e.all if f.finding_id})
    return RankedCause(rank=rank_no, service=s, resource=lead.resource, kind=lead.kind, title=lead.title,
                       score=scores[s], confidence=_confidence(s, scores, order, len({f.specialist for f in e.all})),
                       chain=chain, evidence=evidence)


def _hop_statement(service: str, found: list[Finding], callee: str) -> str:
    if not found:
        return f"{service} calls {callee} (no anomaly of its own recorded)"
    top = max(found, key=lambda f: (f.score, f.finding_id))
    return f"{top.title} (via {callee})"


def _ruled_out(ev: dict[str, _Evidence], explained_by: dict[str, str], anomaly: dict[str, float],
               findings: list[Finding], top: set[str]) -> list[RuledOut]:
    out = []
    for s in sorted(explained_by):
        if s in top:
            continue
        out.append(RuledOut(service=s, reason=f"its anomaly is explained by its callee {explained_by[s]}, whose own "
                            "evidence is stronger (propagation, not origin)",
                            evidence=[f.finding_id for f in ev[s].all[:5]]))
    for s, e in sorted(ev.items()):
        if e.changes and anomaly.get(s, 0.0) < CHANGE_NEEDS_ANOMALY and s not in top:
            out.append(RuledOut(service=s, reason=f"{e.changes[0].kind} on {s}, but {s} shows no anomaly of its own",
                                evidence=[c.finding_id for c in e.changes]))
    for f in findings:
        if f.ruled_out:
            out.append(RuledOut(service=f.service, reason=f.title, evidence=[f.finding_id]))
    return out


def headline(result: RcaResult, ctx: AnalysisContext) -> tuple[str, str]:
    """A deterministic headline and summary paragraph for the report."""
    where = ctx.alert_service or "the alerting service"
    if not result.causes:
        return (f"No root cause found for the alert on {where}",
                "The specialists found no anomaly that explains the alert in the telemetry they could read.")
    top = result.causes[0]
    head = f"Likely root cause: {top.service} ({top.confidence:.0%} confidence)"
    hops = " -> ".join(step.service for step in top.chain if step.role != "impact")
    others = ", ".join(f"{c.service} ({c.score:.2f})" for c in result.causes[1:3])
    summary = (f"{top.title}. Propagation: {hops}, where the alert on {where} fired. "
               f"Evidence: {len(top.evidence)} findings from "
               f"{len({step.role for step in top.chain})} chain steps."
               + (f" Also considered: {others}." if others else ""))
    return head, summary
