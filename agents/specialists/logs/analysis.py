"""Log analyst: mine patterns over the baseline and incident windows together (one miner, so a pattern has one id
in both), count them per service and window, and report, per (pattern, service):

- log.new_pattern: absent from the service's baseline, at least MIN_NEW lines in the incident, weighted by
  severity (ERROR/WARNING level or error words such as exception/failed/timeout weigh more) and by how sure its
  absence is: the same test as for spikes, P(no line in the baseline | the pattern's incident share), so that a
  pattern missing from a short or quiet baseline counts for less. Errors are rare in normal operation, so an
  error pattern needs less of that proof: it is never dropped for it and loses at most a fifth of its score;
- log.spike: its rate against the service's own volume rose: a conditional binomial test of two Poisson rates
  (given the total, the incident's share is binomial under no change), with a minimum count and ratio;
- log.drop: a code path that stopped logging while its service kept logging. Read line by line, the longest
  silence of a steady pattern in its service's time-ordered lines is tested against chance (every placement of
  its k lines among the service's n lines equally likely: P(a gap of m lines) <= (k+1) C(n-m, k) / C(n, k)).
  Real logs are burstier than chance, so the pattern must also have been steady outside the silence, and the
  silence much longer than any other gap it left (the first line counts as the end of a gap too).
  Failing that (or from pre-aggregated counts), a pattern whose share of its service's lines collapsed; read
  line by line, only if it was steady in the baseline (a burst that ended long before is no drop).

Scores are in [0, 1] on the scale of docs/findings.md; findings are ranked and cut to MAX_FINDINGS. Services with
enough lines to tell and nothing to report get a ruled-out finding (kind log.none). Details carry the template,
count and baseline_count, rate (incident lines a minute), severity, first_seen, instances, and per kind ratio and
p_value (spike), p_value (new), silent_lines, expected_in_silence, silent_from, last_seen (drop). Every exemplar
and template is masked for secrets and personal data before it leaves. Deterministic: the same input gives the
same findings in the same order.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import accumulate

from agents.context import AnalysisContext, SpecialistResult
from agents.specialists.logs.counts import (
    Identity,
    StreamCounts,
    count_stream,
    count_variants,
    digit_blind,
    identity,
    merged,
)
from agents.specialists.logs.counts import Tally as _Pattern
from agents.specialists.logs.log_flows import (
    FlowBreak,
    breaks,
    comparable_spans,
    placements,
    strength,
    trails,
    transitions,
)
from agents.specialists.logs.log_patterns import PatternMiner
from agents.specialists.logs.masking import mask_secrets
from agents.specialists.stats import rate_increase_p, squash, two_proportion_z
from shared.events import stable_id
from shared.finding_details import LINKED_TRACES, LogFlowBreakDetails, LogPatternDetails, QuietLogsDetails
from shared.gc_pause import collector_paused
from shared.models import Finding, Widget
from shared.ports import TelemetrySource
from shared.severity import SEVERITIES, severity_of, severity_rank
from shared.telemetry_records import LogRecord, LogStream, LogVariants, ReadResult
from shared.textfmt import shorten

MIN_NEW = 3
NEW_P = 0.05  # a non-error pattern this likely to be missing from the baseline by chance is not new
NEW_SURE = 4.0  # -log10 of the chance at which its absence from the baseline is beyond doubt
MIN_SPIKE = 5
SPIKE_P = 1e-4
SPIKE_RATIO = 3.0
MIN_GONE = 20  # pre-aggregated counts: baseline lines of a pattern before its collapse can be told
DROP_Z = 4.0
MIN_STOP = 5  # lines of a pattern before its silence can be told apart from chance
MIN_SILENCE = 10  # service lines inside the silence
STOP_P = 1e-4
STEADY_SLICES = 10  # a stopped pattern must have been steady: present in enough of this many slices of the rest
SILENCE_FACTOR = 2.0  # ... and its silence this many times longer than any other gap it left (bursty logs)
MAX_FINDINGS = 25
MAX_RULED_OUT = 5
RULE_OUT_LINES = 200  # lines in each window before "nothing new in this service" is a statement worth making
EXEMPLARS = 3
MIN_STEP_WORDS = 2
ERROR_WORDS = re.compile(r"(?i)\b(exception|error|fail(?:ed|ure)?|timeout|timed out|refused|unavailable|denied|"
                         r"panic|fatal|traceback|reset|abort(?:ed)?|cannot|unable|invalid|overflow|exhausted|"
                         r"\b5\d\d\b)")


@dataclass(frozen=True)
class _Silence:
    """The longest stretch of its service's lines in which a steady pattern did not occur."""

    lines: int  # service lines inside the silence
    total: int  # the service's lines, both windows
    count: int  # the pattern's lines, both windows
    p_value: float
    start: float  # the first service line of the silence
    end: float | None  # the pattern's next line, None when it had not come back by the end of what was read
    before: tuple[LogRecord, ...]  # its last lines before the silence

    @property
    def expected(self) -> float:
        return self.lines * self.count / max(self.total - self.lines, 1)


