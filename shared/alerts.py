"""Cloud Monitoring notifications -> `Alert`, defensively.

Accepts the raw notification (`{"incident": {...}, "version": "1.2" | "test"}`), a Pub/Sub push envelope
(`{"message": {"data": <base64>, ...}, "subscription": ...}`) or the data of a messagePublished CloudEvent
(the same `{"message": ...}` shape). Every field may be missing; values arrive as strings or numbers; anything
that is not an alert raises `AlertParseError` with a machine-readable `reason`, never another exception.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from shared.events import stable_id
from shared.models import Alert

MAX_PAYLOAD_BYTES = 1_048_576
MAX_TEXT = 4096
MAX_LABELS = 64


class AlertParseError(ValueError):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def _load_json(raw: bytes | str) -> Any:
    size = len(raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw)
    if size > MAX_PAYLOAD_BYTES:
        raise AlertParseError("too_large", f"payload is {size} bytes, more than {MAX_PAYLOAD_BYTES}")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise AlertParseError("bad_json", f"payload is not JSON: {exc}") from None


def unwrap(payload: bytes | str | dict[str, Any]) -> dict[str, Any]:
    """The notification dict, out of a raw payload, a push envelope or CloudEvent data."""
    doc = payload if isinstance(payload, dict) else _load_json(payload)
    if not isinstance(doc, dict):
        raise AlertParseError("not_an_object", f"payload is a JSON {type(doc).__name__}, not an object")
    if "incident" not in doc and "message" in doc:
        message = doc["message"]
        if not isinstance(message, dict) or not isinstance(message.get("data"), str):
            raise AlertParseError("bad_envelope", "push envelope without message.data")
        try:
            data = base64.b64decode(message["data"], validate=True)
        except (binascii.Error, ValueError):
            raise AlertParseError("bad_base64", "message.data is not base64") from None
        doc = _load_json(data)
        if not isinstance(doc, dict):
            raise AlertParseError("not_an_object", f"message.data is a JSON {type(doc).__name__}, not an object")
        if "message" in doc and "incident" not in doc:
            raise AlertParseError("bad_envelope", "an envelope inside an envelope")
    if "incident" not in doc:
        raise AlertParseError("missing_incident", "not a Cloud Monitoring notification: no 'incident' field")
    return doc


def _obj(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AlertParseError("wrong_type", f"{field} must be an object, not {type(value).__name__}")
    return value


def _text(value: Any, field: str, limit: int = MAX_TEXT) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise AlertParseError("wrong_type", f"{field} must be a string, not {type(value).__name__}")
    return str(value)[:limit]


def _labels(value: Any, field: str) -> dict[str, str]:
    labels = _obj(value, field)
    out: dict[str, str] = {}
    for k, v in list(labels.items())[:MAX_LABELS]:
        if isinstance(v, (dict, list)):
            raise AlertParseError("wrong_type", f"{field}.{k} must be a scalar")
        out[str(k)[:256]] = "" if v is None else str(v)[:1024]
    return out


def _time(value: Any, field: str) -> float | None:
    if value is None or value == "" or value == 0 or value == "0":
        return None
    if isinstance(value, bool):
        raise AlertParseError("wrong_type", f"{field} must be a UNIX time")
    try:
        t = float(value)
    except (TypeError, ValueError):
        raise AlertParseError("wrong_type", f"{field} must be a UNIX time, got {str(value)[:40]!r}") from None
    if not 0 < t < 4e10:
        raise AlertParseError("wrong_type", f"{field} is out of range: {t}")
    return t


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, (bool, dict, list)):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if v == v and abs(v) != float("inf") else None


def parse_alert(payload: bytes | str | dict[str, Any]) -> Alert:
    doc = unwrap(payload)
    inc = _obj(doc.get("incident"), "incident")
    resource = _obj(inc.get("resource"), "incident.resource")
    metric = _obj(inc.get("metric"), "incident.metric")
    condition = _obj(inc.get("condition"), "incident.condition")
    state = _text(inc.get("state"), "incident.state").strip().lower() or "open"
    if state not in ("open", "closed"):
        raise AlertParseError("wrong_type", f"incident.state must be open or closed, got {state[:20]!r}")
    documentation = inc.get("documentation")
    if isinstance(documentation, dict):
        documentation = documentation.get("content")
    resource_labels = _labels(resource.get("labels"), "incident.resource.labels")
    project = _text(inc.get("scoping_project_id") or resource_labels.get("project_id"), "incident.scoping_project_id")
    policy = _text(inc.get("policy_name"), "incident.policy_name", 512)
    condition_name = _text(inc.get("condition_name") or condition.get("displayName"), "incident.condition_name", 512)
    resource_name = _text(inc.get("resource_display_name") or inc.get("resource_name"), "incident.resource_name", 512)
    metric_labels = _labels(metric.get("labels"), "incident.metric.labels")
    observed = _number(inc.get("observed_value"))
    if observed is None:  # PromQL conditions carry the value only as a metric label
        observed = _number(metric_labels.get("value"))
    started = _time(inc.get("started_at"), "incident.started_at")
    mon_id = _text(inc.get("incident_id"), "incident.incident_id", 256)
    if not mon_id:
        mon_id = "derived-" + stable_id(project, policy, condition_name, resource_name, started)
    return Alert(
        monitoring_incident_id=mon_id,
        policy_name=policy,
        condition_name=condition_name,
        state="closed" if state == "closed" else "open",
        started_at=started,
        ended_at=_time(inc.get("ended_at"), "incident.ended_at"),
        project_id=project,
        resource_type=_text(resource.get("type"), "incident.resource.type", 256),
        resource_name=resource_name,
        resource_labels=resource_labels,
        metric_type=_text(metric.get("type"), "incident.metric.type", 512),
        metric_labels=metric_labels,
        observed_value=observed,
        threshold_value=_number(inc.get("threshold_value")),
        summary=_text(inc.get("summary"), "incident.summary"),
        url=_text(inc.get("url"), "incident.url", 2048),
        severity=_text(inc.get("severity"), "incident.severity", 64),
        version=_text(doc.get("version"), "version", 32),
        policy_user_labels=_labels(inc.get("policy_user_labels"), "incident.policy_user_labels"),
        documentation=_text(documentation, "incident.documentation"),
    )
