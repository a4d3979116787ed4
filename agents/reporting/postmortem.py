"""A postmortem draft in Markdown, rendered from an incident's folded state: pure and deterministic (the same
events give the same bytes; nothing reads a clock).

Sections: summary, impact (the alert's SLI over time when a finding holds its series, else what the alert says),
timeline (from the event log: the events whose payload has a `postmortem_label`, shared/events.py, and the changes
the investigation found, each at the time it happened), root cause
with its evidence (finding ids and titles), what was ruled out, what was done, action items (proposals not executed,
follow-ups) and similar past incidents.

Everything from telemetry is untrusted: every value is put on one line, cut to a bound and has the characters that
make Markdown markup (or HTML, where Markdown is rendered) backslash-escaped.
"""

from __future__ import annotations

import re

from agents.remediation.catalog import action_title
from shared import events as ev
from shared.finding_details import ChangeDetails, MetricDetails
from shared.incident_state import IncidentState
from shared.models import Finding, Report
from shared.timefmt import utc_text

MAX_VALUE = 300
SLI_ROWS = 12
MAX_CHANGES = 10  # changes listed in the timeline
_MARKUP = re.compile(r"([\\`*_\[\]<>|!#~&])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
FOLLOW_UPS: dict[str, str] = {  # by the top cause's kind (prefix): what keeps it from recurring unnoticed
    "change.deploy": "gate rollouts of {service} on its error rate and latency (canary, automatic rollback)",
    "change.config": "review and test configuration changes of {service} before they reach production",
    "change.scale": "check the autoscaling and capacity limits of {service}",
    "metric.": "review the capacity and saturation alerts of {service} (alert on the resource, not only on users)",
    "trace.latency_shift": "set timeouts and latency budgets on the calls into {service}",
    "trace.error": "add error-rate alerting and retries with backoff on the calls into {service}",
    "log.": "turn the new log pattern of {service} into an alert of its own",
}


def md(value: object, limit: int = MAX_VALUE) -> str:
    """One line of inert Markdown text: control characters and newlines become spaces, markup is escaped."""
    text = " ".join(_CONTROL.sub(" ", "" if value is None else str(value)).split())
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    return _MARKUP.sub(r"\\\1", text)


def _ts(t: float | None) -> str:
    return utc_text(t, missing="unknown")


def _duration(seconds: float) -> str:
    minutes = seconds / 60
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def sli_finding(state: IncidentState) -> Finding | None:
    """The finding holding the alert's own metric on the alert's service as a series (the strongest)."""
    alert = state.first_alert
    if alert is None or not alert.metric_type:
        return None
    found = [f for f in state.findings.values()
             if isinstance(f.details, MetricDetails) and f.details.series is not None
             and f.details.metric == alert.metric_type and (not alert.service or f.service == alert.service)]
    return max(found, key=lambda f: (f.score, f.finding_id)) if found else None


def _impact(state: IncidentState) -> list[str]:
    alert = state.first_alert
    out = ["## Impact", ""]
    if alert is None:
        return [*out, "No alert was recorded: the impact is unknown.", ""]
    metric = md(alert.metric_type or "the alert's metric")
    said = (f"The alert **{md(alert.policy_name)}** fired on **{md(alert.service or '-')}** at "
            f"{_ts(alert.started_at)}: {metric}")
    if alert.observed_value is not None:
        said += f" was {alert.observed_value:g}"
    if alert.threshold_value is not None:
        said += f" against a threshold of {alert.threshold_value:g}"
    out += [said + ".", ""]
    finding = sli_finding(state)
    series = finding.details.series if finding is not None and isinstance(finding.details, MetricDetails) else None
    points = sorted(series.points) if series is not None else []
    if finding is None or series is None or not points:
        return [*out, "No finding holds the alert's SLI as a series, so its course over time is not known here; "
                      "the figures above are what the alert itself says.", ""]
    step = max(1, -(-len(points) // SLI_ROWS))
    baseline = series.baseline_median
    out.append(f"The SLI over the incident window ({md(finding.resource or finding.service)}, finding "
               f"`{md(finding.finding_id)}`" + (f"; baseline median {float(baseline):g}" if isinstance(
                   baseline, (int, float)) else "") + "):")
    out += ["", "| time | value |", "|---|---|"]
    out += [f"| {_ts(t)} | {v:g} |" for t, v in points[::step]]
    peak = max(points, key=lambda p: p[1])
    return [*out, "", f"Peak {peak[1]:g} at {_ts(peak[0])}.", ""]


def _timeline(state: IncidentState) -> list[str]:
    rows: list[tuple[float, int, str, str]] = []
    alert = state.first_alert
    if alert is not None and alert.started_at is not None:
        rows.append((alert.started_at, -1, "alert started", alert.summary or alert.policy_name))
    for i, (at, kind, actor, text) in enumerate(state.timeline):
        label = ev.model_of(kind).postmortem_label  # each event's payload says whether and how it is listed
        if label:
            rows.append((at, i, label, text or actor))
    rows += _changes(state)
    out = ["## Timeline", "", "| time (UTC) | what | detail |", "|---|---|---|"]
    out += [f"| {_ts(at)} | {label} | {md(text)} |" for at, _, label, text in sorted(rows)]
    return [*out, ""]


def _changes(state: IncidentState) -> list[tuple[float, int, str, str]]:
    """The changes the investigation found (deploys, configuration changes, restarts, provider incidents), each at
    the time it happened, the nearest to the onset first when there are more than MAX_CHANGES."""
    seen: dict[tuple[str, float, str], Finding] = {}
    for f in state.findings.values():
        d = f.details
        if isinstance(d, ChangeDetails) and d.at is not None and f.kind != "change.none":
            seen.setdefault((f.service, d.at, f.kind), f)  # one row per change, whichever round found it
    onset = state.first_alert.started_at if state.first_alert and state.first_alert.started_at else None
    near = sorted(seen.items(), key=lambda kv: (abs(kv[0][1] - onset) if onset else 0.0, kv[0]))[:MAX_CHANGES]
    return [(at, -2, f.kind.removeprefix("change.").replace("_", " "), f"{f.service}: {f.title}")
            for (_, at, _), f in near]


def _root_cause(state: IncidentState, report: Report) -> list[str]:
    out = ["## Root cause", ""]
    if not report.causes:
        return [*out, "No cause was found: see the findings and the coverage notes of the report.", ""]
    top = report.causes[0]
    hedge = "" if report.confident else " (not confident: confirm before acting on it)"
    out += [f"**{md(top.service)}**: {md(top.title)} ({md(top.kind)}, confidence {top.confidence:.0%}){hedge}.", ""]
    for step in top.chain:
        out.append(f"- {step.role}: {md(step.service)}: {md(step.statement)}")
    evidence = list(dict.fromkeys([*top.evidence, *(fid for step in top.chain for fid in step.evidence)]))
    out += ["", "Evidence:", ""]
    out += [f"- `{md(fid)}` {_finding_line(state.findings.get(fid))}" for fid in evidence] or ["- (none recorded)"]
    if len(report.causes) > 1:
        out += ["", "Other candidates:", ""]
        out += [f"- #{c.rank} {md(c.service)}: {md(c.title)} (confidence {c.confidence:.0%})"
                for c in report.causes[1:4]]
    return [*out, ""]


def _finding_line(f: Finding | None) -> str:
    return "(not recorded)" if f is None else f"{md(f.specialist)}/{md(f.kind)}: {md(f.title)}"


def _ruled_out(state: IncidentState, report: Report) -> list[str]:
    out = ["## What was ruled out", ""]
    if not report.ruled_out:
        return [*out, "Nothing was explicitly ruled out.", ""]
    for r in report.ruled_out:
        ids = ", ".join(f"`{md(fid)}`" for fid in r.evidence[:4])
        out.append(f"- {md(r.service or '(all)')}: {md(r.reason)}" + (f" ({ids})" if ids else ""))
    return [*out, ""]


def _done_and_actions(state: IncidentState, report: Report) -> list[str]:
    done = ["## What was done", ""]
    items = ["## Action items", ""]
    for pid in sorted(state.proposals):
        p = state.proposals[pid]
        decision, execution = state.decisions.get(pid), state.executions.get(pid)
        title = md(action_title(p.action))
        what = f"{title} on {md(p.service)}: {md(p.preview, 200)}"
        if execution is not None:
            verdict = f"; recovery: {md(execution.verification)}" if execution.verification else ""
            done.append(f"- {what}: {execution.status} at {_ts(execution.at)}"
                        + (f", approved by {md(execution.approved_by)}" if execution.approved_by else "") + verdict)
            if execution.status == "failed":
                items.append(f"- [ ] find out why {title} on {md(p.service)} failed: {md(execution.outcome)}")
            elif not execution.verification.startswith("recovered"):
                items.append(f"- [ ] confirm that {md(p.service)} recovered after {title}")
        elif decision is not None and decision.decision == "deny":
            done.append(f"- {what}: denied by {md(decision.approver)}")
        else:
            status = "approved, not run" if decision is not None else "not decided"
            items.append(f"- [ ] proposal `{md(pid)}` ({status}): {what}")
    if len(done) == 2:
        done.append("No remediation was executed.")
    items += [f"- [ ] {text}" for text in follow_ups(state, report)]
    if report.partial or report.failed_specialists or report.missing_specialists:
        gaps = sorted({*report.failed_specialists, *report.missing_specialists})
        items.append(f"- [ ] the report is partial ({md(', '.join(gaps)) or 'missing specialists'}): "
                     "fix what kept them from answering and triage again")
    if not report.confident:
        items.append("- [ ] the root cause is not confirmed: check the top candidates against the evidence")
    if len(items) == 2:
        items.append("None.")
    return [*done, "", *items, ""]


def follow_ups(state: IncidentState, report: Report, limit: int = 3) -> list[str]:
    """What keeps the top cause from recurring unnoticed: by its kind, then by the kinds of its evidence."""
    if not report.causes:
        return []
    top = report.causes[0]
    kinds = [top.kind] + [f.kind for fid in top.evidence if (f := state.findings.get(fid)) is not None]
    out: list[str] = []
    for kind in kinds:
        text = next((t for prefix, t in FOLLOW_UPS.items() if kind.startswith(prefix)), None)
        if text is not None and (line := text.format(service=md(top.service))) not in out:
            out.append(line)
    return out[:limit]


def _similar(report: Report) -> list[str]:
    if not report.similar:
        return []
    out = ["## Similar past incidents", ""]
    for s in report.similar:
        worked = {True: "it worked", False: "it did not work", None: "whether it worked is unknown"}[s.worked]
        done = "; ".join(md(a) for a in s.actions) or "no action approved"
        out.append(f"- `{md(s.incident_id)}` (similarity {s.similarity:.0%}): {md(s.root_cause or '(none named)')}; "
                   f"done: {done}; {worked}")
    return [*out, ""]


def _feedback(state: IncidentState) -> list[str]:
    """What responders said about the named cause and the actions (their latest word each)."""
    words = [w.summary_line() for w in state.cause_feedback.values()]
    words += [w.summary_line() for by in state.action_feedback.values() for w in by.values()]
    if not words:
        return []
    return ["## Responder feedback", "", *(f"- {md(w)}" for w in words), ""]


def render(state: IncidentState) -> str:
    """The postmortem draft of an incident (its latest report), as Markdown."""
    report = state.latest_report
    alert = state.first_alert
    title = md(report.headline if report else f"incident {state.incident_id}")
    end = state.resolved_at
    lasted = (f"; resolved {_ts(end)} after {_duration(end - alert.started_at)}"
              if end is not None and alert is not None and alert.started_at is not None else
              f"; resolved {_ts(end)}" if end is not None else "; not resolved yet")
    out = [f"# Postmortem (draft): {title}", "",
           f"Incident `{md(state.incident_id)}`, status {md(state.status)}; opened {_ts(state.opened_at)}{lasted}. "
           "Drafted from the incident's event log: check and complete it before sharing.", "", "## Summary", ""]
    if report is None:
        out += ["No report was published for this incident yet.", ""]
    else:
        out += [md(report.summary, 2000), ""]
    out += _impact(state)
    out += _timeline(state)
    if report is not None:
        out += _root_cause(state, report) + _ruled_out(state, report) + _done_and_actions(state, report)
        out += _feedback(state) + _similar(report)
    return "\n".join(out).rstrip("\n") + "\n"
