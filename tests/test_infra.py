"""The Terraform deployment agrees with the code: every function's entry point exists, every topic it names is
declared, the push subscriptions are the pipeline's own (same names, same filters), and `terraform fmt` passes.
(The google provider cannot be downloaded here, so `terraform validate` cannot run.)"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import functions.main as targets
from functions.topology import PRODUCTION, subscriptions
from shared import topics
from shared.specialists import SPECIALISTS

INFRA = Path(__file__).resolve().parents[1] / "infra"
hcl2 = pytest.importorskip("hcl2")


def unquote(value: object) -> object:
    """python-hcl2 (newer versions) keeps string literals' quotes: drop them, recursively."""
    if isinstance(value, str):
        return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    if isinstance(value, list):
        return [unquote(v) for v in value]
    if isinstance(value, dict):
        return {unquote(k): unquote(v) for k, v in value.items()}  # type: ignore[misc]
    return value


def terraform() -> str:
    """The terraform command: a test that needs it skips where it is not installed, and fails under CI=true."""
    found = shutil.which("terraform")
    if found is None:
        if os.environ.get("CI") == "true":
            raise RuntimeError("terraform is not installed")
        pytest.skip("terraform is not installed")
    return found


def tf_block(text: str, head: str) -> str:
    """The top-level block of a .tf file's text that starts with `head` (to its closing brace at column 0)."""
    start = text.index(head)
    return text[start:text.index("\n}\n", start) + 3]


def initialised(folder: Path, config: str, tfvars: str = "") -> Path:
    """`folder` holding `config` (blocks cut out of infra/, which need no provider) and `tfvars`, initialised."""
    (folder / "main.tf").write_text(config)
    if tfvars:
        (folder / "terraform.tfvars").write_text(tfvars)
    subprocess.run([terraform(), "init", "-backend=false", "-input=false"], cwd=folder, check=True,
                   capture_output=True, timeout=120)
    return folder


def parsed(name: str) -> dict:  # type: ignore[type-arg]
    with open(INFRA / name) as f:
        return unquote(hcl2.load(f))  # type: ignore[return-value]


def locals_of(name: str) -> dict:  # type: ignore[type-arg]
    """A .tf file's locals, its `locals` blocks merged."""
    merged: dict = {}  # type: ignore[type-arg]
    for block in parsed(name)["locals"]:
        merged.update(block)
    return merged


def main_locals() -> dict:  # type: ignore[type-arg]
    """main.tf's locals; `specialists` is the variable infra/deploy.sh passes from the registry, so it reads as the
    registry's list (tests/test_specialist_registry.py checks that wiring)."""
    merged = locals_of("main.tf")
    if merged.get("specialists") == "${var.specialists}":
        merged["specialists"] = list(SPECIALISTS)
    return merged


def test_every_file_parses() -> None:
    for path in INFRA.glob("*.tf"):
        assert parsed(path.name) is not None


def test_every_entry_point_exists_in_the_code() -> None:
    text = (INFRA / "main.tf").read_text()
    specialists = main_locals()["specialists"]
    entry_points: set[str] = set()
    for raw in re.findall(r'entry_point\s*=\s*"([^"]+)"', text):
        entry_points |= {raw.replace("${s}", s) for s in specialists} if "${s}" in raw else {raw}
    assert {"intake", "synthesize", "execute", "web", "sweep"} <= entry_points
    assert {f"specialist_{s}" for s in specialists} <= entry_points
    for name in entry_points:
        assert callable(getattr(targets, name, None)), f"infra deploys {name}, which functions/main.py lacks"


def test_topics_and_push_subscriptions_match_the_pipeline() -> None:
    loc = main_locals()
    assert sorted(loc["topics"]) == sorted(topics.ALL)
    text = (INFRA / "main.tf").read_text()
    pushed_block = text[text.index("pushed = merge("):text.index("http_functions = {")]
    topics_named = set(re.findall(r'topic\s*=\s*"([^"]+)"', pushed_block))
    assert topics_named <= set(topics.ALL)
    specs = {s.name: s for s in subscriptions()}
    declared = {"intake", "synthesize", "execute"} | {f"specialist-{s}" for s in loc["specialists"]}
    assert declared | {"dead-letter-archive"} == set(specs)
    for name in loc["specialists"]:
        expected = specs[f"specialist-{name}"].filter_expression()
        assert expected == f'attributes.specialist = "{name}"'
    assert 'filter = "attributes.specialist = \\"${s}\\""' in pushed_block.replace("filter      =", "filter =")
    assert "dead_letter_topic" in text


def resources(name: str, kind: str) -> dict:  # type: ignore[type-arg]
    found: dict = {}  # type: ignore[type-arg]
    for block in parsed(name)["resource"]:
        found.update(block.get(kind, {}))
    return found


