"""Each executed action's recovery check as the text report, the web page and the postmortem show it: what was done,
the verdict, and the numbers it rests on (or that the check is still to come)."""

from __future__ import annotations

from dataclasses import dataclass

from agents.remediation.catalog import action_title
from shared.incident_state import IncidentState
from shared.models import RecoveryEvidence


@dataclass(frozen=True)
class RecoveryLine:
    action: str  # "rollback_cloud_run on cart"
    outcome: str  # recovered | not_recovered | inconclusive | pending
    verdict: str  # the check's sentence
    numbers: str  # the evidence, one line ("" while pending)


def recovery_lines(state: IncidentState) -> list[RecoveryLine]:
    """Every executed action, checked or not yet."""
    out = []
    for pid, execution, proposal in state.executed_actions:
        action = f"{action_title(proposal.action)} on {proposal.service}"
        verified = state.verified.get(pid)
        if verified is None:
            out.append(RecoveryLine(action, "pending", execution.verification or "pending", ""))
        else:
            out.append(RecoveryLine(action, verified.result, verified.verdict, numbers(verified.evidence)))
    return out


def _n(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def numbers(e: RecoveryEvidence | None) -> str:
    if e is None:
        return ""
    source = "the alert threshold" if e.line_from == "threshold" else "halfway incident-baseline"
    line = f"; line {_n(e.line)} ({source})" if e.line is not None else ""
    return (f"after the action: {e.points_after} points in {e.window_s / 60:.0f} min, mean {_n(e.after_mean)}, last "
            f"{', '.join(_n(v) for v in e.after_last) or '-'}; incident mean {_n(e.incident_mean)}, peak "
            f"{_n(e.incident_peak)}; baseline mean {_n(e.baseline_mean)}{line}"
            + ("; dry run" if e.dry_run else ""))
