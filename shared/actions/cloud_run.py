"""The executor's adapter for Cloud Run (run_v2). Only the executor's service account holds the write roles.

One method per catalog action it carries out (`actions()`): rollback_cloud_run, 100% of traffic to a named (else the
previous ready) revision; scale_min_instances, the template's min instance count; restart, a new revision of the
same template (a label bump). Each waits for the long-running operation at most `wait_s` (well inside the executor
function's timeout): when it is not done by then, it raises OutcomePending with the operation's name, and
`read_operation` (operations.get: done, error or response) tells the sweep later how it ended.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable
from typing import Any

from shared.actions import OperationState, OutcomePending
from shared.models import Proposal


class CloudRunRunner:
    def __init__(self, project: str, region: str, services: Any = None, revisions: Any = None,
                 wait_s: float = 120.0):
        if wait_s <= 0:
            raise ValueError("wait_s must be positive")
        self.project, self.region, self.wait_s = project, region, wait_s
        self._services, self._revisions = services, revisions

    # The API clients are built on first use: the web view and the sweep build the router only to know which
    # actions can run, and never call Cloud Run.
    @property
    def services(self) -> Any:
        if self._services is None:
            from google.cloud import run_v2

            self._services = run_v2.ServicesClient()
        return self._services

    @property
    def revisions(self) -> Any:
        if self._revisions is None:
            from google.cloud import run_v2

            self._revisions = run_v2.RevisionsClient()
        return self._revisions

    def _name(self, service: str) -> str:
        return f"projects/{self.project}/locations/{self.region}/services/{service}"

    def previous_revision(self, service_name: str, current: str) -> str:
        ready = [r for r in self.revisions.list_revisions(parent=service_name)
                 if r.name.rsplit("/", 1)[-1] != current and any(
                     c.type_ == "Ready" and int(c.state) == 4 for c in r.conditions)]  # CONDITION_SUCCEEDED
        if not ready:
            raise RuntimeError(f"{service_name} has no other ready revision to roll back to")
        return str(max(ready, key=lambda r: r.create_time.timestamp()).name.rsplit("/", 1)[-1])

    def actions(self) -> dict[str, Callable[[Proposal], str]]:
        """The catalog's actions this executor carries out, by name (the router dispatches on them, once)."""
        return {"rollback_cloud_run": self.rollback, "scale_min_instances": self.scale_min_instances,
                "restart": self.restart}

    def rollback(self, proposal: Proposal) -> str:
        """100% of traffic to the named revision, else the previous ready one."""
        from google.cloud import run_v2

        name, service = self._service(proposal)
        current = str(service.latest_ready_revision).rsplit("/", 1)[-1]
        target = str(proposal.params.get("to_revision") or self.previous_revision(name, current))
        service.traffic = [run_v2.TrafficTarget(
            type_=run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION,
            revision=target, percent=100)]
        return self._update(service, f"traffic of {proposal.service} moved 100% to revision {target} (was {current})")

    def scale_min_instances(self, proposal: Proposal) -> str:
        _, service = self._service(proposal)
        count = int(str(proposal.params.get("min_instances", 1)))
        service.template.scaling.min_instance_count = count
        return self._update(service, f"{proposal.service} min instances set to {count}")

    def restart(self, proposal: Proposal) -> str:
        """A new revision of the same template (a label bump)."""
        _, service = self._service(proposal)
        service.template.labels["autosre-restart"] = str(int(time.time()))
        return self._update(service, f"{proposal.service} restarted with a new revision of the same template")

    def _service(self, proposal: Proposal) -> tuple[str, Any]:
        name = self._name(proposal.service)
        return name, self.services.get_service(name=name)

    def _update(self, service: Any, done: str) -> str:
        operation = self.services.update_service(service=service)
        try:
            operation.result(timeout=self.wait_s)  # raises the operation's error when it failed
        except concurrent.futures.TimeoutError:
            raise OutcomePending(str(operation.operation.name), done) from None
        return done

    def read_operation(self, name: str) -> OperationState:
        """The state of an update's long-running operation (Operations.GetOperation)."""
        from google.longrunning import operations_pb2

        op = self.services.get_operation(request=operations_pb2.GetOperationRequest(name=name))
        if not op.done:
            return OperationState(False)
        if op.HasField("error"):
            return OperationState(True, f"code {op.error.code}: {op.error.message}")
        return OperationState(True)
