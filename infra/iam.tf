# Least privilege: specialists only read telemetry; only the executor may change Cloud Run services.

locals {
  service_accounts = {
    intake       = "Auto SRE intake: parses alerts, opens incidents, dispatches specialists"
    investigator = "Auto SRE specialists: read-only telemetry"
    synthesizer  = "Auto SRE synthesizer: reports and proposals"
    sweeper      = "Auto SRE sweep: partial reports, unfinished steps, approved actions handed over again"
    web          = "Auto SRE web view: reads incidents, records approvals"
    executor     = "Auto SRE executor: runs approved remediations"
    pusher       = "Auto SRE Pub/Sub push identity (invokes the functions)"
    scheduler    = "Auto SRE scheduler identity (invokes the sweep)"
    builder      = "Auto SRE build identity (Cloud Build for the functions' images)"
  }

  # Project-wide only what has no narrower resource: Firestore, reading telemetry, running BigQuery jobs, the
  # executor reading the Cloud Run operations its updates start (run.viewer: read only). Reading
  # the Log Analytics dataset, changing Cloud Run services and acting as their identities are granted per
  # resource below. Each account holds the roles of the reads its functions do, and no more
  # (tests/test_infra_settings.py):
  # - the specialists read logs and audit logs, traces, metrics and SLOs (Cloud Monitoring), Log Analytics, and,
  #   with service_placements, Google Cloud's incidents (the Service Health API: the changes specialist);
  # - the sweep checks recovery after an executed action: it reads the alerting metric from Cloud Monitoring;
  # - the executor reads no telemetry (recovery checks are the sweep's), only the Cloud Run operations it starts;
  # - with gemini, the synthesizer and the sweep (partial reports) write the narrative on Vertex AI.
  project_roles = {
    intake = ["roles/datastore.user"]
    investigator = concat(["roles/datastore.user", "roles/logging.viewer", "roles/cloudtrace.user",
      "roles/monitoring.viewer", "roles/bigquery.jobUser"],
    var.service_placements == "" ? [] : ["roles/servicehealth.viewer"])
    synthesizer = concat(["roles/datastore.user"], var.gemini ? ["roles/aiplatform.user"] : [])
    sweeper     = concat(["roles/datastore.user", "roles/monitoring.viewer"], var.gemini ? ["roles/aiplatform.user"] : [])
    web         = concat(["roles/datastore.user"], var.gemini ? ["roles/aiplatform.user"] : []) # free questions
    executor    = ["roles/datastore.user", "roles/run.viewer"]
    pusher      = []
    scheduler   = []
    builder     = []
  }

  # who publishes to which topic
  publishers = {
    intake       = ["tasks", "dead-letter"]
    investigator = ["findings"]
    synthesizer  = ["tasks"]
    sweeper      = ["tasks", "actions"]           # a second round's tasks; approved actions whose hand-off was lost
    web          = ["actions", "alerts", "tasks"] # approved actions; started investigations; a hint's targeted look
  }

  project_bindings = flatten([for sa, roles in local.project_roles : [for role in roles : { sa = sa, role = role }]])
  topic_bindings   = flatten([for sa, topics in local.publishers : [for t in topics : { sa = sa, topic = t }]])
}

resource "google_service_account" "sa" {
  for_each     = local.service_accounts
  account_id   = "autosre-${each.key}"
  display_name = each.value
}

resource "google_project_iam_member" "role" {
  for_each = { for b in local.project_bindings : "${b.sa}-${b.role}" => b }
  project  = var.project_id
  role     = each.value.role
  member   = "serviceAccount:${google_service_account.sa[each.value.sa].email}"
}

resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = { for b in local.topic_bindings : "${b.sa}-${b.topic}" => b }
  topic    = google_pubsub_topic.topic[each.value.topic].id
  role     = "roles/pubsub.publisher"
  member   = "serviceAccount:${google_service_account.sa[each.value.sa].email}"
}

# The executor changes only the Cloud Run services it is given, and deploys their revisions as their own runtime
# identities: acting as those accounts only, never as any account of the project.
resource "google_cloud_run_v2_service_iam_member" "executor_developer" {
  for_each = toset(var.managed_services)
  location = var.region
  name     = each.key
  role     = "roles/run.developer"
  member   = "serviceAccount:${google_service_account.sa["executor"].email}"
}

