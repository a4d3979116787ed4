"""Where a finding can be looked at in the Google Cloud console: Logs Explorer, Trace or Metrics Explorer, with the
finding's own query (its project, window and filter). Only a finding read from Google Cloud has one: a telemetry
bundle's findings have no console to point at."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from functions.runtime import log_filter
from shared.models import Finding
from shared.time_window import Window

CONSOLE = "https://console.cloud.google.com"


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def console_link(finding: Finding) -> tuple[str, str] | None:
    """(label, URL) of the console page showing what `finding` read, or None when it read no Google Cloud data."""
    q: dict[str, Any] = finding.query
    raw_source, raw_filter = q.get("source"), q.get("filter")
    source: dict[str, Any] = raw_source if isinstance(raw_source, dict) else {}
    project = str(source.get("project") or "") if source.get("source") == "gcp" else ""
    window = q.get("window")
    if not project or not (isinstance(window, list) and len(window) == 2):
        return None
    start, end = float(window[0]), float(window[1])
    filters: dict[str, Any] = raw_filter if isinstance(raw_filter, dict) else {}
    service = str(filters.get("service") or filters.get("callee") or finding.service or "")
    if finding.specialist in ("logs", "changes"):
        try:
            text = log_filter(Window(start, end), [service] if service else None)
        except ValueError:  # a control character in a service name: no link rather than a broken one
            return None
        if finding.specialist == "changes":
            text = text.replace('NOT logName:"cloudaudit.googleapis.com"', 'logName:"cloudaudit.googleapis.com"')
        path = f"/logs/query;query={quote(text, safe='')};startTime={_iso(start)};endTime={_iso(end)}"
        return "Logs Explorer", f"{CONSOLE}{path}?{urlencode({'project': project})}"
    if finding.specialist == "traces":
        params = {"project": project, "start": str(int(start * 1000)), "end": str(int(end * 1000))}
        return "Trace", f"{CONSOLE}/traces/list?{urlencode(params)}"
    if finding.specialist == "metrics" and filters.get("metric"):
        metric_filter = f'metric.type="{filters["metric"]}"' + (
            f' resource.labels.service_name="{service}"' if service else "")
        state = {"xyChart": {"dataSets": [{"timeSeriesFilter": {"filter": metric_filter}}]},
                 "timeSelection": {"timeRange": "custom", "start": _iso(start), "end": _iso(end)}}
        params = {"project": project, "pageState": json.dumps(state, separators=(",", ":"))}
        return "Metrics Explorer", f"{CONSOLE}/monitoring/metrics-explorer?{urlencode(params)}"
    return None
