"""Log lines from Cloud Logging (entries.list): a filter built safely, paginated, bounded, sampling said.

At fleet scale a function must not pull millions of lines: reads stop at `max_entries` / `max_pages` and the
result says so (`ReadResult.sampled`). For pattern statistics over whole fleets, pre-aggregate in BigQuery /
Log Analytics instead (`shared/telemetry/bigquery_logs.py`).
"""

from __future__ import annotations

from typing import Any

from shared.telemetry.bundle import to_rfc3339
from shared.telemetry.models import LogRecord, ReadResult, Window

SERVICE_LABELS = ("service_name", "container_name", "function_name")


def quote(value: str) -> str:
    """A string literal of the Logging query language; control characters are refused, not escaped."""
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"control character in filter value {value[:40]!r}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def build_filter(window: Window, services: list[str] | None = None) -> str:
    parts = [f"timestamp >= {quote(to_rfc3339(window.start))}", f"timestamp < {quote(to_rfc3339(window.end))}",
             'NOT logName:"cloudaudit.googleapis.com"']
    if services:
        alternatives = [f"resource.labels.{label} = {quote(s)}" for s in services for label in SERVICE_LABELS]
        parts.append("(" + " OR ".join(alternatives) + ")")
    return " AND ".join(parts)


def _text(entry: Any) -> str:
    payload = getattr(entry, "payload", None)
    if isinstance(payload, dict):
        return str(payload.get("message") or payload)
    return "" if payload is None else str(payload)


def to_record(entry: Any) -> LogRecord:
    """A google-cloud-logging entry (TextEntry/StructEntry/...) as a LogRecord."""
    resource = getattr(entry, "resource", None)
    labels = dict(getattr(resource, "labels", None) or {})
    service = next((labels[k] for k in SERVICE_LABELS if labels.get(k)), "")
    instance = labels.get("pod_name") or labels.get("instance_id") or labels.get("revision_name") or ""
    timestamp = getattr(entry, "timestamp", None)
    return LogRecord(
        timestamp=timestamp.timestamp() if timestamp is not None else 0.0,
        service=str(service),
        message=_text(entry),
        severity=str(getattr(entry, "severity", None) or "DEFAULT").upper(),
        instance=str(instance),
        trace_id=str(getattr(entry, "trace", None) or "").rsplit("/", 1)[-1],
        span_id=str(getattr(entry, "span_id", None) or ""),
    )


class CloudLoggingLogReader:
    """Reads application logs for a window; the client is google-cloud-logging's (injected in tests)."""

    def __init__(self, project: str, client: Any = None, page_size: int = 1000, max_entries: int = 50_000,
                 max_pages: int = 100, timeout_s: float = 30.0):
        if client is None:
            from google.cloud import logging as cloud_logging

            client = cloud_logging.Client(project=project)
        self.project, self.client = project, client
        self.page_size, self.max_entries, self.max_pages, self.timeout_s = page_size, max_entries, max_pages, timeout_s

    def logs(self, window: Window, services: list[str] | None = None) -> ReadResult[LogRecord]:
        limit = min(self.max_entries, self.max_pages * self.page_size)
        entries = self.client.list_entries(
            resource_names=[f"projects/{self.project}"], filter_=build_filter(window, services),
            order_by="timestamp asc", page_size=self.page_size, max_results=limit + 1)
        records = [to_record(e) for e in entries]
        if len(records) > limit:  # one past the bound tells that the window holds more
            return ReadResult(records[:limit], True, f"logs: stopped after {limit} entries (limit: {self.max_entries}"
                                                     f" entries, {self.max_pages} pages); the rest is unread")
        return ReadResult(records)
