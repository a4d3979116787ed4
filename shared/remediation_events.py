"""The remediations of an incident (shared/events.py maps their types here): each proposal, the person's decision on
it, its hand-off to the executor and how its run ended. What became of it afterwards (a pending outcome, the recovery
check) is shared/outcome_events.py's."""

from typing import TYPE_CHECKING, Literal

from shared.core_models import Event
from shared.event_base import EventPayload
from shared.event_types import EventType
from shared.incident_parts import Execution
from shared.models import Proposal

if TYPE_CHECKING:
    from shared.incident_state import IncidentState


class RemediationProposed(EventPayload):
    event_types = (EventType.REMEDIATION_PROPOSED,)
    phase = 6
    postmortem_label = "proposal"
    proposal: Proposal

    def summary_line(self) -> str:
        return self.proposal.preview[:200]

    def apply(self, state: "IncidentState", event: Event) -> None:
        state.proposals.setdefault(self.proposal.proposal_id, self.proposal)


class ApprovalDecided(EventPayload):
    event_types = (EventType.APPROVAL_DECIDED,)
    phase = 7
    postmortem_label = "approval"
    proposal_id: str
    decision: Literal["approve", "deny"]
    approver: str
    token_id: str = ""

    def summary_line(self) -> str:
        return f"{self.decision} by {self.approver}"

    def apply(self, state: "IncidentState", event: Event) -> None:
        state.decisions.setdefault(self.proposal_id, self)  # the first decision stands


class RemediationHandedOff(EventPayload):
    """An approved proposal was handed to the executor (published on the actions topic, or run inline)."""

    event_types = (EventType.REMEDIATION_HANDED_OFF,)
    phase = 8
    proposal_id: str

    def summary_line(self) -> str:
        return f"{self.proposal_id} handed to the executor"

    def apply(self, state: "IncidentState", event: Event) -> None:
        state.handed_off.add(self.proposal_id)


class RemediationExecuted(EventPayload):
    event_types = (EventType.REMEDIATION_EXECUTED,)
    phase = 8
    postmortem_label = "execution"
    proposal_id: str
    outcome: str
    verification: str = ""
    approved_by: str = ""
    at: float
    dry_run: bool = False  # the runner only recorded its plan

    def summary_line(self) -> str:
        return self.outcome[:200]

    def apply(self, state: "IncidentState", event: Event) -> None:
        state.executions.setdefault(self.proposal_id, Execution("executed", self.outcome, self.at, self.approved_by,
                                                                self.verification, self.dry_run))


class RemediationFailed(EventPayload):
    event_types = (EventType.REMEDIATION_FAILED,)
    phase = 8
    postmortem_label = "execution"
    proposal_id: str
    outcome: str
    at: float

    def summary_line(self) -> str:
        return self.outcome[:200]

    def apply(self, state: "IncidentState", event: Event) -> None:
        state.executions.setdefault(self.proposal_id, Execution("failed", self.outcome, self.at))


PAYLOAD_MODELS: tuple[type[EventPayload], ...] = (RemediationProposed, ApprovalDecided, RemediationHandedOff,
                                                  RemediationExecuted, RemediationFailed)
