"""The demo generator: deterministic bundles of a 14-service shop whose fault signals appear after the onset only,
on the root service first and on its callers through the call graph, with an alert that names no cause."""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from pathlib import Path

import pytest

from demo.cluster import KUBE_ALPHABET, Cluster
from demo.faults import choose
from demo.generator import AFTER_S, BEFORE_S, FAULT_KINDS, Scenario, generate
from demo.shop import CANDIDATES, SERVICES
from demo.texts import CRASH
from shared.alerts import parse_alert
from shared.telemetry.bundle import BundleSource
from shared.telemetry_records import MetricSeries, Span, Window

FILES = ("logs.jsonl", "spans.jsonl", "metrics.jsonl", "changes.jsonl", "manifest.json")
POD = re.compile(rf"^(?P<svc>[a-z-]+)-[{KUBE_ALPHABET}]{{9,10}}-[{KUBE_ALPHABET}]{{5}}$|^(?P<sts>[a-z-]+)-\d$")


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Scenario, BundleSource]]:
    out = {}
    for fault in FAULT_KINDS:
        s = generate(fault, tmp_path_factory.mktemp(fault), seed=5)
        out[fault] = (s, BundleSource(s.bundle_dir))
    return out


def windows(s: Scenario) -> tuple[Window, Window]:
    """(baseline: the hour before the onset, incident: the 10 minutes after it)."""
    return Window(s.onset - 3600, s.onset), Window(s.onset, s.onset + 600)


def metric(src: BundleSource, w: Window, name: str, service: str) -> list[MetricSeries]:
    return [m for m in src.metrics(w, [service]).items if m.metric.endswith("/" + name)]


def peak(series: list[MetricSeries]) -> float:
    return max(v for m in series for _, v in m.points)


