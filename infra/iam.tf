# Least privilege: specialists only read telemetry; only the executor may change Cloud Run services.

locals {
  service_accounts = {
    intake       = "Auto SRE intake: parses alerts, opens incidents, dispatches specialists"
    investigator = "Auto SRE specialists: read-only telemetry"
    synthesizer  = "Auto SRE synthesizer and sweep: reports and proposals"
    web          = "Auto SRE web view: reads incidents, records approvals"
    executor     = "Auto SRE executor: runs approved remediations"
    pusher       = "Auto SRE Pub/Sub push identity (invokes the functions)"
    scheduler    = "Auto SRE scheduler identity (invokes the sweep)"
  }

  project_roles = {
    intake       = ["roles/datastore.user"]
    investigator = ["roles/datastore.user", "roles/logging.viewer", "roles/cloudtrace.user", "roles/monitoring.viewer", "roles/bigquery.jobUser", "roles/bigquery.dataViewer"]
    synthesizer  = ["roles/datastore.user"]
    web          = ["roles/datastore.user"]
    executor     = ["roles/datastore.user", "roles/monitoring.viewer", "roles/run.developer"]
    pusher       = []
    scheduler    = []
  }

  # who publishes to which topic
  publishers = {
    intake       = ["tasks", "dead-letter"]
    investigator = ["findings"]
    synthesizer  = ["tasks"]
    web          = ["actions"]
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

# The executor deploys revisions that run as the services' own runtime identity.
resource "google_project_iam_member" "executor_act_as" {
  project = var.project_id
  role    = "roles/iam.serviceAccountUser"
  member  = "serviceAccount:${google_service_account.sa["executor"].email}"
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
  count     = var.webhook_url == "" ? 0 : 1
  secret_id = "autosre-webhook-url"
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "webhook" {
  count       = var.webhook_url == "" ? 0 : 1
  secret      = google_secret_manager_secret.webhook[0].id
  secret_data = var.webhook_url
}

resource "google_secret_manager_secret_iam_member" "approval_key_reader" {
  for_each  = toset(["web", "executor"])
  secret_id = google_secret_manager_secret.approval_key.id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.sa[each.key].email}"
}

resource "google_secret_manager_secret_iam_member" "webhook_reader" {
  count     = var.webhook_url == "" ? 0 : 1
  secret_id = google_secret_manager_secret.webhook[0].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.sa["synthesizer"].email}"
}
