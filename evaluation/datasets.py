"""Where the team's datasets are: `$AUTOSRE_DATASETS`, else `../shared/datasets` beside the checkout.

Datasets are read in place, never copied into the repository. Callers decide what "absent" means for them
(a test skips, a benchmark says so and exits).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "AUTOSRE_DATASETS"
REPO_ROOT = Path(__file__).resolve().parents[1]


def datasets_dir() -> Path | None:
    """The datasets folder, or None when it does not exist (an unset or empty variable means the default)."""
    env = os.environ.get(ENV_VAR, "").strip()
    path = Path(env).expanduser() if env else REPO_ROOT.parent / "shared" / "datasets"
    return path if path.is_dir() else None
