"""The closed catalog of remediations and how a report's top cause maps onto it.

Actions come only from here, chosen by the kind of evidence behind the top cause, never from text in the
telemetry: a log line saying "approve rollback" is data, not an instruction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, NamedTuple

from agents.specialists.metrics.metric_vocabulary import names_pool, names_saturation
from shared.event_types import stable_id

if TYPE_CHECKING:  # the models are imported where actions are proposed: naming an action (the web list) needs none
    from shared.models import Finding, Proposal, Report

Executor = Literal["cloud_run", "runbook_webhook"]


class ActionType(NamedTuple):
    """One action a person can approve: its title (what people read; `name` is the key the policy, the events and
    the JSON use), its risk, what it does, what must hold, which executor carries it out (shared/actions/ has one
    runner per executor), and the exact preview shown before approval."""

    name: str
    title: str
    risk: Literal["low", "medium", "high"]
    summary: str
    preconditions: tuple[str, ...]
    executor: Executor
    preview: Callable[[str, dict[str, object]], str]


CATALOG: dict[str, ActionType] = {a.name: a for a in [
    ActionType("rollback_cloud_run", "Roll back to the previous revision",
               "medium", "route 100% of traffic back to the previous Cloud Run revision",
               ("the service has a previous revision that served traffic", "the incident is still open"),
               "cloud_run",
               lambda service, params: f"Cloud Run: route 100% of service '{service}' traffic to "
                                       f"{rollback_target(params)} (no image change)."),
    ActionType("scale_min_instances", "Raise minimum instances",
               "low", "raise the service's minimum instances",
               ("the new minimum stays within the service's max instances", "the incident is still open"),
               "cloud_run",
               lambda service, params: f"Cloud Run: set service '{service}' min instances to "
                                       f"{params.get('min_instances')}."),
    ActionType("restart", "Restart the service",
               "medium", "restart the service's instances (a new revision with the same image)",
               ("the service has more than one instance or tolerates a brief outage", "the incident is still open"),
               "cloud_run",
               lambda service, params: f"Cloud Run: deploy a new revision of '{service}' with the same image and "
                                       "configuration."),
    ActionType("runbook_webhook", "Run the team's runbook",
               "low", "call the team's runbook webhook with the incident's summary",
               ("a runbook webhook is configured for the service",), "runbook_webhook",
               lambda service, params: f"POST the incident summary for '{service}' to the configured runbook "
                                       "webhook."),
]}

def action_title(name: str) -> str:
    """What people read for an action: the catalog's title ("Restart the service"), the key itself for an action
    the catalog does not hold (an old event's)."""
    kind = CATALOG.get(name)
    return kind.title if kind is not None else name


def rollback_target(params: dict[str, object]) -> str:
    """The revision a rollback routes traffic to, named as precisely as the deploy named it."""
    if params.get("to_revision"):
        return f"revision '{params['to_revision']}'"
    before = f"the revision that served before revision '{params['from_revision']}'" if params.get(
        "from_revision") else "the revision that served before the deploy"
    return before + (f" (image {params['to_image']})" if params.get("to_image") else "")


def minutes_text(seconds: object) -> str:
    """'4 min', '45 s' (a length of time as people say it)."""
    if not isinstance(seconds, (int, float)):
        return "shortly"
    return f"{seconds:.0f} s" if abs(seconds) < 90 else f"{seconds / 60:.0f} min"


def propose(report: Report, findings: dict[str, Finding]) -> list[Proposal]:
    """At most one proposal per ranked cause among the top two, from the kind of evidence behind it; none for an
    incident that recovered by itself before triage (`report.recovered`: the alert's metric back to its baseline
    at the end of the incident window, agents/ranking/calibration.py): acting on a healthy service only adds risk."""
    from shared.finding_details import ChangeDetails, metric_of
    from shared.models import Proposal

    if report.recovered:
        return []
    out: list[Proposal] = []
    for cause in report.causes[:2]:
        evidence = [findings[f] for f in cause.evidence if f in findings]
        deploys = [f for f in evidence if f.kind == "change.deploy" and f.score >= 0.2]
        metrics = " ".join(metric_of(f.details) for f in evidence if f.kind.startswith("metric."))
        logs = " ".join(f.title for f in evidence if f.kind.startswith("log."))
        params: dict[str, object]
        if deploys:
            deploy = deploys[0].details
            assert isinstance(deploy, ChangeDetails)
            action, params = "rollback_cloud_run", {"to_revision": deploy.previous, "from_revision": deploy.revision,
                                                    "to_image": deploy.previous_image}
            why = f"a deploy {minutes_text(deploy.seconds_before_onset)} before the alert"
        elif names_pool(metrics + logs):
            action, params, why = "restart", {}, "connection-pool saturation"
        elif names_saturation(metrics):
            action, params, why = "scale_min_instances", {"min_instances": 3}, "resource saturation"
        else:
            action, params, why = "runbook_webhook", {}, "no catalog action fits the evidence directly"
        kind = CATALOG[action]
        out.append(Proposal(
            proposal_id="p-" + stable_id(report.incident_id, report.round, cause.service, action, length=12),
            action=action, service=cause.service, params=params, risk=kind.risk,
            preconditions=list(kind.preconditions), preview=kind.preview(cause.service, params),
            rationale=f"#{cause.rank} cause {cause.service}: {why}", evidence=[f.finding_id for f in evidence][:10]))
    return out
