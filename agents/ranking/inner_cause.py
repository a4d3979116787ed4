"""What broke inside a ranked cause's service: the inner root cause, from the findings about that service alone.

Pure and deterministic (no LLM, nothing specific to a system or a dataset). Candidates, each from its evidence:

- code_region: a code path that broke between two of the service's own log statements (log.flow_break, not right
  after a call), weighed by how completely the expected step stopped following; a new error log line of the
  service is a weaker one (where the code now fails, not between which steps).
- operation: an operation where errors originate (trace.error_origin) or whose own time grew
  (trace.latency_shift with own_time_grew); its error rate rising alone (trace.error_shift) is weaker.
- resource: a resource of the service (metric role "resource", not a host's figure) with its saturation measure:
  a ratio or percentage (usage against its limit, a utilisation) is preferred to the raw amount when both
  deviate, and weighs by how close it is to full; a raw amount alone weighs half (how full it is is unknown). A
  new or spiking error log line that names a pool says the pool ran dry.
- link: callers wait longer outside the service (trace.wire_delay): the link callers -> service and the delay it
  adds; the service's own latency metrics, when no trace shows its own time grew, are a weaker link candidate
  (client-side latency: the calls it makes, service -> callees; otherwise the calls to it, callers -> service).
A saturated or exhausted resource explains slower own work and the errors of its operations: those weigh less.
Candidates naming the same thing merge (evidence united, strongest weight kept); up to three, strongest first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from agents.specialists.metrics.metric_vocabulary import RESOURCE_WORDS, is_host_level, metric_role, names_pool
from shared.finding_details import (
    ErrorOriginDetails,
    FleetOutlierDetails,
    LogFlowBreakDetails,
    LogPatternDetails,
    MetricAnomalyDetails,
    MetricDetails,
    TraceErrorDetails,
    TraceLatencyDetails,
    WireDelayDetails,
    metric_of,
    template_of,
)
from shared.models import Finding, InnerCause

MAX_INNER = 3
NEW_LINE_WEIGHT = 0.6  # a new error line says where the code fails now, not between which two steps
AFTER_CALL_WEIGHT = 0.5  # a path that broke right after a call is mostly the callee's outcome
ERROR_SHIFT_WEIGHT = 0.5  # an operation's error rate rising may come from what it calls
LATENCY_METRIC_WEIGHT = 0.5  # latency seen in metrics does not say where the time went
RAW_AMOUNT_WEIGHT = 0.5  # a resource's raw amount: how full it is is unknown
SATURATION_FLOOR = 0.25  # a ratio measure far from full keeps this share of its weight
SATURATED = 0.8  # a ratio measure at this share of its limit is saturated ...
EXPLAINED_WEIGHT = 0.5  # ... and the own time and errors of the service's operations weigh this much less
RATIO_WORDS = ("rate", "utiliz", "ratio", "percent", "pct", "limit", "saturat", "fraction")
CLIENT_WORDS = ("client", "outbound", "egress")
LINK_NAMES = 3  # services named on one side of a link
LOG_RESOURCES = (("pool", ("pool",)), ("disk", ("disk",)), ("memory", ("out of memory", "outofmemory", "oomkill")))
KIND_ORDER = {"code_region": 0, "operation": 1, "resource": 2, "link": 3}
WORD = re.compile(r"[a-z0-9]+")
Kind = Literal["code_region", "operation", "resource", "link"]


@dataclass
class _Candidate:
    kind: Kind
    name: str
    weight: float
    evidence: list[str] = field(default_factory=list)
    detail: str = ""
    start: str = ""
    end: str = ""
    measure: str = ""
    saturated: bool = False

    def key(self) -> tuple[str, str]:
        return self.kind, self.name


def inner_causes(service: str, findings: list[Finding], callers: list[str] | None = None,
                 callees: list[str] | None = None) -> list[InnerCause]:
    """The inner root cause candidates of `service`, strongest first (up to MAX_INNER). `findings` are those
    about the service (others are ignored); `callers` and `callees` come from the dependency graph."""
    own = sorted((f for f in findings if f.service == service and not f.ruled_out),
                 key=lambda f: (-f.score, f.finding_id, f.title))
    found = (_code_regions(own) + _operations(own) + _resources(own)
             + _links(service, own, sorted(callers or []), sorted(callees or [])))
    outside = max((_added_s(f) for f in own if f.kind == "trace.wire_delay"), default=0.0)
    inside = max((_added_s(f) for f in own if _inside_latency(f)), default=0.0)
    if outside > 0 and inside > 0:  # a resource of the service explains the time added inside it, not outside
        for c in found:
            if c.kind == "resource":
                c.weight *= inside / (inside + outside)
                c.detail += f" (it explains the {_ms(inside)} added inside the service, not the {_ms(outside)} " \
                            "callers wait outside it)"
    if any(c.saturated for c in found):
        for c in found:
            if c.kind == "operation":
                c.weight *= EXPLAINED_WEIGHT
                c.detail += " (a saturated resource of the service explains it)"
    _describe_changes(found, own)
    changes = {f.finding_id for f in own if f.kind.startswith("change.")}
    merged: dict[tuple[str, str], _Candidate] = {}
    for c in found:
        m = merged.setdefault(c.key(), c)
        if m is not c:
            m.evidence += c.evidence
            m.saturated = m.saturated or c.saturated
            if c.weight > m.weight:
                m.weight, m.detail, m.measure = c.weight, c.detail, c.measure or m.measure
    ranked: list[_Candidate] = []
    for c in sorted(merged.values(), key=lambda c: (-round(c.weight, 4), KIND_ORDER[c.kind], c.name)):
        cited = {i for k in ranked for i in k.evidence}
        if not set(c.evidence) - cited - changes:  # all it rests on is cited by a stronger candidate
            continue
        ranked.append(c)
    return [InnerCause(kind=c.kind, name=c.name, start=c.start, end=c.end, measure=c.measure,
                       evidence=list(dict.fromkeys(i for i in c.evidence if i)),
                       confidence=round(max(0.0, min(1.0, c.weight)), 3), detail=c.detail[:400])
            for c in ranked[:MAX_INNER]]


def step_of(template: str) -> str:
    """A log template as a step of a code path: its constant lead when that says enough (as the logs
    specialist, agents/specialists/logs/analysis.py)."""
    lead = template.split("<*>", 1)[0].strip()
    return (lead if len(lead.split()) >= 2 else template)[:160]


def _code_regions(found: list[Finding]) -> list[_Candidate]:
    out: list[_Candidate] = []
    breaks: dict[str, _Candidate] = {}  # the step each break goes to instead -> its candidate
    for f in found:
        d = f.details
        if not isinstance(d, LogFlowBreakDetails):
            continue
        before, expected, instead = d.before, d.expected, d.instead
        base = d.baseline_share
        since = d.share if d.share_since_onset is None else d.share_since_onset
        complete = max(0.0, min(1.0, 1.0 - since / base)) if base > 0 else 1.0
        weight = f.score * complete * (AFTER_CALL_WEIGHT if d.after_call else 1.0)
        callee = f" (right after a call to {d.callee})" if d.after_call else ""
        c = _Candidate("code_region", f"{before} -> {expected}", weight, [f.finding_id],
                       f"the code path breaks after \u201c{before[:80]}\u201d{callee}: \u201c{expected[:80]}\u201d "
                       f"follows {since:.0%} of requests since the onset (was {base:.0%}); "
                       f"now \u201c{instead[:80]}\u201d",
                       start=before, end=expected)
        out.append(c)
        breaks.setdefault(instead, c)
    for f in found:
        if f.kind not in ("log.new_pattern", "log.spike") or not _errorish(f):
            continue
        template = template_of(f.details)
        step = step_of(template)
        if step in breaks:  # the line the broken path now goes to: evidence for that region
            breaks[step].evidence.append(f.finding_id)
            continue
        if f.kind == "log.new_pattern":
            out.append(_new_line(f, step, template))
    return out


def _new_line(f: Finding, step: str, template: str) -> _Candidate:
    """A new error line; placed in its code path (agents/specialists/logs/log_flows.py placements) when its
    requests reached it from a step whose successor the baseline knew: the region between that step and that
    successor."""
    d = f.details
    if isinstance(d, LogPatternDetails) and d.between is not None:
        before, expected = d.between
        return _Candidate("code_region", f"{before} -> {expected}", f.score * NEW_LINE_WEIGHT, [f.finding_id],
                          f"a new error line \u201c{template[:120]}\u201d appears after \u201c{before[:80]}\u201d, "
                          f"where \u201c{expected[:80]}\u201d followed in the baseline "
                          f"({_or_unknown(d.between_count)} requests since)", start=before, end=expected)
    return _Candidate("code_region", step, f.score * NEW_LINE_WEIGHT, [f.finding_id],
                      f"a new error line: \u201c{template[:160]}\u201d", start=step)


def _errorish(f: Finding) -> bool:
    d = f.details
    return isinstance(d, LogPatternDetails) and (d.errorish or d.severity.upper() in ("ERROR", "CRITICAL", "FATAL"))


def _operations(found: list[Finding]) -> list[_Candidate]:
    out: list[_Candidate] = []
    lines = [f for f in found if f.kind == "log.new_pattern" and _errorish(f)]
    for f in found:
        d = f.details
        if not isinstance(d, ErrorOriginDetails | TraceLatencyDetails | TraceErrorDetails):
            continue
        op = d.operation or f.resource
        if not op:
            continue
        if isinstance(d, ErrorOriginDetails):
            what, weight = f"errors originate in {op} ({d.count} deepest failing spans)", f.score
        elif isinstance(d, TraceLatencyDetails) and d.own_time_grew:
            what = (f"the own time of {op} grew: p90 {_ms(d.baseline_p90)} -> {_ms(d.incident_p90)}"
                    f" (self time x{d.self_time_ratio or 0.0:.1f})")
            weight = f.score
        elif isinstance(d, TraceErrorDetails):
            what = (f"{op} fails more: {d.baseline_error_rate:.0%} -> {d.incident_error_rate:.0%} of calls")
            weight = f.score * ERROR_SHIFT_WEIGHT
        else:
            continue
        short = WORD.findall(op.rsplit("/", 1)[-1].rsplit(".", 1)[-1].lower())
        said = [g for g in lines if short and " ".join(short) in template_of(g.details).lower()]
        detail = what + (f"; new error line \u201c{template_of(said[0].details)[:120]}\u201d" if said else "")
        out.append(_Candidate("operation", op, weight, [f.finding_id] + [g.finding_id for g in said], detail))
    return out


def _resource_word(metric: str) -> str:
    leaf = metric.rsplit("/", 1)[-1].lower()
    return next((w.strip("_") for w in RESOURCE_WORDS if w in leaf), leaf)


def _is_ratio(metric: str, unit: str) -> bool:
    leaf = metric.rsplit("/", 1)[-1].lower()
    return unit.strip() == "%" or any(w in leaf for w in RATIO_WORDS)


def _level(metric: str, unit: str, value: float) -> float:
    """How full a ratio measure says the resource is (0..1): a percentage, or a fraction of its limit."""
    percent = unit.strip() == "%" or any(w in metric.lower() for w in ("percent", "pct")) or value > 1.5
    return max(0.0, min(1.0, value / 100.0 if percent else value))


def _resources(found: list[Finding]) -> list[_Candidate]:
    groups: dict[tuple[str, str], list[Finding]] = {}
    for f in found:
        d = f.details
        if not isinstance(d, MetricDetails) or not d.metric:
            continue
        metric = d.metric
        anomaly = d if isinstance(d, MetricAnomalyDetails) else None
        if metric_role(metric) != "resource" or is_host_level(metric) or (anomaly and anomaly.host_level):
            continue
        if anomaly and anomaly.bad_direction in ("up", "down") and anomaly.direction != anomaly.bad_direction:
            continue
        instance = d.instance or f.resource
        groups.setdefault((_resource_word(metric), instance), []).append(f)
    out: list[_Candidate] = []
    for (word, instance), items in sorted(groups.items()):
        ratios = [f for f in items if _is_ratio(metric_of(f.details), _unit(f))]
        lead = (ratios or items)[0]
        measured = lead.details
        assert isinstance(measured, MetricDetails)
        metric, unit = measured.metric, measured.unit
        value = measured.incident_value if isinstance(measured, MetricAnomalyDetails) else (
            measured.value if isinstance(measured, FleetOutlierDetails) else None)
        name = f"{word} on {instance}" if instance else word
        shown = f"{metric.rsplit('/', 1)[-1]} on {instance or 'the service'}"
        if ratios and isinstance(value, (int, float)):
            level = _level(metric, unit, float(value))
            weight = lead.score * (SATURATION_FLOOR + (1.0 - SATURATION_FLOOR) * level)
            base = measured.baseline_median if isinstance(measured, MetricAnomalyDetails) else (
                measured.peers_median if isinstance(measured, FleetOutlierDetails) else None)
            was = f"{float(base):.4g} -> " if isinstance(base, (int, float)) else ""
            detail = (f"{shown}: {was}{float(value):.4g}{' ' + unit if unit and unit != '1' else ''} "
                      f"({level:.0%} of its limit{', saturated' if level >= SATURATED else ''})")
            saturated = level >= SATURATED
        else:
            weight, saturated = lead.score * RAW_AMOUNT_WEIGHT, False
            detail = f"{lead.title} (a raw amount: how close to its limit is not measured)"
        out.append(_Candidate("resource", name, weight, [f.finding_id for f in [lead, *items]], detail,
                              measure=metric, saturated=saturated))
    for f in found:  # a new or spiking warning or error line naming a resource: it ran dry or is saturated
        template = template_of(f.details)
        lowered = template.lower()
        word = next((w for w, phrases in LOG_RESOURCES if any(p in lowered for p in phrases)), "")
        if f.kind in ("log.new_pattern", "log.spike") and word and (_errorish(f) or _warnish(f)):
            if word == "pool" and names_pool(lowered.replace("pool", "")):
                word = "connection pool" if "connection" in lowered else "thread pool" if "thread" in lowered else word
            out.append(_Candidate("resource", word, f.score, [f.finding_id],
                                  f"a new {(_severity(f) or 'error').lower()} line names it: "
                                  f"\u201c{template[:160]}\u201d", measure=f"log: {step_of(template)[:80]}",
                                  saturated=True))
    return out


def _warnish(f: Finding) -> bool:
    return _severity(f).upper() in ("WARNING", "WARN")


def _severity(f: Finding) -> str:
    return f.details.severity if isinstance(f.details, LogPatternDetails) else ""


def _unit(f: Finding) -> str:
    return f.details.unit if isinstance(f.details, MetricDetails) else ""


def _or_unknown(count: int | None) -> str:
    return "?" if count is None else str(count)


def _side(services: list[str], other: str) -> str:
    if not services:
        return f"the {other}"
    more = f" (+{len(services) - LINK_NAMES} more)" if len(services) > LINK_NAMES else ""
    return ", ".join(services[:LINK_NAMES]) + more


def _links(service: str, found: list[Finding], callers: list[str], callees: list[str]) -> list[_Candidate]:
    out: list[_Candidate] = []
    into = _side(callers, "callers")
    for f in found:
        d = f.details
        if isinstance(d, WireDelayDetails):
            b, i = d.baseline_p90 or 0.0, d.incident_p90 or 0.0
            out.append(_Candidate("link", f"{into} -> {service}", f.score, [f.finding_id],
                                  f"calls to {service} wait longer outside it (network or queueing in front): p90 "
                                  f"{_ms(b)} -> {_ms(i)}, {_ms(i - b)} added", start=into, end=service,
                                  measure=f"+{_ms(i - b)} p90 outside the service"))
    own_time = any(isinstance(f.details, TraceLatencyDetails) and f.details.own_time_grew for f in found)
    for f in found:
        if not isinstance(f.details, MetricAnomalyDetails):
            continue
        metric = f.details.metric
        leaf = metric.rsplit("/", 1)[-1].lower()
        if not any(w in leaf for w in ("latency", "duration")) or is_host_level(metric) \
                or f.details.direction == "down":
            continue
        if any(w in leaf for w in CLIENT_WORDS):
            out_to = _side(callees, "callees")
            out.append(_Candidate("link", f"{service} -> {out_to}", f.score * LATENCY_METRIC_WEIGHT, [f.finding_id],
                                  f"the calls {service} makes take longer ({f.title}) while no trace shows where "
                                  "the time goes: the links out of it or what it calls", start=service, end=out_to,
                                  measure=metric))
        elif not own_time:
            out.append(_Candidate("link", f"{into} -> {service}", f.score * LATENCY_METRIC_WEIGHT, [f.finding_id],
                                  f"calls to {service} take longer ({f.title}) and no trace shows its own time grew: "
                                  "the link to it, or its own work", start=into, end=service, measure=metric))
    return out


UNIT_SECONDS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "\u00b5s": 1e-6, "ns": 1e-9}


def _added_s(f: Finding) -> float:
    """The latency a finding says was added, in seconds (0 when it cannot tell)."""
    d = f.details
    if isinstance(d, WireDelayDetails | TraceLatencyDetails):
        return max(0.0, (d.incident_p90 or 0.0) - (d.baseline_p90 or 0.0))
    if not isinstance(d, MetricAnomalyDetails):
        return 0.0
    unit = UNIT_SECONDS.get(d.unit.strip())
    if unit is None or d.incident_value is None or d.baseline_median is None:
        return 0.0
    return max(0.0, (d.incident_value - d.baseline_median) * unit)


def _inside_latency(f: Finding) -> bool:
    """Does the finding measure the time requests spend inside the service (not the calls it makes)?"""
    if isinstance(f.details, TraceLatencyDetails):
        return f.details.own_time_grew
    leaf = metric_of(f.details).rsplit("/", 1)[-1].lower()
    return (f.kind == "metric.anomaly" and any(w in leaf for w in ("latency", "duration"))
            and not any(w in leaf for w in CLIENT_WORDS) and not is_host_level(leaf))


def _describe_changes(found: list[_Candidate], own: list[Finding]) -> None:
    """A change shortly before the onset is named beside what broke in the code (the revision that broke it)."""
    changes = [f for f in own if f.kind.startswith("change.") and f.kind != "change.none"]
    if not changes:
        return
    change = changes[0]
    for c in found:
        if c.kind in ("code_region", "operation"):
            c.evidence.append(change.finding_id)
            c.detail += f"; since {change.title}"



def _ms(seconds: object) -> str:
    if not isinstance(seconds, (int, float)):
        return "?"
    ms = float(seconds) * 1000
    return f"{ms:.0f} ms" if abs(ms) >= 10 else f"{ms:.2g} ms"
