"""The alerting service's SLO burn as the report's header shows it: per SLO, the burn rate over 5 min, 1 h and
6 h and the error budget left (from the metrics analyst's `slo.burn` findings)."""

from __future__ import annotations

from shared.finding_details import SloBurnDetails
from shared.incident_state import IncidentState
from shared.models import Report
from shared.slo import window_text


def slo_lines(state: IncidentState, report: Report) -> list[str]:
    """One line per SLO of the alerting service the report's round read, in SLO order."""
    ids = set(report.finding_ids)
    found = sorted((f for fid, f in state.findings.items() if f.kind == "slo.burn" and fid in ids),
                   key=lambda f: f.resource)
    out = []
    for f in found:
        d = f.details
        assert isinstance(d, SloBurnDetails)
        burns = " · ".join(f"{window_text(w)} {'-' if r is None else f'{r:.1f}x'}" for w, r in d.burn)
        left = "unknown" if d.budget_left is None else f"{d.budget_left:.0%}"
        span = (f" (over the {window_text(d.budget_span_s) if d.budget_span_s >= 300 else 'little'} of counts "
                f"read)" if d.budget_left is not None and d.budget_span_s < d.period_s else "")
        out.append(f"{d.display_name} on {f.service} (goal {d.goal:.4g}, {window_text(d.period_s)}): burn rate "
                   f"{burns}; error budget left {left}{span}")
    return out
