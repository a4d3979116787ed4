"""Log lines from Cloud Logging (entries.list): a filter built safely, paginated, bounded, sampling said.

At fleet scale a function must not pull millions of lines: a read stops at `max_entries` entries, `max_pages`
requests or `timeout_s` seconds, whichever comes first, and the result says so (`ReadResult.sampled`). For
pattern statistics over whole fleets, pre-aggregate in BigQuery / Log Analytics instead (`bigquery_logs.py`).

The pages are requested through the client's own authorised JSON connection (the same call google-cloud-logging's
`list_entries` makes) rather than its entry generator: the generator hides the page token, follows empty pages
without end (entries.list may answer a page with no entries and a token) and takes no timeout. Entries arrive as
LogEntry JSON and are converted exactly as the telemetry bundle's are (`bundle.decode_log`).
"""

from __future__ import annotations

import json
import time
import unicodedata
from typing import Any

from shared.telemetry.bundle import decode_log, to_rfc3339
from shared.telemetry_records import LogRecord, ReadResult, Window

SERVICE_LABELS = ("service_name", "container_name", "function_name")
INSTANCE_LABELS = ("pod_name", "instance_id", "revision_name")
EXCLUDE_AUDIT_LOGS = 'NOT logName:"cloudaudit.googleapis.com"'
MAX_FILTER_CHARS = 20_000  # the API refuses longer filters
MAX_PAGE_SIZE = 1000  # entries.list's own cap


def quote(value: str) -> str:
    """A string literal of the Logging query language; control characters are refused, not escaped."""
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise ValueError(f"control character in filter value {value[:40]!r}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def build_filter(window: Window, services: list[str] | None = None) -> str:
    """Application logs of the window (start inclusive, end exclusive), of any of `services` when given."""
    parts = [f"timestamp >= {quote(to_rfc3339(window.start))}", f"timestamp < {quote(to_rfc3339(window.end))}",
             EXCLUDE_AUDIT_LOGS]
    if services:
        alternatives = [f"resource.labels.{label} = {quote(s)}" for s in services for label in SERVICE_LABELS]
        parts.append("(" + " OR ".join(alternatives) + ")")
    text = " AND ".join(parts)
    if len(text) > MAX_FILTER_CHARS:
        raise ValueError(f"log filter of {len(text)} characters (API limit {MAX_FILTER_CHARS}): ask for fewer services")
    return text


def to_record(entry: Any) -> LogRecord:
    """A google-cloud-logging entry object (TextEntry/StructEntry/ProtobufEntry) as a LogRecord."""
    resource = getattr(entry, "resource", None)
    labels = dict(getattr(resource, "labels", None) or {})
    service = next((labels[k] for k in SERVICE_LABELS if labels.get(k)), "")
    instance = next((labels[k] for k in INSTANCE_LABELS if labels.get(k)), "")
    payload = getattr(entry, "payload", None)
    if isinstance(payload, dict):
        message = str(payload.get("message") or json.dumps(payload, sort_keys=True, default=str))
    else:
        message = "" if payload is None else str(payload)
    timestamp = getattr(entry, "timestamp", None) or getattr(entry, "received_timestamp", None)
    return LogRecord(
        timestamp=timestamp.timestamp() if timestamp is not None else 0.0,
        service=str(service),
        message=message,
        severity=str(getattr(entry, "severity", None) or "DEFAULT").upper(),
        instance=str(instance),
        trace_id=str(getattr(entry, "trace", None) or "").rsplit("/", 1)[-1],
        span_id=str(getattr(entry, "span_id", None) or ""),
    )


def _decode(entry: dict[str, Any]) -> LogRecord:
    if "timestamp" not in entry and "receiveTimestamp" in entry:
        entry = {**entry, "timestamp": entry["receiveTimestamp"]}
    return decode_log(entry)


class CloudLoggingLogReader:
    """Reads application logs for a window, oldest first; the client is google-cloud-logging's `Client`."""

    def __init__(self, project: str, client: Any = None, page_size: int = 1000, max_entries: int = 50_000,
                 max_pages: int = 100, timeout_s: float = 30.0):
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}, not {page_size}")
        if max_entries < 1 or max_pages < 1 or timeout_s <= 0:
            raise ValueError("max_entries, max_pages and timeout_s must be positive")
        if client is None:
            from google.cloud import logging as cloud_logging

            client = cloud_logging.Client(project=project)
        self.project, self.client = project, client
        self.page_size, self.max_entries, self.max_pages, self.timeout_s = page_size, max_entries, max_pages, timeout_s

    def _page(self, body: dict[str, Any], deadline: float) -> dict[str, Any]:
        """One entries.list call; transient errors (429, 5xx, connection) are retried within the time budget."""
        from google.api_core.retry import Retry, if_transient_error

        remaining = max(deadline - time.monotonic(), 0.001)
        retry = Retry(predicate=if_transient_error, initial=0.2, maximum=2.0, timeout=remaining)
        reply = retry(self.client._connection.api_request)(
            method="POST", path="/entries:list", data=body, timeout=remaining)
        return reply if isinstance(reply, dict) else {}

    def logs(self, window: Window, services: list[str] | None = None) -> ReadResult[LogRecord]:
        """Entries of the window (of `services` when given; an empty list asks for none), oldest first."""
        if services is not None and not services:
            return ReadResult([], note="logs: no services asked for")
        body: dict[str, Any] = {"resourceNames": [f"projects/{self.project}"], "filter": build_filter(window, services),
                                "orderBy": "timestamp asc", "pageSize": self.page_size}
        deadline = time.monotonic() + self.timeout_s
        records: list[LogRecord] = []
        for page in range(1, self.max_pages + 1):
            out_of_time = f"time budget: {self.timeout_s:g} s, {page - 1} pages"
            if page > 1 and time.monotonic() >= deadline:
                return self._stopped(records, out_of_time)
            try:
                reply = self._page(body, deadline)
            except Exception as exc:  # a later page failing or running out of time: keep what was read, say so
                if page == 1:
                    raise
                late = time.monotonic() >= deadline
                return self._stopped(records, out_of_time if late else f"page {page} failed: {type(exc).__name__}")
            entries = reply.get("entries") or []
            room = self.max_entries - len(records)
            records.extend(_decode(e) for e in entries[:room])
            token = reply.get("nextPageToken") or ""
            if len(entries) > room or (token and len(records) >= self.max_entries):
                return self._stopped(records, f"limit: {self.max_entries} entries")
            if not token:
                return ReadResult(records)
            body["pageToken"] = token
        return self._stopped(records, f"limit: {self.max_pages} pages of {self.page_size}")

    def _stopped(self, records: list[LogRecord], why: str) -> ReadResult[LogRecord]:
        reached = f"; read up to {to_rfc3339(records[-1].timestamp)}" if records else ""
        return ReadResult(records, True, f"logs: stopped after {len(records)} entries ({why}){reached}; "
                                         "later entries of the window are unread")
