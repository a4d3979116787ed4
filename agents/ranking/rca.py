"""Root-cause analyst: combine the specialists' findings on the service dependency graph into ranked causes, each
with a causal chain (cause -> propagation -> symptom -> impact) citing finding ids, and what was ruled out.

Method (deterministic, no LLM, nothing specific to a system):
1. Every finding is evidence about its service, in one of four roles: *origin* (points at the service itself
   whatever its callees do: errors originate in it, its own self time grew, calls to it wait in front of it, a
   resource of its own saturates, one of its instances deviates from its peers), *own* (its own log lines, other
   own figures), *symptom* (what a caller shows when something it waits on is at fault: latency and error
   rates) or *context* (a host's figures shared by every pod on it, the load its callers send: they show that
   something happens there, not that the service is at fault).
2. Per service, the best finding of each kind is taken, kinds are combined within a specialist with diminishing
   weight, and specialists are combined by noisy-OR, so corroboration by several specialists counts.
3. On the dependency graph (with the alert's service put in front of the entry services when the traces do not
   show it), a service whose downstream holds stronger own evidence, reached through services that all show
   something, is explained as propagation: its score is discounted, down to what its origin evidence alone
   keeps (all of it for a code path that broke between two of its own steps, with no call in between: no callee
   explains that). A candidate whose callers show nothing explains no symptom and weighs less; one the graph does not
   connect to the alerting service (or that takes part in no traced call) weighs less still.
4. A change shortly before the onset boosts a service that misbehaves and lies on a call path to the alert.
Scores are rounded and ties broken by name, so the same findings give the same ranking in any order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import Literal

from agents.context import AnalysisContext
from agents.ranking.calibration import CONFIDENT, calibrated, recovery_signal
from agents.ranking.causal_graph import ServiceGraph
from agents.ranking.evidence import (
    ORIGIN,
    OWN,
    SYMPTOMATIC,
    Evidence,
    gather,
    noisy_or,
    strongest_first,
)
from agents.ranking.inner_cause import inner_causes
from shared.finding_details import metric_of
from shared.models import ChainStep, Finding, RankedCause, RuledOut

NO_TELEMETRY = "no telemetry for"  # a chain step on the alert's service when the traces do not show it
EXPLAINER_MIN = 0.3  # own evidence a downstream service needs to explain its callers' anomalies ...
EXPLAIN_MARGIN = 0.05  # ... and by how much it must exceed theirs
UNCORROBORATED_SHARE = True  # off: an untraced, uncorroborated cause keeps its calibrated confidence (bench/rules.py)
TOP_CONTENDERS = 3  # ... else it is held to its share of the evidence among this many leading candidates
CALLERS_WEIGHT = 0.3  # share of an untraced service's score that depends on how many anomalous callers it explains
PROPAGATION_DISCOUNT = 0.4  # what an explained service keeps of its score ...
ORIGIN_KEEP = 0.85  # ... unless its origin evidence keeps more
SUPPORT_WEIGHT = 0.3  # share of the score that depends on the callers showing symptoms
UNREACHABLE = 0.5  # a candidate with no known call path to the alerting service keeps this share
CHANGE_NEEDS_ANOMALY = 0.3  # a change counts on a service that misbehaves at least this much ...
CHANGE_WEIGHT = 0.6  # ... and adds by noisy-OR this share of its score
STEP_EVIDENCE = 5  # findings cited per propagation or symptom step
CAUSE_EVIDENCE = 10  # findings cited by the cause step (a cause's evidence list has them all)
MAX_NORMAL = 5  # quiet callees of the top cause's chain reported, the nearest to the cause first
EXPLAINED = "is explained by its callee"
KIND_PHRASE = {  # the headline's words for the kind of the leading finding
    "trace.error_origin": "errors originate in it", "trace.latency_shift": "its own processing time grew",
    "trace.wire_delay": "calls to it wait longer outside it (network or queueing)",
    "trace.error_shift": "its error rate rose", "metric.anomaly": "its metrics are anomalous",
    "metric.fleet_outlier": "one of its instances deviates from its peers",
    "log.new_pattern": "a new log pattern appeared", "log.spike": "a log pattern spiked",
    "log.drop": "a code path stopped logging", "log.flow_break": "a code path in it broke off",
    "change.deploy": "it was deployed shortly before the onset",
    "change.config": "its configuration changed shortly before the onset",
    "change.scale": "it was scaled shortly before the onset", "change.restart": "it restarted shortly before the onset",
    "change.provider_incident": "a Google Cloud incident touches its product and location",
}


@dataclass
class Judgement:
    """How a service's score came about."""

    score: float
    explained_by: str = ""  # the downstream service its anomaly is propagation of
    support: float = 1.0  # how much its callers show
    reaches_alert: bool = True
    change: Finding | None = None  # the change that boosted it


