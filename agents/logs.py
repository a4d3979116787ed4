"""Log analyst: mine patterns over the baseline and incident windows together, then report the patterns that
are new, that spiked (a conditional binomial test of two Poisson rates, with a minimum count), or that went
quiet, weighted by severity. Every exemplar line is masked for secrets and personal data."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from agents.base import AnalysisContext, SpecialistResult
from agents.log_patterns import PatternMiner
from agents.masking import level_of, mask_secrets
from agents.stats import rate_increase_p, squash
from shared.models import Finding, Widget
from shared.telemetry.models import LogRecord, TelemetrySource, severity_rank

MIN_NEW = 3
MIN_SPIKE = 5
SPIKE_P = 1e-4
SPIKE_RATIO = 3.0
MIN_GONE = 20
MAX_FINDINGS = 25
EXEMPLARS = 3
ERROR_WORDS = re.compile(r"(?i)\b(exception|error|fail(?:ed|ure)?|timeout|timed out|refused|unavailable|denied|"
                         r"panic|fatal|traceback|reset|abort(?:ed)?|cannot|unable|invalid|overflow|exhausted|"
                         r"\b5\d\d\b)")


@dataclass
class _Pattern:
    base: int = 0
    inc: int = 0
    severity: int = 0
    first_seen: float = float("inf")
    services: Counter[str] = field(default_factory=Counter)
    instances: Counter[str] = field(default_factory=Counter)
    exemplars: list[LogRecord] = field(default_factory=list)


def _severity(r: LogRecord) -> int:
    stated = severity_rank(r.severity)
    return stated if stated else severity_rank(level_of(r.message))


def analyse(source: TelemetrySource, ctx: AnalysisContext) -> SpecialistResult:
    base_read, inc_read = source.logs(ctx.baseline), source.logs(ctx.incident)
    notes = [r.note for r in (base_read, inc_read) if r.sampled]
    if not inc_read.items:
        return SpecialistResult([], [*notes, "no log lines in the incident window"])
    if not base_read.items:
        notes.append("no baseline log lines: every pattern looks new; rates cannot be compared")
    miner = PatternMiner()
    keyed = [(miner.add(r.message), r, incident)
             for records, incident in ((base_read.items, False), (inc_read.items, True)) for r in records]
    assignment = miner.assign()
    patterns: dict[int, _Pattern] = {}
    for key, r, incident in keyed:
        p = patterns.setdefault(assignment[key], _Pattern())
        if incident:
            p.inc += 1
            p.services[r.service] += 1
            p.instances[r.instance] += 1
            p.first_seen = min(p.first_seen, r.timestamp)
            p.severity = max(p.severity, _severity(r))
            if len(p.exemplars) < EXEMPLARS:
                p.exemplars.append(r)
        else:
            p.base += 1
    query = {"source": source.describe(), "window": [ctx.incident.start, ctx.incident.end],
             "baseline": [ctx.baseline.start, ctx.baseline.end], "lines": len(inc_read.items),
             "baseline_lines": len(base_read.items), "patterns": miner.pattern_count}
    findings = []
    for pid, p in patterns.items():
        f = _judge(pid, p, miner.template(pid), ctx, query, bool(base_read.items))
        if f is not None:
            findings.append(f)
    findings.sort(key=lambda f: (-f.score, f.service, f.resource))
    return SpecialistResult(findings[:MAX_FINDINGS], notes)


def _judge(pid: int, p: _Pattern, template: str, ctx: AnalysisContext, query: dict[str, object],
           have_baseline: bool) -> Finding | None:
    inc_s, base_s = ctx.incident.seconds, ctx.baseline.seconds
    errorish = p.severity >= severity_rank("ERROR") or bool(ERROR_WORDS.search(template))
    warnish = p.severity >= severity_rank("WARNING")
    weight = 1.0 if errorish else (0.75 if warnish else 0.45)
    if p.inc and p.base == 0 and p.inc >= MIN_NEW and have_baseline:
        kind, p_value, ratio = "log.new_pattern", None, None
        score = weight * (0.55 + 0.4 * squash(p.inc, 15.0))
        title = f"new {'error ' if errorish else ''}pattern in {p.services.most_common(1)[0][0]}: {template[:140]}"
    elif p.inc >= MIN_SPIKE and p.base > 0:
        p_value = rate_increase_p(p.inc, p.base, inc_s, base_s)
        ratio = (p.inc / inc_s) / (p.base / base_s)
        if p_value > SPIKE_P or ratio < SPIKE_RATIO:
            return None
        kind = "log.spike"
        score = weight * (0.35 + 0.45 * squash(ratio - 1, 10.0))
        title = f"pattern x{ratio:.1f} in {p.services.most_common(1)[0][0]}: {template[:140]}"
    elif p.inc == 0 and p.base >= MIN_GONE and p.base * inc_s / base_s >= 10:
        return Finding(specialist="logs", kind="log.gone", service="", resource=f"pattern-{pid}",
                       title=f"pattern went quiet: {template[:140]}", score=0.05, query=query,
                       details={"template": template, "baseline_count": p.base})
    else:
        return None
    service = p.services.most_common(1)[0][0]
    exemplars = [{"timestamp": r.timestamp, "service": r.service, "instance": r.instance, "severity": r.severity,
                  "trace_id": r.trace_id, "line": mask_secrets(r.message)[:1000]} for r in p.exemplars]
    widget = Widget(kind="pattern_table", title="log pattern", data={"rows": [{
        "pattern": mask_secrets(template), "count": p.inc, "baseline_count": p.base, "first_seen": p.first_seen,
        "services": dict(p.services.most_common(5)), "exemplars": [e["line"] for e in exemplars]}]})
    return Finding(
        specialist="logs", kind=kind, service=service, resource=f"pattern-{pid}", title=mask_secrets(title),
        onset=p.first_seen, magnitude=float(ratio if ratio is not None else p.inc), score=round(min(score, 0.97), 4),
        query=query, exemplars=exemplars, widget=widget,
        details={"template": mask_secrets(template), "count": p.inc, "baseline_count": p.base,
                 "rate_per_min": round(p.inc / inc_s * 60, 3), "p_value": p_value, "ratio": ratio,
                 "severity": p.severity, "errorish": errorish, "first_seen": p.first_seen,
                 "services": dict(p.services.most_common(5)), "instances": dict(p.instances.most_common(5))},
    )
