"""What the deployed functions read, and what Terraform gives them to read it: every function account holds the
roles for the reads it really does and no more, and every setting a deployed function reads can be set from a
Terraform variable (its credentials from Secret Manager, readable only by the accounts of the functions that use
them), except the local-only ones listed below with why."""

from __future__ import annotations

import inspect
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

import functions.handlers.sweep as sweep_handler
import functions.recovery as recovery
import functions.runtime as runtime
from shared.config import TUPLE_SETTINGS, Settings
from tests.test_infra import INFRA, initialised, locals_of, main_locals, parsed, resources, terraform, tf_block

# ---------------------------------------------------------------- roles

# The project roles each account may hold (some only when the setting that needs them is on), and why. Anything
# else is refused: least privilege.
ROLES: dict[str, dict[str, str]] = {
    "intake": {"roles/datastore.user": "the incident store"},
    "investigator": {
        "roles/datastore.user": "the incident store, the read quotas",
        "roles/logging.viewer": "logs and audit logs (the logs and changes specialists)",
        "roles/cloudtrace.user": "traces",
        "roles/monitoring.viewer": "metrics and SLOs (the metrics specialist)",
        "roles/bigquery.jobUser": "Log Analytics queries",
        "roles/servicehealth.viewer": "Google Cloud's incidents (the changes specialist, with service_placements)",
    },
    "synthesizer": {"roles/datastore.user": "the incident store", "roles/aiplatform.user": "Gemini (gemini)"},
    "sweeper": {
        "roles/datastore.user": "the incident store",
        "roles/monitoring.viewer": "recovery checks read the alerting metric after an executed action",
        "roles/aiplatform.user": "Gemini for partial reports (gemini)",
    },
    "web": {"roles/datastore.user": "the incident store",
            "roles/aiplatform.user": "Gemini for follow-up questions no common answer fits (gemini)"},
    "executor": {"roles/datastore.user": "the incident store",
                 "roles/run.viewer": "the Cloud Run operations its changes start"},
    "pusher": {}, "scheduler": {}, "builder": {},
}
CONDITIONAL = {("synthesizer", "roles/aiplatform.user"): "var.gemini",
               ("sweeper", "roles/aiplatform.user"): "var.gemini",
               ("web", "roles/aiplatform.user"): "var.gemini",
               ("investigator", "roles/servicehealth.viewer"): "var.service_placements"}


def _roles_of(value: Any) -> list[str]:
    return re.findall(r"roles/[A-Za-z.]+", str(value))


def test_each_account_holds_exactly_the_roles_for_what_its_functions_read() -> None:
    granted = {sa: _roles_of(value) for sa, value in locals_of("iam.tf")["project_roles"].items()}
    assert {sa: set(roles) for sa, roles in granted.items()} == {sa: set(r) for sa, r in ROLES.items()}
    for (sa, role), condition in CONDITIONAL.items():
        value = str(locals_of("iam.tf")["project_roles"][sa])
        assert value.count(f'"{role}"') == 1 and condition in value.split(f'"{role}"')[0], (sa, role, value)


def test_the_sweep_reads_monitoring_for_its_recovery_checks() -> None:
    """The sweep checks recoveries (functions/handlers/sweep.py), which read the alerting metric through the
    telemetry source (functions/recovery.py): on Google Cloud that is Cloud Monitoring's ListTimeSeries."""
    assert "check_recoveries(" in inspect.getsource(sweep_handler.sweep_all)
    assert "sweep_checks" in inspect.getsource(sweep_handler.check_recoveries)
    assert ".metrics(" in inspect.getsource(recovery.check)
    assert "CloudMonitoringReader(" in inspect.getsource(runtime.gcp_source)
    assert main_locals()["http_functions"]["sweep"]["sa"] == "sweeper"


