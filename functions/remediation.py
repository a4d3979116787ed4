"""Proposals, approval decisions and execution: nothing writes to production without a person's approval.

- `propose` records `remediation.proposed` for the latest report's causes (from the closed catalog).
- `view` is what an approval link shows its approver (the proposal, the CSRF token, whether and why they cannot
  decide): the approval rules are stated here once, and the web view renders them.
- `decide` verifies the signed link, the approver, the policy, and uses the token once, then records
  `approval.decided`. A proposal the policy denies cannot be approved. `decide_and_deliver` (the approval click)
  then hands an approved action to the executor, in the same unit of work: the token is verified once and the
  incident loaded once.
- `execute` re-checks everything (approved, policy, incident still open, not yet run), claims the execution
  (create-if-absent, so a duplicate delivery never runs it twice), takes a slot of the action-rate ledger (the
  per-hour limit across every incident), runs the action through its runner (dry run by default: it records
  the plan only) and records the outcome. An action whose outcome is not known within the executor's wait (a
  Cloud Run operation still running) is recorded as `remediation.pending` with the operation's name, and
  `settle_pending` (the sweep) reads the operation later and records the outcome. The claim records when the run
  started: a delivery that finds it taken by a run with no outcome is retried later while that run may still be
  alive, and once it cannot be (past `outcome_deadline_s`, longer than the executor function's timeout) the
  outcome is recorded as unknown (the action may have run: it is never run a second time).
- `verify_recovery` records whether the alerting SLI came back after the action (the sweep calls functions/recovery.py
  when an action's check window has passed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from agents.remediation.policy import Decision, Policy
from functions.action_outcome import HAND_OFF_TIMEOUT_S, OUTCOME_DEADLINE_S, RunClaim, unknown_outcome, within
from shared import approvals
from shared.action_ledger import ActionLedger
from shared.event_types import EventType
from shared.incident_log import IncidentHandle, IncidentLog
from shared.ports import ActionRunner, EventStore, OperationState, OutcomePending, TelemetrySource

if TYPE_CHECKING:  # the payloads are imported where an event is written: the web list and an idle sweep need none
    from shared.incident_state import IncidentState
    from shared.models import Proposal
    from shared.outcome_events import RemediationPending

log = logging.getLogger("autosre.remediation")


def propose(incident: IncidentHandle) -> list[Proposal]:
    """Record `remediation.proposed` for the latest report's causes (idempotent)."""
    from shared.remediation_events import RemediationProposed

    state = incident.state
    report = state.latest_report
    if report is None:
        return []
    from agents.remediation.catalog import (
        propose as propose_from_report,  # synthesize's step: the executor reads only the actions' names
    )

    proposals = propose_from_report(report, state.findings)
    for p in proposals:
        incident.record(EventType.REMEDIATION_PROPOSED, (p.proposal_id,), "synthesize", RemediationProposed(proposal=p))
    return proposals


class RemediationError(RuntimeError):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class ApprovalView(NamedTuple):
    """What an approval link shows the person who opened it: computed by `Remediation.view`, rendered by the web."""

    state: IncidentState
    proposal: Proposal
    token: str
    csrf: str  # binds the decision's POST to this link
    approver: str  # the verified identity deciding ("" when there is none)
    blocked: str  # why this person cannot approve now ("" when they can): then no Approve button is offered
    can_deny: bool
    dry_run: bool = False  # the executor only records its plan


class ActionState(NamedTuple):
    """Where a proposal stands for the people reading the report: computed here, rendered by the web view."""

    kind: Literal["allowed", "refused", "blocked", "done"]  # refused: by policy; blocked: closed, no approver
    text: str  # what the page says about it
    link: str = ""  # the approval link, only when it can be approved now
    dry_run: bool = False  # the executor only records its plan


