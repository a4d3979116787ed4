"""What the specialists said about each service, every finding in its role: the first step of the root-cause
analyst (agents/ranking/rca.py).

Every finding is evidence about its service, in one of four roles: *origin* (points at the service itself whatever
its callees do), *own* (its own log lines, other own figures), *symptom* (what a caller shows when something it
waits on is at fault) or *context* (a host's figures, the load its callers send). Per service, the best finding of
each kind is taken, kinds are combined within a specialist with diminishing weight, and specialists by noisy-OR.

With the graph, a role can move: log lines that repeat a downstream service's error text, or that sit in traces whose
failure starts downstream, report that service's fault (symptoms); a metric symptom of a service the spans do not
cover, which no callee explains, is the service's own; and such a symptom that does not move with the alert weighs
less. Nothing here names a system.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from agents.ranking.causal_graph import TOPOLOGY_KIND, ServiceGraph
from agents.specialists.metrics.metric_vocabulary import metric_role, names_latency
from shared.finding_details import (
    ErrorOriginDetails,
    LogFlowBreakDetails,
    LogPatternDetails,
    MetricAnomalyDetails,
    TraceLatencyDetails,
    template_of,
)
from shared.models import Finding

ORIGIN, OWN, SYMPTOM, CONTEXT = "origin", "own", "symptom", "context"
ECHO_WORDS = 6  # a log template sharing a run of this many words with a downstream service's repeats its error
WORD = re.compile(r"[a-z0-9_]+")
KIND_DECAY = 0.5  # a specialist's second kind of evidence counts half, its third a quarter
SYMPTOM_WEIGHT = 0.25  # symptoms add to a service's score only this much of what own evidence would
SYMPTOMATIC = 0.1  # a service with anomaly evidence this strong passes propagation on
CALLEE_EXPLAINS = 0.5  # an untraced service's metric symptom is its own unless a callee shows this share of it
UNTRACED_ATTRIBUTION = True  # off: metric symptoms stay symptoms everywhere (bench/rules.py)
CO_MOVEMENT_WEIGHT = 0.5  # an untraced service's metric symptom that does not move with the alert keeps 1 - this
UNKNOWN_CO_MOVEMENT: float | None = 0.5  # ... taken for one missing while the alert's series moved (None: as moving)
FOLLOWED_WEIGHT = 0.5  # an untraced service's metric anomaly that began after the alert's onset keeps 1 - this
REPORTS_CALLEE = True  # off: a caller's log lines about its callee's failure count as its own (bench/rules.py)
REPORTED_SHARE = 0.5  # ... when at least this share of the lines' traces fail further down
SLO_KIND = "slo.burn"  # an SLO's burn: context for the report, not evidence about a cause
NEAR_CHANGE = 0.2  # weaker changes are background, not evidence


def role(f: Finding) -> str:
    """Whether a finding points at its service itself (origin, own), at what it waits on (symptom), or only at
    its surroundings (context: a host's figures shared by every pod on it, the load its callers send)."""
    d = f.details
    if f.kind in ("trace.error_origin", "trace.wire_delay", "metric.fleet_outlier"):
        return ORIGIN
    if isinstance(d, TraceLatencyDetails):
        return ORIGIN if d.own_time_grew else SYMPTOM
    if f.kind == "trace.error_shift":
        return SYMPTOM
    if isinstance(d, LogFlowBreakDetails):  # its own code path broke, unless right after a call: the callee's outcome
        return SYMPTOM if d.after_call else ORIGIN
    if isinstance(d, MetricAnomalyDetails):
        kind = metric_role(d.metric)
        if kind == "symptom":
            return SYMPTOM
        if d.host_level or kind == "load":
            return CONTEXT
        if kind == "resource":
            return ORIGIN
    return OWN


def noisy_or(scores: list[float]) -> float:
    p = 1.0
    for s in scores:
        p *= 1.0 - max(0.0, min(1.0, s))
    return 1.0 - p


def combine(findings: list[Finding]) -> float:
    """Best finding per kind; kinds within a specialist with diminishing weight; specialists by noisy-OR."""
    best: dict[tuple[str, str], float] = {}
    for f in findings:
        key = (f.specialist, f.kind)
        best[key] = max(best.get(key, 0.0), f.score)
    per_specialist: dict[str, list[float]] = defaultdict(list)
    for (specialist, _), score in best.items():
        per_specialist[specialist].append(score)
    return noisy_or([noisy_or([s * KIND_DECAY ** i for i, s in enumerate(sorted(scores, reverse=True))])
                     for scores in per_specialist.values()])


@dataclass
class Evidence:
    """What the specialists said about one service."""

    service: str
    findings: list[Finding] = field(default_factory=list)  # anomalies (no changes), strongest first
    roles: list[str] = field(default_factory=list)  # the role of each of `findings`
    changes: list[Finding] = field(default_factory=list)  # near changes, strongest first
    far_changes: list[Finding] = field(default_factory=list)
    origin: float = 0.0
    intrinsic: float = 0.0  # origin evidence no callee can explain: its own code path broke between two steps
    own: float = 0.0
    symptom: float = 0.0
    anomaly: float = 0.0
    slow: bool = False  # some finding says it (or the calls to it) got slower
    slow_alone: bool = False  # its latency rose and no trace says that is waiting on its callees

    def of_role(self, *roles: str) -> list[Finding]:
        return [f for f, r in zip(self.findings, self.roles, strict=True) if r in roles]

    def score(self) -> float:
        return self.own + SYMPTOM_WEIGHT * self.symptom * (1.0 - self.own)


def gather(findings: list[Finding], graph: ServiceGraph | None = None) -> dict[str, Evidence]:
    """Each service's evidence, every finding in its role; with the graph, log lines that repeat a downstream
    service's error text are symptoms (the error travelled up), not the caller's own fault."""
    graph = graph if graph is not None else ServiceGraph()
    ev: dict[str, Evidence] = {}
    for f in sorted(_weighed_by_time(findings, graph.traced), key=strongest_first):
        if f.ruled_out or f.kind in (TOPOLOGY_KIND, SLO_KIND) or not f.service:
            continue
        e = ev.setdefault(f.service, Evidence(f.service))
        if f.kind.startswith("change."):
            (e.changes if f.score >= NEAR_CHANGE else e.far_changes).append(f)
        else:
            e.findings.append(f)
    grams = {s: _log_grams(e.findings) for s, e in ev.items()}
    failing = {s: _origin_traces(e.findings) for s, e in ev.items()}
    for s, e in ev.items():
        downstream = graph.downstream(s)
        below: set[tuple[str, ...]] = set().union(*(grams.get(d, set()) for d in downstream))
        failed_below: set[str] = set().union(*(failing.get(d, set()) for d in downstream))
        e.roles = [SYMPTOM if f.kind.startswith("log.") and (below & _grams(f) or _reports(f, failed_below))
                   else role(f) for f in e.findings]
    unexplained = _unexplained_metric_symptoms(ev, graph)
    for s, e in ev.items():
        if s in unexplained:
            e.roles = [OWN if r == SYMPTOM and f.kind == "metric.anomaly" else r
                       for f, r in zip(e.findings, e.roles, strict=True)]
        e.origin = combine(e.of_role(ORIGIN))
        e.intrinsic = max((f.score for f in e.of_role(ORIGIN) if f.kind == "log.flow_break"), default=0.0)
        e.own = combine(e.of_role(ORIGIN, OWN))
        e.symptom = combine(e.of_role(SYMPTOM))
        e.anomaly = combine(e.findings)
        e.slow = any(_slower(f) for f in e.findings)
        e.slow_alone = (any(_latency_metric(f) for f in e.findings)
                        and not any(isinstance(f.details, TraceLatencyDetails) and not f.details.own_time_grew
                                    for f in e.findings))
    return ev


def _origin_traces(found: list[Finding]) -> set[str]:
    """The traces whose failure starts in a service (its error-origin findings' sample of them)."""
    return {t for f in found if isinstance(f.details, ErrorOriginDetails) for t in f.details.trace_ids}


def _reports(f: Finding, failed_below: set[str]) -> bool:
    """A log pattern whose lines sit mostly (REPORTED_SHARE or more) in traces whose failure starts further down:
    the caller reporting, or absorbing, its callee's failure, not a fault of its own."""
    traces = f.details.trace_ids if isinstance(f.details, LogPatternDetails) else []
    if not REPORTS_CALLEE or not traces or not failed_below:
        return False
    return len(failed_below.intersection(traces)) >= REPORTED_SHARE * len(traces)


def _weighed_by_time(findings: list[Finding], traced: frozenset[str]) -> list[Finding]:
    """Metric anomalies of services the spans do not cover, weighed by how they stand in time to the alert
    (agents/specialists/metrics/analysis.py). Onset order: one that began over one of its periods after the alert's
    onset followed it, and keeps 1 - FOLLOWED_WEIGHT of its score. Co-movement: a symptom that does not rise and
    fall with the alert's series keeps 1 - CO_MOVEMENT_WEIGHT of its score; one whose series has too few points at
    the alert's times to tell is taken to move with it UNKNOWN_CO_MOVEMENT of the way. Where spans cover a service,
    the trace analyst measures its share of the alert's time and when it began directly (the critical path), and
    its findings are left as they are (weighing them by onset too cost TrainTicket inner @1 0.933 -> 0.867)."""
    out = []
    for f in findings:
        d = f.details if isinstance(f.details, MetricAnomalyDetails) and f.service not in traced else None
        # not measured (missing while the alert moved) is not moving with the alert: UNKNOWN_CO_MOVEMENT, neither way
        moves = (UNKNOWN_CO_MOVEMENT if d.missing_while_alert_moved else d.co_movement) \
            if d is not None and CO_MOVEMENT_WEIGHT else None
        factor = 1.0 - CO_MOVEMENT_WEIGHT + CO_MOVEMENT_WEIGHT * max(0.0, moves) \
            if moves is not None and role(f) == SYMPTOM else 1.0
        if d is not None and d.began_after_alert:  # a cause comes first: what began after the alert followed it
            factor *= 1.0 - FOLLOWED_WEIGHT
        if factor != 1.0:
            f = f.model_copy(update={"score": round(f.score * factor, 4)})
        out.append(f)
    return out


def _unexplained_metric_symptoms(ev: dict[str, Evidence], graph: ServiceGraph) -> set[str]:
    """Services the spans do not cover whose metric symptoms (latency, errors, availability) no callee explains.

    A metric cannot tell a service's own time or failures from what it waits on; the graph can. Where spans cover a
    service, the trace analyst has measured its own time and a metric symptom stays a symptom. Where they do not
    (a managed dependency, a system seen through metrics alone), a service on the graph whose callees show no
    anomaly of at least CALLEE_EXPLAINS of its own symptom is where the symptom starts: its own evidence. With no
    graph at all nothing is known of callees and every symptom stays one."""
    if not UNTRACED_ATTRIBUTION:
        return set()
    traced = graph.traced

    def shown(s: str) -> float:  # what a service shows, its surroundings (host, load) aside
        e = ev.get(s)
        return combine([f for f, r in zip(e.findings, e.roles, strict=True) if r != CONTEXT]) if e else 0.0

    out = set()
    for s, e in ev.items():
        if s not in graph or s in traced:
            continue
        symptom = combine([f for f, r in zip(e.findings, e.roles, strict=True)
                           if r == SYMPTOM and f.kind == "metric.anomaly"])
        if symptom > 0 and not any(shown(d) >= CALLEE_EXPLAINS * symptom for d in graph.callees(s)):
            out.add(s)
    return out


def _slower(f: Finding) -> bool:
    """A finding that says the service, or the calls to it, got slower: what a caller's longer waits could be
    propagation of. A callee that only fails fast explains its callers' errors, not their latency."""
    return (f.kind in ("trace.latency_shift", "trace.wire_delay") or _latency_metric(f)
            or (isinstance(f.details, MetricAnomalyDetails) and metric_role(f.details.metric) == "resource"))


def _latency_metric(f: Finding) -> bool:
    return isinstance(f.details, MetricAnomalyDetails) and names_latency(f.details.metric)


def _grams(f: Finding) -> set[tuple[str, ...]]:
    """The runs of ECHO_WORDS words of a log finding's template (variables dropped)."""
    words = WORD.findall(template_of(f.details).replace("<*>", " ").lower())
    return {tuple(words[i:i + ECHO_WORDS]) for i in range(len(words) - ECHO_WORDS + 1)}


def _log_grams(found: list[Finding]) -> set[tuple[str, ...]]:
    return set().union(*(_grams(f) for f in found if f.kind.startswith("log.")))


def strongest_first(f: Finding) -> tuple[float, str, str]:
    return (-f.score, f.finding_id, f.title)