@dataclass
class RcaResult:
    causes: list[RankedCause]
    ruled_out: list[RuledOut]
    recovered: bool = False  # the alert's metric was back to its baseline at the end of the incident window
    recovery: str = ""  # the reason, when recovered


def _callers_explained(ev: dict[str, Evidence], graph: ServiceGraph,
                       symptomatic: Callable[[str], bool]) -> dict[str, float]:
    """For each service the spans do not cover, how much anomaly the services that call it show, directly or
    through anomalous ones: the symptoms a fault in it would explain, by their strength (a strongly anomalous caller
    counts for more than a faint one). Where spans cover a service, the trace analyst measures its share of the
    alert's time on the critical path instead, and it has no entry here."""
    if not CALLERS_WEIGHT:
        return {}
    traced = graph.traced
    anomalous = {c for c in ev if symptomatic(c)}
    return {s: round(sum(ev[c].anomaly for c in graph.upstream(s, through=symptomatic) & anomalous), 6)
            for s in ev if s in graph and s not in traced}


def judge(ev: dict[str, Evidence], graph: ServiceGraph, alert_service: str) -> dict[str, Judgement]:
    """Each service's score after propagation, caller support, reachability and changes (steps 3 and 4)."""
    def symptomatic(s: str) -> bool:
        return s in ev and ev[s].anomaly >= SYMPTOMATIC

    targets = set(graph.targets(alert_service))
    explains = _callers_explained(ev, graph, symptomatic)
    most = max(explains.values(), default=0)
    out: dict[str, Judgement] = {}
    for s, e in sorted(ev.items()):
        j = Judgement(score=e.score())
        if most and s in explains:
            j.score *= (1.0 - CALLERS_WEIGHT) + CALLERS_WEIGHT * explains[s] / most
        if graph and s not in graph:  # it took part in no traced call: nothing shows it reaches the alert
            j.reaches_alert = False
        stronger = [d for d in graph.downstream(s, through=symptomatic)
                    if d in ev and ev[d].own >= EXPLAINER_MIN and ev[d].own > e.own + EXPLAIN_MARGIN
                    and (ev[d].slow or not e.slow_alone)]
        if stronger:
            j.explained_by = min(stronger, key=lambda d: (-ev[d].own, d))
            j.score = max(e.intrinsic, e.origin * ORIGIN_KEEP, j.score * PROPAGATION_DISCOUNT)
        if s in graph and s not in targets:
            j.support = max((ev[c].anomaly for c in graph.callers(s) if c in ev), default=0.0)
            j.reaches_alert = graph.reaches(s, alert_service)
        j.score *= (1.0 - SUPPORT_WEIGHT) + SUPPORT_WEIGHT * j.support
        if not j.reaches_alert:
            j.score *= UNREACHABLE
        if e.changes and e.anomaly >= CHANGE_NEEDS_ANOMALY and j.reaches_alert:
            j.change = e.changes[0]
            j.score = noisy_or([j.score, CHANGE_WEIGHT * j.change.score])
        j.score = round(j.score, 4)
        out[s] = j
    return out


def rank(findings: list[Finding], ctx: AnalysisContext, top_k: int | None = None) -> RcaResult:
    """Every service with anomalous evidence, strongest first (the first `top_k` when given): none is dropped, so
    a reader can always find a service a specialist flagged. A service whose anomalies are explained as
    propagation of a callee's fault and that has no origin evidence of its own comes after all the others."""
    graph = ServiceGraph.from_findings(findings).fronted_by(ctx.alert_service)
    ev = gather(findings, graph)
    judged = judge(ev, graph, ctx.alert_service)
    order = sorted((s for s in judged if judged[s].score > 0 or ev[s].findings),
                   key=lambda s: (_propagation_only(s, ev, judged), -judged[s].score, s))
    contenders = [s for s in order if not _propagation_only(s, ev, judged)]
    causes = [_cause(i + 1, s, ev, judged, contenders, graph, ctx) for i, s in enumerate(order[:top_k])]
    recovered, recovery = recovery_signal(findings, ctx.alert_service, ctx.alert_metric, ctx.onset)
    return RcaResult(causes, _ruled_out(ev, judged, graph, ctx, findings, causes), recovered, recovery)