@dataclass
class Remediation:
    store: EventStore
    key: bytes
    runner: ActionRunner  # chosen by the composition root (functions/runtime.py `make_runner`)
    policy: Policy = field(default_factory=Policy)
    approvers: frozenset[str] = frozenset()
    clock: Callable[[], float] = time.time
    link_ttl_s: float = 3600.0
    hand_off: Callable[[str, str], None] | None = None  # to the executor (actions topic); None: run inline
    unavailable: Mapping[str, str] = field(default_factory=dict)  # allowed actions nothing configured can run: why
    read_operation: Callable[[str], OperationState] | None = None  # a pending action's operation (the runner's)
    pending_limit_s: float = 3600.0  # an operation still running this long after it started is recorded as failed
    hand_off_timeout_s: float = HAND_OFF_TIMEOUT_S  # a hand-off not done by then is left to the sweep
    outcome_deadline_s: float = OUTCOME_DEADLINE_S  # a claimed run with no outcome by then was stopped mid-call
    told: Callable[[IncidentHandle], None] | None = None  # tells the incident's chat thread of what was recorded

    def __post_init__(self) -> None:
        self.log = IncidentLog(self.store, clock=lambda: self.clock())
        self.ledger = ActionLedger(self.store)

    def link_token(self, incident_id: str, proposal_id: str, state: IncidentState | None = None) -> str:
        """A signed, single-use, expiring approval link's token (`state`: the incident, when already read)."""
        state = state if state is not None else self.log.read(incident_id)
        if state is None or proposal_id not in state.proposals:
            raise RemediationError("unknown_proposal", f"no proposal {proposal_id} in incident {incident_id}")
        return approvals.issue(self.key, incident_id, proposal_id, state.proposals[proposal_id].action,
                               self.link_ttl_s, self.clock())

    def policy_decision(self, proposal: Proposal, now: float | None = None, incident_id: str = "") -> Decision:
        """The policy's verdict at `now`, the rate limit counted from the store's ledger (every incident; a slot
        this proposal of `incident_id` already holds is its own, not another action's)."""
        missing = self.unavailable.get(proposal.action)
        if missing is not None:
            return Decision(False, f"{proposal.action} is unavailable in this deployment: {missing}")
        now = self.clock() if now is None else now
        recent = [h for h in self.ledger.recent(self.policy.max_actions_per_hour, now)
                  if (h.incident_id, h.proposal_id) != (incident_id, proposal.proposal_id)]
        return self.policy.check(proposal, [h.at for h in recent], now)

    def links(self, state: IncidentState) -> dict[str, str]:
        """The approval link of every proposal that can be approved now (the token after '#': no server ever logs
        it)."""
        return {pid: a.link for pid, a in self.action_states(state).items() if a.link}

    @property
    def dry_run(self) -> bool:
        return bool(getattr(self.runner, "dry_run", False))

    def action_states(self, state: IncidentState) -> dict[str, ActionState]:
        """Every proposal's state: done (decided or run), blocked (the incident is closed, nobody may approve),
        refused by policy, or allowed and awaiting approval (then, and only then, with its approval link)."""
        out: dict[str, ActionState] = {}
        for pid, p in state.proposals.items():
            done, decision = state.executions.get(pid), state.decisions.get(pid)
            if done is not None:
                out[pid] = ActionState("done", f"{done.status}: {done.outcome}", dry_run=self.dry_run)
            elif (started := state.pending_outcomes.get(pid)) is not None:
                out[pid] = ActionState("done", started.summary_line(), dry_run=self.dry_run)
            elif decision is not None:
                out[pid] = ActionState("done", f"{decision.decision}d by {decision.approver}", dry_run=self.dry_run)
            elif state.status != "open":
                out[pid] = ActionState("blocked", f"not offered: the incident is {state.status} (nothing is "
                                                  "executed on a closed incident)", dry_run=self.dry_run)
            elif not (verdict := self.policy_decision(p)).allowed:
                out[pid] = ActionState("refused", f"refused by policy: {verdict.reason}", dry_run=self.dry_run)
            elif not self.approvers:
                out[pid] = ActionState("blocked", "allowed by policy; no approver is configured, nobody can "
                                                  "approve it", dry_run=self.dry_run)
            else:
                out[pid] = ActionState("allowed", "allowed by policy; awaiting approval",
                                       f"/approve#token={self.link_token(state.incident_id, pid, state)}",
                                       self.dry_run)
        return out

    def pending(self, state: IncidentState) -> int:
        """How many proposals a person could approve now."""
        return sum(1 for a in self.action_states(state).values() if a.link)

    def csrf(self, token: str) -> str:
        """The CSRF token bound to an approval link's token: the approval form carries it, a decision checks it."""
        return approvals.form_token(self.key, "approve", token)

    def csrf_matches(self, token: str, csrf: str) -> bool:
        return approvals.form_token_matches(csrf, self.key, "approve", token)

    def view(self, token: str, approver: str) -> ApprovalView:
        """What the link shows `approver` (verified once, the incident read once). Raises TokenError."""
        claims = approvals.verify(self.key, token, self.clock())
        state = self.log.read(claims.incident_id)
        proposal = state.proposals.get(claims.proposal_id) if state else None
        if state is None or proposal is None:
            raise approvals.TokenError("mismatched", "no such proposal")
        blocked, can_deny = self.why_not(state, proposal, approver)
        return ApprovalView(state, proposal, token, self.csrf(token), approver, blocked, can_deny, self.dry_run)

    def why_not(self, state: IncidentState, proposal: Proposal, approver: str) -> tuple[str, bool]:
        """Why this person cannot approve now ("" when they can), and whether they may still deny."""
        if proposal.proposal_id in state.decisions:
            return "A decision has already been recorded.", False
        if state.status != "open":
            return f"The incident is {state.status}: nothing is executed on a closed incident.", False
        if not self.approvers:
            return ("No approver is configured (AUTOSRE_APPROVERS, or `autosre serve --approver`): nobody can "
                    "approve or deny this."), False
        if not approver:
            return "You are not signed in with a verified identity, so you cannot decide.", False
        if approver not in self.approvers:
            return f"{approver} is not on the approvers list.", False
        if proposal.action in self.unavailable:
            return (f"This action is unavailable in this deployment: {self.unavailable[proposal.action]}. "
                    "It can be denied, not approved."), True
        verdict = self.policy_decision(proposal)
        return ("" if verdict.allowed else f"The policy refuses this action: {verdict.reason}."), True

    def decide(self, token: str, decision: str, approver: str) -> Proposal:
        """Record an approve/deny decision made through a signed link. Raises TokenError / RemediationError."""
        now = self.clock()
        claims = approvals.verify(self.key, token, now)
        with self.log.incident(claims.incident_id) as incident:
            proposal = self._decide(incident, claims, decision, approver, now)
            self._tell(incident)
            return proposal

    def decide_and_deliver(self, token: str, decision: str, approver: str) -> str:
        """The approval click: record the decision and, when it approves, hand the action to the executor (inline:
        run it), in one unit of work. Returns what happened. Raises TokenError / RemediationError, and then nothing
        was recorded: every check is made at one instant before the decision is recorded (run inline, the action's
        slot of the hourly limit is taken first), and nothing after it is reported as a refusal."""
        now = self.clock()
        claims = approvals.verify(self.key, token, now)
        with self.log.incident(claims.incident_id) as incident:
            proposal = self._decide(incident, claims, decision, approver, now,
                                    reserve=decision == "approve" and self.hand_off is None)
            if decision != "approve":
                self._tell(incident)
                return "denied: nothing will be done"
            try:
                return self._deliver(incident, proposal.proposal_id)
            finally:
                self._tell(incident)

    def _tell(self, incident: IncidentHandle) -> None:
        if self.told is not None:
            self.told(incident)

    def _decide(self, incident: IncidentHandle, claims: approvals.Claims, decision: str, approver: str, now: float,
                reserve: bool = False) -> Proposal:
        """`reserve`: the action runs right after, so its slot of the hourly limit is taken before anything is
        recorded (a crash in between leaves the slot held: the limit errs on the safe side)."""
        from shared.remediation_events import ApprovalDecided

        if not incident.exists:
            raise approvals.TokenError("mismatched", "the approval link is for an unknown incident")
        state = incident.state
        proposal = state.proposals.get(claims.proposal_id)
        if proposal is None or proposal.action != claims.action:
            raise approvals.TokenError("mismatched", "the approval link does not match a proposal of this incident")
        approvals.require_match(claims, state.incident_id, proposal.proposal_id)
        if decision not in ("approve", "deny"):
            raise RemediationError("bad_decision", "decision must be approve or deny")
        if approver.lower() not in self.approvers:
            raise RemediationError("not_an_approver", f"{approver or 'anonymous'} is not on the approvers list")
        if decision == "approve":
            if state.status != "open":
                raise RemediationError("not_open", f"the incident is {state.status}; nothing is executed")
            allowed = self.policy_decision(proposal, now, state.incident_id)
            if not allowed.allowed:
                raise RemediationError("denied_by_policy", allowed.reason)
            if reserve and not self.ledger.acquire(self.policy.max_actions_per_hour, state.incident_id,
                                                   proposal.proposal_id, now):
                raise RemediationError("denied_by_policy", self._rate_limited())
        record = ApprovalDecided(proposal_id=proposal.proposal_id, decision=decision, approver=approver,
                                 token_id=claims.token_id)
        if self.store.claim(f"token:{claims.token_id}", approver) != approver or \
                not incident.record(EventType.APPROVAL_DECIDED, (proposal.proposal_id,), approver, record):
            raise approvals.TokenError("used", "this approval link has already been used")
        return proposal

    def deliver(self, incident_id: str, proposal_id: str) -> str:
        """Hand an approved proposal to the executor and record that it was handed over (inline: run it)."""
        with self.log.incident(incident_id) as incident:
            if not incident.exists:
                raise RemediationError("unknown_incident", f"no incident {incident_id}")
            return self._deliver(incident, proposal_id)

    def _deliver(self, incident: IncidentHandle, proposal_id: str) -> str:
        """A hand-off that fails leaves the decision standing and is retried by `redrive_hand_offs` (the sweep)."""
        if self.hand_off is None:
            try:
                return self._execute(incident, proposal_id)
            except RemediationError as exc:  # the decision is recorded, and so is what became of the action
                return f"approved and recorded; the action did not run: {exc}"
        if not self._hand_over(incident, proposal_id):
            return "approved and recorded; handing it to the executor failed, and it is retried automatically"
        return "approved: handed to the executor; the outcome appears on the incident's timeline"

    def _hand_over(self, incident: IncidentHandle, proposal_id: str) -> bool:
        from shared.remediation_events import RemediationHandedOff

        hand_off = self.hand_off
        assert hand_off is not None
        try:
            within(self.hand_off_timeout_s, lambda: hand_off(incident.incident_id, proposal_id))
        except Exception as exc:  # the decision is recorded; the sweep hands it over again
            log.warning("hand-off to the executor failed: %s: %s", type(exc).__name__, exc,
                        extra={"json_fields": {"incident_id": incident.incident_id, "proposal_id": proposal_id}})
            return False
        incident.record(EventType.REMEDIATION_HANDED_OFF, (proposal_id,), "approve",
                        RemediationHandedOff(proposal_id=proposal_id))
        return True

    def redrive_hand_offs(self, summaries: list[dict[str, Any]] | None = None) -> list[str]:
        """Hand over again every approved proposal whose hand-off was not recorded (a failure or a crash between
        the decision and the hand-off). Returns the proposal ids handed over. `summaries`: the open incidents'
        summaries when the caller has read them (the sweep), else they are read here."""
        done = []
        for summary in self.log.summaries(status="open") if summaries is None else summaries:
            if not summary.get("awaiting_hand_off"):
                continue
            with self.log.incident(str(summary["incident_id"])) as incident:
                if not incident.exists:
                    continue
                for proposal_id in list(incident.state.awaiting_hand_off):
                    if self.hand_off is not None:
                        if self._hand_over(incident, proposal_id):
                            done.append(proposal_id)
                        continue
                    try:
                        self._execute(incident, proposal_id)
                    except RemediationError as exc:
                        log.warning("re-driven action refused: %s", exc,
                                    extra={"json_fields": {"reason": exc.reason}})
                        continue
                    done.append(proposal_id)
        return done

    def settle_stopped_runs(self, summaries: list[dict[str, Any]] | None = None) -> list[str]:
        """Record "outcome unknown" for every handed-off action whose run was claimed and stopped during the runner
        call, once no delivery can still be running it (its redeliveries may have run out). Returns
        `<incident>/<proposal>` of each. `summaries`: the open incidents' summaries when the caller has them."""
        settled = []
        now = self.clock()
        for summary in self.log.summaries(status="open") if summaries is None else summaries:
            if not summary.get("awaiting_outcome"):
                continue
            with self.log.incident(str(summary["incident_id"])) as incident:
                for proposal_id in incident.state.awaiting_outcome if incident.exists else []:
                    held = self.store.lookup(f"exec:{incident.incident_id}:{proposal_id}")
                    if held is None or now - RunClaim.parse(held).started_at < self.outcome_deadline_s:
                        continue  # not started yet (its delivery is on the way), or possibly still running
                    self._claimed_elsewhere(incident, proposal_id, RunClaim.parse(held), now)
                    settled.append(f"{incident.incident_id}/{proposal_id}")
        return settled

    def execute(self, incident_id: str, proposal_id: str) -> str:
        with self.log.incident(incident_id) as incident:
            if not incident.exists:
                raise RemediationError("unknown_incident", f"no incident {incident_id}")
            try:
                return self._execute(incident, proposal_id)
            finally:
                self._tell(incident)

    def _execute(self, incident: IncidentHandle, proposal_id: str) -> str:
        from shared.outcome_events import RemediationPending
        from shared.remediation_events import RemediationFailed

        state = incident.state
        proposal = state.proposals.get(proposal_id)
        decision = state.decisions.get(proposal_id)
        if proposal is None or decision is None or decision.decision != "approve":
            raise RemediationError("not_approved", "no approval recorded for this proposal")
        if proposal_id in state.executions:
            return state.executions[proposal_id].outcome
        if proposal_id in state.pending_outcomes:  # started by an earlier delivery: read how it ended
            return self._settle(incident, state.pending_outcomes[proposal_id])
        now = self.clock()
        if state.status != "open":
            raise self._refused(incident, proposal_id, now, "not_open",
                                f"the incident is {state.status}; nothing is executed")
        allowed = self.policy_decision(proposal, now, state.incident_id)
        if not allowed.allowed:
            raise self._refused(incident, proposal_id, now, "denied_by_policy", allowed.reason)
        claim, run = f"exec:{state.incident_id}:{proposal_id}", RunClaim.new(now)
        held = self.store.claim(claim, run.value())
        if held != run.value():
            return self._claimed_elsewhere(incident, proposal_id, RunClaim.parse(held), now)
        if not self.ledger.acquire(self.policy.max_actions_per_hour, state.incident_id, proposal_id, now):
            self.store.release(claim, run.value())
            raise self._refused(incident, proposal_id, now, "denied_by_policy", self._rate_limited())
        try:
            outcome = self.runner.run(proposal)
        except OutcomePending as pending:  # the claim stays: the sweep records the outcome
            record = RemediationPending(proposal_id=proposal_id, operation=pending.operation, started=pending.started,
                                        approved_by=decision.approver, at=self.clock())
            incident.record(EventType.REMEDIATION_PENDING, (proposal_id,), "execute", record)
            return record.summary_line()
        except Exception as exc:  # recorded, never silent
            incident.record(EventType.REMEDIATION_FAILED, (proposal_id,), "execute", RemediationFailed(
                proposal_id=proposal_id, outcome=f"{type(exc).__name__}: {exc}"[:500], at=self.clock()))
            raise RemediationError("failed", str(exc)) from exc
        self._executed(incident, proposal_id, outcome, decision.approver)
        return outcome

    def _executed(self, incident: IncidentHandle, proposal_id: str, outcome: str, approver: str) -> None:
        from shared.remediation_events import RemediationExecuted

        incident.record(EventType.REMEDIATION_EXECUTED, (proposal_id,), "execute", RemediationExecuted(
            proposal_id=proposal_id, outcome=outcome, verification="pending: the alerting SLI is checked after the "
            "action", approved_by=approver, at=self.clock(), dry_run=self.dry_run))

    def settle_pending(self, summaries: list[dict[str, Any]]) -> list[str]:
        """For every action whose outcome is pending: hand it to the executor again (it reads the operation and
        records the outcome: only the executor may call Cloud Run), or, run inline, read it here. Returns the
        proposal ids handed over or settled."""
        done = []
        for summary in summaries:
            if not summary.get("outcome_pending"):
                continue
            with self.log.incident(str(summary["incident_id"])) as incident:
                for pending in incident.state.outcome_pending if incident.exists else []:
                    if self.hand_off is not None:
                        try:
                            self.hand_off(incident.incident_id, pending.proposal_id)
                        except Exception as exc:  # the next sweep hands it over again
                            log.warning("hand-off of a pending outcome failed: %s: %s", type(exc).__name__, exc)
                            continue
                        done.append(pending.proposal_id)
                    elif self._settle(incident, pending) != pending.summary_line():
                        done.append(pending.proposal_id)
        return done

    def _settle(self, incident: IncidentHandle, pending: RemediationPending) -> str:
        """Read a pending action's operation and record its outcome when it has finished (done: executed; an
        error, or still running past `pending_limit_s`: failed). Returns what is known now. An operation the API
        cannot read now is read again at the next sweep."""
        from shared.remediation_events import RemediationFailed

        if self.read_operation is None:
            return pending.summary_line()
        try:
            op = self.read_operation(pending.operation)
        except Exception as exc:  # transient: the next sweep reads it again
            log.warning("reading operation %s failed: %s: %s", pending.operation, type(exc).__name__, exc)
            return pending.summary_line()
        if op.done and not op.error:
            self._executed(incident, pending.proposal_id, pending.started, pending.approved_by)
            return pending.started
        if not op.done and self.clock() - pending.at <= self.pending_limit_s:
            return pending.summary_line()
        why = op.error or f"operation {pending.operation} still running after {self.pending_limit_s:.0f} s"
        outcome = f"{pending.started}; failed: {why}"[:500]
        incident.record(EventType.REMEDIATION_FAILED, (pending.proposal_id,), "execute", RemediationFailed(
            proposal_id=pending.proposal_id, outcome=outcome, at=self.clock()))
        return outcome

    def _rate_limited(self) -> str:
        return f"rate limit: {self.policy.max_actions_per_hour} actions ran in the last hour (max reached)"

    def _refused(self, incident: IncidentHandle, proposal_id: str, now: float, reason: str,
                 text: str) -> RemediationError:
        """An approved action the executor will not run: recorded as its outcome (never only a log line)."""
        from shared.remediation_events import RemediationFailed

        incident.record(EventType.REMEDIATION_FAILED, (proposal_id,), "execute", RemediationFailed(
            proposal_id=proposal_id, outcome=f"not run: {text}"[:500], at=now))
        return RemediationError(reason, text)

    def _claimed_elsewhere(self, incident: IncidentHandle, proposal_id: str, other: RunClaim, now: float) -> str:
        """Another delivery claimed the run and recorded no outcome: still under way (raises already_claimed: the
        delivery is retried later), or stopped during the runner call (its outcome is recorded as unknown)."""
        from shared.remediation_events import RemediationFailed

        if now - other.started_at < self.outcome_deadline_s:
            raise RemediationError("already_claimed", "another delivery has claimed this action: it runs once")
        outcome = unknown_outcome(other)
        incident.record(EventType.REMEDIATION_FAILED, (proposal_id,), "execute", RemediationFailed(
            proposal_id=proposal_id, outcome=outcome, at=now))
        return outcome

    def verify_recovery(self, source: TelemetrySource, incident_id: str, proposal_id: str,
                        window_s: float = 900.0, sustain: int = 3, threshold: float | None = None) -> str:
        """After an action ran: did the alerting SLI come back within the window? Records `remediation.verified`
        (recovered / not recovered / inconclusive, with its numbers) once per proposal (functions/recovery.py; the
        sweep runs it when the window has passed)."""
        from functions.recovery import CheckSettings, check

        with self.log.incident(incident_id) as incident:
            state = incident.state if incident.exists else None
            execution = state.executions.get(proposal_id) if state else None
            if state is None or execution is None or execution.status != "executed" or state.first_alert is None:
                raise RemediationError("not_executed", "nothing was executed for this proposal")
            verified = check(self.store, incident, source, proposal_id, CheckSettings(window_s, sustain), threshold)
            if verified is None:
                raise RemediationError("already_claimed", "another check of this action is under way")
            return verified.verdict
