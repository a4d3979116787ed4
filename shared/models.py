"""Domain models that cross a boundary (store, bus, web, CLI): pydantic, immutable by convention. The alert and the
log's event, which every function meets first, are shared/core_models.py's.

Times are UNIX seconds (float, UTC) inside the domain; adapters convert to and from RFC 3339.
"""

from typing import Any, Literal

from pydantic import Field, InstanceOf, SerializeAsAny, model_validator

from shared.core_models import Model
from shared.finding_kinds import Details
from shared.finding_kinds import FindingKind as FindingKind  # every kind (shared/finding_details.py: their details)
from shared.messages import FindingsReady as FindingsReady  # the bus's two messages, in a module of their own
from shared.messages import Task as Task
from shared.specialists import (
    SPECIALISTS as SPECIALISTS,  # the registry's names (agents/reporting/coverage.py reads them here)
)


class Widget(Model):
    """A typed description of how to show a piece of evidence; the web view renders it."""

    kind: Literal["timeseries", "waterfall", "pattern_table", "table", "text"]
    title: str = ""
    data: dict[str, Any] = Field(default_factory=dict)


def _no_details() -> Details:
    """A finding's details when none are given: a quiet log's (the default kind's model)."""
    from shared.finding_details import QuietLogsDetails

    return QuietLogsDetails()


class Finding(Model):
    """One observation with its evidence, produced by a specialist."""

    finding_id: str = ""
    specialist: str
    kind: FindingKind
    service: str = ""
    resource: str = ""  # pod / instance / operation / metric name, where narrower than the service
    title: str
    onset: float | None = None
    magnitude: float = 0.0
    score: float = Field(default=0.0, ge=0.0, le=1.0)
    ruled_out: bool = False
    query: dict[str, Any] = Field(default_factory=dict)  # exactly what was read: source, window, filters
    exemplars: list[dict[str, Any]] = Field(default_factory=list)
    widget: Widget | None = None  # how to show the evidence: derived from it, never read back
    # its kind's model, filled in from the kind; checked as a Details here (each kind's schema is built on its own,
    # when a finding of that kind is validated) and dumped as its own model
    details: SerializeAsAny[InstanceOf[Details]] = Field(default_factory=_no_details)

    @model_validator(mode="before")
    @classmethod
    def _details_of_its_kind(cls, data: Any) -> Any:
        """The details as the model of the finding's kind (a stored finding's are a plain dict)."""
        from shared.finding_details import details_for  # the kinds' models: imported with the first finding

        if isinstance(data, dict):
            data = {**data, "details": details_for(data.get("kind"), data.get("details"))}
        return data

    @model_validator(mode="after")
    def _details_match_the_kind(self) -> "Finding":
        from shared.finding_details import DETAILS_OF

        if type(self.details) is not DETAILS_OF[self.kind]:
            raise ValueError(f"a {self.kind} finding's details are {DETAILS_OF[self.kind].__name__}, "
                             f"not {type(self.details).__name__}")
        return self


class ChainStep(Model):
    role: Literal["cause", "propagation", "symptom", "impact"]
    service: str
    statement: str
    evidence: list[str] = Field(default_factory=list)  # finding ids


class InnerCause(Model):
    """What broke inside a ranked cause's service (agents/ranking/inner_cause.py): a code region between two log
    statements, an operation, a resource and its saturation measure, or a link between two services."""

    kind: Literal["code_region", "operation", "resource", "link"]
    name: str  # "before -> expected" step, operation, "cpu on <instance>", "caller -> callee"
    start: str = ""  # code region: the step before the break; link: the caller(s)
    end: str = ""  # code region: the step that no longer follows; link: the callee(s)
    measure: str = ""  # resource: the metric showing it (a ratio or percentage when one deviates); link: delay
    evidence: list[str] = Field(default_factory=list)  # finding ids
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)  # evidence strength, not calibrated
    detail: str = ""


class RankedCause(Model):
    rank: int
    service: str
    resource: str = ""
    kind: FindingKind  # the leading finding's kind
    title: str
    score: float
    confidence: float = Field(ge=0.0, le=1.0)  # calibrated: the chance this cause is the root cause
    chain: list[ChainStep] = Field(default_factory=list)
    evidence: list[str] = Field(default_factory=list)  # finding ids
    raw_confidence: float = Field(default=0.0, ge=0.0, le=1.0)  # before calibration: score x margin x corroboration
    inner: list[InnerCause] = Field(default_factory=list)  # what broke inside it, strongest first (up to 3)
    propagation_of: str = ""  # its anomalies are explained by this callee's and none is its own: listed last


class RuledOut(Model):
    service: str
    reason: str
    evidence: list[str] = Field(default_factory=list)


class SimilarIncident(Model):
    """A past incident whose signature is like this one's (agents/reporting/similarity.py), and what became of it."""

    incident_id: str
    similarity: float = Field(ge=0.0, le=1.0)  # weighted Jaccard of the two signatures
    opened_at: float | None = None
    root_cause: str = ""  # its top cause, "service: title" ("" when its report named none)
    cause_kind: str = ""
    cause_feedback: Literal["confirmed", "rejected", ""] = ""  # a responder's word on its cause
    actions: list[str] = Field(default_factory=list)  # what was done: approved proposals and what came of them
    verdict: str = ""  # the remediation.verified verdict ("" when nothing was verified)
    worked: bool | None = None  # recovered after the action; None when unknown or nothing was done
    shared: list[str] = Field(default_factory=list)  # signature terms both share, heaviest first


