"""What a round found and reported (shared/events.py maps their types here): each finding, each specialist's run
(done or failed, and what it read), the report, and the steps after it."""

from typing import TYPE_CHECKING

from pydantic import Field

from shared.core_models import Event
from shared.event_base import EventPayload
from shared.event_types import EventType
from shared.models import Finding, ReadCounts, Report

if TYPE_CHECKING:
    from shared.incident_state import IncidentState


class FindingRecorded(EventPayload):
    event_types = (EventType.FINDING_RECORDED,)
    phase = 3
    round: int
    finding: Finding

    def apply(self, state: "IncidentState", event: Event) -> None:
        state.findings[self.finding.finding_id] = self.finding


class SpecialistCompleted(EventPayload):
    event_types = (EventType.SPECIALIST_COMPLETED,)
    phase = 4
    postmortem_label = "findings"
    round: int
    specialist: str
    finding_ids: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)  # sampling and data-coverage notes
    seconds: float = 0.0

    def summary_line(self) -> str:
        return f"{self.specialist}: {len(self.finding_ids)} findings"

    def apply(self, state: "IncidentState", event: Event) -> None:
        rnd = state.rounds.get(self.round)
        if rnd is not None:  # a completion supersedes a failure
            rnd.completed[self.specialist] = list(self.finding_ids)
            rnd.notes[self.specialist] = list(self.notes)
            rnd.failed.pop(self.specialist, None)


class SpecialistFailed(EventPayload):
    event_types = (EventType.SPECIALIST_FAILED,)
    phase = 4
    postmortem_label = "findings"
    round: int
    specialist: str
    error: str

    def summary_line(self) -> str:
        return f"{self.specialist}: {self.error[:200]}"

    def apply(self, state: "IncidentState", event: Event) -> None:
        rnd = state.rounds.get(self.round)
        if rnd is not None and self.specialist not in rnd.completed:
            rnd.failed[self.specialist] = self.error


class CostRecorded(EventPayload):
    """What one specialist's run read (the cost ledger), recorded once per round and specialist, done or failed."""

    event_types = (EventType.COST_RECORDED,)
    phase = 4
    round: int
    specialist: str
    counts: ReadCounts

    def summary_line(self) -> str:
        c = self.counts
        return (f"{self.specialist}: {c.reads} reads, {c.api_calls} API calls, {c.log_entries} log entries, "
                f"{c.spans} spans, {c.series} series, {c.bytes_billed} bytes billed"
                + (f"; cap reached: {c.cap}" if c.cap else ""))

    def apply(self, state: "IncidentState", event: Event) -> None:
        rnd = state.rounds.get(self.round)
        if rnd is not None:
            rnd.costs.setdefault(self.specialist, self.counts)  # one per round and specialist: the first stands


class ReportPublished(EventPayload):
    event_types = (EventType.REPORT_PUBLISHED,)
    phase = 5
    postmortem_label = "report"
    report: Report

    def summary_line(self) -> str:
        return self.report.headline

    def apply(self, state: "IncidentState", event: Event) -> None:
        rnd = state.rounds.get(self.report.round)
        # A complete report supersedes a partial one; otherwise the first one written stands.
        if rnd is not None and (rnd.report is None or (rnd.report.partial and not self.report.partial)):
            rnd.report = self.report


class ReportStepDone(EventPayload):
    """A step after the report (proposals, notification) finished; until it is recorded it is re-driven."""

    event_types = (EventType.REPORT_STEP_DONE,)
    phase = 7
    round: int
    step: str

    def summary_line(self) -> str:
        return f"round {self.round}: {self.step} done"

    def apply(self, state: "IncidentState", event: Event) -> None:
        rnd = state.rounds.get(self.round)
        if rnd is not None:
            rnd.steps_done.add(self.step)


class ReportChecked(EventPayload):
    """What a triage found beside a round's report against the data it read (functions/local.py `check`): its
    warnings (no telemetry in a window, an alert with no start time, corrupt lines skipped), so every rendering of
    the report, the web page too, says them."""

    event_types = (EventType.REPORT_CHECKED,)
    phase = 7
    round: int
    warnings: list[str]
    no_data: bool = False  # no telemetry at all in the incident window: the report is partial

    def summary_line(self) -> str:
        return f"round {self.round}: {len(self.warnings)} warning(s)" + (" (no data)" if self.no_data else "")

    def apply(self, state: "IncidentState", event: Event) -> None:
        rnd = state.rounds.get(self.round)
        if rnd is not None:
            rnd.warnings, rnd.no_data = list(self.warnings), self.no_data


PAYLOAD_MODELS: tuple[type[EventPayload], ...] = (FindingRecorded, SpecialistCompleted, SpecialistFailed, CostRecorded,
                                                  ReportPublished, ReportStepDone, ReportChecked)