def test_the_executor_reads_no_telemetry() -> None:
    """execute builds the remediation workflow alone (functions/main.py `remediation`): no telemetry source, so no
    Monitoring role; the recovery checks that once ran there are the sweep's."""
    for fn in (runtime.remediation_of, runtime.make_runner):
        source = inspect.getsource(fn)
        assert "make_telemetry" not in source and "gcp_source" not in source


def test_service_health_is_read_by_the_changes_specialist_only() -> None:
    source = inspect.getsource(runtime.gcp_source)
    assert "if settings.service_placements:" in source and "ServiceHealthReader(" in source
    changes = (Path(__file__).resolve().parents[1] / "agents" / "specialists" / "changes").rglob("*.py")
    assert any(".changes(" in p.read_text() for p in changes)
    assert ".changes(" not in inspect.getsource(recovery.check)  # the sweep's recovery check reads metrics only
    api = resources("main.tf", "google_project_service")["servicehealth"]
    assert api["service"] == "servicehealth.googleapis.com" and "var.service_placements" in api["count"]


# ---------------------------------------------------------------- settings

# Settings Terraform does not set, and why. Every other setting is set from a variable.
NOT_FROM_TERRAFORM: dict[str, str] = {
    "sqlite_path": "the embedded store; the deployment uses Firestore",
    "local_identity": "embedded mode without IAP",
    "firestore_prefix": "the TTL policies (main.tf google_firestore_field) name the default collections",
    "iap_certs_url": "IAP's own public keys; another address is for tests",
    "gemini_api_key": "the deployment calls Gemini on Vertex AI as the function's identity (no API key)",
    "gemini_base_url": "another Gemini endpoint, for tests and proxies",
    "slack_bot_token_secret": "Terraform keeps the token in a secret it creates and mounts it as the setting",
    "pagerduty_routing_key_secret": "the same: Terraform mounts the key from its own secret",
    "jira_api_token_secret": "the same: Terraform mounts the token from its own secret",
    "readers": "read by the mcp function alone, which docs/conversation.md deploys with gcloud, not Terraform",
}
# Credentials: mounted from Secret Manager, never in the plain environment.
SECRETS = {"approval_key", "webhook_url", "runbook_webhook_url", "slack_bot_token", "pagerduty_routing_key",
           "jira_api_token"}
# Terraform variables named otherwise than the setting
VARIABLE_OF = {"policy": "policy_json", "gemini_vertex_project": "project_id", "project": "project_id"}
# The settings whose Terraform default is not the code's, and why (the others default to the code's default).
DEPLOYMENT_DEFAULTS = {
    "project", "store", "bus", "gemini_vertex_project", "approval_key",  # the deployment's own
    "telemetry",  # gcp: the deployment reads Google Cloud's telemetry
    "retention_days",  # 400: Firestore TTL deletes old incidents
    "base_url",  # required
}


def _main_text() -> str:
    return (INFRA / "main.tf").read_text() + (INFRA / "secrets.tf").read_text()


def _set_in_env() -> set[str]:
    """The AUTOSRE_ settings main.tf sets: in an environment map (NAME = ...) or mounted (key = "NAME")."""
    text = _main_text()
    return set(re.findall(r"\b(AUTOSRE_[A-Z0-9_]+)\s*=(?!=)", text)) \
        | set(re.findall(r'key\s*=\s*"(AUTOSRE_[A-Z0-9_]+)"', text))


def _variables() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for block in parsed("variables.tf")["variable"]:
        out.update(block)
    return out


def test_every_setting_a_deployed_function_reads_can_be_set_from_terraform() -> None:
    names = set(Settings.model_fields)
    assert set(NOT_FROM_TERRAFORM) <= names, "an exclusion names a setting that no longer exists"
    wanted = {f"AUTOSRE_{n.upper()}" for n in names - set(NOT_FROM_TERRAFORM)}
    assert wanted - _set_in_env() == set(), "settings a deployment cannot set from Terraform"
    variables = _variables()
    text = _main_text()
    # store and bus are the deployment's (firestore, pubsub); the approval key is generated (random_password)
    for name in names - set(NOT_FROM_TERRAFORM) - {"store", "bus", "approval_key"}:
        var = VARIABLE_OF.get(name, name)
        assert var in variables, f"no Terraform variable {var} for AUTOSRE_{name.upper()}"
        assert f"var.{var}" in text, f"var.{var} is not passed to any function"