def _severity(r: LogRecord) -> int:
    stated = severity_rank(r.severity)
    return stated if stated else severity_rank(severity_of(r.message))


Observation = tuple[LogRecord, bool, int]  # (a line or a group's exemplar, in the incident window?, how many)
Timed = tuple[float, bool, int, LogRecord]  # (timestamp, in the incident window?, pattern id, the line)


def _sampled_notes(base_read: ReadResult[LogRecord], inc_read: ReadResult[LogRecord]) -> list[str]:
    """What each window's read sampled (the report's coverage lines): a plan's parts, a cut, a stop."""
    return [f"logs ({name} window): {r.note or 'the read stopped early; counts are a sample'}"
            for name, r in (("baseline", base_read), ("incident", inc_read)) if r.sampled]


def _observations(source: TelemetrySource, ctx: AnalysisContext
                  ) -> tuple[list[Observation], list[str], str, bool]:
    """Lines of both windows, or per-group counts pre-aggregated where the logs live when the source can (not in a
    follow-up round: it reads the lines of the few services it is about); and whether a read was cut."""
    if ctx.focus:
        services = list(ctx.focus)
        base_read, inc_read = source.logs(ctx.baseline, services), source.logs(ctx.incident, services)
        return ([(r, False, 1) for r in base_read.items if r.service in ctx.focus]
                + [(r, True, 1) for r in inc_read.items if r.service in ctx.focus]), \
            _sampled_notes(base_read, inc_read), "lines", False  # no stream: it would count every service's lines
    notes: list[str] = []
    if source.log_counter is not None:
        try:
            rows, capped = source.log_counter.log_pattern_counts(ctx.baseline, ctx.incident)
        except Exception as exc:  # the query refused (bytes cap, quota, permissions): the lines can still be read
            notes.append(f"logs: pre-aggregated counts failed ({type(exc).__name__}: {str(exc)[:200]}); "
                         "read the lines instead")
        else:
            notes = ["logs: pre-aggregated rows hit their cap; rare patterns may be missing"] if capped else []
            return [(LogRecord(r.first_seen, r.service, r.exemplar, SEVERITIES[min(r.severity_rank, 8)]),
                     r.bucket == "incident", r.count) for r in rows], notes, "aggregated", False
    base_read, inc_read = source.logs(ctx.baseline), source.logs(ctx.incident)
    notes += _sampled_notes(base_read, inc_read)
    return ([(r, False, 1) for r in base_read.items] + [(r, True, 1) for r in inc_read.items]), notes, "lines", \
        base_read.sampled or inc_read.sampled


