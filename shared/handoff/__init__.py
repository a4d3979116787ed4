"""Hand-off adapters (the HandOffTarget port, shared/ports.py): PagerDuty's Events API v2 and Jira's REST API v3."""