def test_the_new_variables_default_to_the_codes_defaults() -> None:
    variables, defaults = _variables(), Settings()
    for name, field in Settings.model_fields.items():
        if name in NOT_FROM_TERRAFORM or name in DEPLOYMENT_DEFAULTS:
            continue
        var = variables[VARIABLE_OF.get(name, name)]
        assert "description" in var and "type" in var, name
        if "default" not in var:
            continue
        code = getattr(defaults, name)
        if name in TUPLE_SETTINGS:
            assert tuple(var["default"]) == code, name
        elif isinstance(code, bool):
            assert var["default"] is code, name
        elif isinstance(code, (int, float)):
            assert float(var["default"]) == float(code), name
        else:
            assert var["default"] == code, (name, var["default"], field)


def test_credentials_come_from_secret_manager_and_only_their_readers_may_read_them() -> None:
    text, variables = _main_text(), _variables()
    plain = set(re.findall(r"\b(AUTOSRE_[A-Z0-9_]+)\s*=(?!=)", text))
    for name in SECRETS:
        env = f"AUTOSRE_{name.upper()}"
        assert env not in plain, f"{env} is a credential: mount it from Secret Manager"
        assert re.search(rf'key\s*=\s*"{env}"', text), env
        if name != "approval_key":
            assert variables[name].get("sensitive") is True, name
    for name in SECRETS - {"approval_key"}:  # a sensitive value cannot drive count or for_each (nonsensitive)
        for file in ("main.tf", "iam.tf", "secrets.tf"):
            for line in (INFRA / file).read_text().splitlines():
                if line.strip().startswith(("count", "for_each")):
                    assert f"var.{name}" not in line, f"{file}: {line.strip()}"
        assert f"nonsensitive(var.{name} != \"\")" in text, name
    readers = resources("secrets.tf", "google_secret_manager_secret_iam_member")
    assert set(readers) == {"credential_reader"}
    assert "local.credential_readers" in readers["credential_reader"]["for_each"]
    credentials = parsed("secrets.tf")["locals"][0]["credentials"]  # a for expression: read as its text
    found = re.findall(r'(\w+) = \{on = local\.(\w+), secret_id = "[^"]+", key = "(AUTOSRE_\w+)", '
                       r'readers = local\.(\w+)\}', credentials)
    assert {(c, key, who) for c, on, key, who in found if c == on} == {
        ("slack", "AUTOSRE_SLACK_BOT_TOKEN", "chat_functions"),
        ("pagerduty", "AUTOSRE_PAGERDUTY_ROUTING_KEY", "handoff_functions"),
        ("jira", "AUTOSRE_JIRA_API_TOKEN", "handoff_functions")}
    webhook = resources("iam.tf", "google_secret_manager_secret_iam_member")["webhook_reader"]
    assert "local.chat_functions" in webhook["for_each"]


# The functions that tell an incident's chat thread and hand incidents off, from the code: intake tells the resolved
# notice and resolves hand-offs; synthesize tells and hands off each report; the sweep re-drives both; execute and
# web tell decisions, executions and acknowledgements (functions/runtime.py `remediation_of` -> `chat_told`).
CHAT = ["intake", "synthesize", "execute", "web", "sweep"]
HANDOFF = ["intake", "synthesize", "sweep"]


