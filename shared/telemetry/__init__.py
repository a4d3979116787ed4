"""Telemetry records, the `TelemetrySource` port, and its adapters (bundle folder; GCP APIs later)."""
