"""The ActionRunner contract (shared/ports.py), run against every adapter of shared/actions/: the dry run, Cloud Run
(its API clients stood in for by tests/test_cloud_run_runner.py's stand-ins), the runbook webhook (a local HTTP stub)
and the router that picks one by the action's executor (here in front of Cloud Run and the webhook).

A run carries the proposal out once and says what it did; one that could not be carried out raises (a failure is
never returned as text); the proposal is left as it was given."""

from __future__ import annotations

import urllib.error
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from shared.actions import ActionRouter, NoExecutor
from shared.actions.dry_run import DryRunRunner
from shared.actions.runbook_webhook import RunbookWebhookRunner
from shared.models import Proposal
from shared.ports import ActionRunner
from tests.http_stub import Stub, serve

UNREACHABLE = "http://127.0.0.1:9/nothing"  # the discard port: nothing listens
EXECUTORS = {"rollback_cloud_run": "cloud_run", "runbook_webhook": "runbook_webhook", "restart": "cloud_run",
             "drain_queue": "queue"}  # the catalog's shape, with an executor nothing configures


@dataclass
class Failure:
    runner: ActionRunner
    proposal: Proposal
    raises: type[Exception]  # what this adapter raises for it (the contract: that it raises, not returns)


@dataclass
class Harness:
    """One adapter as the suite drives it."""

    runner: ActionRunner
    proposal: Proposal  # one it carries out
    changes: Callable[[], int]  # how many changes it has made to what it drives
    failures: list[Failure] = field(default_factory=list)  # runs that cannot be carried out


def proposal(action: str, **params: object) -> Proposal:
    return Proposal(proposal_id="p-1", action=action, service="payment", params=dict(params),
                    preview=f"{action} on payment", rationale="the deploy broke it", evidence=["f-1"])


def hook(method: str, path: str, body: Any) -> tuple[int, Any]:
    """The runbook endpoint: /run accepts, /broken fails, /gone does not exist."""
    return {"/run": 200, "/broken": 500, "/gone": 404}.get(path, 404), None


def posts(stub: Stub) -> Callable[[], int]:
    return lambda: sum(1 for method, path, _body, _headers in stub.requests if (method, path) == ("POST", "/run"))


def cloud_run() -> tuple[ActionRunner, Callable[[], int]]:
    from tests.test_cloud_run_runner import adapter  # skips without the Cloud Run client library

    runner, services = adapter()  # the adapter's actions, dispatched by the router as the composition root does
    return ActionRouter(runner.actions(), EXECUTORS), lambda: len(services.updated)


@pytest.fixture(params=["dry-run", "cloud-run", "runbook-webhook", "router"])
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    if request.param == "dry-run":
        yield Harness(DryRunRunner(), proposal("rollback_cloud_run"), lambda: 0)
        return
    if request.param == "cloud-run":
        runner, updates = cloud_run()
        yield Harness(runner, proposal("rollback_cloud_run"), updates,
                      [Failure(runner, proposal("runbook_webhook"), ValueError)])  # not a Cloud Run action
        return
    with serve(hook) as stub:
        if request.param == "runbook-webhook":
            yield Harness(RunbookWebhookRunner(f"{stub.url}/run", timeout_s=5), proposal("runbook_webhook"),
                          posts(stub), [Failure(RunbookWebhookRunner(url), proposal("runbook_webhook"), error)
                                        for url, error in ((f"{stub.url}/broken", RuntimeError),  # names the status
                                                           (f"{stub.url}/gone", RuntimeError),
                                                           (UNREACHABLE, urllib.error.URLError))])
            return
        cloud, updates = cloud_run()
        assert isinstance(cloud, ActionRouter)
        router = ActionRouter({**cloud.actions, "runbook_webhook": RunbookWebhookRunner(f"{stub.url}/run").run},
                              EXECUTORS)
        yield Harness(router, proposal("rollback_cloud_run"), lambda: updates() + posts(stub)(),
                      [Failure(router, proposal("not_in_the_catalog"), NoExecutor),
                       Failure(router, proposal("drain_queue"), NoExecutor)])  # its executor is not configured


def test_a_run_carries_the_proposal_out_once_and_says_what_it_did(harness: Harness) -> None:
    given = harness.proposal.model_copy(deep=True)
    said = harness.runner.run(harness.proposal)
    assert isinstance(said, str) and said.strip()
    dry = getattr(harness.runner, "dry_run", False)
    assert harness.changes() == (0 if dry else 1)  # the dry run changes nothing; the others change it once
    assert harness.proposal == given


def test_a_run_that_could_not_be_carried_out_raises(harness: Harness) -> None:
    if not harness.failures:
        pytest.skip("the dry run changes nothing, so nothing can keep it from running")
    for failure in harness.failures:
        given = failure.proposal.model_copy(deep=True)
        with pytest.raises(failure.raises):
            failure.runner.run(failure.proposal)
        assert failure.proposal == given
    assert harness.changes() == 0  # a run that failed changed nothing the suite can see


def test_two_approved_proposals_are_two_runs(harness: Harness) -> None:
    harness.runner.run(harness.proposal)
    second = harness.proposal.model_copy(update={"proposal_id": "p-2"})
    assert harness.runner.run(second).strip()
    dry = getattr(harness.runner, "dry_run", False)
    assert harness.changes() == (0 if dry else 2)
