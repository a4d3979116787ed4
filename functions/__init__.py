"""Thin entry points: Cloud Functions handlers, the local runner, the CLI and the web view."""
