"""Notifier adapters: team chat webhooks (Google Chat, Slack)."""