class RecoveryEvidence(Model):
    """The numbers a recovery check compared: the alerting SLI after the action, during the incident and in the
    baseline (each None when no point of it was read), against the alert's threshold when it states one."""

    metric: str
    window_s: float  # how long after the action the SLI was read
    points_after: int = 0
    after_last: list[float] = Field(default_factory=list)  # the last points after the action, oldest first
    after_mean: float | None = None
    incident_mean: float | None = None  # from the alert's onset to the action
    incident_peak: float | None = None
    baseline_mean: float | None = None
    threshold: float | None = None
    line: float | None = None  # what separated recovered from not: the threshold, or halfway incident-baseline
    line_from: Literal["threshold", "midpoint", ""] = ""
    higher_is_worse: bool = True
    dry_run: bool = False  # the action only recorded its plan: the SLI moved (or not) on its own


class ReadCounts(Model):
    """What telemetry reads cost (shared/telemetry/metered.py): reads made, API requests and bytes billed where the
    source can tell, records read per signal, and reads refused once a budget cap was reached (`cap` names it)."""

    reads: int = 0
    api_calls: int = 0
    log_entries: int = 0
    spans: int = 0
    series: int = 0
    changes: int = 0
    pattern_rows: int = 0
    bytes_billed: int = 0
    billed_series: int = 0  # time series a billing source (Cloud Monitoring) returned
    refused: int = 0
    cap: str = ""

    def plus(self, other: "ReadCounts") -> "ReadCounts":
        """The sum of two ledgers (the first cap reached stands)."""
        summed = {k: getattr(self, k) + getattr(other, k) for k in type(self).model_fields if k != "cap"}
        return ReadCounts(**summed, cap=self.cap or other.cap)

    def text(self) -> str:
        """The reads, API calls and records read per signal, as the report's cost lines state them."""
        return (f"{self.reads} reads, {self.api_calls} API calls, {self.log_entries} log entries, {self.spans} spans, "
                f"{self.series} series, {self.changes} changes, {self.pattern_rows} pattern rows")


class Cost(Model):
    """An investigation's cost ledger: reads per specialist and in total, LLM tokens, and an estimate at the
    configured list prices (`prices`, per unit named in its key; docs/configuration.md)."""

    specialists: dict[str, ReadCounts] = Field(default_factory=dict)
    total: ReadCounts = Field(default_factory=ReadCounts)
    llm_tokens_in: int = 0
    llm_tokens_out: int = 0
    estimate_usd: float = 0.0
    breakdown_usd: dict[str, float] = Field(default_factory=dict)
    prices: dict[str, float] = Field(default_factory=dict)
    cap: str = ""  # the budget cap reached ("" when none): later reads were refused and the report is partial


class SignalCoverage(Model):
    """Whether one signal's reads held data, per window: True, False, or None when unknown (its specialist did not
    report, or stopped before reading that window) or not applicable (changes have no baseline)."""

    incident: bool | None = None
    baseline: bool | None = None
    note: str = ""  # how the report coped (e.g. traces contrasted within the incident window), or why unknown


DETAILED_CAUSES = 5  # a report shows this many ranked causes in full; the rest of the ranking, one line each


class Report(Model):
    incident_id: str
    round: int = 1
    partial: bool = False
    missing_specialists: list[str] = Field(default_factory=list)
    failed_specialists: dict[str, str] = Field(default_factory=dict)
    headline: str
    summary: str
    alert_service: str = ""
    onset: float | None = None
    causes: list[RankedCause] = Field(default_factory=list)
    ruled_out: list[RuledOut] = Field(default_factory=list)
    finding_ids: list[str] = Field(default_factory=list)
    confident: bool = True  # the top cause's confidence reaches CONFIDENT (agents/ranking/rca.py), else none named
    recovered: bool = False  # the alert's metric was back to its baseline at the end of the incident window
    recovery: str = ""  # why the report says it recovered (or "" when it does not)
    narrative_source: Literal["deterministic", "llm"] = "deterministic"
    narrative: str = ""  # LLM-written, every sentence citing finding ids; empty when no model was used
    llm: dict[str, Any] = Field(default_factory=dict)  # whether a model was used, tokens, dropped sentences
    similar: list[SimilarIncident] = Field(default_factory=list)  # up to three past incidents most like it
    cost: Cost | None = None  # the investigation's read ledger and its estimate (None: not metered)
    coverage: dict[str, SignalCoverage] = Field(default_factory=dict)  # per signal: which windows held data
    steering: list[str] = Field(default_factory=list)  # what responders' hints changed in the ranking


class Proposal(Model):
    """A remediation from the closed catalog, proposed for a person to approve."""

    proposal_id: str
    action: str  # a key of agents.remediation.catalog.CATALOG
    service: str
    params: dict[str, Any] = Field(default_factory=dict)
    risk: Literal["low", "medium", "high"] = "medium"
    preconditions: list[str] = Field(default_factory=list)
    preview: str  # exactly what will be done
    rationale: str = ""
    evidence: list[str] = Field(default_factory=list)  # finding ids
