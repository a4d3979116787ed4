"""What became of an approved action after it started (shared/events.py maps their types here): an
outcome still pending when the executor stopped waiting, and the recovery check of an executed action."""

from typing import TYPE_CHECKING, Literal

from shared.core_models import Event
from shared.event_base import EventPayload
from shared.models import RecoveryEvidence

if TYPE_CHECKING:
    from shared.incident_state import IncidentState

REMEDIATION_PENDING = "remediation.pending"
REMEDIATION_VERIFIED = "remediation.verified"


class RemediationPending(EventPayload):
    """An approved action was started, but its outcome was not known when the executor stopped waiting: the sweep
    reads `operation` (the API's long-running operation) and records the outcome."""

    event_types = (REMEDIATION_PENDING,)
    phase = 8
    postmortem_label = "execution"
    proposal_id: str
    operation: str
    started: str  # what was started, in words
    approved_by: str = ""
    at: float

    def summary_line(self) -> str:
        return f"outcome pending: {self.started[:150]} (operation {self.operation})"

    def apply(self, state: "IncidentState", event: Event) -> None:
        state.pending_outcomes.setdefault(self.proposal_id, self)


class RemediationVerified(EventPayload):
    """The recovery check of an executed action: its outcome, the sentence saying it and the numbers behind it."""

    event_types = (REMEDIATION_VERIFIED,)
    phase = 9
    postmortem_label = "recovery verified"
    proposal_id: str
    verdict: str  # the sentence: "recovered: ...", "not recovered: ..." or "inconclusive: ..."
    outcome: Literal["recovered", "not_recovered", "inconclusive", ""] = ""  # "": recorded before outcomes were
    evidence: RecoveryEvidence | None = None

    @property
    def result(self) -> str:
        """The outcome, read from the sentence for a check recorded without one."""
        if self.outcome:
            return self.outcome
        return next((o for o, p in (("not_recovered", "not recovered"), ("recovered", "recovered"))
                     if self.verdict.startswith(p)), "inconclusive")

    def summary_line(self) -> str:
        return self.verdict[:200]

    def apply(self, state: "IncidentState", event: Event) -> None:
        state.verified.setdefault(self.proposal_id, self)
        if self.proposal_id in state.executions:
            state.executions[self.proposal_id].verification = self.verdict


PAYLOAD_MODELS: tuple[type[EventPayload], ...] = (RemediationPending, RemediationVerified)
