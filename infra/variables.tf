variable "project_id" {
  description = "The GCP project to deploy into."
  type        = string
}

variable "region" {
  description = "Region for the functions, the scheduler and the source bucket."
  type        = string
  default     = "us-central1"
}

variable "source_zip" {
  description = "Path of the source archive built by infra/deploy.sh (main.py + packages + requirements.txt)."
  type        = string
}

variable "approvers" {
  description = "E-mails allowed to approve remediations (checked against the IAP identity)."
  type        = list(string)
  default     = []
}

variable "policy_json" {
  description = "Remediation policy: {\"allow\": {\"<service>|*\": [\"<action>\"]}, \"max_actions_per_hour\": 3}. Empty denies all."
  type        = string
  default     = ""
}

variable "executor" {
  description = "dry_run records the plan only; cloud_run acts on Cloud Run services."
  type        = string
  default     = "dry_run"
  validation {
    condition     = contains(["dry_run", "cloud_run"], var.executor)
    error_message = "executor must be dry_run or cloud_run."
  }
}

variable "webhook_url" {
  description = "Google Chat or Slack incoming webhook for report notifications (empty: none)."
  type        = string
  default     = ""
  sensitive   = true
}

variable "runbook_webhook_url" {
  description = "Where the runbook_webhook action POSTs (stored in Secret Manager). Required when executor=cloud_run and the policy allows runbook_webhook."
  type        = string
  default     = ""
  sensitive   = true
}

variable "telemetry" {
  description = "Telemetry source for the specialists: gcp (Cloud Logging, Trace, Monitoring, audit logs)."
  type        = string
  default     = "gcp"
}

variable "round_deadline_s" {
  description = "After this many seconds the sweep publishes a partial report naming missing specialists."
  type        = number
  default     = 600
}

variable "max_rounds" {
  description = "2: an open first ranking is re-examined in a targeted second round before publishing; 1: never."
  type        = number
  default     = 2
  validation {
    condition     = contains([1, 2], var.max_rounds)
    error_message = "max_rounds is 1 or 2."
  }
}

variable "base_url" {
  description = "The web view's address as approvers reach it (the HTTPS load balancer with IAP): report and approval links point here."
  type        = string
  validation {
    condition     = startswith(var.base_url, "https://")
    error_message = "base_url is the load balancer's https:// address (the function's own URL takes no outside traffic)."
  }
}

variable "iap_audience" {
  description = "IAP's audience for the web view's backend: /projects/NUMBER/global/backendServices/ID. Empty: nobody can approve."
  type        = string
  default     = ""
}

variable "managed_services" {
  description = "Cloud Run services (in var.region) the executor may roll back, scale or restart."
  type        = list(string)
  default     = []
}

variable "managed_service_accounts" {
  description = "The runtime service accounts of managed_services: the executor deploys revisions as them."
  type        = list(string)
  default     = []
}

variable "log_analytics_table" {
  description = "project.dataset._AllLogs of a Log Analytics linked dataset: logs are pre-aggregated there (empty: read lines)."
  type        = string
  default     = ""
}

variable "gemini" {
  description = "Write the report's narrative with Gemini on Vertex AI, as the synthesizer's own identity (no API key)."
  type        = bool
  default     = false
}

variable "gemini_location" {
  description = "Vertex AI region for Gemini."
  type        = string
  default     = "us-central1"
}

variable "gemini_model" {
  description = "Gemini model for the narrative (a model that has been shut down answers 404: refused here)."
  type        = string
  default     = "gemini-3.5-flash-lite"
  # The same rule as shared/llm_models.py (tests/test_gemini_model.py checks the two name the same ids).
  validation {
    condition = can(regex("^(models/)?gemini-[0-9a-z][0-9a-z.-]*$", var.gemini_model)) && !anytrue([
      for r in ["gemini-pro", "gemini-1.0-", "gemini-1.5-", "gemini-2.0-", "gemini-2.5-flash", "gemini-2.5-pro"] :
      endswith(r, "-") ? startswith(trimprefix(var.gemini_model, "models/"), r) : (
        contains([r, "${r}-001", "${r}-002"], trimprefix(var.gemini_model, "models/"))
        || startswith(trimprefix(var.gemini_model, "models/"), "${r}-preview")
      )
    ])
    error_message = "gemini_model is a Gemini model id that has not been shut down (e.g. gemini-3.5-flash-lite; see https://ai.google.dev/gemini-api/docs/deprecations)."
  }
}

variable "retention_days" {
  description = "Incidents (events and summaries) are deleted this many days after their last event by Firestore TTL; 0 keeps them."
  type        = number
  default     = 400
}

variable "example_alert_service" {
  description = "If set, an example alert policy on this Cloud Run service's 5xx rate notifies Auto SRE."
  type        = string
  default     = ""
}

