"""Proposals, approval decisions and execution: nothing writes to production without a person's approval.

- `propose` appends `remediation.proposed` for the latest report's causes (from the closed catalog).
- `decide` verifies the signed link, the approver, the policy, and uses the token once, then appends
  `approval.decided`. A proposal the policy denies cannot be approved.
- `execute` re-checks everything (approved, policy, incident still open, not yet run), runs the action through
  its adapter (dry-run by default: it records the plan only) and appends the outcome.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from agents.policy import Decision, Policy
from agents.remediation import propose as propose_from_report
from shared import approvals
from shared import events as ev
from shared.events import IncidentState, fold, make_event
from shared.models import Proposal
from shared.ports import EventStore
from shared.telemetry.models import TelemetrySource, Window


class ActionAdapter(Protocol):
    def run(self, proposal: Proposal) -> str: ...


class DryRunAdapter:
    """Records what would be done; changes nothing anywhere."""

    def run(self, proposal: Proposal) -> str:
        return f"DRY RUN (nothing changed): {proposal.preview}"


def propose(store: EventStore, incident_id: str, now: float | None = None) -> list[Proposal]:
    """Append `remediation.proposed` for the latest report's causes (idempotent)."""
    state = fold(store.load(incident_id))
    report = state.latest_report
    if report is None:
        return []
    proposals = propose_from_report(report, state.findings)
    for p in proposals:
        store.append(make_event(incident_id, ev.REMEDIATION_PROPOSED, (p.proposal_id,), "synthesize",
                                {"proposal": p.model_dump(mode="json")}, at=now))
    return proposals


class RemediationError(RuntimeError):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass
class Remediation:
    store: EventStore
    key: bytes
    policy: Policy = field(default_factory=Policy)
    approvers: frozenset[str] = frozenset()
    adapter: ActionAdapter = field(default_factory=DryRunAdapter)
    clock: Callable[[], float] = time.time
    link_ttl_s: float = 3600.0

    def _state(self, incident_id: str) -> IncidentState:
        return fold(self.store.load(incident_id))

    def _append(self, incident_id: str, type_: str, key: tuple[object, ...], actor: str, data: dict[str, object]
                ) -> bool:
        return self.store.append(make_event(incident_id, type_, key, actor, data, at=self.clock()))

    def propose(self, incident_id: str) -> list[Proposal]:
        return propose(self.store, incident_id, self.clock())

    def link_token(self, incident_id: str, proposal_id: str) -> str:
        proposal = self._state(incident_id).proposals[proposal_id]
        return approvals.issue(self.key, incident_id, proposal_id, proposal.action, self.link_ttl_s, self.clock())

    def policy_decision(self, state: IncidentState, proposal: Proposal) -> Decision:
        executed = {float(t) for s in self.store.summaries() if s.get("incident_id") != state.incident_id
                    for t in s.get("executed_at", [])}
        executed |= {float(x.get("at", 0.0)) for x in state.executions.values() if x.get("status") == "executed"}
        return self.policy.check(proposal, sorted(executed), self.clock())

    def decide(self, token: str, decision: str, approver: str) -> Proposal:
        """Record an approve/deny decision made through a signed link. Raises TokenError / RemediationError."""
        claims = approvals.verify(self.key, token, self.clock())
        events = self.store.load(claims.incident_id)
        if not events:
            raise approvals.TokenError("mismatched", "the approval link is for an unknown incident")
        state = fold(events)
        proposal = state.proposals.get(claims.proposal_id)
        if proposal is None or proposal.action != claims.action:
            raise approvals.TokenError("mismatched", "the approval link does not match a proposal of this incident")
        approvals.require_match(claims, state.incident_id, proposal.proposal_id)
        if decision not in ("approve", "deny"):
            raise RemediationError("bad_decision", "decision must be approve or deny")
        if approver.lower() not in self.approvers:
            raise RemediationError("not_an_approver", f"{approver or 'anonymous'} is not on the approvers list")
        if decision == "approve":
            allowed = self.policy_decision(state, proposal)
            if not allowed.allowed:
                raise RemediationError("denied_by_policy", allowed.reason)
        if self.store.claim(f"token:{claims.token_id}", approver) != approver or \
                not self._append(state.incident_id, ev.APPROVAL_DECIDED, (proposal.proposal_id,), approver, {
                    "proposal_id": proposal.proposal_id, "decision": decision, "approver": approver,
                    "token_id": claims.token_id}):
            raise approvals.TokenError("used", "this approval link has already been used")
        return proposal

    def execute(self, incident_id: str, proposal_id: str) -> str:
        state = self._state(incident_id)
        proposal = state.proposals.get(proposal_id)
        decision = state.decisions.get(proposal_id)
        if proposal is None or decision is None or decision.get("decision") != "approve":
            raise RemediationError("not_approved", "no approval recorded for this proposal")
        if proposal_id in state.executions:
            return str(state.executions[proposal_id].get("outcome", ""))
        if state.status != "open":
            raise RemediationError("not_open", f"the incident is {state.status}; nothing is executed")
        allowed = self.policy_decision(state, proposal)
        if not allowed.allowed:
            raise RemediationError("denied_by_policy", allowed.reason)
        try:
            outcome = self.adapter.run(proposal)
        except Exception as exc:  # recorded, never silent
            self._append(incident_id, ev.REMEDIATION_FAILED, (proposal_id,), "execute",
                         {"proposal_id": proposal_id, "outcome": f"{type(exc).__name__}: {exc}"[:500],
                          "at": self.clock()})
            raise RemediationError("failed", str(exc)) from exc
        verification = ("not verified: dry run" if isinstance(self.adapter, DryRunAdapter)
                        else "pending: the alerting SLI is checked after the action")
        self._append(incident_id, ev.REMEDIATION_EXECUTED, (proposal_id,), "execute",
                     {"proposal_id": proposal_id, "outcome": outcome, "verification": verification,
                      "approved_by": decision.get("approver"), "at": self.clock()})
        return outcome