def test_subscriptions_never_expire_and_retry_as_the_production_profile() -> None:
    subs = resources("main.tf", "google_pubsub_subscription")
    assert set(subs) == {"push", "dead_letter_archive"}
    for name, sub in subs.items():
        (policy,) = sub["expiration_policy"]
        assert policy["ttl"] == "", f"{name} would expire after 31 quiet days"
    push = subs["push"]
    assert push["dead_letter_policy"][0]["max_delivery_attempts"] == PRODUCTION.max_delivery_attempts
    retry = push["retry_policy"][0]
    assert retry["minimum_backoff"] == f"{PRODUCTION.min_backoff_s:g}s"
    assert retry["maximum_backoff"] == f"{PRODUCTION.max_backoff_s:g}s"
    assert 5 <= PRODUCTION.max_delivery_attempts <= 100 and PRODUCTION.max_backoff_s <= 600  # the service's bounds


def test_a_sensitive_value_never_drives_count_or_for_each() -> None:
    for name in ("main.tf", "iam.tf"):
        for line in (INFRA / name).read_text().splitlines():
            if line.strip().startswith(("count", "for_each")):
                assert "var.webhook_url" not in line, f"{name}: {line.strip()}"
    assert "nonsensitive(var.webhook_url" in (INFRA / "main.tf").read_text()


def test_functions_wait_for_their_secret_access_and_roles() -> None:
    (fn,) = resources("main.tf", "google_cloudfunctions2_function").values()
    needs = " ".join(fn["depends_on"])
    for dependency in ("google_secret_manager_secret_iam_member.approval_key_reader",
                       "google_secret_manager_secret_iam_member.webhook_reader", "google_project_iam_member.role"):
        assert dependency in needs
    publisher = resources("main.tf", "google_pubsub_topic_iam_member")["monitoring_publisher"]
    assert "google_monitoring_notification_channel.autosre" in " ".join(publisher["depends_on"])


def test_the_deployment_tells_the_functions_where_they_are_reached() -> None:
    env = main_locals()["env"]
    assert "AUTOSRE_BASE_URL" in env and "AUTOSRE_IAP_AUDIENCE" in env
    assert "var.base_url" in (INFRA / "variables.tf").read_text()


def test_specialists_read_only_and_executor_alone_writes() -> None:
    roles: dict[str, list[str]] = {}
    for block in parsed("iam.tf")["locals"]:  # a list, or an expression (concat) naming its roles
        roles.update({k: re.findall(r"roles/[A-Za-z.]+", str(v)) for k, v in block.get("project_roles", {}).items()})
    assert roles, "iam.tf declares project_roles"
    flat = {r for rs in roles.values() for r in rs}
    # nothing that changes Cloud Run, acts as another account or reads every dataset is granted project-wide; the
    # executor alone reads Cloud Run (the operations its updates start: operations.get is project-wide)
    assert not any(r.startswith("roles/run.") and r != "roles/run.viewer" for r in flat)
    assert [k for k, rs in roles.items() if "roles/run.viewer" in rs] == ["executor"]
    assert "roles/iam.serviceAccountUser" not in flat and "roles/bigquery.dataViewer" not in flat
    assert set(roles["investigator"]) >= {"roles/logging.viewer", "roles/cloudtrace.user", "roles/monitoring.viewer",
                                          "roles/bigquery.jobUser"}
    assert not any("admin" in r or "editor" in r or "owner" in r for r in flat)
    developer = resources("iam.tf", "google_cloud_run_v2_service_iam_member")["executor_developer"]
    assert developer["for_each"] == "${toset(var.managed_services)}" and developer["role"] == "roles/run.developer"
    act_as = resources("iam.tf", "google_service_account_iam_member")["executor_act_as"]
    assert act_as["for_each"] == "${toset(var.managed_service_accounts)}"
    assert "google_project_iam_member" not in str(act_as)
    reads = resources("iam.tf", "google_bigquery_dataset_iam_member")["investigator_reads_logs"]
    assert reads["role"] == "roles/bigquery.dataViewer" and "investigator" in reads["member"]


def test_terraform_fmt() -> None:
    result = subprocess.run([terraform(), "fmt", "-check", "-recursive", str(INFRA)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_web_function_is_reached_only_through_the_load_balancer_and_iap() -> None:
    main = parsed("main.tf")
    (fn,) = [r["google_cloudfunctions2_function"]["fn"] for r in main["resource"]
             if "google_cloudfunctions2_function" in r]
    ingress = fn["service_config"][0]["ingress_settings"]
    assert '"web" ? "ALLOW_INTERNAL_AND_GCLB" : "ALLOW_INTERNAL_ONLY"' in ingress.replace("each.key == ", "")
    assert "ALLOW_ALL" not in ingress
    bindings = [r["google_cloud_run_service_iam_member"] for r in main["resource"]
                if "google_cloud_run_service_iam_member" in r]
    iap = [b for group in bindings for b in group.values() if "google_project_service_identity.iap" in b["member"]]
    assert len(iap) == 1, "the IAP service agent may invoke the web function"
    (binding,) = iap
    assert binding["role"] == "roles/run.invoker"
    assert binding["member"] == "serviceAccount:${google_project_service_identity.iap.email}"
    assert binding["service"] == '${google_cloudfunctions2_function.fn["web"].service_config[0].service}'
    assert binding["location"] == "${var.region}"
    # no one else may invoke it: the pushed bindings iterate local.pushed, the scheduler's names sweep
    web_invokers = [b for group in bindings for b in group.values() if '"web"' in str(b["service"])]
    assert web_invokers == [binding]
