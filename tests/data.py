"""Where the team's datasets are: AUTOSRE_DATASETS, else ../shared/datasets beside the checkout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agents.context import AnalysisContext, plan_windows
from bench.nezha_import import import_case
from shared.alerts import parse_alert
from shared.telemetry.bundle import BundleSource


def datasets_dir() -> Path:
    env = os.environ.get("AUTOSRE_DATASETS")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "datasets"
    if not path.is_dir():
        if os.environ.get("CI") == "true":
            raise RuntimeError(f"datasets not found at {path} (set AUTOSRE_DATASETS)")
        pytest.skip(f"datasets not found at {path} (set AUTOSRE_DATASETS)")
    return path


def alerts_dir() -> Path:
    return datasets_dir() / "alerts"


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
