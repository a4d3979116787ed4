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