def _every_line(source: TelemetrySource, ctx: AnalysisContext, miner: PatternMiner
                ) -> tuple[StreamCounts, tuple[str, str]] | None:
    """Counts from every line of both windows, added to `miner`, and what each window's read cut or skipped; when
    the source can read them all (else None: the counts come from the read). By variant where the source tells
    lines apart by their bytes (`log_variants`), else streamed line by line (`log_stream`)."""
    by_variant = getattr(source, "log_variants", None)
    if by_variant is not None:
        ident, blind = identity(miner, _severity), digit_blind(miner)
        base: LogVariants[Identity] | None = by_variant(ctx.baseline, ident, 0, blind)
        inc: LogVariants[Identity] | None = (by_variant(ctx.incident, ident, LINKED_TRACES, blind)
                                             if base is not None else None)
        if base is None or inc is None:
            return None
        return count_variants(miner, [(False, base), (True, inc)]), (base.note(), inc.note())
    stream = getattr(source, "log_stream", None)
    if stream is None:
        return None
    lines: tuple[LogStream | None, LogStream | None] = (stream(ctx.baseline), stream(ctx.incident))
    if lines[0] is None or lines[1] is None:
        return None
    counts = count_stream(miner, [(False, lines[0].lines), (True, lines[1].lines)], _severity)
    return counts, (lines[0].note(), lines[1].note())


def analyse(source: TelemetrySource, ctx: AnalysisContext) -> SpecialistResult:
    with collector_paused():
        return _analyse(source, ctx)


def _analyse(source: TelemetrySource, ctx: AnalysisContext) -> SpecialistResult:
    observations, notes, mode, sampled = _observations(source, ctx)
    miner = PatternMiner()
    every = None
    if sampled and mode == "lines":
        every = _every_line(source, ctx, miner)
        if every is None:
            miner = PatternMiner()  # (a window learnt before the other could not be read is forgotten)
    patterns: dict[tuple[int, str], _Pattern] = {}  # per (pattern, service): another service's pattern is new here
    volume: Counter[tuple[str, bool]] = Counter()
    streamed = every is not None
    if every is not None:  # counts from every line; the read's sample for the timelines and code paths
        counts, stream_notes = every
        volume = counts.volume
        keys = [miner.key(r.message) for r, _, _ in observations]
        assignment = miner.assign()
        patterns = merged(counts, assignment)
        cut = "; ".join(sorted({n for n in stream_notes if n}))
        # each window's read note stands (a corrupt line skipped, a cut), but the counts no longer are a sample
        notes = [f"logs: pattern counts from every line of both windows ({volume.total():,} lines); "
                 "timelines and code paths from the read's sample",
                 *(n.replace("counts are a sample", "timelines and code paths are a sample") for n in notes),
                 *([cut] if cut and not any(cut in n for n in notes) else [])]
    inc_lines = sum(n for (_, incident), n in volume.items() if incident) if streamed else sum(
        n for _, incident, n in observations if incident)
    base_lines = sum(n for (_, incident), n in volume.items() if not incident) if streamed else sum(
        n for _, incident, n in observations if not incident)
    if not inc_lines:
        return SpecialistResult([], [*notes, "no log lines in the incident window"])
    if not base_lines:
        notes.append("no baseline log lines: every pattern looks new; rates cannot be compared")
    if not streamed:
        keys = [0] * len(observations)
        for window in (False, True):  # the baseline, then the incident: a window of its own (see start_window)
            if window:
                miner.start_window()
            for i, (r, incident, n) in enumerate(observations):
                if incident == window:
                    keys[i] = miner.add(r.message, n)
        assignment = miner.assign()
    if miner.saturated:
        notes.append("logs: too many distinct lines to track each; the rarest share an overflow pattern")
    timelines: dict[str, list[Timed]] = defaultdict(list)
    for key, (r, incident, n) in zip(keys, observations, strict=True):
        pid = assignment[key]
        if mode == "lines":
            timelines[r.service].append((r.timestamp, incident, pid, r))
        if streamed:
            continue
        p = patterns.get((pid, r.service))
        if p is None:
            p = patterns[(pid, r.service)] = _Pattern()
        volume[(r.service, incident)] += n
        if incident:
            p.inc += n
            p.instances[r.instance] += n
            p.first_seen = min(p.first_seen, r.timestamp)
            p.severity = max(p.severity, _severity(r))
            if len(p.exemplars) < EXEMPLARS:
                p.exemplars.append(r)
            if r.trace_id and len(p.traces) < LINKED_TRACES:
                p.traces.add(r.trace_id)
        else:
            p.base += n
        if not p.last or r.timestamp >= p.last[-1].timestamp:
            p.last = [*p.last[-(EXEMPLARS - 1):], r]  # the latest lines, in case its share collapsed
    silences: dict[tuple[int, str], _Silence] = {}
    bursty: set[tuple[int, str]] = set()  # patterns not steady in the baseline, when reading line by line
    if mode == "lines":
        for service, timeline in timelines.items():
            timeline.sort(key=lambda t: t[0])
            found, unsteady = _timeline_stats(timeline)
            silences.update({(pid, service): silence for pid, silence in found.items()})
            bursty.update((pid, service) for pid in unsteady)
    query = {"source": source.describe(), "mode": mode, "window": [ctx.incident.start, ctx.incident.end],
             "baseline": [ctx.baseline.start, ctx.baseline.end], "lines": inc_lines, "baseline_lines": base_lines,
             "patterns": miner.pattern_count}
    findings = []
    new_lines: list[tuple[int, Finding]] = []  # new patterns, to be placed in their code paths
    for (pid, service), p in patterns.items():
        totals = (volume[(service, False)], volume[(service, True)])
        f = _judge(pid, service, p, miner.template(pid), ctx, {**query, "filter": {"service": service}}, totals,
                   bool(base_lines), silences.get((pid, service)), (pid, service) not in bursty)
        if f is not None:
            findings.append(f)
            if f.kind == "log.new_pattern":
                new_lines.append((pid, f))
    if mode == "lines":
        steps: dict[int, str] = {}

        def template(pid: int) -> str:  # asked once per line: masked once per pattern
            step = steps.get(pid)
            if step is None:
                step = steps[pid] = step_of(mask_secrets(miner.template(pid)))
            return step

        lines = [(r, assignment[key], incident) for key, (r, incident, _) in zip(keys, observations, strict=True)]
        errors = {pid for (pid, _), p in patterns.items()
                  if p.severity >= severity_rank("ERROR") or ERROR_WORDS.search(miner.template(pid))}
        flows, flow_notes, placed = flow_findings(source, ctx, lines, template, errors.__contains__, query,
                                                  any("sampl" in n for n in notes))
        notes += flow_notes
        for pid, f in new_lines:  # where in its code path the new line appeared
            where = placed.get((f.service, template(pid)))
            if where is not None:
                assert isinstance(f.details, LogPatternDetails)
                f.details.between, f.details.between_count = (where[0], where[1]), where[2]
                f.details.baseline_successor_count = where[3]
        if ctx.focus:  # a follow-up round's closer look: the code paths of the services it is about
            return SpecialistResult(flows, [*notes, f"follow-up: code paths of {', '.join(ctx.focus)} tested "
                                                    "against the bar for a few services"])
        findings += flows
    findings.sort(key=lambda f: (-f.score, f.service, f.kind, f.resource))
    quiet = _ruled_out({f.service for f in findings}, volume, query)
    return SpecialistResult(findings[:MAX_FINDINGS] + quiet, notes)