def median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def test_same_inputs_same_bytes(tmp_path: Path) -> None:
    onset = 1_767_225_600.0  # 2026-01-01T00:00:00Z, not the default
    a = generate("bad_deploy", tmp_path / "a", seed=11, onset=onset)
    b = generate("bad_deploy", tmp_path / "b", seed=11, onset=onset)
    for name in FILES:
        assert (a.bundle_dir / name).read_bytes() == (b.bundle_dir / name).read_bytes(), name
    for name in ("alert.json", "truth.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    c = generate("bad_deploy", tmp_path / "c", seed=12, onset=onset)
    assert (c.bundle_dir / "spans.jsonl").read_bytes() != (a.bundle_dir / "spans.jsonl").read_bytes()
    assert a.onset == onset == json.loads((tmp_path / "a" / "truth.json").read_text())["onset"]
    spans = BundleSource(a.bundle_dir).spans(Window(0, 4e9)).items
    assert onset - BEFORE_S <= min(s.start for s in spans) < onset - BEFORE_S + 60
    assert onset + AFTER_S - 60 < max(s.start for s in spans) < onset + AFTER_S


def test_unknown_fault_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        generate("meteor", tmp_path)


@pytest.mark.parametrize("fault", FAULT_KINDS)
def test_the_root_is_a_plausible_service_picked_by_the_seed(fault: str) -> None:
    roots = set()
    for seed in range(30):
        rng = random.Random(seed)
        root = choose(fault, rng, Cluster(rng, 0.0), 5000.0).root
        assert root in CANDIDATES[fault] and root != "frontend"
        roots.add(root)
    assert len(roots) > 1


@pytest.mark.parametrize("fault", FAULT_KINDS)
def test_a_shop_of_fourteen_services_with_consistent_traces(fault: str, scenarios) -> None:  # type: ignore[no-untyped-def]
    s, src = scenarios[fault]
    baseline, _ = windows(s)
    spans = src.spans(Window(s.onset - BEFORE_S, s.onset + AFTER_S)).items
    assert {sp.service for sp in spans} == set(SERVICES) and len(SERVICES) >= 12
    instances = defaultdict(set)
    for m in src.metrics(Window(s.onset - 120, s.onset)).items:
        instances[m.service].add(m.instance)
    assert set(instances) == set(SERVICES)
    assert all(2 <= len(pods) <= 4 for pods in instances.values()), instances
    for sp in spans:
        match = POD.match(sp.instance)
        assert match and sp.service in (match["svc"], match["sts"]), sp.instance
    by_id: dict[str, Span] = {sp.span_id: sp for sp in spans}
    children: dict[str, list[Span]] = defaultdict(list)
    for sp in spans:
        if sp.parent_id:
            children[sp.parent_id].append(sp)
    assert children and all(p in by_id for p in children)
    for parent_id, kids in children.items():
        parent = by_id[parent_id]
        assert all(parent.start <= k.start and k.end <= parent.end for k in kids), parent
        assert all(k.trace_id == parent.trace_id for k in kids)
    parallel = [kids for kids in children.values()
                if any(a.start < b.start < a.end for a in kids for b in kids if a is not b)]
    assert parallel, "pages fan out to several services at once"
    assert sum(not sp.parent_id for sp in spans) == len({sp.trace_id for sp in spans})
    logs = src.logs(baseline).items
    assert {r.severity for r in logs} >= {"INFO", "WARNING"}
    assert any(r.trace_id and r.span_id in by_id for r in logs) and any(not r.trace_id for r in logs)
    series = src.metrics(baseline).items
    names = defaultdict(set)
    for m in series:
        names[(m.service, m.instance)].add(m.metric.rsplit("/", 1)[-1])
    for (service, _pod), have in names.items():
        assert {"cpu_utilization", "memory_usage", "request_count", "error_count"} <= have
        assert SERVICES[service].pool is None or "db_pool_connections_in_use" in have
    assert {"latency_p50_ms", "latency_p95_ms", "latency_p99_ms"} <= set().union(*names.values())


@pytest.mark.parametrize("fault", FAULT_KINDS)
def test_fault_signals_after_the_onset_only(fault: str, scenarios) -> None:  # type: ignore[no-untyped-def]
    s, src = scenarios[fault]
    baseline, incident = windows(s)
    root = SERVICES[s.root_service]

    def logs(w: Window, needle: str, services: list[str] | None = None) -> list[str]:
        return [r.message for r in src.logs(w, services).items if needle.lower() in r.message.lower()]

    def durations(w: Window, instance: str = "") -> list[float]:
        return [sp.duration for sp in src.spans(w, [root.name]).items if not instance or sp.instance == instance]

    if fault == "bad_deploy":
        crash = CRASH[root.runtime][1]
        failed = [sp for sp in src.spans(incident, [root.name]).items if sp.error and sp.status_message == crash]
        assert len(failed) >= 5
        assert not [sp for sp in src.spans(baseline).items if crash in sp.status_message]
        assert logs(incident, crash, [root.name]) and not logs(baseline, crash)
        parents = {sp.parent_id for sp in failed}
        callers = [sp for sp in src.spans(incident).items if sp.span_id in parents]
        assert callers and all(sp.error and crash in sp.status_message for sp in callers)
    elif fault == "cpu_saturation":
        assert s.root_instance
        assert peak(metric(src, incident, "cpu_utilization", root.name)) > 90
        assert peak(metric(src, baseline, "cpu_utilization", root.name)) < 50
        hot = metric(src, incident, "cpu_utilization", root.name)
        assert {m.instance for m in hot if peak([m]) > 90} == {s.root_instance}
        assert median(durations(incident, s.root_instance)) > 3 * median(durations(baseline, s.root_instance))
    elif fault == "slow_dependency":
        assert root.datastore
        assert median(durations(incident)) > 10 * median(durations(baseline))
        callers = [n for n in SERVICES if n != root.name]
        assert logs(incident, "timeout", callers) and not logs(baseline, "timeout", callers)
    else:
        assert root.pool is not None
        in_use = metric(src, incident, "db_pool_connections_in_use", root.name)
        assert peak(in_use) == root.pool.size
        assert peak(metric(src, baseline, "db_pool_connections_in_use", root.name)) < root.pool.size / 2
        complaint = root.pool.timeout_log.split("{")[0]
        assert len(logs(incident, complaint, [root.name])) >= 10 and not logs(baseline, complaint)
        assert median(durations(incident)) > 10 * median(durations(baseline))
    frontend = [sp for sp in src.spans(incident, ["frontend"]).items if not sp.parent_id]
    before = [sp for sp in src.spans(baseline, ["frontend"]).items if not sp.parent_id]
    if fault in ("bad_deploy", "pool_exhaustion"):
        assert sum(sp.error for sp in frontend) / len(frontend) > 3 * sum(sp.error for sp in before) / len(before)
    else:
        assert median([sp.duration for sp in frontend]) > median([sp.duration for sp in before])


@pytest.mark.parametrize("fault", FAULT_KINDS)
def test_a_deploy_near_the_onset_only_for_a_bad_deploy(fault: str, scenarios) -> None:  # type: ignore[no-untyped-def]
    s, src = scenarios[fault]
    changes = src.changes(Window(s.onset - BEFORE_S, s.onset + AFTER_S)).items
    near = [c for c in changes if s.onset - 600 <= c.timestamp <= s.onset + AFTER_S]
    assert [(c.service, c.kind) for c in near] == ([(s.root_service, "deploy")] if fault == "bad_deploy" else [])
    if near:
        assert 60 <= s.onset - near[0].timestamp <= 180 and dict(near[0].details)["revision"]
    benign = [c for c in changes if c not in near]
    assert len(benign) >= 3 and {c.kind for c in benign} >= {"deploy", "scale", "config"}
    assert all(c.service != s.root_service for c in benign)


@pytest.mark.parametrize("fault", FAULT_KINDS)
def test_the_alert_is_on_the_frontend_and_names_no_cause(fault: str, scenarios) -> None:  # type: ignore[no-untyped-def]
    s, _ = scenarios[fault]
    raw = s.alert_path.read_text()
    doc = json.loads(raw)
    alert = parse_alert(raw)
    assert alert.state == "open" and alert.service == "frontend" and doc["version"] == "1.2"
    assert alert.started_at is not None and 60 <= alert.started_at - s.onset <= 240
    assert alert.observed_value is not None and alert.threshold_value is not None
    assert alert.observed_value > alert.threshold_value
    assert ("error" in alert.policy_name.lower()) == (fault in ("bad_deploy", "pool_exhaustion"))
    for other in SERVICES:
        if other != "frontend":
            assert not re.search(rf"(?<![\w-]){re.escape(other)}(?![\w-])", raw), other
    if s.root_instance:
        assert s.root_instance not in raw
    truth = json.loads((s.alert_path.parent / "truth.json").read_text())
    assert (truth["fault"], truth["root_service"], truth["root_instance"], truth["onset"]) == (
        fault, s.root_service, s.root_instance, s.onset)
    assert truth["description"] and s.truth == truth