def verify_recovery(store: EventStore, source: TelemetrySource, incident_id: str, proposal_id: str,
                    window_s: float = 900.0, sustain: int = 3, threshold: float | None = None,
                    now: float | None = None) -> str:
    """After an action ran: is the alerting SLI back under its threshold within the window? Appends
    `remediation.verified` with the verdict (recovered / not recovered / unknown), so the report says so.
    One verdict per proposal: a second call returns the recorded one."""
    state = fold(store.load(incident_id))
    execution = state.executions.get(proposal_id)
    alert = state.first_alert
    if execution is None or execution.get("status") != "executed" or alert is None:
        raise RemediationError("not_executed", "nothing was executed for this proposal")
    if any(e.type == ev.REMEDIATION_VERIFIED and e.data.get("proposal_id") == proposal_id
           for e in store.load(incident_id)):
        return str(execution.get("verification", ""))
    start = float(execution.get("at", 0.0))
    series = [s for s in source.metrics(Window(start, start + window_s), [alert.service]).items
              if s.metric == alert.metric_type]
    points = sorted(p for s in series for p in s.points)
    threshold = alert.threshold_value if threshold is None else threshold
    if threshold is None or len(points) < sustain:
        verdict = "unknown: " + ("the alert states no threshold" if threshold is None else
                                 f"only {len(points)} points of {alert.metric_type} after the action")
    elif all(v <= threshold for _, v in points[-sustain:]):
        verdict = f"recovered: the last {sustain} points of {alert.metric_type} are at or under {threshold:g}"
    else:
        verdict = (f"not recovered: {alert.metric_type} is still above {threshold:g} "
                   f"({points[-1][1]:g}) {window_s / 60:.0f} min after the action")
    store.append(make_event(incident_id, ev.REMEDIATION_VERIFIED, (proposal_id,), "verify",
                            {"proposal_id": proposal_id, "verdict": verdict}, at=now))
    return verdict
