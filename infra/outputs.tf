output "notification_channel" {
  description = "Attach this Monitoring notification channel to the alert policies Auto SRE should triage."
  value       = google_monitoring_notification_channel.autosre.id
}

output "web_url" {
  description = "The web view (put IAP / an HTTPS load balancer in front; see docs/deploy.md)."
  value       = google_cloudfunctions2_function.fn["web"].service_config[0].uri
}

output "topics" {
  description = "The Pub/Sub topics."
  value       = { for k, t in google_pubsub_topic.topic : k => t.id }
}

output "functions" {
  description = "Function name -> URL."
  value       = { for k, f in google_cloudfunctions2_function.fn : k => f.service_config[0].uri }
}
