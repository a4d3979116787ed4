"""Plain-text rendering of a report and of pipeline progress, for the terminal."""

from __future__ import annotations

import sys
import textwrap
import time
from typing import TYPE_CHECKING, TextIO

from agents.remediation.catalog import action_title
from functions.report_view import ReportView, confidence_text, evidence_text, view_of
from shared.analysis_events import ReportPublished, SpecialistCompleted, SpecialistFailed
from shared.core_models import Event
from shared.events import payload_of
from shared.incident_state import IncidentState
from shared.lifecycle_events import AlertReceived, AlertRejected, IncidentOpened, IncidentResolved, RoundStarted
from shared.models import DETAILED_CAUSES, Finding, Report

if TYPE_CHECKING:
    from agents.reporting.runbooks import Citation
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
    if isinstance(p, IncidentOpened):
        return f"incident {incident_id} opened ({p.alert.policy_name})"
    if isinstance(p, AlertReceived):
        return f"alert {p.alert.state}: {p.alert.summary[:80]}"
    if isinstance(p, AlertRejected):
        return f"alert rejected ({p.reason}): {p.error[:100]}"
    if isinstance(p, RoundStarted):
        return f"round {p.round}: dispatching {', '.join(p.specialists)}" + (
            f" for a closer look at {', '.join(p.focus)}" if p.focus else "")
    if isinstance(p, SpecialistCompleted):
        return (f"  {p.specialist:<8} done: {len(p.finding_ids)} findings in {p.seconds:.2f}s"
                + (f" ({'; '.join(p.notes)})" if p.notes else ""))
    if isinstance(p, SpecialistFailed):
        return f"  {p.specialist:<8} FAILED: {p.error}"
    if isinstance(p, ReportPublished):
        return "report published" + (" (partial)" if p.report.partial else "")
    if isinstance(p, IncidentResolved):
        return "incident resolved"
    return None


def _span(start: float, end: float) -> str:
    return f"{_ts(start)} to {_ts(end)} ({(end - start) / 60:.0f} min)"


def render_report(state: IncidentState, report: Report, width: int = 100, warnings: list[str] | None = None,
                  no_data: bool = False) -> str:
    """The report as text. What it was built without (failed or late specialists) and the `warnings` (e.g. no
    telemetry in its windows) come first, before any cause, so a partial answer never reads as a whole one."""
    return render_view(state, report, view_of(state, report, warnings, no_data), width)


def render_view(state: IncidentState, report: Report, view: ReportView, width: int = 100) -> str:
    findings = state.findings
    out: list[str] = []
    bar = "=" * width
    missing = view.built_without
    out += [bar, f"INCIDENT {report.incident_id}  round {report.round}" + ("  [PARTIAL]" if view.partial else ""),
            bar]
    if missing:
        out.append(f"PARTIAL REPORT: built without {len(missing)} of {view.specialists or '?'} "
                   "specialists; the causes below rest on the others only:")
        out += [f"  - {line}" for line in missing]
    elif view.partial:
        out.append("PARTIAL REPORT: see the warnings below")
    for warning in view.warnings:
        out += textwrap.wrap(f"WARNING: {warning}", width, subsequent_indent="  ")
    alert = state.first_alert
    if alert:
        out.append(f"Alert:   {alert.policy_name} / {alert.condition_name} on {alert.service or '-'}")
    out.append(f"Alert started: {_ts(report.onset) if alert is None or alert.started_at is not None else 'unknown'}"
               f"    Status: {state.status}")
    from functions.slo_view import slo_lines

    for line in slo_lines(state, report):
        out += _wrap(f"SLO burn: {line}", "", width, hang=10)
    if view.windows is not None:
        out.append(f"Incident window: {_span(*view.windows.incident)}")
        out.append(f"Baseline window: {_span(*view.windows.baseline)}")
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
    from functions.runbook_view import citations

    cited = citations(state, report)
    shown: list[str] = []  # long titles already printed: later lines point back instead of repeating them
    for cause in report.causes[:DETAILED_CAUSES]:
        out.append(f"  #{cause.rank} {cause.service}"
                   + (f" [{cause.resource}]" if cause.resource else "")
                   + f"  evidence score {cause.score:.2f}, {confidence_text(cause.confidence)}  ({cause.kind})")
        out += _wrap(cause.title, "     ", width)
        shown.append(cause.title)
        for c in (c for c in cited if c.cause_rank == cause.rank):
            out += _wrap(f"runbook: {c.runbook.title} ({_where(c)}; {c.why})", "     ", width, hang=9)
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
            out += _wrap(f"#{cause.rank} {cause.service}  evidence score {cause.score:.2f}, "
                         f"{confidence_text(cause.confidence)}: {_elide(cause.title, shown)}", "  ", width, hang=4)
    if report.steering:
        out += ["", "WHAT RESPONDERS' HINTS CHANGED"]
        for line in report.steering:
            out += _wrap(f"- {line}", "  ", width, hang=2)
    if report.ruled_out:
        out.append("")
        out.append("RULED OUT")
        for r in report.ruled_out[:10]:
            out += _wrap(f"- {r.service or '(all)'}: {_elide(r.reason, shown)}", "  ", width, hang=2)
    out += runbook_lines(state, cited, width)
    out += recovery_text(state, width)
    out += similar_lines(report, width)
    if view.coverage or view.notes:  # failed and late specialists are at the top
        out += ["", "COVERAGE"]
        for line in [*view.coverage, *(n for n in view.notes if n not in view.coverage)]:
            out += _wrap(line, "  ", width, hang=2)
    out += cost_lines(report, width)
    out.append(bar)
    return "\n".join(out)


def _where(c: Citation) -> str:
    from functions.runbook_view import where

    return where(c.runbook)


def runbook_lines(state: IncidentState, cited: list[Citation], width: int = 100) -> list[str]:
    """The RUNBOOKS section: the runbooks cited on each proposed action, and the alert policy's documentation."""
    out: list[str] = []
    for c in cited:
        p = state.proposals.get(c.proposal_id)
        if p is not None:
            out += _wrap(f"- for {action_title(p.action)} on {p.service}: {c.runbook.title} ({_where(c)}; {c.why})",
                         "  ", width, hang=2)
    doc = next((c.runbook for c in cited if c.runbook.source == "alert" and c.runbook.excerpt), None)
    if doc is not None:
        out += _wrap(f"- {doc.title}: {' '.join(doc.excerpt.split())}", "  ", width, hang=2)
    return ["", "RUNBOOKS", *out] if out else []


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
    return f"[{fid}] {evidence_text(finding, fid)}"


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


def recovery_text(state: IncidentState, width: int = 100) -> list[str]:
    """The RECOVERY CHECK section: each executed action's verdict and its numbers."""
    from functions.recovery_view import recovery_lines

    lines = recovery_lines(state)
    if not lines:
        return []
    out = ["", "RECOVERY CHECK"]
    for r in lines:
        out += _wrap(f"- {r.action}: {r.verdict}", "  ", width, hang=2)
        if r.numbers:
            out += _wrap(r.numbers, "    ", width, hang=2)
    return out


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
