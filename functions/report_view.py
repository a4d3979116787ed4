"""What a report says beyond its causes, computed once for the text report, the web page and `--json`: whether it
is partial, what it was built without, its warnings and coverage notes, the windows it read, and each piece of
evidence as a sentence (never a bare finding id). The three renderings tell one story because they read this."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agents.reporting.coverage import coverage_line
from shared.incident_state import IncidentState, RoundState
from shared.models import Finding, Report, SignalCoverage
from shared.textfmt import shorten
from shared.timefmt import utc_text


@dataclass(frozen=True)
class Windows:
    incident: tuple[float, float]
    baseline: tuple[float, float]
    onset: float


@dataclass(frozen=True)
class ReportView:
    partial: bool  # a specialist failed or gave no answer, or there was no telemetry to answer from
    built_without: list[str]  # one line per specialist the report was built without, and why
    specialists: int  # how many the round asked (0: unknown)
    warnings: list[str]  # what makes the report weaker than it looks (no data in a window, corrupt lines, ...)
    notes: list[str]  # what to know about the data read: a signal's empty window, sampling, corrupt lines skipped
    coverage: list[str]  # per signal: did its incident window and baseline hold data
    windows: Windows | None
    alert_started: float | None = None  # the alert's own clock: every time on the report reads against it
    evidence: dict[str, str] = field(default_factory=dict)  # finding id -> its sentence


def built_without(report: Report) -> list[str]:
    """One line per specialist the report was built without, and why ([] for a complete report)."""
    lines = [f"{name}: failed: {err.strip().splitlines()[0] if err.strip() else 'no reason given'}"[:300]
             for name, err in report.failed_specialists.items()]
    lines += [f"{name}: no answer before the deadline" for name in report.missing_specialists]
    return lines


def evidence_text(finding: Finding | None, fid: str, limit: int = 160) -> str:
    """A piece of evidence as a sentence: who found it, what kind, what it says."""
    if finding is None:
        return f"{fid} (not in this incident's findings)"
    return f"{finding.specialist}/{finding.kind}: {shorten(finding.title, limit)}"


def no_start_time(onset: float) -> str:
    """The warning for an alert without a start time (one text for the triage's check and the page)."""
    return (f"the alert has no start time (started_at): its windows were placed around the time of triage, "
            f"{utc_text(onset)}, not around the incident")


def read_nothing(window: str, start: float, end: float) -> str:
    return (f"no telemetry in the {window} window ({utc_text(start)} to {utc_text(end)}): no specialist read a log "
            "line, span or metric point in it" + (": nothing could be analysed (is the alert's start time right?)"
                                                 if window == "incident" else ": nothing to compare the incident with"))


def from_the_log(state: IncidentState, report: Report, rnd: RoundState) -> tuple[list[str], bool]:
    """The warnings the incident's own events support, for an incident no triage checked against its data (the
    Google Cloud pipeline records no check): an alert without a start time, and windows in which every signal the
    specialists read was empty (their coverage). Returns them and whether the report had no data at all."""
    out: list[str] = []
    alert, w = state.first_alert, rnd.window
    if alert is not None and alert.started_at is None:
        out.append(no_start_time(w.onset))
    if any(x.startswith("no telemetry in the") for x in rnd.warnings) or rnd.no_data:
        return out, False  # a triage checked the windows against the data itself
    signals = {k: c for k, c in report.coverage.items() if k != "changes"}
    no_data = bool(signals) and all(c.incident is False for c in signals.values()) and \
        report.coverage.get("changes", SignalCoverage()).incident is not True
    if no_data:
        out.append(read_nothing("incident", w.start, w.end))
    elif signals and all(c.baseline is False for c in signals.values()):
        out.append(read_nothing("baseline", w.baseline_start, w.baseline_end))
    return out, no_data


def view_of(state: IncidentState, report: Report, warnings: list[str] | None = None,
            no_data: bool = False) -> ReportView:
    """`warnings` and `no_data`: what a triage's check found beside the report (functions/local.py `check`);
    without them, what the incident's log recorded of it (`report.checked`)."""
    missing = built_without(report)
    rnd = state.rounds.get(report.round)
    if rnd is not None:
        warnings = list(warnings if warnings is not None else rnd.warnings)
        derived, empty = from_the_log(state, report, rnd) if not no_data else ([], False)
        warnings += [d for d in derived if d not in warnings]
        no_data = no_data or rnd.no_data or empty
    notes = [coverage_line(signal, c) for signal, c in report.coverage.items()
             if c.note or c.incident is False or c.baseline is False]
    notes += [f"{name}: {n}" for r in state.rounds.values() for name, ns in r.notes.items() for n in ns]
    windows = None
    if rnd is not None:
        w = rnd.window
        windows = Windows((w.start, w.end), (w.baseline_start, w.baseline_end), w.onset)
    alert = state.first_alert
    cited = {fid for c in report.causes for fid in [*c.evidence, *(e for s in c.chain for e in s.evidence)]}
    return ReportView(
        partial=bool(report.partial or missing or no_data), built_without=missing,
        specialists=len(rnd.specialists) if rnd is not None else 0, warnings=list(warnings or []), notes=notes,
        coverage=[coverage_line(signal, c) for signal, c in report.coverage.items()],
        windows=windows, alert_started=alert.started_at if alert else None,
        evidence={fid: evidence_text(state.findings.get(fid), fid, 400) for fid in sorted(cited)})


def report_json(state: IncidentState, report: Report, view: ReportView) -> dict[str, Any]:
    """The report as `--json` prints it: the report itself, with the partial flag, warnings, notes, windows and
    every cited finding (its text and query) beside it, as the text report and the web page show them."""
    out: dict[str, Any] = report.model_dump(mode="json")
    w = view.windows
    out.update({
        "partial": view.partial, "built_without": view.built_without, "warnings": view.warnings,
        "notes": view.notes,
        "windows": None if w is None else {"incident": list(w.incident), "baseline": list(w.baseline),
                                           "onset": w.onset},
        "alert_started_at": view.alert_started,
        "evidence": {fid: {"text": text, **_finding_json(state.findings.get(fid))}
                     for fid, text in view.evidence.items()},
    })
    return out


def _finding_json(f: Finding | None) -> dict[str, Any]:
    if f is None:
        return {}
    return {"specialist": f.specialist, "kind": f.kind, "service": f.service, "title": f.title, "score": f.score,
            "onset": f.onset, "query": f.query}


def confidence_text(confidence: float) -> str:
    """'confidence 95%'; a cause the calibration gives under 1% says so rather than a bare '0%'."""
    return f"confidence {confidence:.0%}" if confidence >= 0.005 else "confidence under 1%"


def plural(n: int, one: str, many: str | None = None) -> str:
    """'1 finding', '3 findings'."""
    return f"{n} {one if n == 1 else many or one + 's'}"
