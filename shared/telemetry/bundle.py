"""The on-disk telemetry bundle: a folder of JSON-lines files in (a subset of) GCP's own shapes.

See docs/bundle-format.md. `BundleWriter` writes one, `BundleSource` reads it as a `TelemetrySource`.
Records are parsed once, kept sorted by time, and sliced per window with a binary search.
"""

from __future__ import annotations

import bisect
import json
import math
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Generic, TypeVar

from shared.ports import LogPatternCounter
from shared.telemetry_records import ChangeEvent, LogRecord, MetricSeries, ReadResult, Span, Window

FORMAT = "autosre-bundle/1"
LOGS, SPANS, METRICS, CHANGES = "logs.jsonl", "spans.jsonl", "metrics.jsonl", "changes.jsonl"
MANIFEST = "manifest.json"
DEFAULT_MAX_RECORDS = 500_000

T = TypeVar("T")


class BundleError(ValueError):
    """A bundle file is missing, unreadable or holds a record of the wrong shape."""


def to_rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_rfc3339(s: str) -> float:
    """Parse RFC 3339 with up to nanosecond precision (Python keeps microseconds)."""
    if not isinstance(s, str) or not s:
        raise BundleError(f"not a timestamp: {s!r}")
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
    labels = {"service_name": service}
    if instance:
        labels["pod_name"] = instance
    return {"type": rtype, "labels": labels}


def _service_of(resource: dict[str, Any]) -> tuple[str, str]:
    labels = resource.get("labels") or {}
    service = (
        labels.get("service_name")
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


def decode_log(e: dict[str, Any]) -> LogRecord:
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
        timestamp=from_rfc3339(e["timestamp"]),
        service=service,
        message=str(payload),
        severity=str(e.get("severity") or "DEFAULT").upper(),
        instance=instance,
        trace_id=trace.rsplit("/", 1)[-1],
        span_id=str(e.get("spanId") or ""),
    )


def _attr(attributes: dict[str, Any], key: str) -> str:
    value = (attributes.get("attributeMap") or {}).get(key) or {}
    inner = value.get("stringValue") or {}
    return str(inner.get("value") or "")


def decode_span(s: dict[str, Any]) -> Span:
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
        start=from_rfc3339(s["startTime"]),
        end=from_rfc3339(s["endTime"]),
        instance=_attr(attributes, "k8s.pod.name"),
        error=int(status.get("code") or 0) != 0,
        status_message=str(status.get("message") or ""),
    )


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
            points.append((from_rfc3339(p["interval"]["endTime"]), v))
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


def classify_method(method: str) -> str:
    """Map an audit-log methodName to a change kind, by the verbs GCP APIs use."""
    m = method.lower()
    if any(w in m for w in ("scale", "autoscal")):
        return "scale"
    if any(w in m for w in ("restart", "reboot", "reset")):
        return "restart"
    if any(w in m for w in ("deploy", "replaceservice", "createrevision", "createservice", "rollout", "release")):
        return "deploy"
    if any(w in m for w in ("update", "patch", "set", "replace", "create", "delete")):
        return "config"
    return "other"


# ---------------------------------------------------------------- writing


