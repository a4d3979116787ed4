"""The demo generator: deterministic bundles whose fault signals are present after the onset only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from functions.scenario.generator import FAULT_KINDS, generate
from shared.telemetry.bundle import BundleSource
from shared.telemetry.models import Window


def test_same_inputs_same_bytes(tmp_path: Path) -> None:
    a = generate("cpu_saturation", tmp_path / "a", seed=11)
    b = generate("cpu_saturation", tmp_path / "b", seed=11)
    for name in ("logs.jsonl", "spans.jsonl", "metrics.jsonl", "changes.jsonl", "manifest.json"):
        assert (a.bundle_dir / name).read_bytes() == (b.bundle_dir / name).read_bytes()
    assert a.alert_path.read_bytes() == b.alert_path.read_bytes()
    assert generate("cpu_saturation", tmp_path / "c", seed=12).bundle_dir.joinpath("spans.jsonl").read_bytes() != \
        (a.bundle_dir / "spans.jsonl").read_bytes()


def test_unknown_fault_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        generate("meteor", tmp_path)


@pytest.mark.parametrize("fault", FAULT_KINDS)
def test_fault_signals_after_onset_only(fault: str, tmp_path: Path) -> None:
    s = generate(fault, tmp_path, seed=5)
    src = BundleSource(s.bundle_dir)
    before, after = Window(s.onset - 3600, s.onset), Window(s.onset, s.onset + 600)
    services = {sp.service for sp in src.spans(before).items}
    assert len(services) >= 12 and "frontend" in services and s.root_service != "frontend"

    def root_latency(w: Window) -> float:
        own = sorted(sp.duration for sp in src.spans(w).items if sp.service == s.root_service)
        return own[len(own) // 2]

    if fault == "bad_deploy":
        errors = [sp for sp in src.spans(after).items if sp.service == s.root_service and sp.error]
        assert len(errors) > 10
        assert not [r for r in src.logs(before).items if "NullPointerException" in r.message]
        assert [r for r in src.logs(after).items if "NullPointerException" in r.message]
    elif fault == "cpu_saturation":
        cpu = [m for m in src.metrics(after).items if m.metric.endswith("cpu_utilization")
               and m.instance == s.root_instance]
        assert cpu and max(v for _, v in cpu[0].points) > 90
        assert max(v for m in src.metrics(before).items if m.metric.endswith("cpu_utilization")
                   for _, v in m.points) < 80
    elif fault == "slow_dependency":
        assert root_latency(after) > 10 * root_latency(before)
    else:
        pool = [m for m in src.metrics(after).items if m.metric.endswith("db_pool_connections_in_use")
                and m.service == s.root_service]
        assert pool and max(v for m in pool for _, v in m.points) >= 15
        assert [r for r in src.logs(after).items if "waiting for connection from pool" in r.message]
    deploys = [c for c in src.changes(Window(s.onset - 600, s.onset)).items if c.kind == "deploy"]
    assert [c.service for c in deploys] == ([s.root_service] if fault == "bad_deploy" else [])
    alert = json.loads(s.alert_path.read_text())
    assert s.root_service not in json.dumps(alert) and alert["incident"]["state"] == "open"
    assert json.loads((s.alert_path.parent / "truth.json").read_text())["root_service"] == s.root_service
