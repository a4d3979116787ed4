"""Cloud Monitoring notifications -> `Alert`, defensively.

Accepts the raw notification (`{"incident": {...}, "version": "1.2" | "test"}`), a Pub/Sub push envelope
(`{"message": {"data": <base64>, ...}, "subscription": ...}`) or the data of a messagePublished CloudEvent
(the same `{"message": ...}` shape). Every field may be missing; values arrive as strings or numbers; anything
that is not an alert raises `AlertParseError` with a machine-readable `reason`, never another exception.
Every string in the result is capped and valid UTF-8, so the `Alert` always serialises to JSON.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

from shared.core_models import Alert, DocumentationLink
from shared.events import stable_id

MAX_PAYLOAD_BYTES = 1_048_576
MAX_TEXT = 4096  # summary, documentation
MAX_NAME = 512  # policy, condition, resource, metric type
MAX_LABELS = 64  # per label map; the rest are dropped
MAX_LABEL_KEY = 256
MAX_LABEL_VALUE = 1024
MAX_LINKS = 16  # documentation links kept; the rest are dropped
_MAX_BASE64 = (MAX_PAYLOAD_BYTES + 2) // 3 * 4
_LATEST = 4e10  # year 3237: anything later is not UNIX seconds (milliseconds, garbage)


class AlertParseError(ValueError):
    """A payload that is not a usable Cloud Monitoring notification; `reason` is machine-readable:
    bad_json, not_an_object, too_large, missing_incident, wrong_type, bad_envelope, bad_base64."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def _load_json(raw: bytes | str, where: str) -> Any:
    size = len(raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw)
    if size > MAX_PAYLOAD_BYTES:
        raise AlertParseError("too_large", f"{where} is {size} bytes, more than {MAX_PAYLOAD_BYTES}")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise AlertParseError("bad_json", f"{where} is not JSON: {str(exc)[:200]}") from None


def _decode_message(message: Any) -> Any:
    if not isinstance(message, dict) or not isinstance(message.get("data"), str):
        raise AlertParseError("bad_envelope", "push envelope without a base64 string in message.data")
    data: str = message["data"]
    if len(data) > _MAX_BASE64:
        raise AlertParseError("too_large", f"message.data is {len(data)} base64 characters, over the limit")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise AlertParseError("bad_base64", "message.data is not base64") from None
    return _load_json(raw, "message.data")


def unwrap(payload: bytes | str | dict[str, Any]) -> dict[str, Any]:
    """The notification dict, out of a raw payload, a push envelope or CloudEvent data (one level only)."""
    doc: Any = payload
    if isinstance(payload, (bytes, bytearray, memoryview)):
        doc = _load_json(bytes(payload), "payload")
    elif isinstance(payload, str):
        doc = _load_json(payload, "payload")
    if not isinstance(doc, dict):  # also a caller's list or None
        raise AlertParseError("not_an_object", f"payload is a JSON {type(doc).__name__}, not an object")
    if "incident" not in doc and "message" in doc:
        doc = _decode_message(doc["message"])
        if not isinstance(doc, dict):
            raise AlertParseError("not_an_object", f"message.data is a JSON {type(doc).__name__}, not an object")
        if "message" in doc and "incident" not in doc:
            raise AlertParseError("bad_envelope", "an envelope inside an envelope")
    if "incident" not in doc:
        raise AlertParseError("missing_incident", "not a Cloud Monitoring notification: no 'incident' field")
    return doc