class BundleWriter:
    """Writes a bundle folder; use as a context manager. Records may be written in any order."""

    def __init__(self, path: str | os.PathLike[str], manifest: dict[str, Any] | None = None):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._manifest = {"format": FORMAT, **(manifest or {})}
        self._files: dict[str, IO[str]] = {}
        self.counts = {LOGS: 0, SPANS: 0, METRICS: 0, CHANGES: 0}

    def _write(self, name: str, obj: dict[str, Any]) -> None:
        f = self._files.get(name)
        if f is None:
            f = self._files[name] = open(self.path / name, "w", encoding="utf-8")  # noqa: SIM115
        f.write(json.dumps(obj, separators=(",", ":")) + "\n")
        self.counts[name] += 1

    def log(self, r: LogRecord) -> None:
        self._write(LOGS, encode_log(r))

    def span(self, s: Span) -> None:
        self._write(SPANS, encode_span(s))

    def series(self, m: MetricSeries) -> None:
        self._write(METRICS, encode_series(m))

    def change(self, c: ChangeEvent) -> None:
        self._write(CHANGES, encode_change(c))

    def close(self) -> None:
        for name in (LOGS, SPANS, METRICS, CHANGES):
            if name not in self._files:
                (self.path / name).touch()
        for f in self._files.values():
            f.close()
        self._files.clear()
        manifest = {**self._manifest, "counts": {k.split(".")[0]: v for k, v in self.counts.items()}}
        (self.path / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")

    def __enter__(self) -> BundleWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------- reading


@dataclass
class _Timeline(Generic[T]):
    items: list[T]
    keys: list[float]

    def between(self, window: Window) -> list[T]:
        lo = bisect.bisect_left(self.keys, window.start)
        hi = bisect.bisect_left(self.keys, window.end)
        return self.items[lo:hi]


@dataclass
class Skipped:
    """Lines of one file that did not parse: how many, and the first one's `<file>:<line>: <why>`."""

    count: int = 0
    first: str = ""

    def note(self, name: str) -> str:
        lines = "line" if self.count == 1 else "lines"
        return f"{name}: {self.count} corrupt {lines} skipped, the report reads the rest (first: {self.first})"


_BAD_LINE = (ValueError, KeyError, TypeError, AttributeError, IndexError, OverflowError, RecursionError)


def _read_jsonl(path: Path, decode: Callable[[dict[str, Any]], T], skipped: Skipped | None = None) -> Iterator[T]:
    """The file's records, in file order. A line that does not decode raises `BundleError("<file>:<line>: <why>")`
    when `skipped` is None; otherwise it is skipped and counted there, unless no line of the file decodes at all
    (a file that is all corrupt is not a sample of anything: it still fails)."""
    if not path.exists():
        return
    good = 0
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
                if not isinstance(obj, dict):
                    raise BundleError("record is not a JSON object")
                record = decode(obj)
            except _BAD_LINE as exc:
                error = BundleError(f"{path.name}:{lineno}: {exc}")
                if skipped is None:
                    raise error from exc
                skipped.count += 1
                skipped.first = skipped.first or str(error)
                continue
            good += 1
            yield record
    if skipped is not None and skipped.count and not good:
        raise BundleError(f"{path.name}: none of its {skipped.count} non-blank lines is a valid record "
                          f"(first: {skipped.first})")


def _timeline(items: Iterable[T], key: Callable[[T], float]) -> _Timeline[T]:
    ordered = sorted(items, key=key)
    return _Timeline(ordered, [key(i) for i in ordered])


def _keep(service: str, services: list[str] | None) -> bool:
    return services is None or service in services


class BundleSource:
    """A `TelemetrySource` over a bundle folder. Reads are bounded by `max_records` per call.

    A corrupt line (not JSON, a required field missing, a bad time or value) is skipped and counted, and every read
    of that file says so in its note (`ReadResult.sampled`, so the specialists carry it into the report); a file
    in which no line is valid fails its reads with `BundleError`. `strict=True` fails on the first corrupt line."""

    log_counter: LogPatternCounter | None = None  # a folder has no pre-aggregation: the analyst reads lines

    def __init__(self, path: str | os.PathLike[str], max_records: int = DEFAULT_MAX_RECORDS, strict: bool = False):
        self.path = Path(path)
        if not (self.path / MANIFEST).exists():
            raise BundleError(f"{self.path} is not a telemetry bundle (no {MANIFEST})")
        try:
            self.manifest: dict[str, Any] = json.loads((self.path / MANIFEST).read_text())
        except ValueError as exc:
            raise BundleError(f"{MANIFEST}: {exc}") from exc
        if not isinstance(self.manifest, dict):
            raise BundleError(f"{MANIFEST}: not a JSON object")
        if self.manifest.get("format") != FORMAT:
            raise BundleError(f"unknown bundle format {self.manifest.get('format')!r}, expected {FORMAT}")
        self.max_records = max_records
        self.strict = strict
        self.skipped: dict[str, Skipped] = {}  # file name -> corrupt lines skipped (files read so far)
        self._logs: _Timeline[LogRecord] | None = None
        self._spans: _Timeline[Span] | None = None
        self._series: list[MetricSeries] | None = None
        self._changes: _Timeline[ChangeEvent] | None = None

    def describe(self) -> dict[str, str]:
        return {"source": "bundle", "path": str(self.path), "name": str(self.manifest.get("name", ""))}

    def _read(self, name: str, decode: Callable[[dict[str, Any]], T]) -> list[T]:
        skipped = None if self.strict else Skipped()
        items = list(_read_jsonl(self.path / name, decode, skipped))
        if skipped is not None and skipped.count:
            self.skipped[name] = skipped
        return items

    def _result(self, items: list[T], name: str, what: str, bounded: bool = True) -> ReadResult[T]:
        read = self._bounded(items, what) if bounded else ReadResult(items)
        skipped = self.skipped.get(name)
        if skipped is None:
            return read
        note = "; ".join(n for n in (read.note, skipped.note(name)) if n)
        return ReadResult(read.items, sampled=True, note=note)

    def _bounded(self, items: list[T], what: str) -> ReadResult[T]:
        if len(items) <= self.max_records:
            return ReadResult(items)
        step = len(items) / self.max_records
        sample = [items[int(i * step)] for i in range(self.max_records)]
        return ReadResult(sample, sampled=True, note=f"{what}: {self.max_records} of {len(items)} evenly sampled")

    def logs(self, window: Window, services: list[str] | None = None) -> ReadResult[LogRecord]:
        if self._logs is None:
            self._logs = _timeline(self._read(LOGS, decode_log), lambda r: r.timestamp)
        items = [r for r in self._logs.between(window) if _keep(r.service, services)]
        return self._result(items, LOGS, "logs")

    def spans(self, window: Window, services: list[str] | None = None) -> ReadResult[Span]:
        if self._spans is None:
            self._spans = _timeline(self._read(SPANS, decode_span), lambda s: s.start)
        items = [s for s in self._spans.between(window) if _keep(s.service, services)]
        return self._result(items, SPANS, "spans")

    def metrics(self, window: Window, services: list[str] | None = None) -> ReadResult[MetricSeries]:
        if self._series is None:
            self._series = self._read(METRICS, decode_series)
        out: list[MetricSeries] = []
        for m in self._series:
            if not _keep(m.service, services):
                continue
            points = tuple(p for p in m.points if window.contains(p[0]))
            if points:
                out.append(
                    MetricSeries(m.metric, m.service, points, m.instance, m.unit, m.labels)
                )
        return self._result(out, METRICS, "metrics", bounded=False)

    def changes(self, window: Window, services: list[str] | None = None) -> ReadResult[ChangeEvent]:
        if self._changes is None:
            self._changes = _timeline(self._read(CHANGES, decode_change), lambda c: c.timestamp)
        items = [c for c in self._changes.between(window) if _keep(c.service, services)]
        return self._result(items, CHANGES, "changes", bounded=False)

    def time_range(self) -> tuple[float, float] | None:
        """The first and last time a record of the bundle carries (None when it holds none). Reads every file once,
        through the same caches as the reads, so it raises `BundleError` as they would."""
        everything = Window(-1e12, 1e12)
        for read in (self.logs, self.spans, self.changes, self.metrics):
            read(everything)  # fills the caches
        times = [t for line in (self._logs, self._spans, self._changes) if line is not None and line.keys
                 for t in (line.keys[0], line.keys[-1])]
        times += [t for m in self._series or [] if m.points for t in (m.points[0][0], m.points[-1][0])]
        return (min(times), max(times)) if times else None
