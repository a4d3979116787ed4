"""Every kind of finding, and the base of every kind's details: what a finding's own schema needs. The details
model of each kind is in shared/finding_details.py, imported where a finding's details are first read or made, so
recording an alert (no finding) never imports it."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer

FindingKind = Literal[
    "log.new_pattern", "log.spike", "log.drop", "log.flow_break", "log.none",
    "trace.latency_shift", "trace.error_shift", "trace.error_origin", "trace.wire_delay", "trace.topology",
    "metric.anomaly", "metric.fleet_outlier",
    "change.deploy", "change.config", "change.scale", "change.restart", "change.other", "change.none",
    "change.provider_incident", "slo.burn",
]
"""Every kind of finding a specialist records (docs/findings.md describes each)."""


class Details(BaseModel):
    """The base of every kind's details (and their parts): the one configuration, and a dump of the fields that
    were set."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    @model_serializer(mode="wrap")
    def _as_written(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        written = self.model_fields_set | set(self.__pydantic_extra__ or {})
        dumped: dict[str, Any] = handler(self)
        return {k: v for k, v in dumped.items() if k in written}
