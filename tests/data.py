"""Test data: the small fixtures in tests/fixtures, and the team's large datasets (AUTOSRE_DATASETS, else
../shared/datasets beside the checkout), which the tests that need them skip without."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agents.context import AnalysisContext, plan_windows
from evaluation.datasets import ENV_VAR
from evaluation.datasets import datasets_dir as find_datasets
from evaluation.nezha_import import import_case
from shared.alerts import parse_alert
from shared.telemetry.bundle import BundleSource, BundleWriter
from shared.telemetry_records import ChangeEvent, LogRecord, MetricSeries, Span

FIXTURES = Path(__file__).resolve().parent / "fixtures"
NO_DATASETS = (f"needs the team datasets (Loghub, Nezha, PetShop): set {ENV_VAR} or put them at ../shared/datasets "
               "beside the checkout")


def datasets_dir() -> Path:
    """The team's large datasets (evaluation/datasets.py: $AUTOSRE_DATASETS, else ../shared/datasets); a test that
    needs them skips without them, with one reason. Under CI=true a folder named by AUTOSRE_DATASETS that is not
    there fails instead: CI set out to run those tests."""
    path = find_datasets()
    if path is None:
        named = os.environ.get(ENV_VAR, "").strip()
        if named and os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {ENV_VAR}={named} is not a folder", pytrace=False)
        pytest.skip(NO_DATASETS)
    return path


def alerts_dir() -> Path:
    """The five Cloud Monitoring alert payloads, kept in the repository (tests/fixtures/alerts/README.md)."""
    return FIXTURES / "alerts"


def nezha_dir() -> Path:
    return datasets_dir() / "nezha-tt"


def loghub_dir() -> Path:
    return datasets_dir() / "loghub2k"


def nezha_case(case: str, out: Path) -> tuple[BundleSource, AnalysisContext, dict[str, object]]:
    """Import one Nezha case under `out`: its bundle, the analysis context of its synthesized frontend alert (the
    windows the pipeline would plan), and its label with the injection time (`inject`)."""
    root = nezha_dir()
    info = import_case(root / "cases" / case, out / case, root / "reference")
    alert = parse_alert(info.alert_path.read_bytes())
    assert alert.started_at is not None
    incident, baseline = plan_windows(alert.started_at)
    ctx = AnalysisContext(case, alert.service, alert.metric_type, alert.started_at, incident, baseline)
    return BundleSource(info.bundle_dir), ctx, {**info.label, "inject": info.inject_time}


def write_bundle(path: Path, logs: list[LogRecord], spans: list[Span], series: list[MetricSeries],
                 changes: list[ChangeEvent], max_records: int | None = None) -> BundleSource:
    """A bundle folder holding these records, read back (with `max_records`, under that bound)."""
    with BundleWriter(path, {"name": "test"}) as w:
        for r in logs:
            w.log(r)
        for s in spans:
            w.span(s)
        for m in series:
            w.series(m)
        for c in changes:
            w.change(c)
    return BundleSource(path, **({"max_records": max_records} if max_records else {}))