variable "specialists" {
  type        = list(string)
  description = "The specialist functions to deploy, in the registry's order (shared/specialists.py); infra/deploy.sh passes them from the registry."
  validation {
    condition     = length(var.specialists) > 0 && alltrue([for s in var.specialists : can(regex("^[a-z][a-z0-9_]*$", s))])
    error_message = "specialists must name at least one specialist, each a lower-case identifier as the registry spells it."
  }
}

# ---------------------------------------------------------------- the incident's chat thread

variable "slack_bot_token" {
  description = "A Slack bot token (chat:write, the bot invited to slack_channel): one thread per incident instead of the webhook's messages (stored in Secret Manager)."
  type        = string
  default     = ""
  sensitive   = true
}

variable "slack_channel" {
  description = "The Slack channel id (C...) the bot posts incidents to (with slack_bot_token)."
  type        = string
  default     = ""
}

variable "notify_severities" {
  description = "Alert severities the chat is told of (e.g. [\"critical\", \"error\"]); empty: all."
  type        = list(string)
  default     = []
}

variable "notify_services" {
  description = "Services the chat is told of; empty: all."
  type        = list(string)
  default     = []
}

variable "quiet_hours" {
  description = "HH:MM-HH:MM in UTC (22:00-07:00 wraps midnight): updates wait and the sweep sends them when the quiet hours end; empty: none."
  type        = string
  default     = ""
  # The same rule as shared/config.py: two times HH:MM (hours below 24, minutes below 60) joined by a dash.
  validation {
    condition     = can(regex("^\\s*$|^\\s*([01]?[0-9]|2[0-3]):[0-5]?[0-9]\\s*-\\s*([01]?[0-9]|2[0-3]):[0-5]?[0-9]\\s*$", var.quiet_hours))
    error_message = "quiet_hours is HH:MM-HH:MM in UTC (e.g. 22:00-07:00), or empty."
  }
}

variable "quiet_hours_severities" {
  description = "Severities told even in quiet hours."
  type        = list(string)
  default     = ["critical"]
}

# ---------------------------------------------------------------- hand-offs

variable "handoff_auto" {
  description = "Integrations every report is handed to without being asked: pagerduty, jira."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for i in var.handoff_auto : contains(["pagerduty", "jira"], i)])
    error_message = "handoff_auto names pagerduty and/or jira (functions/handoffs.py)."
  }
}

variable "pagerduty_routing_key" {
  description = "A PagerDuty Events API v2 integration key (32 characters): enables the PagerDuty hand-off (stored in Secret Manager)."
  type        = string
  default     = ""
  sensitive   = true
}

variable "pagerduty_url" {
  description = "The Events API v2 endpoint (EU accounts: https://events.eu.pagerduty.com/v2/enqueue)."
  type        = string
  default     = "https://events.pagerduty.com/v2/enqueue"
}

variable "jira_url" {
  description = "The Jira Cloud site, https://YOUR-SITE.atlassian.net: with jira_project and jira_api_token, enables the Jira hand-off."
  type        = string
  default     = ""
}

variable "jira_email" {
  description = "The Atlassian account the Jira API token belongs to."
  type        = string
  default     = ""
}

variable "jira_api_token" {
  description = "That account's Jira API token (stored in Secret Manager)."
  type        = string
  default     = ""
  sensitive   = true
}

variable "jira_project" {
  description = "The key of the Jira project issues are created in."
  type        = string
  default     = ""
}

variable "jira_issue_type" {
  description = "The Jira issue type created."
  type        = string
  default     = "Task"
}

# ---------------------------------------------------------------- what the reports cite and the specialists read

variable "runbooks" {
  description = "A folder of Markdown runbooks with front matter, cited in reports where they match: a path under files/ (infra/files/ is shipped as files/ in the source); empty: none."
  type        = string
  default     = ""
  validation {
    condition     = var.runbooks == "" || startswith(var.runbooks, "files/")
    error_message = "runbooks is a folder under files/ (put it in infra/files/, which infra/package.py ships as files/)."
  }
}

variable "slos" {
  description = "Read the alerting service's SLOs (Cloud Monitoring service monitoring) for the report's header."
  type        = bool
  default     = false
}

variable "service_placements" {
  description = "A placements.jsonl file (one {\"service\", \"product\", \"location\"} a line) under files/: Google Cloud incidents (Service Health API, enabled here) touching them are read as changes; empty: none."
  type        = string
  default     = ""
  validation {
    condition     = var.service_placements == "" || startswith(var.service_placements, "files/")
    error_message = "service_placements is a file under files/ (put it in infra/files/, which infra/package.py ships as files/)."
  }
}