def test_each_group_of_settings_goes_to_the_functions_that_read_it() -> None:
    loc = main_locals()
    assert loc["chat_functions"] == CHAT and loc["handoff_functions"] == HANDOFF
    root = Path(__file__).resolve().parents[1] / "functions"
    assert "chat_thread" in (root / "handlers" / "intake.py").read_text()
    assert "handoffs.resolve" in (root / "handlers" / "intake.py").read_text()
    assert "hand_off_auto" in (root / "handlers" / "after_report.py").read_text()
    assert "chat_told(" in inspect.getsource(runtime.remediation_of)
    assert "handoff" not in (root / "handlers" / "web.py").read_text().lower()  # web hands nothing off
    chat = set(loc["chat_env"]) | {"AUTOSRE_SLACK_BOT_TOKEN", "AUTOSRE_WEBHOOK_URL"}
    assert {n for n in chat if n.startswith("AUTOSRE_")} == {
        "AUTOSRE_WEBHOOK_URL", "AUTOSRE_SLACK_BOT_TOKEN", "AUTOSRE_SLACK_CHANNEL", "AUTOSRE_NOTIFY_SEVERITIES",
        "AUTOSRE_NOTIFY_SERVICES", "AUTOSRE_QUIET_HOURS", "AUTOSRE_QUIET_HOURS_SEVERITIES"}
    assert set(loc["handoff_env"]) == {"AUTOSRE_HANDOFF_AUTO", "AUTOSRE_PAGERDUTY_URL", "AUTOSRE_JIRA_URL",
                                       "AUTOSRE_JIRA_EMAIL", "AUTOSRE_JIRA_PROJECT", "AUTOSRE_JIRA_ISSUE_TYPE"}
    # the settings one function reads: the runbook catalogue (cited on the web view's report page), SLOs (the
    # metrics specialist), Service Health placements (the changes specialist), the service graph (traces)
    only = loc["only_env"]
    assert only == {"web": {"AUTOSRE_RUNBOOKS": "${var.runbooks}"},
                    "specialist-metrics": {"AUTOSRE_SLOS": "${tostring(var.slos)}"},
                    "specialist-changes": {"AUTOSRE_SERVICE_PLACEMENTS": "${var.service_placements}"},
                    "specialist-traces": {"AUTOSRE_SERVICE_GRAPH": "${var.service_graph}"}}
    assert "runbook_view" in (root / "web_report.py").read_text()
    env = str(resources("main.tf", "google_cloudfunctions2_function")["fn"]["service_config"][0]
              ["environment_variables"])
    assert "local.function_env[each.key]" in env


def test_file_settings_point_into_the_shipped_files_folder() -> None:
    """Runbooks, placements and the service graph are files the function reads: infra/package.py ships infra/files/
    as files/ in the source, and the variables must point there."""
    variables = _variables()
    for name in ("runbooks", "service_placements", "service_graph"):
        (rule,) = variables[name]["validation"]
        assert f'startswith(var.{name}, "files/")' in rule["condition"], name
    assert 'FILES = "files"' in (INFRA / "package.py").read_text()


# ---------------------------------------------------------------- plan-time validation, in real Terraform


@pytest.fixture(scope="module")
def planner(tmp_path_factory: pytest.TempPathFactory) -> Path:
    variables = (INFRA / "variables.tf").read_text()
    names = ("quiet_hours", "handoff_auto", "runbooks")
    config = "\n".join(tf_block(variables, f'variable "{name}"') for name in names)
    return initialised(tmp_path_factory.mktemp("plan"), config)


def _plans(folder: Path, name: str, value: str) -> bool:
    done = subprocess.run([terraform(), "plan", "-input=false", "-no-color", "-var",
                           f"{name}={value}"], cwd=folder, capture_output=True, text=True, timeout=120)
    return done.returncode == 0


@pytest.mark.parametrize("value", ["", "22:00-07:00", " 9:30 - 17:05 ", "24:00-07:00", "22:60-07:00", "22:00",
                                   "22-07", "22:00-07:00-08:00", "ab:cd-07:00"])
def test_quiet_hours_are_validated_at_plan_time_as_the_code_does(planner: Path, value: str) -> None:
    try:
        Settings(quiet_hours=value)
        accepted = True
    except ValueError:
        accepted = False
    assert _plans(planner, "quiet_hours", value) is accepted


