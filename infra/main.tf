# Auto SRE on Google Cloud: Pub/Sub topology, Cloud Functions (2nd gen), Firestore, the sweep scheduler,
# the Monitoring notification channel, least-privilege service accounts, and the approval signing key.
# The topology mirrors functions/topology.py; tests/test_infra.py checks that the two agree.

locals {
  topics      = ["alerts", "tasks", "findings", "actions", "dead-letter"]
  specialists = var.specialists

  # target -> (entry point, service account, topic it is pushed from, attribute filter)
  pushed = merge(
    { intake = { entry_point = "intake", sa = "intake", topic = "alerts", filter = "" } },
    { for s in local.specialists : "specialist-${s}" => {
      entry_point = "specialist_${s}", sa = "investigator", topic = "tasks", filter = "attributes.specialist = \"${s}\""
    } },
    { synthesize = { entry_point = "synthesize", sa = "synthesizer", topic = "findings", filter = "" } },
    { execute = { entry_point = "execute", sa = "executor", topic = "actions", filter = "" } },
  )
  http_functions = {
    web   = { entry_point = "web", sa = "web" }
    sweep = { entry_point = "sweep", sa = "sweeper" }
  }
  # The secrets each function mounts: the approval key signs and checks approval links (the web view), runs what
  # they approved (execute) and hands approved actions over again (the sweep); the runbook webhook is used by execute.
  approval_key_functions = ["web", "execute", "sweep"]
  # The incident's chat thread (the webhook or the Slack bot, its trigger policy and quiet hours) is told by every
  # function that records an update: intake (the resolved notice), synthesize (the report), execute (what ran), web
  # (decisions and acknowledgements) and the sweep (partial reports, recovery checks, what waited).
  chat_functions = ["intake", "synthesize", "execute", "web", "sweep"]
  # Hand-offs (PagerDuty, Jira): synthesize hands each report to the integrations in handoff_auto, the sweep re-drives
  # what was not done, intake resolves what was handed off when the incident resolves. The specialists use neither.
  handoff_functions = ["intake", "synthesize", "sweep"]
  functions = merge(
    { for k, v in local.pushed : k => { entry_point = v.entry_point, sa = v.sa } },
    local.http_functions,
  )

  # Instances per function. Handlers run one message at a time (the analysis is CPU-bound); a storm of alerts
  # fans out to the specialists, so they get the most room. Retries absorb the rest (see the subscriptions).
  specialist_instances = 40
  max_instances = merge(
    { intake = 20, synthesize = 20, execute = 5, web = 5, sweep = 1 },
    { for s in local.specialists : "specialist-${s}" => local.specialist_instances },
  )

  # Derived booleans are not secret themselves: without nonsensitive() a sensitive value cannot drive count.
  notify    = nonsensitive(var.webhook_url != "")
  runbook   = nonsensitive(var.runbook_webhook_url != "")
  slack     = nonsensitive(var.slack_bot_token != "")
  pagerduty = nonsensitive(var.pagerduty_routing_key != "")
  jira      = nonsensitive(var.jira_api_token != "")

  # Every action the remediation policy allows on some service (an unreadable policy: none; the functions refuse it)
  allowed_actions = toset(flatten([for actions in values(try(jsondecode(var.policy_json).allow, {})) : actions]))

  env = merge({
    AUTOSRE_PROJECT          = var.project_id
    AUTOSRE_STORE            = "firestore"
    AUTOSRE_BUS              = "pubsub"
    AUTOSRE_TELEMETRY        = var.telemetry
    AUTOSRE_ROUND_DEADLINE_S = tostring(var.round_deadline_s)
    AUTOSRE_MAX_ROUNDS       = tostring(var.max_rounds)
    AUTOSRE_APPROVERS        = join(",", var.approvers)
    AUTOSRE_POLICY           = var.policy_json
    AUTOSRE_EXECUTOR         = var.executor
    AUTOSRE_REGION           = var.region
    AUTOSRE_BASE_URL         = var.base_url
    AUTOSRE_IAP_AUDIENCE     = var.iap_audience
    AUTOSRE_RETENTION_DAYS   = tostring(var.retention_days)
    AUTOSRE_SPECIALISTS      = join(",", var.specialists)
    # how long reads and actions may take, when recovery is checked, what an investigation may spend
    AUTOSRE_READ_DEADLINE_S                 = tostring(var.read_deadline_s)
    AUTOSRE_ACTION_WAIT_S                   = tostring(var.action_wait_s)
    AUTOSRE_RECOVERY_CHECK_S                = tostring(var.recovery_check_s)
    AUTOSRE_RECOVERY_SUSTAIN                = tostring(var.recovery_sustain)
    AUTOSRE_ALLOWED_HOSTS                   = var.allowed_hosts
    AUTOSRE_LOG_ANALYTICS_MAX_BYTES         = tostring(var.log_analytics_max_bytes)
    AUTOSRE_BUDGET_API_CALLS                = tostring(var.budget_api_calls)
    AUTOSRE_BUDGET_LOG_ENTRIES              = tostring(var.budget_log_entries)
    AUTOSRE_BUDGET_BYTES_BILLED             = tostring(var.budget_bytes_billed)
    AUTOSRE_PRICE_BQ_TIB                    = tostring(var.price_bq_tib)
    AUTOSRE_PRICE_MONITORING_MILLION_SERIES = tostring(var.price_monitoring_million_series)
    AUTOSRE_PRICE_LLM_1K_TOKENS_IN          = tostring(var.price_llm_1k_tokens_in)
    AUTOSRE_PRICE_LLM_1K_TOKENS_OUT         = tostring(var.price_llm_1k_tokens_out)
    }, var.log_analytics_table == "" ? {} : {
    AUTOSRE_LOG_ANALYTICS_TABLE = var.log_analytics_table
    }, var.gemini ? {
    AUTOSRE_GEMINI_VERTEX_PROJECT  = var.project_id
    AUTOSRE_GEMINI_LOCATION        = var.gemini_location
    AUTOSRE_GEMINI_MODEL           = var.gemini_model
    AUTOSRE_GEMINI_THINKING_BUDGET = tostring(var.gemini_thinking_budget)
  } : {})

  # Settings only some functions read go to those alone (their credentials are mounted below, main.tf/secrets.tf).
  chat_env = {
    AUTOSRE_SLACK_CHANNEL          = var.slack_channel
    AUTOSRE_NOTIFY_SEVERITIES      = join(",", var.notify_severities)
    AUTOSRE_NOTIFY_SERVICES        = join(",", var.notify_services)
    AUTOSRE_QUIET_HOURS            = var.quiet_hours
    AUTOSRE_QUIET_HOURS_SEVERITIES = join(",", var.quiet_hours_severities)
  }
  handoff_env = {
    AUTOSRE_HANDOFF_AUTO    = join(",", var.handoff_auto)
    AUTOSRE_PAGERDUTY_URL   = var.pagerduty_url
    AUTOSRE_JIRA_URL        = var.jira_url
    AUTOSRE_JIRA_EMAIL      = var.jira_email
    AUTOSRE_JIRA_PROJECT    = var.jira_project
    AUTOSRE_JIRA_ISSUE_TYPE = var.jira_issue_type
  }
  # One function each: the runbook catalogue is cited on the web view's report page; the metrics specialist reads
  # the SLOs, the changes specialist Google Cloud's incidents (Service Health), the traces specialist the declared
  # service graph. The files are shipped in the source (infra/files/ as files/, infra/package.py).
  only_env = {
    web                  = { AUTOSRE_RUNBOOKS = var.runbooks }
    "specialist-metrics" = { AUTOSRE_SLOS = tostring(var.slos) }
    "specialist-changes" = { AUTOSRE_SERVICE_PLACEMENTS = var.service_placements }
    "specialist-traces"  = { AUTOSRE_SERVICE_GRAPH = var.service_graph }
  }
  function_env = { for k, v in local.functions : k => merge(local.env,
    contains(local.chat_functions, k) ? local.chat_env : {},
    contains(local.handoff_functions, k) ? local.handoff_env : {},
    try(local.only_env[k], {}),
  ) }
}