def flow_findings(source: TelemetrySource, ctx: AnalysisContext, lines: list[tuple[LogRecord, int, bool]],
                  template: Callable[[int], str], errorish: Callable[[int], bool],
                  query: dict[str, object], sampled_lines: bool = False,
                  ) -> tuple[list[Finding], list[str], dict[tuple[str, str], tuple[str, str, int, int]]]:
    """Broken code paths (log_flows.py): per-request trails of log patterns, the starts of the operations
    that log and the calls they make, baseline against incident; and where each new step sits in its path."""
    if not any(r.trace_id for r, _, _ in lines):
        return [], [], {}
    notes = []
    spans = {}
    sampled = sampled_lines
    for name, window in (("baseline", ctx.baseline), ("incident", ctx.incident)):
        read = source.spans(window)
        spans[name] = read.items
        sampled = sampled or read.sampled
        if read.sampled:
            notes.append(f"traces ({name} window, for code paths): {read.note or 'a sample'}")
    if sampled:  # a sample keeps whole traces, but not the same ones in lines and spans: trails of traces whose
        traced = {r.trace_id for r, _, _ in lines}  # lines were left out would be made of operation starts alone
        spans = {name: [s for s in items if s.trace_id in traced] for name, items in spans.items()}
    spans = comparable_spans(spans)
    logging_spans = {r.span_id for r, _, _ in lines if r.span_id}
    ops = {(s.service, s.name) for items in spans.values() for s in items if s.span_id in logging_spans}
    base = transitions(trails([(r, p) for r, p, inc in lines if not inc], spans["baseline"], ops, template, errorish))
    inc = transitions(trails([(r, p) for r, p, inc in lines if inc], spans["incident"], ops, template, errorish))
    return [_flow_finding(b, query) for b in breaks(base, inc, ctx.focus)[:MAX_FINDINGS]], notes, placements(base, inc)


