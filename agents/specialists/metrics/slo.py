"""The alerting service's SLOs as the metrics analyst reports them: one `slo.burn` finding per SLO, its burn rate
over 5 min, 1 h and 6 h and its error budget left at the end of the incident window, read from the source's SLO
capability (the SLO API on Google Cloud, a bundle's slos.jsonl). Context for the report's header: score 0, never
evidence about a cause."""

from __future__ import annotations

from agents.context import AnalysisContext
from shared.finding_details import SloBurnDetails
from shared.models import Finding
from shared.ports import SloReader, TelemetrySource


def _rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.1f}x"


def slo_findings(source: TelemetrySource, ctx: AnalysisContext) -> tuple[list[Finding], list[str]]:
    """The alerting service's SLOs (none when the source has no SLO capability or the alert names no service)."""
    reader: SloReader | None = getattr(source, "slo_reader", None)
    if reader is None or not ctx.alert_service or ctx.focus:
        return [], []
    read = reader.slo_status(ctx.incident.end, [ctx.alert_service])
    out = []
    for s in read.items:
        burns = ", ".join(f"{_window(w)} {_rate(r)}" for w, r in s.burn)
        left = "unknown" if s.budget_left is None else f"{s.budget_left:.0%}"
        out.append(Finding(
            specialist="metrics", kind="slo.burn", service=s.service, resource=s.display_name,
            title=f"SLO {s.display_name} ({s.goal:.4g} over {_window(s.period_s)}): burn rate {burns}; "
                  f"error budget left {left}",
            query={"source": source.describe(), "slo": s.slo, "at": s.at},
            details=SloBurnDetails(slo=s.slo, display_name=s.display_name, goal=s.goal, period_s=s.period_s, at=s.at,
                                   burn=[(w, r) for w, r in s.burn], budget_left=s.budget_left,
                                   budget_span_s=s.budget_span_s)))
    return out, [read.note] if read.sampled and read.note else []


def _window(seconds: float) -> str:
    from shared.slo import window_text

    return window_text(seconds)