data "google_project" "this" {}

# ---------------------------------------------------------------- Pub/Sub

resource "google_pubsub_topic" "topic" {
  for_each = toset(local.topics)
  name     = each.key
}

resource "google_pubsub_subscription" "push" {
  for_each             = local.pushed
  name                 = each.key
  topic                = google_pubsub_topic.topic[each.value.topic].id
  filter               = each.value.filter
  ack_deadline_seconds = 300

  # The default policy deletes a subscription after 31 days without activity: quiet weeks are normal here.
  expiration_policy {
    ttl = ""
  }

  push_config {
    # functions-framework reads the topic from this path and hands the handler a messagePublished CloudEvent
    push_endpoint = "${google_cloudfunctions2_function.fn[each.key].service_config[0].uri}/projects/${var.project_id}/topics/${each.value.topic}"
    oidc_token {
      service_account_email = google_service_account.sa["pusher"].email
    }
  }

  # functions/topology.py PRODUCTION: a storm (Firestore contention, Logging's 60 reads/min, a slow dependency)
  # can fail a handler for many minutes; 30 attempts backing off to 600 s span about four hours before a
  # message is dead-lettered. Poison input is never retried: intake records and acknowledges it.
  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.topic["dead-letter"].id
    max_delivery_attempts = 30
  }
}