resource "google_service_account_iam_member" "executor_act_as" {
  for_each           = toset(var.managed_service_accounts)
  service_account_id = "projects/${var.project_id}/serviceAccounts/${each.key}"
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.sa["executor"].email}"
}

# Pub/Sub signs each push with an OIDC token of the pusher account. Projects created before April 8, 2021 lack the
# grant that lets Pub/Sub's service agent mint those tokens (pushes then fail with 403 and pile up in the dead
# letter); newer projects have it, and the grant is harmless there. Granted on the pusher account only, not the
# project.
resource "google_project_service_identity" "pubsub" {
  provider = google-beta
  service  = "pubsub.googleapis.com"
}

resource "google_service_account_iam_member" "pubsub_token_creator" {
  service_account_id = google_service_account.sa["pusher"].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${google_project_service_identity.pubsub.email}"
}

# The specialists read the Log Analytics dataset (if one is used), not every dataset of the project.
resource "google_bigquery_dataset_iam_member" "investigator_reads_logs" {
  count      = var.log_analytics_table == "" ? 0 : 1
  project    = split(".", var.log_analytics_table)[0]
  dataset_id = split(".", var.log_analytics_table)[1]
  role       = "roles/bigquery.dataViewer"
  member     = "serviceAccount:${google_service_account.sa["investigator"].email}"
}

# Cloud Build runs the functions' builds as this account (new organisations no longer grant the default compute
# account the build roles).
resource "google_project_iam_member" "builder" {
  for_each = toset(["roles/cloudbuild.builds.builder", "roles/logging.logWriter", "roles/artifactregistry.writer",
  "roles/storage.objectViewer"])
  project = var.project_id
  role    = each.key
  member  = "serviceAccount:${google_service_account.sa["builder"].email}"
}

# ---------------------------------------------------------------- secrets

resource "random_password" "approval_key" {
  length  = 64
  special = false
}

resource "google_secret_manager_secret" "approval_key" {
  secret_id = "autosre-approval-key"
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "approval_key" {
  secret      = google_secret_manager_secret.approval_key.id
  secret_data = random_password.approval_key.result
}

resource "google_secret_manager_secret" "webhook" {
  count     = local.notify ? 1 : 0
  secret_id = "autosre-webhook-url"
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "webhook" {
  count       = local.notify ? 1 : 0
  secret      = google_secret_manager_secret.webhook[0].id
  secret_data = var.webhook_url
}

# Each secret is readable by the identities of the functions that mount it (main.tf), and by no one else.
resource "google_secret_manager_secret_iam_member" "approval_key_reader" {
  for_each  = toset([for f in local.approval_key_functions : local.functions[f].sa])
  secret_id = google_secret_manager_secret.approval_key.id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.sa[each.key].email}"
}

resource "google_secret_manager_secret_iam_member" "webhook_reader" {
  for_each  = local.notify ? toset([for f in local.chat_functions : local.functions[f].sa]) : toset([])
  secret_id = google_secret_manager_secret.webhook[0].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.sa[each.key].email}"
}

# The runbook webhook the runbook_webhook action POSTs to (it usually carries a token: a secret, like the other).
resource "google_secret_manager_secret" "runbook" {
  count     = local.runbook ? 1 : 0
  secret_id = "autosre-runbook-webhook-url"
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "runbook" {
  count       = local.runbook ? 1 : 0
  secret      = google_secret_manager_secret.runbook[0].id
  secret_data = var.runbook_webhook_url
}

resource "google_secret_manager_secret_iam_member" "runbook_reader" {
  count     = local.runbook ? 1 : 0
  secret_id = google_secret_manager_secret.runbook[0].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.sa[local.functions["execute"].sa].email}"
}

# The webhook reader was one binding (count) before the sweep also published reports: keep the existing binding.
moved {
  from = google_secret_manager_secret_iam_member.webhook_reader[0]
  to   = google_secret_manager_secret_iam_member.webhook_reader["synthesizer"]
}