def _flow_finding(b: FlowBreak, query: dict[str, object]) -> Finding:
    instead = b.instead.label if b.instead is not None else "nothing"
    where = f"after a call to {b.before.callee}" if b.after_call else f"after \u201c{b.before.label[:80]}\u201d"
    title = (f"code path broke in {b.service} {where}: \u201c{b.expected.label[:80]}\u201d follows "
             f"{b.share_since:.0%} of {b.count_since} requests since {_clock(b.first_seen)} (was {b.base_share:.0%}"
             f" of {b.base_count}); now mostly \u201c{instead[:60]}\u201d")
    exemplars = [{"trace_id": t, "service": b.service, "line": f"{b.before.label} -> {instead}"} for t in b.traces]
    widget = Widget(kind="pattern_table", title="broken code path", data={"rows": [
        {"pattern": f"{b.before.label} -> {b.expected.label}", "count": round(b.share_since * b.count_since),
         "baseline_count": round(b.base_share * b.base_count), "first_seen": b.first_seen,
         "services": {b.service: b.count}, "exemplars": [e["line"] for e in exemplars]}]})
    return Finding(
        specialist="logs", kind="log.flow_break", service=b.service,
        resource=f"flow-{stable_id(b.region, length=12)}", title=title[:400], onset=b.first_seen or None,
        magnitude=round(b.drop, 4), score=round(min(0.95, 0.3 + 0.65 * strength(b)), 4),
        query=query, exemplars=exemplars, widget=widget,
        details=LogFlowBreakDetails(
            before=b.before.label, expected=b.expected.label, instead=instead, after_call=b.after_call,
            callee=b.before.callee, count=b.count, baseline_count=b.base_count, share=round(b.share, 4),
            baseline_share=round(b.base_share, 4), count_since_onset=b.count_since,
            share_since_onset=round(b.share_since, 4), p_value=b.p_value, instances=dict(b.instances),
            traces=list(b.traces)))


def step_of(template: str) -> str:
    """A log pattern as a step of a code path: its constant lead up to the first variable when that says enough
    (a logger's code location, a fixed message start), so that one statement split into two patterns by the
    shapes of its values stays one step."""
    lead = template.split("<*>", 1)[0].strip()
    return (lead if len(lead.split()) >= MIN_STEP_WORDS else template)[:160]


def _timeline_stats(timeline: list[Timed]) -> tuple[dict[int, _Silence], set[int]]:
    """Over one service's time-ordered lines: per pattern, its longest silence mostly inside the incident window
    when chance cannot explain it and the pattern was steady outside it; and the patterns that were not steady
    within the baseline."""
    n = len(timeline)
    in_incident = [0, *accumulate(int(t[1]) for t in timeline)]
    n_base = n - in_incident[-1]
    positions: dict[int, list[int]] = defaultdict(list)
    for i, t in enumerate(timeline):
        positions[t[2]].append(i)
    out: dict[int, _Silence] = {}
    unsteady = set()
    for pid, pos in positions.items():
        in_base = [i for i in pos if not timeline[i][1]]
        if in_base and not _spread(in_base, n_base):
            unsteady.add(pid)
        k = len(pos)
        if k < MIN_STOP:
            continue
        best: tuple[int, int, int] | None = None  # (lines inside, last occurrence before, next occurrence)
        for a, b in zip(pos, [*pos[1:], n], strict=True):
            m = b - a - 1
            if m >= MIN_SILENCE and (best is None or m > best[0]) and 2 * (in_incident[b] - in_incident[a + 1]) >= m:
                best = (m, a, b)
        if best is None:
            continue
        m, a, b = best
        others = [pos[0], *(y - x - 1 for x, y in zip(pos, [*pos[1:], n], strict=True) if x != a)]
        if m < SILENCE_FACTOR * max(others):
            continue
        p_value = min(1.0, (k + 1) * math.exp(math.lgamma(n - m + 1) - math.lgamma(n - m - k + 1)
                                               - math.lgamma(n + 1) + math.lgamma(n - k + 1)))
        if p_value > STOP_P or not _spread([i if i <= a else i - m for i in pos], n - m):
            continue
        j = pos.index(a)
        before = tuple(timeline[i][3] for i in pos[max(0, j - EXEMPLARS + 1):j + 1])
        out[pid] = _Silence(m, n, k, p_value, timeline[a + 1][0], timeline[b][0] if b < n else None, before)
    return out, unsteady


