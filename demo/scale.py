"""A demo incident at scale: the base scenario of `demo.generator.generate`, its traffic multiplied.

`scale(fault, factor, out_dir)` generates the base bundle (1x: the demo shop, one injected fault) and writes a
bundle with `factor` times its traffic: every request (a log line, a trace with its spans and the lines that name
it) is replayed `factor` times, each replica with its own trace ids, shifted by a few milliseconds, and spread over
more instances of each service (`<pod>-r<k>`, up to INSTANCE_FACTOR replicas of every pod, each with its own copy
of the pod's metric series). The injected fault, its service and its onset stay as they are, so the ground truth
(`truth.json`) and the alert (`alert.json`) are the base scenario's.

Bounds, as a production deployment would meet them: log lines grow with the factor (100x: about 920,000 lines in
the analysed windows); traces are head-sampled so the spans stay within MAX_SPANS (an OpenTelemetry ratio sampler
at a lower ratio, whole traces kept or dropped); metric series grow with the instances, within MAX_SERIES.
Streaming: the base bundle is read line by line and every replica written as it is made; the memory used does not
grow with the factor. Deterministic: the same (fault, factor, seed), the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from demo.generator import generate
from shared.telemetry.bundle import (
    CHANGES,
    FORMAT,
    LOGS,
    MANIFEST,
    METRICS,
    SPANS,
    from_rfc3339,
    index_files,
    to_rfc3339,
)

MAX_SPANS = 200_000
MAX_SERIES = 2_000
SHIFT_S = 0.0137  # replica k runs k * SHIFT_S (mod 1 s) after the base request
SIZES = (1, 10, 100)


@dataclass(frozen=True)
class Scaled:
    factor: int
    bundle_dir: Path
    alert_path: Path
    truth_path: Path
    counts: dict[str, int]
    root_service: str


def instance_factor(factor: int, base_series: int) -> int:
    """How many replicas of each pod: the factor, within MAX_SERIES metric series."""
    return max(1, min(factor, MAX_SERIES // max(base_series, 1)))


def trace_ratio(factor: int, base_spans: int) -> float:
    """The share of the replicated traces kept (head sampling): all of them, within MAX_SPANS spans."""
    return min(1.0, MAX_SPANS / max(base_spans * factor, 1))


def _trace_id(trace_id: str, k: int) -> str:
    return trace_id if k == 0 or not trace_id else f"{k:04x}{trace_id[4:]}"


def _instance(instance: str, k: int, pods: int) -> str:
    r = k % pods
    return instance if r == 0 or not instance else f"{instance}-r{r}"


def _kept(trace_id: str, k: int, ratio: float) -> bool:
    if ratio >= 1.0:
        return True
    digest = hashlib.blake2b(f"{trace_id}/{k}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") < ratio * 2**64


def _shift(stamp: str, k: int, cache: dict[str, float]) -> str:
    if k == 0:
        return stamp
    t = cache.get(stamp)
    if t is None:
        t = cache[stamp] = from_rfc3339(stamp)
    return to_rfc3339(t + (k * SHIFT_S) % 1.0)


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def _pod(record: dict[str, Any], k: int, pods: int) -> None:
    labels = (record.get("resource") or {}).get("labels") or {}
    if labels.get("pod_name"):
        labels["pod_name"] = _instance(labels["pod_name"], k, pods)


def _trace_of(name: str) -> str:
    parts = name.split("/")
    return parts[parts.index("traces") + 1] if "traces" in parts else ""


def scale(fault: str, factor: int, out_dir: Path, seed: int = 7) -> Scaled:
    """Write `out_dir/bundle/`, `out_dir/alert.json`, `out_dir/truth.json`: the (fault, seed) demo scenario with
    `factor` times its traffic. The base scenario is generated into `out_dir/base/`."""
    if factor < 1:
        raise ValueError(f"factor must be at least 1, got {factor}")
    out_dir = Path(out_dir)
    base = generate(fault, out_dir / "base", seed=seed)
    src = base.bundle_dir
    manifest = json.loads((src / MANIFEST).read_text())
    counts = manifest["counts"]
    pods = instance_factor(factor, int(counts["metrics"]))
    ratio = trace_ratio(factor, int(counts["spans"]))
    dst = out_dir / "bundle"
    dst.mkdir(parents=True, exist_ok=True)
    written = {LOGS: 0, SPANS: 0, METRICS: 0, CHANGES: 0}
    cache: dict[str, float] = {}
    dumps = json.JSONEncoder(separators=(",", ":")).encode

    with open(src / LOGS, encoding="utf-8") as lines, open(dst / LOGS, "w", encoding="utf-8") as out:
        for line in lines:
            if not line.strip():
                continue
            entry = json.loads(line)
            line = line.rstrip("\n")
            stamp, tid = entry["timestamp"], str(entry.get("trace") or "").rsplit("/", 1)[-1]
            pod = ((entry.get("resource") or {}).get("labels") or {}).get("pod_name") or ""
            for k in range(factor):  # the replicas as text: the same line with its time, pod and trace replaced
                r = line if k == 0 else line.replace(f'"timestamp":"{stamp}"',
                                                     f'"timestamp":"{_shift(stamp, k, cache)}"', 1)
                if k and pod:
                    r = r.replace(f'"pod_name":"{pod}"', f'"pod_name":"{_instance(pod, k, pods)}"', 1)
                if k and tid:
                    r = r.replace(f"/traces/{tid}", f"/traces/{_trace_id(tid, k)}", 1)
                out.write(r + "\n")
                written[LOGS] += 1
    with open(src / SPANS, encoding="utf-8") as lines, open(dst / SPANS, "w", encoding="utf-8") as out:
        for line in lines:
            if not line.strip():
                continue
            span = json.loads(line)
            line = line.rstrip("\n")
            tid = _trace_of(str(span.get("name") or ""))
            start, end = span["startTime"], span["endTime"]
            pod = str((((span.get("attributes") or {}).get("attributeMap") or {}).get("k8s.pod.name") or {})
                      .get("stringValue", {}).get("value") or "")
            for k in range(factor):
                if not _kept(tid, k, ratio):
                    continue
                r = line
                if k:
                    r = (r.replace(f"/traces/{tid}/", f"/traces/{_trace_id(tid, k)}/", 1)
                         .replace(f'"startTime":"{start}"', f'"startTime":"{_shift(start, k, cache)}"', 1)
                         .replace(f'"endTime":"{end}"', f'"endTime":"{_shift(end, k, cache)}"', 1))
                    if pod:
                        r = r.replace(f'{{"value":"{pod}"}}', f'{{"value":"{_instance(pod, k, pods)}"}}', 1)
                out.write(r + "\n")
                written[SPANS] += 1
    with open(dst / METRICS, "w", encoding="utf-8") as out:
        for series in _lines(src / METRICS):
            labels = (series.get("resource") or {}).get("labels") or {}
            for k in range(pods if labels.get("pod_name") else 1):
                m = json.loads(json.dumps(series)) if k else series
                _pod(m, k, pods)
                for i, p in enumerate(m.get("points") or []):  # replicas of a pod differ a little
                    v = p.get("value") or {}
                    if k and "doubleValue" in v:
                        v["doubleValue"] = round(float(v["doubleValue"]) * (1 + 0.004 * ((k + i) % 5 - 2)), 6)
                out.write(dumps(m) + "\n")
                written[METRICS] += 1
    shutil.copyfile(src / CHANGES, dst / CHANGES)
    written[CHANGES] = int(counts["changes"])
    manifest.update({
        "format": FORMAT, "name": f"{manifest.get('name', '')} x{factor}",
        "counts": {name.split(".")[0]: n for name, n in written.items()},
        "scale": {"factor": factor, "instance_factor": pods, "trace_sample_ratio": ratio, "base": counts,
                  "source": "demo/scale.py"}})
    (dst / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    index_files(dst)  # as BundleWriter does: the log and span files placed in time once, here
    shutil.copyfile(base.alert_path, out_dir / "alert.json")
    truth = json.loads((out_dir / "base" / "truth.json").read_text())
    truth["scale"] = factor
    (out_dir / "truth.json").write_text(json.dumps(truth, indent=2, sort_keys=True) + "\n")
    return Scaled(factor, dst, out_dir / "alert.json", out_dir / "truth.json",
                  {name.split(".")[0]: n for name, n in written.items()}, base.root_service)
