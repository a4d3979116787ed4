"""The models every function meets first: the alert that opens an incident and the log's event, with the config
every domain model shares. Apart from the findings and reports (shared/models.py), so that a function that only takes
in alerts builds none of those.

Times are UNIX seconds (float, UTC) inside the domain; adapters convert to and from RFC 3339.
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.workloads import gke_service


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, defer_build=True)  # schemas built on first use: cold starts


class DocumentationLink(Model):
    """A link of an alert policy's documentation (a playbook, a dashboard), as the notification carries it."""

    display_name: str = ""
    url: str


class Alert(Model):
    """One Cloud Monitoring notification, normalised (v1.2 and "test" payloads)."""

    monitoring_incident_id: str
    policy_name: str = ""
    condition_name: str = ""
    state: Literal["open", "closed"] = "open"
    started_at: float | None = None
    ended_at: float | None = None
    project_id: str = ""
    resource_type: str = ""
    resource_name: str = ""
    resource_labels: dict[str, str] = Field(default_factory=dict)
    metric_type: str = ""
    metric_labels: dict[str, str] = Field(default_factory=dict)
    observed_value: float | None = None
    threshold_value: float | None = None
    summary: str = ""
    url: str = ""
    severity: str = ""
    version: str = ""
    policy_user_labels: dict[str, str] = Field(default_factory=dict)
    documentation: str = ""
    controller: str = ""  # a GKE resource's workload as Monitoring names it (metadata.system_labels)
    documentation_links: list[DocumentationLink] = Field(default_factory=list)

    @property
    def service(self) -> str:
        """The service the alert is about, as well as the payload says it: a GKE workload as
        "cluster/namespace/workload" (shared/workloads.py), since its container's name alone may be shared."""
        labels = self.resource_labels
        if self.resource_type.startswith("k8s_") and (workload := gke_service(labels, self.controller)):
            return workload
        for key in ("service_name", "service", "function_name", "module_id", "container_name", "job"):
            if labels.get(key):
                return labels[key]
        return self.resource_name

    def group_key(self) -> str:
        """Alerts of one policy on one resource belong to one incident while it is open."""
        resource = self.resource_name or ",".join(f"{k}={v}" for k, v in sorted(self.resource_labels.items()))
        return f"{self.policy_name}|{self.resource_type}|{resource}"


class Event(Model):
    """One immutable fact about an incident. `event_id` is deterministic so appends are idempotent."""

    incident_id: str
    event_id: str
    type: str
    at: float
    actor: str
    data: dict[str, Any] = Field(default_factory=dict)
