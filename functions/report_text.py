"""Plain-text rendering of a report and of pipeline progress, for the terminal."""

from __future__ import annotations

import sys
import textwrap
import time
from typing import TextIO

from agents.reporting.coverage import coverage_line
from shared import events as ev
from shared.events import payload_of
from shared.incident_state import IncidentState
from shared.models import DETAILED_CAUSES, Event, Finding, Report
from shared.timefmt import utc_text

_ts = utc_text


def on_terminal(stream: TextIO | None = None) -> bool:
    """Is the stream (default: stderr) a terminal? Progress goes only there: a pipe or a file gets the result."""
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    return bool(callable(isatty) and isatty())


class Progress:
    """An observer for Pipeline events that prints one line per step as it happens: to `out` when given, else to
    stderr when stderr is a terminal (nothing otherwise)."""

    def __init__(self, out: TextIO | None = None):
        self.out = out
        self.began = time.perf_counter()

    def __call__(self, event: Event) -> None:
        if self.out is None and not on_terminal():
            return
        line = _progress_line(event.incident_id, payload_of(event))
        if line is not None:
            elapsed = time.perf_counter() - self.began
            out = self.out or sys.stderr
            out.write(f"[{elapsed:6.2f}s] {line}\n")
            out.flush()


def _progress_line(incident_id: str, p: object) -> str | None:
    if isinstance(p, ev.IncidentOpened):
        return f"incident {incident_id} opened ({p.alert.policy_name})"
    if isinstance(p, ev.AlertReceived):
        return f"alert {p.alert.state}: {p.alert.summary[:80]}"
    if isinstance(p, ev.AlertRejected):
        return f"alert rejected ({p.reason}): {p.error[:100]}"
    if isinstance(p, ev.RoundStarted):
        return f"round {p.round}: dispatching {', '.join(p.specialists)}" + (
            f" for a closer look at {', '.join(p.focus)}" if p.focus else "")
    if isinstance(p, ev.SpecialistCompleted):
        return (f"  {p.specialist:<8} done: {len(p.finding_ids)} findings in {p.seconds:.2f}s"
                + (f" ({'; '.join(p.notes)})" if p.notes else ""))
    if isinstance(p, ev.SpecialistFailed):
        return f"  {p.specialist:<8} FAILED: {p.error}"
    if isinstance(p, ev.ReportPublished):
        return "report published" + (" (partial)" if p.report.partial else "")
    if isinstance(p, ev.IncidentResolved):
        return "incident resolved"
    return None


def incomplete_lines(report: Report) -> list[str]:
    """One line per specialist the report was built without, and why ([] for a complete report)."""
    lines = [f"{name}: failed: {err.strip().splitlines()[0] if err.strip() else 'no reason given'}"[:300]
             for name, err in report.failed_specialists.items()]
    lines += [f"{name}: no answer before the deadline" for name in report.missing_specialists]
    return lines


def _span(start: float, end: float) -> str:
    return f"{_ts(start)} to {_ts(end)} ({(end - start) / 60:.0f} min)"