resource "google_pubsub_subscription" "dead_letter_archive" {
  name                       = "dead-letter-archive"
  topic                      = google_pubsub_topic.topic["dead-letter"].id
  message_retention_duration = "604800s"
  ack_deadline_seconds       = 60

  # Read only when someone replays it (`autosre dlq replay`): it must not expire in between.
  expiration_policy {
    ttl = ""
  }
}

# Pub/Sub's service agent forwards undeliverable messages to the dead-letter topic and acks the source.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  topic  = google_pubsub_topic.topic["dead-letter"].id
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each     = local.pushed
  subscription = google_pubsub_subscription.push[each.key].id
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

# ---------------------------------------------------------------- Monitoring -> alerts topic

resource "google_monitoring_notification_channel" "autosre" {
  display_name = "Auto SRE"
  type         = "pubsub"
  labels = {
    topic = google_pubsub_topic.topic["alerts"].id
  }
}

# Monitoring's notification service agent exists once the project has a notification channel.
resource "google_pubsub_topic_iam_member" "monitoring_publisher" {
  topic  = google_pubsub_topic.topic["alerts"].id
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-monitoring-notification.iam.gserviceaccount.com"

  depends_on = [google_monitoring_notification_channel.autosre]
}

# ---------------------------------------------------------------- Firestore

resource "google_firestore_database" "default" {
  name        = "(default)"
  location_id = var.region
  type        = "FIRESTORE_NATIVE"
}

# Incidents older than retention_days are deleted by TTL policies on `expire_at` (set on every event, summary,
# index entry and claim key: a claim outlives what it guards by the same retention, then goes).
# The read-quota slots (shared/quota.py) expire an hour after they are taken whatever the retention: the policy on
# autosre_keys is always there (claims without expire_at are never deleted by it).
resource "google_firestore_field" "expire" {
  for_each = toset(concat(var.retention_days > 0 ? ["events", "autosre_incidents", "autosre_terms",
  "autosre_signatures"] : [], ["autosre_keys"]))
  database   = google_firestore_database.default.name
  collection = each.key
  field      = "expire_at"

  ttl_config {}
  index_config {}
}

# ---------------------------------------------------------------- source and functions

resource "google_storage_bucket" "source" {
  name                        = "${var.project_id}-autosre-source"
  location                    = var.region
  uniform_bucket_level_access = true
}

resource "google_storage_bucket_object" "source" {
  name   = "autosre-${filemd5(var.source_zip)}.zip"
  bucket = google_storage_bucket.source.name
  source = var.source_zip
}

resource "google_cloudfunctions2_function" "fn" {
  for_each = local.functions
  name     = "autosre-${each.key}"
  location = var.region

  build_config {
    runtime         = "python311"
    entry_point     = each.value.entry_point
    service_account = google_service_account.sa["builder"].id
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.sa[each.value.sa].email
    timeout_seconds                  = 300
    available_memory                 = "1Gi"
    max_instance_count               = local.max_instances[each.key]
    max_instance_request_concurrency = 1
    ingress_settings                 = each.key == "web" ? "ALLOW_INTERNAL_AND_GCLB" : "ALLOW_INTERNAL_ONLY"
    environment_variables            = local.function_env[each.key]

    dynamic "secret_environment_variables" {
      for_each = contains(local.approval_key_functions, each.key) ? [1] : []
      content {
        key        = "AUTOSRE_APPROVAL_KEY"
        project_id = var.project_id
        secret     = google_secret_manager_secret.approval_key.secret_id
        version    = "latest"
      }
    }

    dynamic "secret_environment_variables" {
      for_each = contains(local.chat_functions, each.key) && local.notify ? [1] : []
      content {
        key        = "AUTOSRE_WEBHOOK_URL"
        project_id = var.project_id
        secret     = google_secret_manager_secret.webhook[0].secret_id
        version    = "latest"
      }
    }

    dynamic "secret_environment_variables" {
      for_each = each.key == "execute" && local.runbook ? [1] : []
      content {
        key        = "AUTOSRE_RUNBOOK_WEBHOOK_URL"
        project_id = var.project_id
        secret     = google_secret_manager_secret.runbook[0].secret_id
        version    = "latest"
      }
    }

    dynamic "secret_environment_variables" { # the integrations' credentials this function reads (secrets.tf)
      for_each = { for name, c in local.credentials : name => c if contains(c.readers, each.key) }
      content {
        key        = secret_environment_variables.value.key
        project_id = var.project_id
        secret     = google_secret_manager_secret.credential[secret_environment_variables.key].secret_id
        version    = "latest"
      }
    }
  }

  # A revision starts only if its identity can already read the secrets it mounts and holds its roles.
  depends_on = [
    google_secret_manager_secret_version.approval_key,
    google_secret_manager_secret_version.webhook,
    google_secret_manager_secret_version.runbook,
    google_secret_manager_secret_version.credential,
    google_secret_manager_secret_iam_member.approval_key_reader,
    google_secret_manager_secret_iam_member.webhook_reader,
    google_secret_manager_secret_iam_member.runbook_reader,
    google_secret_manager_secret_iam_member.credential_reader,
    google_project_iam_member.role,
    google_project_iam_member.builder,
  ]
}

