"""The telemetry bundle's records in GCP's own shapes: encoding records as Cloud Logging, Cloud Trace, Cloud
Monitoring and audit-log JSON, decoding them back, and RFC 3339 times (see docs/bundle-format.md). Used by the
bundle's writer and reader (shared/telemetry/bundle.py) and by the Cloud Logging and Monitoring adapters."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

from shared.telemetry_records import ChangeEvent, Dependency, LogRecord, MetricSeries, Span
from shared.workloads import gke_service


class BundleError(ValueError):
    """A bundle file is missing, unreadable or holds a record of the wrong shape."""


def to_rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_MINUTES: dict[str, int] = {}  # "YYYY-MM-DDTHH:MM" -> UNIX seconds, for the writer's own format


def from_rfc3339(s: str) -> float:
    """Parse RFC 3339 with up to nanosecond precision (Python keeps microseconds)."""
    if not isinstance(s, str) or not s:
        raise BundleError(f"not a timestamp: {s!r}")
    if len(s) == 27 and s[26] == "Z" and s[19] == "." and s[16] == ":" and s[17:19].isdigit() and s[20:26].isdigit():
        minute = _MINUTES.get(s[:16])  # the writer's format: the minute once, then the seconds as integers
        if minute is None:
            if len(_MINUTES) > 100_000:
                _MINUTES.clear()
            minute = _MINUTES[s[:16]] = round(_slow_rfc3339(s[:16] + ":00Z"))
        if int(s[17:19]) < 60:  # the same exact division datetime.timestamp() makes
            return ((minute + int(s[17:19])) * 10**6 + int(s[20:26])) / 10**6
    return _slow_rfc3339(s)


def _slow_rfc3339(s: str) -> float:
    text = s.strip().upper().replace("Z", "+00:00")  # RFC 3339 allows a lower-case "t" and "z"
    if "." in text:
        head, _, rest = text.partition(".")
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        text = f"{head}.{digits[:6].ljust(6, '0')}{rest}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BundleError(f"not a timestamp: {s!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _resource(service: str, instance: str, rtype: str = "k8s_container") -> dict[str, Any]:
    # a log's k8s_container names its workload's container as Cloud Logging does (container_name), so the
    # resource-scoped filters of the Cloud Logging reader select it (shared/telemetry/cloud_logging.py)
    labels = {"container_name" if rtype == "k8s_container" else "service_name": service}
    if instance:
        labels["pod_name"] = instance
    return {"type": rtype, "labels": labels}


def _service_of(resource: dict[str, Any]) -> tuple[str, str]:
    labels = resource.get("labels") or {}
    service = (
        gke_service({str(k): str(v) for k, v in labels.items()})  # a GKE workload: cluster/namespace/workload
        or labels.get("service_name")
        or labels.get("container_name")
        or labels.get("function_name")
        or labels.get("service")
        or ""
    )
    instance = labels.get("pod_name") or labels.get("instance_id") or labels.get("revision_name") or ""
    return str(service), str(instance)


# ---------------------------------------------------------------- encoding (records -> GCP-shaped JSON)


def encode_log(r: LogRecord, project: str = "demo") -> dict[str, Any]:
    entry: dict[str, Any] = {
        "timestamp": to_rfc3339(r.timestamp),
        "severity": r.severity,
        "resource": _resource(r.service, r.instance),
        "textPayload": r.message,
    }
    if r.trace_id:
        entry["trace"] = f"projects/{project}/traces/{r.trace_id}"
    if r.span_id:
        entry["spanId"] = r.span_id
    return entry


def encode_span(s: Span, project: str = "demo") -> dict[str, Any]:
    attributes = {"service.name": {"stringValue": {"value": s.service}}}
    if s.instance:
        attributes["k8s.pod.name"] = {"stringValue": {"value": s.instance}}
    span: dict[str, Any] = {
        "name": f"projects/{project}/traces/{s.trace_id}/spans/{s.span_id}",
        "spanId": s.span_id,
        "displayName": {"value": s.name},
        "startTime": to_rfc3339(s.start),
        "endTime": to_rfc3339(s.end),
        "attributes": {"attributeMap": attributes},
        "status": {"code": 2, "message": s.status_message} if s.error else {"code": 0},
    }
    if s.parent_id:
        span["parentSpanId"] = s.parent_id
    return span


def encode_series(m: MetricSeries) -> dict[str, Any]:
    return {
        "metric": {"type": m.metric, "labels": dict(m.labels)},
        "resource": _resource(m.service, m.instance, "k8s_pod"),
        "metricKind": "GAUGE",
        "valueType": "DOUBLE",
        "unit": m.unit,
        "points": [
            {"interval": {"endTime": to_rfc3339(t)}, "value": {"doubleValue": v}}
            for t, v in reversed(m.points)
            if math.isfinite(v)  # NaN/Infinity are not JSON: a missing sample is no point
        ],
    }


def encode_change(c: ChangeEvent, project: str = "demo") -> dict[str, Any]:
    details = dict(c.details)
    return {
        "timestamp": to_rfc3339(c.timestamp),
        "logName": f"projects/{project}/logs/cloudaudit.googleapis.com%2Factivity",
        "resource": _resource(c.service, "", "cloud_run_revision"),
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "methodName": details.pop("methodName", f"autosre.{c.kind}"),
            "resourceName": details.pop("resourceName", c.service),
            "authenticationInfo": {"principalEmail": c.actor},
            "request": details,
        },
        "labels": {"autosre.dev/change_kind": c.kind, "autosre.dev/description": c.description},
    }


# ---------------------------------------------------------------- decoding (GCP-shaped JSON -> records)


def decode_log(e: dict[str, Any], at: float | None = None) -> LogRecord:
    """`at`: the entry's timestamp when already parsed from it (the bundle's index holds it)."""
    service, instance = _service_of(e.get("resource") or {})
    payload = e.get("textPayload")
    if payload is None:
        json_payload = e.get("jsonPayload")
        if isinstance(json_payload, dict):
            payload = json_payload.get("message") or json.dumps(json_payload, sort_keys=True)
        else:
            payload = ""
    trace = str(e.get("trace") or "")
    return LogRecord(
        timestamp=from_rfc3339(e["timestamp"]) if at is None else at,
        service=service,
        message=str(payload),
        severity=str(e.get("severity") or "DEFAULT").upper(),
        instance=instance,
        trace_id=trace.rsplit("/", 1)[-1],
        span_id=str(e.get("spanId") or ""),
    )


_CUT_TEXT = re.compile(rb'"(?:textPayload|message)":\s*"((?:[^"\\]|\\.)*)')
_CUT_FIELD = re.compile(rb'"(severity|trace|spanId)":\s*"([^"\\]{0,200})"')


def salvage_log(head: bytes, at: float, service: str) -> LogRecord:
    """The record of a log line too long to read whole, from its first bytes: its text as far as it was read,
    marked as cut, at the time and service its line was placed at (the fields met before the text kept)."""
    m = _CUT_TEXT.search(head)
    text = m.group(1) if m else head
    try:
        message = json.loads(b'"' + text.rstrip(b"\\") + b'"') if m else text.decode("utf-8", "replace")
    except ValueError:
        message = text.decode("utf-8", "replace")
    fields = {k.decode(): v.decode("utf-8", "replace") for k, v in _CUT_FIELD.findall(head)}
    return LogRecord(timestamp=at, service=service, message=f"{message} [cut]",
                     severity=(fields.get("severity") or "DEFAULT").upper(),
                     trace_id=fields.get("trace", "").rsplit("/", 1)[-1], span_id=fields.get("spanId", ""))


def _attr(attributes: dict[str, Any], key: str) -> str:
    value = (attributes.get("attributeMap") or {}).get(key) or {}
    inner = value.get("stringValue") or {}
    return str(inner.get("value") or "")


def decode_span(s: dict[str, Any], at: float | None = None) -> Span:
    """`at`: the span's start time when already parsed from it (the bundle's index holds it)."""
    name = str(s.get("name") or "")
    parts = name.split("/")
    trace_id = parts[parts.index("traces") + 1] if "traces" in parts else str(s.get("traceId") or "")
    attributes = s.get("attributes") or {}
    status = s.get("status") or {}
    return Span(
        trace_id=trace_id,
        span_id=str(s["spanId"]),
        parent_id=str(s.get("parentSpanId") or ""),
        service=_attr(attributes, "service.name"),
        name=str((s.get("displayName") or {}).get("value") or ""),
        start=from_rfc3339(s["startTime"]) if at is None else at,
        end=from_rfc3339(s["endTime"]),
        instance=_attr(attributes, "k8s.pod.name"),
        error=int(status.get("code") or 0) != 0,
        status_message=str(status.get("message") or ""),
    )


_POINT_TIMES: dict[str, float] = {}  # a point's end time -> UNIX seconds: every series of a bundle shares its minutes


def _point_time(text: Any) -> float:
    t = _POINT_TIMES.get(text) if isinstance(text, str) else None
    if t is None:
        t = from_rfc3339(text)
        if len(_POINT_TIMES) >= 100_000:
            _POINT_TIMES.clear()
        _POINT_TIMES[text] = t
    return t


def decode_series(ts: dict[str, Any]) -> MetricSeries:
    service, instance = _service_of(ts.get("resource") or {})
    points: list[tuple[float, float]] = []
    for p in ts.get("points") or []:
        value = p.get("value") or {}
        raw = value.get("doubleValue", value.get("int64Value"))
        if raw is None:
            continue
        v = float(raw)
        if math.isfinite(v):
            points.append((_point_time(p["interval"]["endTime"]), v))
    points.sort()
    metric = ts.get("metric") or {}
    return MetricSeries(
        metric=str(metric["type"]),
        service=service,
        points=tuple(points),
        instance=instance,
        unit=str(ts.get("unit") or ""),
        labels=tuple(sorted((str(k), str(v)) for k, v in (metric.get("labels") or {}).items())),
    )


def encode_dependency(d: Dependency) -> dict[str, Any]:
    return {"caller": d.caller, "callee": d.callee}


def decode_dependency(e: dict[str, Any]) -> Dependency:
    caller, callee = e["caller"], e["callee"]
    if not isinstance(caller, str) or not isinstance(callee, str) or not caller or not callee:
        raise ValueError(f"caller and callee must be non-empty strings: {caller!r} -> {callee!r}")
    return Dependency(caller, callee)


def decode_change(e: dict[str, Any]) -> ChangeEvent:
    service, _ = _service_of(e.get("resource") or {})
    proto = e.get("protoPayload") or {}
    labels = e.get("labels") or {}
    method = str(proto.get("methodName") or "")
    kind = labels.get("autosre.dev/change_kind") or classify_method(method)
    request = proto.get("request") or {}
    details = {"methodName": method, "resourceName": str(proto.get("resourceName") or "")}
    details.update({str(k): str(v) for k, v in request.items() if not isinstance(v, (dict, list))})
    return ChangeEvent(
        timestamp=from_rfc3339(e["timestamp"]),
        service=service,
        kind=str(kind),
        description=str(labels.get("autosre.dev/description") or method),
        actor=str((proto.get("authenticationInfo") or {}).get("principalEmail") or ""),
        details=tuple(sorted(details.items())),
    )


# Methods that roll out new code although their verb is "update": Cloud Run's Admin API v2 (what gcloud run deploy
# and Terraform's google_cloud_run_v2_service call) creates a revision on every UpdateService that changes the
# template, and Cloud Functions (2nd gen) rebuild and redeploy on UpdateFunction.
ROLLOUT_METHODS = ("google.cloud.run.v2.services.updateservice", "google.cloud.run.v2.services.createservice",
                   "google.cloud.functions.v2.functionservice.updatefunction",
                   "google.cloud.functions.v2.functionservice.createfunction")


def classify_method(method: str) -> str:
    """Map an audit-log methodName to a change kind, by the verbs GCP APIs use."""
    m = method.lower()
    if m.endswith(ROLLOUT_METHODS):
        return "deploy"
    if any(w in m for w in ("scale", "autoscal")):
        return "scale"
    if any(w in m for w in ("restart", "reboot", "reset")):
        return "restart"
    if any(w in m for w in ("deploy", "replaceservice", "createrevision", "createservice", "rollout", "release")):
        return "deploy"
    if any(w in m for w in ("update", "patch", "set", "replace", "create", "delete")):
        return "config"
    return "other"