def _utf8(text: str, limit: int) -> str:
    """Capped, and with lone surrogates (legal in JSON, illegal in UTF-8) replaced so the text can be stored."""
    text = text[:limit]
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _scalar(value: Any, field: str, limit: int) -> str:
    """A JSON scalar as text; None is empty. Objects and lists are a `wrong_type` naming the field."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _utf8(value, limit)
    if isinstance(value, (int, float)):
        try:
            return str(value)[:limit]
        except ValueError:  # an int beyond Python's int->str digit limit
            raise AlertParseError("wrong_type", f"{field} is a number too long to be a value") from None
    raise AlertParseError("wrong_type", f"{field} must be a string, not {type(value).__name__}")


def _text(value: Any, field: str, limit: int = MAX_NAME) -> str:
    if isinstance(value, bool):
        raise AlertParseError("wrong_type", f"{field} must be a string, not bool")
    return _scalar(value, field, limit)


def _obj(value: Any, field: str) -> dict[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AlertParseError("wrong_type", f"{field} must be an object, not {type(value).__name__}")
    return value


def _labels(value: Any, field: str) -> dict[str, str]:
    """A label map with str keys and values (numbers and booleans as text, null as empty)."""
    out: dict[str, str] = {}
    for k, v in list(_obj(value, field).items())[:MAX_LABELS]:
        key = _utf8(k, MAX_LABEL_KEY) if isinstance(k, str) else _scalar(k, f"{field} key", MAX_LABEL_KEY)
        out[key] = _scalar(v, f"{field}.{key[:40]}", MAX_LABEL_VALUE)
    return out


def _time(value: Any, field: str) -> float | None:
    """UNIX seconds from a number, a numeric string or an RFC 3339 string; null, 0 and "" mean unknown."""
    if value is None or isinstance(value, bool):
        if value is None:
            return None
        raise AlertParseError("wrong_type", f"{field} must be a UNIX time, not bool")
    if isinstance(value, str):
        text = value.strip()
        try:
            t = float(text) if text else 0.0
        except ValueError:
            t = _rfc3339(text, field)
    elif isinstance(value, (int, float)):
        try:
            t = float(value)
        except OverflowError:
            raise AlertParseError("wrong_type", f"{field} is out of range") from None
    else:
        raise AlertParseError("wrong_type", f"{field} must be a UNIX time, not {type(value).__name__}")
    if t == 0:
        return None
    if not 0 < t < _LATEST:  # also rejects nan and inf
        raise AlertParseError("wrong_type", f"{field} is out of range: {t}")
    return t


def _rfc3339(text: str, field: str) -> float:
    try:
        when = datetime.fromisoformat(text)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when.timestamp()
    except (ValueError, OverflowError, OSError):
        raise AlertParseError("wrong_type", f"{field} must be a UNIX time, got {_utf8(text, 40)!r}") from None


def _number(value: Any) -> float | None:
    """A finite number from a number or numeric string; anything else (absent, "n/a", nan) is None."""
    if value is None or isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    try:
        v = float(value)
    except (ValueError, OverflowError):
        return None
    return v if v == v and abs(v) != float("inf") else None


def _documentation(value: Any) -> str:
    if isinstance(value, dict):  # v1.2: {"content": ..., "mime_type": ..., "subject": ...}
        return _text(value.get("content"), "incident.documentation.content", MAX_TEXT)
    return _text(value, "incident.documentation", MAX_TEXT)  # the test channel sends a plain string


def _links(value: Any) -> list[DocumentationLink]:
    """documentation.links: [{"displayName", "url"}]; a link that is not http(s) or not an object is dropped (a
    runbook link is shown to people: nothing else is clickable)."""
    links = value.get("links") if isinstance(value, dict) else None
    if not isinstance(links, list):
        return []
    out: list[DocumentationLink] = []
    for link in links[:MAX_LINKS]:
        if not isinstance(link, dict) or not isinstance(link.get("url"), str):
            continue
        url = _utf8(link["url"].strip(), 2048)
        if url.lower().startswith(("https://", "http://")):
            name = link.get("displayName")
            out.append(DocumentationLink(display_name=_utf8(name, MAX_NAME) if isinstance(name, str) else "", url=url))
    return out


def parse_alert(payload: bytes | str | dict[str, Any]) -> Alert:
    """A normalised `Alert` from any accepted form (see `unwrap`), or `AlertParseError`."""
    doc = unwrap(payload)
    inc = _obj(doc.get("incident"), "incident")
    resource = _obj(inc.get("resource"), "incident.resource")
    metric = _obj(inc.get("metric"), "incident.metric")
    condition = _obj(inc.get("condition"), "incident.condition")
    state = _text(inc.get("state"), "incident.state", 64).strip().lower() or "open"
    if state not in ("open", "closed"):
        raise AlertParseError("wrong_type", f"incident.state must be open or closed, got {state[:20]!r}")
    resource_labels = _labels(resource.get("labels"), "incident.resource.labels")
    project = _text(inc.get("scoping_project_id") or resource_labels.get("project_id"), "incident.scoping_project_id")
    policy = _text(inc.get("policy_name"), "incident.policy_name")
    condition_name = _text(inc.get("condition_name") or condition.get("displayName"), "incident.condition_name")
    resource_name = _text(inc.get("resource_display_name") or inc.get("resource_name"), "incident.resource_name")
    resource_type = _text(resource.get("type"), "incident.resource.type")
    metric_labels = _labels(metric.get("labels"), "incident.metric.labels")
    observed = _number(inc.get("observed_value"))
    if observed is None:  # PromQL conditions carry the value only as a metric label
        observed = _number(metric_labels.get("value"))
    started = _time(inc.get("started_at"), "incident.started_at")
    mon_id = _text(inc.get("incident_id"), "incident.incident_id", 256)
    if not mon_id:  # redelivery (and the closing notification) must map to the same id
        mon_id = "derived-" + stable_id(project, policy, condition_name, resource_type, resource_name,
                                        sorted(resource_labels.items()), started)
    return Alert(
        monitoring_incident_id=mon_id,
        policy_name=policy,
        condition_name=condition_name,
        state="closed" if state == "closed" else "open",
        started_at=started,
        ended_at=_time(inc.get("ended_at"), "incident.ended_at"),
        project_id=project,
        resource_type=resource_type,
        resource_name=resource_name,
        resource_labels=resource_labels,
        metric_type=_text(metric.get("type"), "incident.metric.type"),
        metric_labels=metric_labels,
        observed_value=observed,
        threshold_value=_number(inc.get("threshold_value")),
        summary=_text(inc.get("summary"), "incident.summary", MAX_TEXT),
        url=_text(inc.get("url"), "incident.url", 2048),
        severity=_text(inc.get("severity"), "incident.severity", 64),
        version=_text(doc.get("version"), "version", 32),
        policy_user_labels=_labels(inc.get("policy_user_labels"), "incident.policy_user_labels"),
        documentation=_documentation(inc.get("documentation")),
        controller=_controller(inc.get("metadata")),
        documentation_links=_links(inc.get("documentation")),
    )


def _controller(metadata: Any) -> str:
    """The GKE workload Monitoring names in the incident's metadata (system_labels.top_level_controller_name), ""
    when it names none; anything else in the metadata is not read (its values may be lists)."""
    system = metadata.get("system_labels") if isinstance(metadata, dict) else None
    value = system.get("top_level_controller_name") if isinstance(system, dict) else None
    return _utf8(value, MAX_LABEL_VALUE) if isinstance(value, str) else ""