def _propagation_only(s: str, ev: dict[str, Evidence], judged: dict[str, Judgement]) -> bool:
    return bool(judged[s].explained_by) and ev[s].origin == 0


def confidence(s: str, judged: dict[str, Judgement], order: list[str], specialists: int) -> float:
    """The raw confidence (before calibration): the score, times its margin over the strongest alternative (a
    clear lead keeps the score, a tie halves it, a trailing cause keeps less), times corroboration (one
    specialist 0.6, two 0.8, three or more 1.0)."""
    score = judged[s].score
    if score <= 0:
        return 0.0
    rival = max((judged[o].score for o in order if o != s), default=0.0)
    margin = max(-1.0, min(1.0, (score - rival) / score))
    corroboration = min(1.0, 0.4 + 0.2 * max(1, specialists))
    return round(max(0.0, min(1.0, score * (0.5 + 0.5 * margin) * corroboration)), 3)


def _cause(rank_no: int, s: str, ev: dict[str, Evidence], judged: dict[str, Judgement], order: list[str],
           graph: ServiceGraph, ctx: AnalysisContext) -> RankedCause:
    e, j = ev[s], judged[s]
    own = e.of_role(ORIGIN, OWN)
    lead = (own or e.findings or e.changes or e.far_changes)[0]
    if j.change is not None and CHANGE_WEIGHT * j.change.score > lead.score:
        lead = j.change
    cited = (own or e.findings)[:CAUSE_EVIDENCE]
    cause_evidence = [f.finding_id for f in ([j.change] if j.change else []) + cited]
    statement = lead.title + (f"; {j.change.title}" if j.change is not None and lead is not j.change else "")
    chain = [ChainStep(role="cause", service=s, statement=statement, evidence=_ids(cause_evidence))]
    path = graph.path_to_alert(s, ctx.alert_service, through=lambda x: x in ev and ev[x].anomaly >= SYMPTOMATIC,
                               prefer=lambda x: ev[x].anomaly if x in ev else 0.0)
    alert_end = ctx.alert_service or path[-1]
    for below, hop in pairwise(path):
        hop_findings = ev[hop].findings if hop in ev else []
        step_role: Literal["symptom", "propagation"] = "symptom" if hop == alert_end else "propagation"
        if graph.calls.get((hop, below)) == 0:  # fronted_by's assumed edge: the traces do not show the service
            statement = (f"{NO_TELEMETRY} {hop} in the traces read and no finding on it" if not hop_findings
                         else chain_statement(hop, hop_findings, "") + " (not in the traces read)")
            statement += f" (taken to sit in front of {below}, a traced entry service)"
        else:
            statement = chain_statement(hop, hop_findings, below)
        chain.append(ChainStep(role=step_role, service=hop, statement=statement,
                               evidence=_ids([f.finding_id for f in hop_findings[:STEP_EVIDENCE]])))
    if alert_end != s and chain[-1].service != alert_end:  # the graph does not connect the cause to the alert
        found = ev[alert_end].findings if alert_end in ev else []
        chain.append(ChainStep(role="symptom", service=alert_end,
                               statement=chain_statement(alert_end, found, "") + " (no call path from "
                               f"{s} to {alert_end} in the traces read)",
                               evidence=_ids([f.finding_id for f in found[:STEP_EVIDENCE]])))
    alert_findings = ev[alert_end].findings if alert_end in ev else []
    matching = [f.finding_id for f in alert_findings if _matches_alert(f, ctx.alert_metric)]
    chain.append(ChainStep(role="impact", service=alert_end, statement=impact_statement(ctx, alert_end),
                           evidence=_ids(matching[:STEP_EVIDENCE])))
    evidence = _ids([f.finding_id for f in e.findings + e.changes + e.far_changes])
    specialists = {f.specialist for f in own} | ({j.change.specialist} if j.change else set())
    raw = confidence(s, judged, order, len(specialists))
    inner = inner_causes(s, e.findings + e.changes, graph.callers(s), graph.callees(s))
    title, propagation_of = lead.title, j.explained_by if _propagation_only(s, ev, judged) else ""
    if propagation_of:
        title += f" (likely propagation: its anomalies are explained by its callee {propagation_of})"
    return RankedCause(rank=rank_no, service=s, resource=lead.resource, kind=lead.kind, title=title,
                       propagation_of=propagation_of,
                       score=j.score, confidence=bounded(calibrated(raw), s, judged, order,
                                                         s in graph.traced or len(specialists) > 1),
                       raw_confidence=raw, chain=chain, evidence=evidence, inner=inner)