def render_report(state: IncidentState, report: Report, width: int = 100, warnings: list[str] | None = None) -> str:
    """The report as text. What it was built without (failed or late specialists) and the `warnings` (e.g. no
    telemetry in its windows) come first, before any cause, so a partial answer never reads as a whole one."""
    findings = state.findings
    out: list[str] = []
    bar = "=" * width
    missing = incomplete_lines(report)
    out += [bar, f"INCIDENT {report.incident_id}  round {report.round}"
            + ("  [PARTIAL]" if report.partial or missing else ""), bar]
    if missing:
        out.append(f"PARTIAL REPORT: built without {len(missing)} of "
                   f"{len(state.rounds[report.round].specialists) if report.round in state.rounds else '?'} "
                   "specialists; the causes below rest on the others only:")
        out += [f"  - {line}" for line in missing]
    for warning in warnings or []:
        out += textwrap.wrap(f"WARNING: {warning}", width, subsequent_indent="  ")
    alert = state.first_alert
    if alert:
        out.append(f"Alert:   {alert.policy_name} / {alert.condition_name} on {alert.service or '-'}")
    out.append(f"Alert started: {_ts(report.onset) if alert is None or alert.started_at is not None else 'unknown'}"
               f"    Status: {state.status}")
    rnd = state.rounds.get(report.round)
    if rnd is not None:
        w = rnd.window
        out.append(f"Incident window: {_span(w.start, w.end)}")
        out.append(f"Baseline window: {_span(w.baseline_start, w.baseline_end)}")
    out.append("")
    out.append(report.headline)
    out += textwrap.wrap(report.summary, width)
    if report.narrative:
        out += ["", "Narrative (model-written, grounded in the cited findings):"]
        out += textwrap.wrap(report.narrative, width)
    else:
        out.append(f"(no LLM used: {report.llm.get('reason', 'deterministic analysis')})")
    out.append("")
    out.append("RANKED CAUSES")
    shown: list[str] = []  # long titles already printed: later lines point back instead of repeating them
    for cause in report.causes[:DETAILED_CAUSES]:
        out.append(f"  #{cause.rank} {cause.service}"
                   + (f" [{cause.resource}]" if cause.resource else "")
                   + f"  score {cause.score:.2f}  confidence {cause.confidence:.0%}  ({cause.kind})")
        out += _wrap(cause.title, "     ", width)
        shown.append(cause.title)
        if cause.inner:  # what broke inside the service, strongest first
            first, *rest = cause.inner
            out += _wrap(f"inside: {first.kind.replace('_', ' ')} {first.name} ({first.confidence:.0%}): {first.detail}"
                         + "".join(f"; or {c.kind.replace('_', ' ')} {c.name} ({c.confidence:.0%})" for c in rest),
                         "     ", width, hang=8)
        for step in cause.chain:
            out += _wrap(f"{step.role:>11}: {step.service}: {_elide(step.statement, shown)}", "     ", width,
                         hang=18)
            for fid in step.evidence[:4]:
                out += _wrap(f"- {_cite(findings.get(fid), fid)}", " " * 18, width, hang=2)
    if not report.causes:
        out.append("  (no cause found: see the specialists' notes)")
    if len(report.causes) > DETAILED_CAUSES:
        out += ["", "THE REST OF THE RANKING (anomalous, weaker evidence)"]
        for cause in report.causes[DETAILED_CAUSES:]:
            out += _wrap(f"#{cause.rank} {cause.service}  score {cause.score:.2f}  confidence {cause.confidence:.0%}: "
                         f"{_elide(cause.title, shown)}", "  ", width, hang=4)
    if report.ruled_out:
        out.append("")
        out.append("RULED OUT")
        for r in report.ruled_out[:10]:
            out += _wrap(f"- {r.service or '(all)'}: {_elide(r.reason, shown)}", "  ", width, hang=2)
    out += similar_lines(report, width)
    notes = [(name, n) for rnd in state.rounds.values() for name, ns in rnd.notes.items() for n in ns]
    if notes or report.coverage:  # failed and late specialists are at the top
        out.append("")
        out.append("COVERAGE")
        for signal, c in report.coverage.items():  # per signal: did its incident window and baseline hold data
            out += _wrap(f"COVERAGE {coverage_line(signal, c)}", "  ", width, hang=2)
        for name, n in notes:
            out += _wrap(f"{name}: {n}", "  ", width, hang=2)
    out += cost_lines(report, width)
    out.append(bar)
    return "\n".join(out)


def cost_lines(report: Report, width: int = 100) -> list[str]:
    """The COST section: the investigation's read ledger in total and per specialist, and the estimate."""
    from shared.cost_ledger import summary_line

    if report.cost is None:
        return []
    out = ["", "COST"]
    out += _wrap(f"total: {summary_line(report.cost)}", "  ", width, hang=2)
    for name, c in report.cost.specialists.items():
        out += _wrap(f"{name}: {c.text()}, {c.bytes_billed} bytes billed"
                     + (f", {c.refused} refused ({c.cap})" if c.refused else ""), "  ", width, hang=2)
    return out


def _cite(finding: Finding | None, fid: str) -> str:
    if finding is None:
        return fid
    return f"[{fid}] {finding.specialist}/{finding.kind}: {_shorten(finding.title, 160)}"


def _shorten(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary with an ellipsis (never mid-word)."""
    return text if len(text) <= limit else textwrap.shorten(text, limit, placeholder=" …")


def _wrap(text: str, indent: str, width: int, hang: int = 0) -> list[str]:
    """`text` in lines of at most `width` characters, continued `hang` characters further in."""
    return textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=indent + " " * hang,
                         break_on_hyphens=False) or [indent.rstrip()]


def _elide(text: str, shown: list[str]) -> str:
    """A long title already printed above is not printed again: the line points back to it."""
    for title in shown:
        if len(title) > 40 and title in text:
            text = text.replace(title, "(the finding above)")
    return text


def similar_lines(report: Report, width: int = 100) -> list[str]:
    """The SIMILAR PAST INCIDENTS section: each with its root cause, what was done and whether it worked."""
    if not report.similar:
        return []
    out = ["", "SIMILAR PAST INCIDENTS"]
    for s in report.similar:
        out.append(f"  - {s.incident_id}  similarity {s.similarity:.0%}  opened {_ts(s.opened_at)}")
        out += textwrap.wrap(f"root cause: {s.root_cause or '(none named)'}", width, initial_indent="      ",
                             subsequent_indent="        ")
        done = "; ".join(s.actions) if s.actions else "no action approved"
        worked = {True: "yes", False: "no", None: "unknown"}[s.worked]
        out += textwrap.wrap(f"done: {done}", width, initial_indent="      ", subsequent_indent="        ")
        out += textwrap.wrap(f"worked: {worked}" + (f" ({s.verdict})" if s.verdict else ""), width,
                             initial_indent="      ", subsequent_indent="        ")
        if s.shared:
            out.append(f"      alike in: {', '.join(s.shared)}"[:width])
    return out
