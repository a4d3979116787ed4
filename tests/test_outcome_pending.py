"""An action whose Cloud Run operation outlasts the executor's wait: recorded as pending with the operation's name,
its redelivery neither runs it again nor gives up, and the sweep records how the operation ended. A claim left by a
run that was killed is never run again: once it cannot still be running its outcome is recorded as unknown."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agents.remediation.policy import Policy
from functions.handlers.execute import on_action
from functions.handlers.sweep import sweep_all
from functions.remediation import Remediation, RemediationError
from shared.actions import ActionRouter
from shared.ports import Message
from shared.store.sqlite import SqliteEventStore
from tests.test_action_limit import APPROVER, KEY, approve, open_incident_with_proposal

run_v2 = pytest.importorskip("google.cloud.run_v2")

from shared.actions.cloud_run import CloudRunRunner  # noqa: E402
from tests.cloud_run_standin import ServicesApi  # noqa: E402


class Clock:
    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now


def setup(store: SqliteEventStore, clock: Clock, hand_off: Any = None) -> tuple[Remediation, ServicesApi]:
    name = "projects/p/locations/europe-west1/services/svc-1"
    services = ServicesApi({name: run_v2.Service(name=name)})
    runner = CloudRunRunner("p", "europe-west1", services=services, wait_s=0.05)
    router = ActionRouter(runner.actions(), {"restart": "cloud_run"}, read_operation=runner.read_operation)
    r = Remediation(store=store, key=KEY, policy=Policy({"*": ["restart"]}, max_actions_per_hour=3),
                    approvers=frozenset({APPROVER}), runner=router, clock=clock,
                    read_operation=router.read_operation, hand_off=hand_off)
    return r, services


class Pipe:
    """What sweep_all reads of the pipeline: the incident log and the clock (no rounds to sweep here; recovery
    checks off)."""

    def __init__(self, r: Remediation, clock: Clock):
        from functions.recovery import CheckSettings

        self.log, self.clock, self.round_deadline_s = r.log, clock, 600.0
        self.recovery, self.notifier = CheckSettings(0.0, 3), None


def test_a_slow_restart_is_pending_then_the_sweep_records_its_outcome() -> None:
    store, clock = SqliteEventStore(":memory:"), Clock()
    r, services = setup(store, clock)
    incident_id, proposal_id = open_incident_with_proposal(store, 1)
    approve(r, incident_id, proposal_id)

    said = r.execute(incident_id, proposal_id)
    operation = services.last_operation
    assert said.startswith("outcome pending") and operation in said
    state = r.log.read(incident_id)
    assert state is not None and proposal_id not in state.executions
    assert [p.operation for p in state.outcome_pending] == [operation]
    assert state.summary()["outcome_pending"] == 1

    assert r.execute(incident_id, proposal_id).startswith("outcome pending")  # a redelivery: not run again
    assert r.action_states(state)[proposal_id].text == said  # what the report's readers see meanwhile
    assert len(services.updated) == 1

    services.finish(operation)
    result = sweep_all(Pipe(r, clock), r)  # type: ignore[arg-type]
    assert result["outcomes_recorded"] == [proposal_id]
    state = r.log.read(incident_id)
    assert state is not None and state.executions[proposal_id].status == "executed"
    assert "restarted" in state.executions[proposal_id].outcome and not state.outcome_pending
    assert len(services.updated) == 1


def test_a_failed_operation_is_recorded_as_failed_and_the_sweep_hands_pending_ones_to_the_executor() -> None:
    store, clock = SqliteEventStore(":memory:"), Clock()
    handed: list[tuple[str, str]] = []
    r, services = setup(store, clock, hand_off=lambda i, p: handed.append((i, p)))
    incident_id, proposal_id = open_incident_with_proposal(store, 1)
    approve(r, incident_id, proposal_id)
    r.execute(incident_id, proposal_id)
    services.finish(services.last_operation, error=(9, "revision is not ready"))
    assert sweep_all(Pipe(r, clock), r)["outcomes_recorded"] == [proposal_id]  # type: ignore[arg-type]
    assert handed == [(incident_id, proposal_id)]  # only the executor calls Cloud Run
    on_action(r, Message(data=json.dumps({"incident_id": incident_id, "proposal_id": proposal_id}).encode()))
    state = r.log.read(incident_id)
    assert state is not None and state.executions[proposal_id].status == "failed"
    assert "revision is not ready" in state.executions[proposal_id].outcome


def test_an_operation_still_running_past_the_limit_is_recorded_as_failed() -> None:
    store, clock = SqliteEventStore(":memory:"), Clock()
    r, _ = setup(store, clock)
    incident_id, proposal_id = open_incident_with_proposal(store, 1)
    approve(r, incident_id, proposal_id)
    r.execute(incident_id, proposal_id)
    assert sweep_all(Pipe(r, clock), r)["outcomes_recorded"] == []  # type: ignore[arg-type]
    clock.now += r.pending_limit_s + 1
    assert sweep_all(Pipe(r, clock), r)["outcomes_recorded"] == [proposal_id]  # type: ignore[arg-type]
    state = r.log.read(incident_id)
    assert state is not None and "still running" in state.executions[proposal_id].outcome


def test_a_claim_left_by_a_killed_run_is_retried_then_its_outcome_recorded_as_unknown_never_run_again() -> None:
    store, clock = SqliteEventStore(":memory:"), Clock()
    r, services = setup(store, clock)
    incident_id, proposal_id = open_incident_with_proposal(store, 1)
    approve(r, incident_id, proposal_id)
    store.claim(f"exec:{incident_id}:{proposal_id}", f"deadbeef|{clock.now!r}")  # a run killed mid-action
    message = Message(data=json.dumps({"incident_id": incident_id, "proposal_id": proposal_id}).encode())
    with pytest.raises(RemediationError, match="claimed this action"):  # redelivered by Pub/Sub later
        on_action(r, message)
    assert services.updated == []
    clock.now += r.outcome_deadline_s + 1
    assert on_action(r, message).startswith("outcome unknown")  # it may have run: it is not run a second time
    assert services.updated == []
    state = r.log.read(incident_id)
    assert state is not None and state.executions[proposal_id].status == "failed"


def test_the_wait_is_a_setting_well_inside_the_function_timeout() -> None:
    from pydantic import ValidationError

    from functions.runtime import make_runner
    from shared.config import Settings

    with pytest.raises(ValidationError):
        Settings(action_wait_s=300)  # the executor function's timeout: its outcome would never be recorded
    router = make_runner(Settings(executor="cloud_run", project="p", action_wait_s=90))
    runner = getattr(router.read_operation, "__self__", None)
    assert isinstance(runner, CloudRunRunner) and runner.wait_s == 90


def test_a_pending_outcome_is_read_from_its_operation_never_called_unknown() -> None:
    # the run recorded where its outcome is (the operation); that its executor stopped waiting is not a lost outcome
    store, clock = SqliteEventStore(":memory:"), Clock()
    handed: list[tuple[str, str]] = []
    r, _ = setup(store, clock, hand_off=lambda i, p: handed.append((i, p)))
    incident_id, proposal_id = open_incident_with_proposal(store, 1)
    r.decide_and_deliver(r.link_token(incident_id, proposal_id), "approve", APPROVER)  # handed to the executor
    assert handed == [(incident_id, proposal_id)]
    assert r.execute(incident_id, proposal_id).startswith("outcome pending")
    clock.now += r.outcome_deadline_s + 1
    result = sweep_all(Pipe(r, clock), r)  # type: ignore[arg-type]
    assert result["outcome_unknown"] == []
    state = r.log.read(incident_id)
    assert state is not None and proposal_id not in state.executions and state.outcome_pending