def _spread(pos: list[int], n: int) -> bool:
    """Were these positions among n lines spread out (not one burst)? Cut the lines into equal slices: a steady
    pattern occurs in at least a third of them."""
    slices = min(STEADY_SLICES, len(pos))
    occupied = {i * slices // n for i in pos}
    return len(occupied) * 3 >= slices


def _judge(pid: int, service: str, p: _Pattern, template: str, ctx: AnalysisContext, query: dict[str, object],
           totals: tuple[int, int], have_baseline: bool, silence: _Silence | None, steady: bool) -> Finding | None:
    inc_s = ctx.incident.seconds
    base_total, inc_total = totals
    errorish = p.severity >= severity_rank("ERROR") or bool(ERROR_WORDS.search(template))
    warnish = p.severity >= severity_rank("WARNING")
    weight = 1.0 if errorish else (0.75 if warnish else 0.45)
    details = LogPatternDetails(ratio=None, p_value=None)  # what the test that judged it measured, below
    exemplars = p.exemplars
    onset = p.first_seen
    if p.inc and p.base == 0 and p.inc >= MIN_NEW and have_baseline:
        p_value = rate_increase_p(p.inc, 0, *_exposures(totals, ctx))
        if p_value > NEW_P and not errorish:
            return None
        kind = "log.new_pattern"
        sure = min(1.0, -math.log10(max(p_value, 1e-300)) / NEW_SURE)
        doubt = 0.2 if errorish else 0.4
        # a service that logged nothing in the baseline makes every pattern new: weaker evidence
        score = (weight * (0.55 + 0.4 * squash(p.inc, 15.0)) * (1.0 - doubt * (1.0 - sure))
                 * (1.0 if base_total >= MIN_NEW else 0.8))
        magnitude = float(p.inc)
        details.p_value = p_value
        title = f"new {'error ' if errorish else ''}pattern in {service}: {shorten(template, 140)}"
    elif p.inc >= MIN_SPIKE and p.base > 0 and (spike := _spike(p, totals, ctx)) is not None:
        kind = "log.spike"
        ratio, p_value = spike
        details.ratio, details.p_value = ratio, p_value
        score = weight * (0.35 + 0.45 * squash(ratio - 1, 10.0))
        magnitude = ratio
        title = f"pattern x{ratio:.1f} in {service}: {shorten(template, 140)}"
    elif errorish:
        return None  # an error pattern that went quiet is recovery, not a fault
    elif silence is not None:
        kind = "log.drop"
        evidence = -math.log10(max(silence.p_value, 1e-300)) + math.log10(STOP_P)
        score = 0.3 + 0.3 * squash(evidence, 6.0)  # absence is weaker evidence than a new error
        magnitude = silence.expected
        details.ratio, details.p_value, details.silent_lines = 0.0, silence.p_value, silence.lines
        details.expected_in_silence, details.silent_from = round(silence.expected, 1), silence.start
        details.silent_until, details.last_seen = silence.end, silence.before[-1].timestamp
        title = (f"code path stopped logging in {service} from {_clock(silence.start)}: none in its next "
                 f"{silence.lines} lines, ~{silence.expected:.0f} expected: {shorten(template, 110)}")
        onset, exemplars = max(silence.start, ctx.incident.start), list(silence.before)
    elif p.base >= MIN_GONE and inc_total >= MIN_GONE and base_total and steady:
        # No steady silence (or counts only): the pattern's share of its service's lines collapsed.
        expected = p.base / base_total * inc_total
        z = two_proportion_z(p.inc, inc_total, p.base, base_total)
        if expected < MIN_GONE / 2 or z < DROP_Z or p.inc > expected / 4:
            return None
        kind, magnitude = "log.drop", expected
        details.ratio, details.z = p.inc / expected, round(z, 2)
        score = 0.25 + 0.25 * squash(z - DROP_Z + 1, 4.0)
        title = f"pattern fell to {p.inc} from ~{expected:.0f} expected in {service}: {shorten(template, 120)}"
        onset, exemplars = ctx.incident.start, p.last
    else:
        return None
    shown = [{"timestamp": r.timestamp, "service": r.service, "instance": r.instance, "severity": r.severity,
              "trace_id": r.trace_id, "line": mask_secrets(r.message)[:1000]} for r in exemplars]
    details.template, details.count, details.baseline_count = mask_secrets(template), p.inc, p.base
    details.rate = round(p.inc / inc_s * 60, 3) if inc_s else None
    details.severity, details.errorish, details.first_seen = SEVERITIES[min(p.severity, 8)], errorish, _finite(
        p.first_seen)
    details.baseline_lines, details.lines, details.instances = base_total, inc_total, dict(p.instances.most_common(5))
    details.trace_ids = sorted(p.traces)
    widget = Widget(kind="pattern_table", title="log pattern", data={"rows": [{
        "pattern": details.template, "count": p.inc, "baseline_count": p.base, "first_seen": _finite(p.first_seen),
        "services": {service: p.inc}, "exemplars": [e["line"] for e in shown]}]})
    return Finding(
        specialist="logs", kind=kind, service=service, resource=f"pattern-{pid}", title=mask_secrets(title),
        onset=_finite(onset), magnitude=round(float(magnitude), 4), score=round(min(score, 0.97), 4),
        query=query, exemplars=shown, widget=widget, details=details)


def _spike(p: _Pattern, totals: tuple[int, int], ctx: AnalysisContext) -> tuple[float, float] | None:
    """(ratio, p-value) of a significant rate increase, against the service's own volume so that a busier
    incident window is not a spike of every pattern (the windows' lengths when a volume is missing)."""
    exposure, base_exposure = _exposures(totals, ctx)
    p_value = rate_increase_p(p.inc, p.base, exposure, base_exposure)
    ratio = (p.inc / exposure) / (p.base / base_exposure)
    if p_value > SPIKE_P or ratio < SPIKE_RATIO:
        return None
    return round(ratio, 4), p_value


def _exposures(totals: tuple[int, int], ctx: AnalysisContext) -> tuple[float, float]:
    """(incident, baseline) exposure of a service: its line volumes, or the windows' lengths when one is empty."""
    base_total, inc_total = totals
    if base_total and inc_total:
        return float(inc_total), float(base_total)
    return ctx.incident.seconds, ctx.baseline.seconds


def _ruled_out(noisy: set[str], volume: Counter[tuple[str, bool]], query: dict[str, object]) -> list[Finding]:
    """The checked hypothesis "this service's logs changed", found empty, for the busiest services with enough
    lines in both windows that a new or spiking pattern would have shown."""
    services = sorted({s for s, _ in volume} - noisy, key=lambda s: (-volume[(s, True)], s))
    out: list[Finding] = []
    for s in services:
        base, inc = volume[(s, False)], volume[(s, True)]
        if min(base, inc) >= RULE_OUT_LINES and len(out) < MAX_RULED_OUT:
            out.append(Finding(
                specialist="logs", kind="log.none", service=s, ruled_out=True,
                title=f"no new, spiking or stopped log patterns in {s} ({inc} lines in the incident window, "
                      f"{base} in the baseline)",
                query={**query, "filter": {"service": s}}, details=QuietLogsDetails(lines=inc, baseline_lines=base)))
    return out


def _finite(t: float) -> float | None:
    return t if math.isfinite(t) else None


def _clock(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%H:%M:%S")