def bounded(p: float, s: str, judged: dict[str, Judgement], order: list[str], vouched: bool) -> float:
    """The calibrated confidence, bounded where the calibration cannot vouch for it. The map was fitted on systems
    whose services the spans cover; a cause the spans do not cover and only one specialist backs (a service seen
    through its metrics alone, placed by the graph) is unlike every fitting case, and is held to its share of the
    evidence among the leading candidates (the TOP_CONTENDERS strongest): if the cause is among them, each is as
    likely as its evidence is strong, so two near-equal candidates are each about even, however strong both are.
    The weak tail is left out: a dozen faint candidates would otherwise dilute a clear leader's share."""
    if vouched or not UNCORROBORATED_SHARE:
        return p
    total = sum(sorted((judged[o].score for o in order), reverse=True)[:TOP_CONTENDERS])
    return round(min(p, judged[s].score / total), 3) if total > 0 else p


def _matches_alert(f: Finding, alert_metric: str) -> bool:
    metric = metric_of(f.details).rsplit("/", 1)[-1].lower()
    return bool(metric) and metric in alert_metric.lower()


def _ids(ids: list[str]) -> list[str]:
    """Finding ids once each, in the order given, blanks dropped."""
    return [i for i in dict.fromkeys(ids) if i]


def _ruled_out(ev: dict[str, Evidence], judged: dict[str, Judgement], graph: ServiceGraph, ctx: AnalysisContext,
               findings: list[Finding], ranked: list[RankedCause]) -> list[RuledOut]:
    causes = {c.service for c in ranked if not c.propagation_of}  # the tail is listed, but as propagation
    top = ranked[0] if ranked else None
    out: list[RuledOut] = []
    for s in sorted(judged):
        j, e = judged[s], ev[s]
        if j.explained_by and s not in causes:
            by = ev[j.explained_by].of_role(ORIGIN, OWN)[0]
            what = ("latency" if any("latency" in f.kind or "latency" in metric_of(f.details)
                                     for f in e.findings) else
                    "errors" if any("error" in f.kind for f in e.findings) else "anomaly")
            via = graph.path_up(j.explained_by, [s])
            route = f" (via {' -> '.join(reversed(via[1:-1]))})" if len(via) > 2 else ""
            out.append(RuledOut(service=s, reason=f"{what} in {s} {EXPLAINED} {j.explained_by}"
                                f"{route}, whose own evidence is stronger: {by.title}",
                                evidence=_ids([f.finding_id for f in e.findings[:STEP_EVIDENCE]]
                                              + [by.finding_id])))
    for s in sorted(ev):
        e, j = ev[s], judged[s]
        if not e.changes or j.change is not None or s in causes:
            continue
        why = (f"{s} shows no anomaly of its own" if e.anomaly < CHANGE_NEEDS_ANOMALY else
               f"{s} is not on a call path to {ctx.alert_service or 'the alerting service'}")
        out.append(RuledOut(service=s, reason=f"{e.changes[0].title}, but {why}",
                            evidence=_ids([c.finding_id for c in e.changes])))
    out += [r for r in _quiet_callees(ev, graph, top) if r.service not in {o.service for o in out}]
    for f in sorted((f for f in findings if f.ruled_out), key=strongest_first):
        out.append(RuledOut(service=f.service, reason=f.title, evidence=_ids([f.finding_id])))
    return out


def _quiet_callees(ev: dict[str, Evidence], graph: ServiceGraph, top: RankedCause | None) -> list[RuledOut]:
    """Services along the top cause's chain call that no specialist found anything about: examined and normal,
    so the fault is not further down, nor on a side branch of the path."""
    if top is None:
        return []
    out: dict[str, RuledOut] = {}
    on_chain = list(dict.fromkeys(step.service for step in top.chain if step.role != "impact"))
    for caller in on_chain:
        quiet = [d for d in graph.callees(caller) if d not in on_chain and (d not in ev or not ev[d].findings)]
        for d in quiet:
            why = ("the fault does not come from further downstream" if caller == top.service else
                   f"the symptoms of {caller} do not come from it")
            out.setdefault(d, RuledOut(service=d, reason=f"{d}, called by {caller}, shows nothing anomalous in its "
                                       f"logs, traces or metrics: {why}", evidence=[]))
    return list(out.values())[:MAX_NORMAL]


