"""Where the team's datasets are: AUTOSRE_DATASETS, else ../shared/datasets beside the checkout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


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
