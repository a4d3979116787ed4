"""What a first `terraform apply` into an empty project meets: IAP's service agent exists before it is granted
anything, the sweep can hand approved actions over again, a policy the deployment cannot carry out refuses the plan,
and claim keys expire. Every argument added here is checked against the provider's documented schema, written down
below with its source (the provider cannot be downloaded here, so `terraform validate` cannot run)."""

from __future__ import annotations

import re
from typing import Any

from agents.remediation.catalog import CATALOG
from tests.test_infra import INFRA, locals_of, main_locals, parsed, resources

# Documented arguments (and attributes) of the resources these tests check, from the provider's docs:
# google_project_service_identity: hashicorp/terraform-provider-google website/docs/r/
#   project_service_identity.html.markdown: arguments `service` (required), `project`; attribute `email`;
#   "These resources are in beta, and should be used with the terraform-provider-google-beta provider".
# google_project_service: website/docs/r/google_project_service.html.markdown: `service`, `project`,
#   `disable_on_destroy`, `disable_dependent_services`, `check_if_service_has_usage_on_destroy`.
# google_secret_manager_secret_iam_member: website/docs/r/secret_manager_secret_iam.html.markdown: `secret_id`,
#   `role`, `member`, `project`, `condition`.
# google_service_account_iam_member: website/docs/r/google_service_account_iam.html.markdown: `service_account_id`
#   (required), `role` (required), `member` (required), `condition`.
# google_secret_manager_secret: website/docs/r/secret_manager_secret.html.markdown: `replication` (required; its
#   `auto` block), `secret_id` (required), `labels`, `annotations`, `version_aliases`, `version_destroy_ttl`,
#   `topics`, `expire_time`, `ttl`, `rotation`, `tags`, `project`, `deletion_policy`, `deletion_protection`.
# google_secret_manager_secret_version: website/docs/r/secret_manager_secret_version.html.markdown: `secret`
#   (required), `enabled`, `secret_data`, `secret_data_wo`, `secret_data_wo_version`, `project`, `deletion_policy`,
#   `is_secret_data_base64`.
# google_cloudfunctions2_function's service_config `secret_environment_variables` block:
#   website/docs/r/cloudfunctions2_function.html.markdown: `key`, `project_id`, `secret`, `version` (all required).
# (hashicorp/terraform-provider-google at e03b7622a26cf4e878f90bdccaca6aa3d03a7999.)
# terraform_data (built in, Terraform >= 1.4): `input`, `triggers_replace`; `lifecycle { precondition { condition,
#   error_message } }` (Terraform >= 1.2, developer.hashicorp.com/terraform/language/expressions/custom-conditions).
DOCUMENTED: dict[str, set[str]] = {
    "google_project_service_identity": {"provider", "service", "project", "depends_on", "timeouts"},
    "google_project_service": {"service", "project", "disable_on_destroy", "disable_dependent_services",
                               "check_if_service_has_usage_on_destroy", "timeouts", "count"},
    "google_secret_manager_secret_iam_member": {"secret_id", "role", "member", "project", "condition", "count",
                                                "for_each"},
    "terraform_data": {"input", "triggers_replace", "lifecycle"},
    "google_service_account_iam_member": {"service_account_id", "role", "member", "condition", "for_each", "count"},
    "google_secret_manager_secret": {"replication", "secret_id", "labels", "annotations", "version_aliases",
                                     "version_destroy_ttl", "topics", "expire_time", "ttl", "rotation", "tags",
                                     "project", "deletion_policy", "deletion_protection", "count", "for_each"},
    "google_secret_manager_secret_version": {"secret", "enabled", "secret_data", "secret_data_wo",
                                             "secret_data_wo_version", "project", "deletion_policy",
                                             "is_secret_data_base64", "count", "for_each"},
}
SECRET_ENVIRONMENT_VARIABLE = {"key", "project_id", "secret", "version"}


def _arguments(block: dict[str, Any]) -> set[str]:
    return {k for k in block if not k.startswith("__")}


def test_every_added_argument_is_in_the_documented_schema() -> None:
    for name in ("main.tf", "iam.tf", "secrets.tf"):
        for kind, allowed in DOCUMENTED.items():
            for resource, block in resources(name, kind).items():
                assert _arguments(block) <= allowed, f"{kind}.{resource}: {_arguments(block) - allowed}"
    for kind in ("google_secret_manager_secret",):  # replication { auto {} } only
        for resource, block in {**resources("iam.tf", kind), **resources("secrets.tf", kind)}.items():
            (replication,) = block["replication"]
            assert _arguments(replication) == {"auto"}, resource
    (fn,) = resources("main.tf", "google_cloudfunctions2_function").values()
    mounts = [d["secret_environment_variables"] for d in fn["service_config"][0]["dynamic"]]
    assert len(mounts) == 4  # the approval key, the webhook, the runbook webhook, the integrations' credentials
    for mount in mounts:
        assert _arguments(mount["content"][0]) == SECRET_ENVIRONMENT_VARIABLE