# ---------------------------------------------------------------- IAP's service agent

# IAP's service agent exists only once something creates it: granting it run.invoker before then fails the first
# apply ("Service account ... does not exist"). Enable the API and create the agent here, before the grant.
resource "google_project_service" "iap" {
  service            = "iap.googleapis.com"
  disable_on_destroy = false
}

# The changes specialist reads Google Cloud's incidents from the Service Health API when service_placements is set:
# the API must be enabled in the project (its role is granted in iam.tf).
resource "google_project_service" "servicehealth" {
  count              = var.service_placements == "" ? 0 : 1
  service            = "servicehealth.googleapis.com"
  disable_on_destroy = false
}

resource "google_project_service_identity" "iap" {
  provider = google-beta
  service  = google_project_service.iap.service
}

# Only the pusher (Pub/Sub) and the scheduler may invoke the internal functions. The web function takes traffic
# only through the HTTPS load balancer (ingress ALLOW_INTERNAL_AND_GCLB) with IAP on its backend service; only
# IAP's service agent may invoke it, and the function verifies IAP's signed X-Goog-IAP-JWT-Assertion (see
# docs/deploy.md). The plain X-Goog-Authenticated-User-Email header is never trusted.
resource "google_cloud_run_service_iam_member" "iap_invoker" {
  location = var.region
  service  = google_cloudfunctions2_function.fn["web"].service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_project_service_identity.iap.email}"
}

resource "google_cloud_run_service_iam_member" "pusher_invoker" {
  for_each = local.pushed
  location = var.region
  service  = google_cloudfunctions2_function.fn[each.key].service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.sa["pusher"].email}"
}

resource "google_cloud_run_service_iam_member" "scheduler_invoker" {
  location = var.region
  service  = google_cloudfunctions2_function.fn["sweep"].service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.sa["scheduler"].email}"
}

# ---------------------------------------------------------------- settings the policy needs

# Refuse the plan, not the running functions: a policy that allows an action the deployment cannot carry out.
resource "terraform_data" "policy_is_executable" {
  lifecycle {
    precondition {
      condition     = !(var.executor == "cloud_run" && contains(local.allowed_actions, "runbook_webhook")) || local.runbook
      error_message = "policy_json allows runbook_webhook with executor=cloud_run: set runbook_webhook_url (or drop runbook_webhook from the policy)."
    }
    precondition {
      condition     = !(var.executor == "cloud_run" && length(setintersection(local.allowed_actions, ["rollback_cloud_run", "scale_min_instances", "restart"])) > 0) || length(var.managed_services) > 0
      error_message = "policy_json allows a Cloud Run action with executor=cloud_run: list the services it may change in managed_services."
    }
    precondition {
      condition     = var.policy_json == "" || can(jsondecode(var.policy_json).allow)
      error_message = "policy_json is JSON with an \"allow\" object: {\"allow\": {\"<service>|*\": [\"<action>\"]}, \"max_actions_per_hour\": 3}."
    }
  }
}

# ---------------------------------------------------------------- sweep

resource "google_cloud_scheduler_job" "sweep" {
  name      = "autosre-sweep"
  region    = var.region
  schedule  = "*/5 * * * *"
  time_zone = "Etc/UTC"

  http_target {
    uri         = google_cloudfunctions2_function.fn["sweep"].service_config[0].uri
    http_method = "POST"
    oidc_token {
      service_account_email = google_service_account.sa["scheduler"].email
    }
  }
}

# ---------------------------------------------------------------- an example alert policy (optional)

# A Cloud Run service's 5xx rate above 1/s for 1 minute notifies Auto SRE's channel: a first policy to triage.
resource "google_monitoring_alert_policy" "example" {
  count        = var.example_alert_service == "" ? 0 : 1
  display_name = "${var.example_alert_service} 5xx rate (Auto SRE example)"
  combiner     = "OR"

  conditions {
    display_name = "5xx responses above 1/s"
    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND resource.labels.service_name = \"${var.example_alert_service}\" AND metric.type = \"run.googleapis.com/request_count\" AND metric.labels.response_code_class = \"5xx\""
      comparison      = "COMPARISON_GT"
      threshold_value = 1
      duration        = "60s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.labels.service_name"]
      }
    }
  }

  notification_channels = [google_monitoring_notification_channel.autosre.id]
  alert_strategy {
    auto_close = "1800s"
  }
}
