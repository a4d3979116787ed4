"""The Cloud Run adapter builds the right update (the API has no emulator: its clients are stood in for)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared.actions import OperationState, OutcomePending
from shared.actions.cloud_run import CloudRunRunner
from shared.models import Proposal
from tests.cloud_run_standin import OPERATION_NAME, ServicesApi

run_v2 = pytest.importorskip("google.cloud.run_v2")


class Revisions:
    def list_revisions(self, parent: str) -> list[Any]:
        def rev(n: int, ready: bool) -> Any:
            return run_v2.Revision(
                name=f"{parent}/revisions/payment-0011{n}", create_time=datetime(2026, 1, 15, 9, n, tzinfo=UTC),
                conditions=[run_v2.Condition(type_="Ready", state=4 if ready else 3)])
        return [rev(6, True), rev(7, True), rev(8, True), rev(9, False)]


NAME = "projects/p/locations/europe-west1/services/payment"


def adapter(instant: bool = True, wait_s: float = 120.0) -> tuple[CloudRunRunner, ServicesApi]:
    service = run_v2.Service(name=NAME, latest_ready_revision=f"{NAME}/revisions/payment-00118")
    services = ServicesApi({NAME: service}, instant=instant)
    return CloudRunRunner("p", "europe-west1", services=services, revisions=Revisions(), wait_s=wait_s), services


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


def test_an_update_not_done_within_the_wait_is_pending_with_its_operation_name() -> None:
    a, services = adapter(instant=False, wait_s=0.05)
    with pytest.raises(OutcomePending) as pending:
        a.actions()["restart"](proposal("restart"))
    assert OPERATION_NAME.match(pending.value.operation) and pending.value.operation == services.last_operation
    assert "restarted" in pending.value.started


def test_a_pending_operation_is_read_through_operations_get() -> None:
    a, services = adapter(instant=False, wait_s=0.05)
    with pytest.raises(OutcomePending) as pending:
        a.actions()["scale_min_instances"](proposal("scale_min_instances", min_instances=2))
    name = pending.value.operation
    assert a.read_operation(name) == OperationState(False)
    services.finish(name)
    assert a.read_operation(name) == OperationState(True)
    with pytest.raises(OutcomePending) as again:
        a.actions()["restart"](proposal("restart"))
    services.finish(again.value.operation, error=(9, "revision payment-00119 is not ready"))
    assert a.read_operation(again.value.operation) == OperationState(True, "code 9: revision payment-00119 is not "
                                                                          "ready")


def test_an_operation_that_failed_within_the_wait_raises() -> None:
    a, services = adapter(instant=False, wait_s=5.0)
    original = services.update_service

    def failing(service: Any) -> Any:
        op = original(service)
        services.finish(services.last_operation, error=(9, "bad template"))
        return op

    services.update_service = failing  # type: ignore[method-assign]
    with pytest.raises(Exception, match="bad template"):
        a.actions()["restart"](proposal("restart"))