variable "service_graph" {
  description = "A graph.jsonl file (one {\"caller\", \"callee\"} a line) under files/ declaring dependencies that emit no spans; empty: none."
  type        = string
  default     = ""
  validation {
    condition     = var.service_graph == "" || startswith(var.service_graph, "files/")
    error_message = "service_graph is a file under files/ (put it in infra/files/, which infra/package.py ships as files/)."
  }
}

# ---------------------------------------------------------------- deadlines, recovery checks, budgets, prices

variable "read_deadline_s" {
  description = "Seconds every read of one specialist run shares (keep it well inside the functions' 300 s timeout)."
  type        = number
  default     = 240
  validation {
    condition     = var.read_deadline_s > 0
    error_message = "read_deadline_s is above 0."
  }
}

variable "action_wait_s" {
  description = "Seconds the executor waits for a Cloud Run change before recording it as pending (the sweep reads it later)."
  type        = number
  default     = 120
  validation {
    condition     = var.action_wait_s > 0 && var.action_wait_s <= 240
    error_message = "action_wait_s is above 0 and at most 240 (inside the function's 300 s timeout)."
  }
}

variable "recovery_check_s" {
  description = "Seconds after an executed action the sweep reads the alerting metric to check recovery; 0: no recovery checks."
  type        = number
  default     = 900
  validation {
    condition     = var.recovery_check_s >= 0
    error_message = "recovery_check_s is 0 or more."
  }
}

variable "recovery_sustain" {
  description = "The last points after an action that must all be back on the good side for a recovered verdict."
  type        = number
  default     = 3
  validation {
    condition     = var.recovery_sustain >= 1 && floor(var.recovery_sustain) == var.recovery_sustain
    error_message = "recovery_sustain is a whole number, 1 or more."
  }
}

variable "allowed_hosts" {
  description = "Comma-separated Host values the web function answers to; empty: any (behind IAP)."
  type        = string
  default     = ""
}

variable "log_analytics_max_bytes" {
  description = "Bytes a Log Analytics query may bill; a query over it fails and the logs are read as lines."
  type        = number
  default     = 10737418240
  validation {
    condition     = var.log_analytics_max_bytes >= 1 && floor(var.log_analytics_max_bytes) == var.log_analytics_max_bytes
    error_message = "log_analytics_max_bytes is a whole number, 1 or more."
  }
}

variable "budget_api_calls" {
  description = "API requests one investigation may send; 0: no cap."
  type        = number
  default     = 0
  validation {
    condition     = var.budget_api_calls >= 0 && floor(var.budget_api_calls) == var.budget_api_calls
    error_message = "budget_api_calls is a whole number, 0 or more."
  }
}

variable "budget_log_entries" {
  description = "Log entries one investigation may read; 0: no cap."
  type        = number
  default     = 0
  validation {
    condition     = var.budget_log_entries >= 0 && floor(var.budget_log_entries) == var.budget_log_entries
    error_message = "budget_log_entries is a whole number, 0 or more."
  }
}

variable "budget_bytes_billed" {
  description = "Bytes one investigation's Log Analytics queries may bill; 0: no cap."
  type        = number
  default     = 0
  validation {
    condition     = var.budget_bytes_billed >= 0 && floor(var.budget_bytes_billed) == var.budget_bytes_billed
    error_message = "budget_bytes_billed is a whole number, 0 or more."
  }
}

variable "gemini_thinking_budget" {
  description = "Thinking tokens Gemini may spend on top of the narrative's own (with gemini)."
  type        = number
  default     = 512
  validation {
    condition     = var.gemini_thinking_budget >= 0 && floor(var.gemini_thinking_budget) == var.gemini_thinking_budget
    error_message = "gemini_thinking_budget is a whole number, 0 or more."
  }
}

variable "price_bq_tib" {
  description = "USD per TiB a BigQuery query bills, for the cost ledger (on-demand list price; docs/configuration.md)."
  type        = number
  default     = 6.25
  validation {
    condition     = var.price_bq_tib >= 0
    error_message = "price_bq_tib is 0 or more."
  }
}

variable "price_monitoring_million_series" {
  description = "USD per million time series read from Cloud Monitoring, for the cost ledger."
  type        = number
  default     = 0.5
  validation {
    condition     = var.price_monitoring_million_series >= 0
    error_message = "price_monitoring_million_series is 0 or more."
  }
}

variable "price_llm_1k_tokens_in" {
  description = "USD per 1,000 LLM input tokens, for the cost ledger."
  type        = number
  default     = 0.0003
  validation {
    condition     = var.price_llm_1k_tokens_in >= 0
    error_message = "price_llm_1k_tokens_in is 0 or more."
  }
}

variable "price_llm_1k_tokens_out" {
  description = "USD per 1,000 LLM output tokens (thinking included), for the cost ledger."
  type        = number
  default     = 0.0025
  validation {
    condition     = var.price_llm_1k_tokens_out >= 0
    error_message = "price_llm_1k_tokens_out is 0 or more."
  }
}
