"""What a report had to go on: per signal, whether its incident window and its baseline held data.

Derived from what the specialists already report (no extra read): a specialist whose window read returned nothing
says so in a note ("no ... in the incident window", "no baseline ..."); the changes specialist's findings say
whether any change fell in its window (a lone `change.none` means none did). A specialist that failed or did not
answer leaves its signal unknown.
"""

from __future__ import annotations

import re

from shared.incident_state import IncidentState
from shared.models import SPECIALISTS, Finding, SignalCoverage

_INCIDENT_EMPTY = re.compile(r"^no\b.*\bin the (?:baseline or )?incident window", re.IGNORECASE)
_BASELINE_EMPTY = re.compile(r"^no baseline\b|^no\b.*\bin the baseline\b", re.IGNORECASE)


def signal_coverage(notes: list[str], findings: list[Finding], specialist: str) -> SignalCoverage:
    """One completed specialist's coverage from its notes (and, for changes, its findings)."""
    if specialist == "changes":  # no baseline: what changed shortly before the incident is the evidence itself
        found = any(f.kind != "change.none" for f in findings)
        return SignalCoverage(incident=found, note="" if found else "no change recorded in the window read")
    empty_incident = [n for n in notes if _INCIDENT_EMPTY.search(n)]
    empty_baseline = [n for n in notes if _BASELINE_EMPTY.search(n)]
    baseline: bool | None = not empty_baseline
    if empty_incident and not empty_baseline:
        baseline = None  # the specialist stopped at the empty incident window
    return SignalCoverage(incident=not empty_incident, baseline=baseline,
                          note="; ".join(dict.fromkeys(empty_incident + empty_baseline)))


def coverage_of(state: IncidentState, number: int) -> dict[str, SignalCoverage]:
    """Per signal the report's investigation read, from the first of its rounds each specialist reported in (the
    broad read; a follow-up round reads a few services only)."""
    out: dict[str, SignalCoverage] = {}
    rounds = state.investigation(number)
    for name in SPECIALISTS:
        if not any(name in r.specialists for r in rounds):
            continue
        done = next((r for r in rounds if name in r.completed), None)
        if done is None:
            failed = next((r.failed[name] for r in rounds if name in r.failed), None)
            reason = "no answer before the deadline" if failed is None else f"failed: {failed.strip()[:200]}"
            out[name] = SignalCoverage(note=f"unknown ({reason})")
            continue
        findings = [state.findings[i] for i in done.completed[name] if i in state.findings]
        out[name] = signal_coverage(done.notes.get(name, []), findings, name)
    return out


def coverage_line(signal: str, c: SignalCoverage) -> str:
    """One line of the report's COVERAGE section."""
    def said(v: bool | None) -> str:
        return {True: "data", False: "EMPTY", None: "unknown"}[v]

    text = f"{signal}: incident window {said(c.incident)}"
    if signal != "changes":
        text += f", baseline {said(c.baseline)}"
    return text + (f" ({c.note})" if c.note else "")
