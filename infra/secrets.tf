# The integrations' credentials: each kept in Secret Manager, mounted as its setting by the functions that use it
# (main.tf), and readable by those functions' accounts alone. The Slack bot token by every function that tells the
# incident's chat thread (local.chat_functions); the PagerDuty routing key and the Jira API token by the functions
# that hand incidents off (local.handoff_functions). No secret is created for a credential left empty.

resource "google_secret_manager_secret" "slack" {
  count     = local.slack ? 1 : 0
  secret_id = "autosre-slack-bot-token"
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "slack" {
  count       = local.slack ? 1 : 0
  secret      = google_secret_manager_secret.slack[0].id
  secret_data = var.slack_bot_token
}

resource "google_secret_manager_secret_iam_member" "slack_reader" {
  for_each  = local.slack ? toset([for f in local.chat_functions : local.functions[f].sa]) : toset([])
  secret_id = google_secret_manager_secret.slack[0].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.sa[each.key].email}"
}

resource "google_secret_manager_secret" "pagerduty" {
  count     = local.pagerduty ? 1 : 0
  secret_id = "autosre-pagerduty-routing-key"
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "pagerduty" {
  count       = local.pagerduty ? 1 : 0
  secret      = google_secret_manager_secret.pagerduty[0].id
  secret_data = var.pagerduty_routing_key
}

resource "google_secret_manager_secret_iam_member" "pagerduty_reader" {
  for_each  = local.pagerduty ? toset([for f in local.handoff_functions : local.functions[f].sa]) : toset([])
  secret_id = google_secret_manager_secret.pagerduty[0].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.sa[each.key].email}"
}

resource "google_secret_manager_secret" "jira" {
  count     = local.jira ? 1 : 0
  secret_id = "autosre-jira-api-token"
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "jira" {
  count       = local.jira ? 1 : 0
  secret      = google_secret_manager_secret.jira[0].id
  secret_data = var.jira_api_token
}

resource "google_secret_manager_secret_iam_member" "jira_reader" {
  for_each  = local.jira ? toset([for f in local.handoff_functions : local.functions[f].sa]) : toset([])
  secret_id = google_secret_manager_secret.jira[0].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.sa[each.key].email}"
}