def test_iaps_service_agent_is_created_before_it_may_invoke_the_web_view() -> None:
    """The first apply into an empty project: the agent IAP uses does not exist until something creates it."""
    api = resources("main.tf", "google_project_service")["iap"]
    assert api["service"] == "iap.googleapis.com" and api["disable_on_destroy"] is False
    identity = resources("main.tf", "google_project_service_identity")["iap"]
    assert identity["provider"] == "google-beta"
    assert identity["service"] == "${google_project_service.iap.service}"  # the API first, then its agent
    invoker = resources("main.tf", "google_cloud_run_service_iam_member")["iap_invoker"]
    assert invoker["member"] == "serviceAccount:${google_project_service_identity.iap.email}"
    versions = parsed("versions.tf")
    (providers,) = versions["terraform"][0]["required_providers"]
    assert providers["google-beta"]["source"] == "hashicorp/google-beta"
    assert any("google-beta" in block for block in versions["provider"])


def _sa_of(function: str) -> str:
    loc = main_locals()
    if function in loc["http_functions"]:
        return str(loc["http_functions"][function]["sa"])
    text = (INFRA / "main.tf").read_text()
    found = re.search(rf'{function}\s*=\s*{{\s*entry_point\s*=\s*"{function}",\s*sa\s*=\s*"([a-z]+)"', text)
    assert found, function
    return found.group(1)


def test_the_sweep_can_hand_approved_actions_over_again() -> None:
    """It holds the approval key (without it the sweep skips the hand-offs) and may publish to `actions`."""
    loc, iam = main_locals(), locals_of("iam.tf")
    assert "sweep" in loc["approval_key_functions"] and "sweep" in loc["chat_functions"]
    sweeper = _sa_of("sweep")
    assert "actions" in iam["publishers"][sweeper] and "tasks" in iam["publishers"][sweeper]
    assert "roles/datastore.user" in iam["project_roles"][sweeper]
    text = (INFRA / "main.tf").read_text()  # the function mounts the secrets these lists name
    assert "contains(local.approval_key_functions, each.key)" in text and "contains(local.chat_functions" in text
    reader = resources("iam.tf", "google_secret_manager_secret_iam_member")["approval_key_reader"]
    assert "local.approval_key_functions" in reader["for_each"] and "local.functions[f].sa" in reader["for_each"]
    # the sweep no longer shares the synthesizer's identity: nothing else gains the key
    assert sweeper != _sa_of("synthesize")


def test_a_policy_the_deployment_cannot_carry_out_refuses_the_plan() -> None:
    (check,) = resources("main.tf", "terraform_data").values()
    conditions = [p["condition"] for p in check["lifecycle"][0]["precondition"]]
    runbook = next(c for c in conditions if '"runbook_webhook"' in c)
    assert "local.runbook" in runbook and 'var.executor == "cloud_run"' in runbook
    cloud_run_actions = {name for name, kind in CATALOG.items() if kind.executor == "cloud_run"}
    managed = next(c for c in conditions if "managed_services" in c)
    assert set(re.findall(r'"([a-z_]+)"', managed)) - {"cloud_run"} == cloud_run_actions
    assert {kind.executor for kind in CATALOG.values()} == {"cloud_run", "runbook_webhook"}  # each one checked
    assert 'variable "runbook_webhook_url"' in (INFRA / "variables.tf").read_text()
    assert "AUTOSRE_RUNBOOK_WEBHOOK_URL" in (INFRA / "main.tf").read_text()
    reader = resources("iam.tf", "google_secret_manager_secret_iam_member")["runbook_reader"]
    assert 'local.functions["execute"].sa' in reader["member"]


def test_claim_keys_expire_with_the_incidents() -> None:
    (field,) = resources("main.tf", "google_firestore_field").values()
    assert '"autosre_keys"' in field["for_each"]
    assert field["field"] == "expire_at"


def test_pubsubs_service_agent_may_sign_push_tokens_in_projects_created_before_april_2021() -> None:
    """Older projects lack the agent's token-creator grant: every authenticated push would fail with 403."""
    agent = resources("iam.tf", "google_project_service_identity")["pubsub"]
    assert agent["provider"] == "google-beta" and agent["service"] == "pubsub.googleapis.com"
    grant = resources("iam.tf", "google_service_account_iam_member")["pubsub_token_creator"]
    assert grant["role"] == "roles/iam.serviceAccountTokenCreator"
    assert grant["member"] == "serviceAccount:${google_project_service_identity.pubsub.email}"
    assert grant["service_account_id"] == '${google_service_account.sa["pusher"].name}'  # the push identity only
    assert 'service_account_email = google_service_account.sa["pusher"].email' in (INFRA / "main.tf").read_text()


def test_the_web_view_can_hand_investigations_and_hints_to_the_pipeline() -> None:
    """The web function (and the mcp function, deployed with its identity) publishes a started investigation to
    `alerts`, which the intake reads, and a hint's targeted look to `tasks`; a free question may use the model."""
    iam = locals_of("iam.tf")
    web = _sa_of("web")
    assert {"actions", "alerts", "tasks"} <= set(iam["publishers"][web])
    assert "aiplatform.user" in str(iam["project_roles"][web])
