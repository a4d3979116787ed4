"""The plan-time checks run in real Terraform: the policy check (`terraform_data.policy_is_executable`) and the
model's validation use only Terraform's built-ins, so their blocks, cut out of infra/ as they are, are planned here
(no provider is downloaded). A policy the deployment cannot carry out, and a model that has been shut down, are
refused; the deploy guide's own command, going live with what it needs, plans."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.test_infra import INFRA, initialised, terraform, tf_block

POLICY = '{"allow":{"checkout":["rollback_cloud_run"],"*":["runbook_webhook"]},"max_actions_per_hour":3}'


@pytest.fixture(scope="module")
def planner(tmp_path_factory: pytest.TempPathFactory) -> Path:
    terraform()  # skipped (failed under CI) where it is not installed
    main, variables = (INFRA / "main.tf").read_text(), (INFRA / "variables.tf").read_text()
    local_lines = [m.group(0) for name in ("runbook", "allowed_actions")
                   for m in [re.search(rf"^\s*{name}\s*=.*$", main, re.M)] if m]
    assert len(local_lines) == 2, "main.tf defines local.runbook and local.allowed_actions on one line each"
    config = "\n".join(tf_block(variables, f'variable "{name}"') for name in
                       ("executor", "policy_json", "runbook_webhook_url", "managed_services", "gemini_model"))
    config += "\nlocals {\n" + "\n".join(local_lines) + "\n}\n" + tf_block(main, 'resource "terraform_data"')
    return initialised(tmp_path_factory.mktemp("plan"), config)


def plan(folder: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    args = [a for name, value in variables.items() for a in ("-var", f"{name}={value}")]
    return subprocess.run([terraform(), "plan", "-input=false", "-no-color", *args], cwd=folder,
                          capture_output=True, text=True, timeout=120)


def test_the_guides_policy_plans_as_a_dry_run(planner: Path) -> None:
    assert plan(planner, policy_json=POLICY).returncode == 0


def test_going_live_without_the_runbook_webhook_is_refused_at_plan_time(planner: Path) -> None:
    refused = plan(planner, policy_json=POLICY, executor="cloud_run", managed_services='["checkout"]')
    assert refused.returncode != 0 and "set runbook_webhook_url" in " ".join(refused.stderr.split())
    live = plan(planner, policy_json=POLICY, executor="cloud_run", managed_services='["checkout"]',
                runbook_webhook_url="https://runbooks.example.com/hook")
    assert live.returncode == 0, live.stderr


def test_a_cloud_run_action_without_managed_services_is_refused(planner: Path) -> None:
    refused = plan(planner, policy_json=POLICY, executor="cloud_run", runbook_webhook_url="https://r.example.com")
    assert refused.returncode != 0 and "managed_services" in refused.stderr


def test_an_unreadable_policy_is_refused(planner: Path) -> None:
    assert plan(planner, policy_json='{"permit": {}}').returncode != 0


@pytest.mark.parametrize(("model", "ok"), [("gemini-3.5-flash-lite", True), ("gemini-2.5-flash-lite", True),
                                           ("gemini-2.5-flash", False), ("gemini-1.5-pro-002", False),
                                           ("models/gemini-2.0-flash", False), ("gpt-4o", False)])
def test_the_model_is_validated_at_plan_time(planner: Path, model: str, ok: bool) -> None:
    assert (plan(planner, gemini_model=model).returncode == 0) is ok
