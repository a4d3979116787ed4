"""The parts of an incident's folded state that its events create: a round, an execution, a notification.

They live apart from `IncidentState` (shared/incident_state.py) so that the event payloads (shared/events.py),
which say how each event changes the state, can build them without importing the fold that imports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from shared.lifecycle_events import RoundWindow
    from shared.models import ReadCounts, Report


@dataclass
class RoundState:
    number: int
    specialists: list[str]
    deadline: float
    window: RoundWindow
    completed: dict[str, list[str]] = field(default_factory=dict)  # specialist -> finding ids
    failed: dict[str, str] = field(default_factory=dict)  # specialist -> error
    notes: dict[str, list[str]] = field(default_factory=dict)  # specialist -> sampling notes
    costs: dict[str, ReadCounts] = field(default_factory=dict)  # specialist -> what its run read (cost ledger)
    report: Report | None = None
    opened_by: str = ""  # the delivery that started the round (its redelivery may re-send missing tasks)
    focus: list[str] = field(default_factory=list)  # a targeted round: the services whose hypotheses it checks
    steps_done: set[str] = field(default_factory=set)  # after-report steps recorded as finished
    fresh: bool = False  # a new investigation of a long-open incident (its report reads only its own rounds)
    warnings: list[str] = field(default_factory=list)  # what a triage's check found beside its report
    no_data: bool = False  # no telemetry at all in its incident window
    started_at: float | None = None  # when the round was opened (its round.started event)

    @property
    def reported(self) -> set[str]:
        return set(self.completed) | set(self.failed)

    @property
    def missing(self) -> list[str]:
        return [s for s in self.specialists if s not in self.reported]


@dataclass
class Execution:
    """What became of an approved proposal: executed or failed, and the recovery verdict when checked."""

    status: Literal["executed", "failed"]
    outcome: str
    at: float
    approved_by: str = ""
    verification: str = ""
    dry_run: bool = False  # the runner only recorded its plan


@dataclass
class Notification:
    status: Literal["sent", "failed", "skipped"]
    channel: str
    detail: str
