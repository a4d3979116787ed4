# The integrations' credentials: each kept in Secret Manager, mounted as its setting by the functions that use it
# (main.tf), and readable by those functions' accounts alone. The Slack bot token by every function that tells the
# incident's chat thread (local.chat_functions); the PagerDuty routing key and the Jira API token by the functions
# that hand incidents off (local.handoff_functions). No secret is created for a credential left empty.

locals {
  # credential -> its secret, the setting it is mounted as (key) and the functions that read it; only those set
  credentials = { for name, c in {
    slack     = { on = local.slack, secret_id = "autosre-slack-bot-token", key = "AUTOSRE_SLACK_BOT_TOKEN", readers = local.chat_functions }
    pagerduty = { on = local.pagerduty, secret_id = "autosre-pagerduty-routing-key", key = "AUTOSRE_PAGERDUTY_ROUTING_KEY", readers = local.handoff_functions }
    jira      = { on = local.jira, secret_id = "autosre-jira-api-token", key = "AUTOSRE_JIRA_API_TOKEN", readers = local.handoff_functions }
  } : name => c if c.on }
  # (credential, reading account) pairs: one grant each
  credential_readers = merge([for name, c in local.credentials : {
    for f in c.readers : "${name}/${local.functions[f].sa}" => { credential = name, sa = local.functions[f].sa }
  }]...)
}

resource "google_secret_manager_secret" "credential" {
  for_each  = local.credentials
  secret_id = each.value.secret_id
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "credential" {
  for_each = local.credentials
  secret   = google_secret_manager_secret.credential[each.key].id
  secret_data = {
    slack     = var.slack_bot_token
    pagerduty = var.pagerduty_routing_key
    jira      = var.jira_api_token
  }[each.key]
}

resource "google_secret_manager_secret_iam_member" "credential_reader" {
  for_each  = local.credential_readers
  secret_id = google_secret_manager_secret.credential[each.value.credential].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.sa[each.value.sa].email}"
}
