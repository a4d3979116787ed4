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
from agents.stats import rate_increase_p, squash, two_proportion_z
from shared.models import Finding, Widget
from shared.telemetry.models import SEVERITIES, LogRecord, TelemetrySource, severity_rank

MIN_NEW = 3
MIN_SPIKE = 5
SPIKE_P = 1e-4
SPIKE_RATIO = 3.0
MIN_GONE = 20
DROP_Z = 4.0
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


Observation = tuple[LogRecord, bool, int]  # (a line or a group's exemplar, in the incident window?, how many)


def _observations(source: TelemetrySource, ctx: AnalysisContext) -> tuple[list[Observation], list[str], str]:
    """Lines of both windows, or per-group counts pre-aggregated where the logs live when the source can."""
    aggregate = getattr(source, "log_pattern_counts", None)
    if callable(aggregate):
        rows, capped = aggregate(ctx.baseline, ctx.incident)
        notes = ["logs: pre-aggregated rows hit their cap; rare patterns may be missing"] if capped else []
        return [(LogRecord(r.first_seen, r.service, r.exemplar, SEVERITIES[min(r.severity_rank, 8)]),
                 r.bucket == "incident", r.count) for r in rows], notes, "aggregated"
    base_read, inc_read = source.logs(ctx.baseline), source.logs(ctx.incident)
    notes = [r.note for r in (base_read, inc_read) if r.sampled]
    return ([(r, False, 1) for r in base_read.items] + [(r, True, 1) for r in inc_read.items]), notes, "lines"


def analyse(source: TelemetrySource, ctx: AnalysisContext) -> SpecialistResult:
    observations, notes, mode = _observations(source, ctx)
    inc_lines = sum(n for _, incident, n in observations if incident)
    base_lines = sum(n for _, incident, n in observations if not incident)
    if not inc_lines:
        return SpecialistResult([], [*notes, "no log lines in the incident window"])
    if not base_lines:
        notes.append("no baseline log lines: every pattern looks new; rates cannot be compared")
    miner = PatternMiner()
    keys = [miner.add(r.message, n) for r, _, n in observations]
    assignment = miner.assign()
    # Per (pattern, service): a pattern another service always logs is still new for this one.
    patterns: dict[tuple[int, str], _Pattern] = {}
    volume: dict[tuple[str, bool], int] = Counter()
    for key, (r, incident, n) in zip(keys, observations, strict=True):
        p = patterns.setdefault((assignment[key], r.service), _Pattern())
        volume[(r.service, incident)] += n
        if incident:
            p.inc += n
            p.services[r.service] += n
            p.instances[r.instance] += n
            p.first_seen = min(p.first_seen, r.timestamp)
            p.severity = max(p.severity, _severity(r))
            if len(p.exemplars) < EXEMPLARS:
                p.exemplars.append(r)
        else:
            p.base += n
    query = {"source": source.describe(), "mode": mode, "window": [ctx.incident.start, ctx.incident.end],
             "baseline": [ctx.baseline.start, ctx.baseline.end], "lines": inc_lines, "baseline_lines": base_lines,
             "patterns": miner.pattern_count}
    findings = []
    for (pid, service), p in patterns.items():
        totals = (volume[(service, False)], volume[(service, True)])
        f = _judge(pid, service, p, miner.template(pid), ctx, query, totals, bool(base_lines))
        if f is not None:
            findings.append(f)
    findings.sort(key=lambda f: (-f.score, f.service, f.resource))
    return SpecialistResult(findings[:MAX_FINDINGS], notes)


def _judge(pid: int, service: str, p: _Pattern, template: str, ctx: AnalysisContext, query: dict[str, object],
           totals: tuple[int, int], have_baseline: bool) -> Finding | None:
    inc_s, base_s = ctx.incident.seconds, ctx.baseline.seconds
    base_total, inc_total = totals
    errorish = p.severity >= severity_rank("ERROR") or bool(ERROR_WORDS.search(template))
    warnish = p.severity >= severity_rank("WARNING")
    weight = 1.0 if errorish else (0.75 if warnish else 0.45)
    ratio: float | None = None
    p_value: float | None = None
    if p.inc and p.base == 0 and p.inc >= MIN_NEW and have_baseline:
        kind = "log.new_pattern"
        # a service that logged nothing in the baseline makes every pattern new: weaker evidence
        score = weight * (0.55 + 0.4 * squash(p.inc, 15.0)) * (1.0 if base_total >= MIN_NEW else 0.8)
        title = f"new {'error ' if errorish else ''}pattern in {service}: {template[:140]}"
    elif p.inc >= MIN_SPIKE and p.base > 0:
        # Against the service's own volume, so a busier incident window is not a spike of every pattern.
        exposure, base_exposure = (inc_total, base_total) if base_total and inc_total else (inc_s, base_s)
        p_value = rate_increase_p(p.inc, p.base, exposure, base_exposure)
        ratio = (p.inc / exposure) / (p.base / base_exposure)
        if p_value > SPIKE_P or ratio < SPIKE_RATIO:
            return None
        kind = "log.spike"
        score = weight * (0.35 + 0.45 * squash(ratio - 1, 10.0))
        title = f"pattern x{ratio:.1f} in {service}: {template[:140]}"
    elif p.base >= MIN_GONE and inc_total >= MIN_GONE and base_total:
        # A pattern whose share of its own service's lines collapsed: a code path that stopped running.
        expected = p.base / base_total * inc_total
        z = two_proportion_z(p.inc, inc_total, p.base, base_total)
        if expected < MIN_GONE / 2 or z < DROP_Z or p.inc > expected / 4:
            return None
        kind, ratio = "log.drop", p.inc / expected
        score = 0.25 + 0.25 * squash(z - DROP_Z + 1, 4.0)  # weaker than new errors: absence is ambiguous
        title = f"pattern fell to {p.inc} from ~{expected:.0f} expected in {service}: {template[:120]}"
        p.first_seen = min(p.first_seen, ctx.incident.start)
    else:
        return None
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