@pytest.mark.parametrize(("value", "ok"), [('["pagerduty","jira"]', True), ("[]", True), ('["opsgenie"]', False)])
def test_handoff_auto_names_known_integrations(planner: Path, value: str, ok: bool) -> None:
    assert _plans(planner, "handoff_auto", value) is ok


TFVARS = ('project_id = "p"\nsource_zip = "x.zip"\nbase_url = "https://sre.example.com"\n'
          'specialists = ["logs", "traces", "metrics", "changes"]\n')


def _console(folder: Path, files: tuple[str, ...], tfvars: str, expression: str) -> Any:
    """`expression` evaluated by `terraform console` over variables.tf and the locals of `files` (no provider
    needed), with `tfvars`: its value, decoded from JSON."""
    import json

    config = (INFRA / "variables.tf").read_text() + "".join(
        tf_block((INFRA / f).read_text(), "locals {") for f in files)
    done = subprocess.run([terraform(), "console"], input=f"jsonencode({expression})\n",
                          cwd=initialised(folder, config, tfvars), capture_output=True, text=True, timeout=120,
                          check=True)
    return json.loads(json.loads(done.stdout.strip()))


def test_the_environment_terraform_gives_each_function_is_read_as_the_codes_defaults(tmp_path: Path) -> None:
    """main.tf's and iam.tf's locals, evaluated by Terraform itself (`terraform console`, no provider needed): with
    the variables at their defaults, each function's environment reads (shared/config.py) as the code's defaults,
    but for the deployment's own settings; and the group settings reach only their functions."""
    envs: dict[str, dict[str, str]] = _console(tmp_path, ("main.tf", "iam.tf"), TFVARS, "local.function_env")
    assert set(envs) == {"intake", "synthesize", "execute", "web", "sweep"} | {
        f"specialist-{s}" for s in ("logs", "traces", "metrics", "changes")}
    code = Settings().model_dump()
    for function, env in envs.items():
        read = Settings.from_env(env).model_dump()
        differ = {k for k in code if read[k] != code[k]}
        assert differ <= DEPLOYMENT_DEFAULTS | {"gemini_vertex_project"}, (function, differ)
        assert ("AUTOSRE_QUIET_HOURS" in env) is (function in CHAT), function
        assert ("AUTOSRE_HANDOFF_AUTO" in env) is (function in HANDOFF), function
        assert ("AUTOSRE_RUNBOOKS" in env) is (function == "web"), function
        assert ("AUTOSRE_SLOS" in env) is (function == "specialist-metrics"), function


def test_each_credential_set_gets_a_secret_mounted_and_readable_by_its_readers_alone(tmp_path: Path) -> None:
    """secrets.tf's locals, evaluated by Terraform itself: a credential left empty gets no secret; each one set is
    granted to the accounts of the functions that read it, and mounted as its setting in those functions only."""
    credentials, readers = _console(tmp_path, ("main.tf", "iam.tf", "secrets.tf"),
                                    TFVARS + 'slack_bot_token = "xoxb-1"\njira_api_token = "t"\n',
                                    "[local.credentials, keys(local.credential_readers)]")
    assert set(credentials) == {"slack", "jira"}  # no PagerDuty key: no secret
    chat = {"intake", "synthesizer", "executor", "web", "sweeper"}  # the accounts of CHAT's functions
    handoff = {"intake", "synthesizer", "sweeper"}  # ... and of HANDOFF's
    assert set(readers) == {f"slack/{sa}" for sa in chat} | {f"jira/{sa}" for sa in handoff}
    assert credentials["slack"]["key"] == "AUTOSRE_SLACK_BOT_TOKEN" and credentials["slack"]["readers"] == CHAT
    assert credentials["jira"]["key"] == "AUTOSRE_JIRA_API_TOKEN" and credentials["jira"]["readers"] == HANDOFF
