"""The Cloud Run adapter builds the right update (the API has no emulator: its clients are stood in for)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.actions.cloud_run import CloudRunRunner
from shared.models import Proposal

run_v2 = pytest.importorskip("google.cloud.run_v2")


@dataclass
class Operation:
    def result(self, timeout: float) -> None:
        assert timeout > 0


@dataclass
class Services:
    service: Any
    updated: list[Any] = field(default_factory=list)

    def get_service(self, name: str) -> Any:
        assert name == "projects/p/locations/europe-west1/services/payment"
        return self.service

    def update_service(self, service: Any) -> Operation:
        self.updated.append(service)
        return Operation()


class Revisions:
    def list_revisions(self, parent: str) -> list[Any]:
        def rev(n: int, ready: bool) -> Any:
            return run_v2.Revision(
                name=f"{parent}/revisions/payment-0011{n}", create_time=datetime(2026, 1, 15, 9, n, tzinfo=UTC),
                conditions=[run_v2.Condition(type_="Ready", state=4 if ready else 3)])
        return [rev(6, True), rev(7, True), rev(8, True), rev(9, False)]


def adapter() -> tuple[CloudRunRunner, Services]:
    service = run_v2.Service(name="projects/p/locations/europe-west1/services/payment",
                             latest_ready_revision="projects/p/locations/europe-west1/services/payment/revisions/"
                                                   "payment-00118")
    services = Services(service)
    return CloudRunRunner("p", "europe-west1", services=services, revisions=Revisions()), services


def proposal(action: str, **params: object) -> Proposal:
    return Proposal(proposal_id="p-1", action=action, service="payment", params=params, preview="x")


def test_rollback_moves_all_traffic_to_the_previous_ready_revision() -> None:
    a, services = adapter()
    assert "payment-00117" in a.actions()["rollback_cloud_run"](proposal("rollback_cloud_run"))
    (updated,) = services.updated
    (target,) = updated.traffic
    assert target.revision == "payment-00117" and target.percent == 100


def test_rollback_to_a_named_revision_scale_and_restart() -> None:
    a, services = adapter()
    acts = a.actions()
    acts["rollback_cloud_run"](proposal("rollback_cloud_run", to_revision="payment-00116"))
    assert services.updated[-1].traffic[0].revision == "payment-00116"
    acts["scale_min_instances"](proposal("scale_min_instances", min_instances=3))
    assert services.updated[-1].template.scaling.min_instance_count == 3
    acts["restart"](proposal("restart"))
    assert "autosre-restart" in services.updated[-1].template.labels
    assert "runbook_webhook" not in acts  # not a Cloud Run action: the router never hands it here
