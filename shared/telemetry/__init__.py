"""TelemetrySource adapters: a bundle folder, records in memory, and Google Cloud (Logging, Trace, Monitoring,
BigQuery pre-aggregation)."""
