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