def headline(result: RcaResult, ctx: AnalysisContext) -> tuple[str, str]:
    """A deterministic headline and summary paragraph for the report, from the top causes."""
    where = ctx.alert_service or "the alerting service"
    if not result.causes:
        return (f"No root cause found for the alert on {where}",
                "The specialists found no anomaly that explains the alert in the telemetry they could read."
                + (f" Checked and ruled out: {'; '.join(r.reason for r in result.ruled_out[:3])}."
                   if result.ruled_out else ""))
    top = result.causes[0]
    if top.confidence < CONFIDENT:
        return _recovered(result, *_unconfident(result, ctx))
    phrase = KIND_PHRASE.get(top.kind, "the strongest evidence points at it")
    head = f"Likely root cause: {top.service}, {phrase} ({top.confidence:.0%} confidence)"
    hops = [step.service for step in top.chain if step.role in ("propagation", "symptom")]
    parts = [top.title.rstrip(".") + "."]
    unseen = [step.service for step in top.chain if step.statement.startswith(NO_TELEMETRY)]
    if unseen and hops[:-1]:
        parts.append(f"It propagates {' -> '.join([top.service, *hops[:-1]])}; {NO_TELEMETRY} {unseen[0]}, where "
                     f"the alert on {ctx.alert_metric or 'its metric'} fired, in the traces read.")
    elif unseen:
        parts.append(f"{NO_TELEMETRY} {unseen[0]}, where the alert on {ctx.alert_metric or 'its metric'} fired, "
                     "in the traces read.")
    elif hops:
        parts.append(f"It propagates {' -> '.join([top.service, *hops])}, where the alert on "
                     f"{ctx.alert_metric or 'its metric'} fired.")
    else:
        parts.append(f"The alert on {ctx.alert_metric or 'its metric'} fired on {where} itself.")
    cause_step = top.chain[0]
    n, own = len(top.evidence), len(cause_step.evidence)
    parts.append(f"Evidence: {n} finding{'' if n == 1 else 's'} ({own} on the cause itself).")
    others = ", ".join(f"{c.service} ({c.score:.2f})" for c in result.causes[1:3])
    if others:
        parts.append(f"Also considered: {others}.")
    explained = [r.service for r in result.ruled_out if EXPLAINED in r.reason]
    if explained:
        parts.append(f"{len(explained)} other anomalous service{' is' if len(explained) == 1 else 's are'} "
                     "explained as propagation.")
    return _recovered(result, head, " ".join(parts))


def _unconfident(result: RcaResult, ctx: AnalysisContext) -> tuple[str, str]:
    """Weak evidence: no cause named (the ranked causes stay in the report), what was checked instead."""
    where = ctx.alert_service or "the alerting service"
    top = result.causes[0]
    parts = [f"The evidence is too weak to name a cause: the strongest candidate reaches {top.confidence:.0%} "
             f"confidence, under the {CONFIDENT:.0%} needed. Checked: {len(result.causes)} candidate service(s) "
             f"ranked (listed below with their evidence), {sum(len(c.evidence) for c in result.causes)} findings "
             "on them."]
    if result.ruled_out:
        parts.append(f"Checked and ruled out: {'; '.join(r.reason for r in result.ruled_out[:3])}.")
    return f"No confident root cause for the alert on {where}", " ".join(parts)


def _recovered(result: RcaResult, head: str, summary: str) -> tuple[str, str]:
    if not result.recovered:
        return head, summary
    return (f"Recovered before triage. {head}",
            f"{summary} The incident recovered by itself: {result.recovery}. No remediation is proposed.")


def chain_statement(service: str, found: list[Finding], callee: str) -> str:
    """One step of a chain: the service's strongest finding, and what it waits on."""
    waits = f" (it calls {callee})" if callee else ""
    if not found:
        return f"no anomaly of its own recorded on {service}{waits}"
    return found[0].title + waits


def impact_statement(ctx: AnalysisContext, service: str) -> str:
    at = datetime.fromtimestamp(ctx.onset, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"the alert on {ctx.alert_metric or 'its metric'} for {service} fired (started {at})"
