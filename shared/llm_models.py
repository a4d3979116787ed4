"""Which Gemini model writes the narrative: the default, and the model ids known to be shut down (a request to one
answers 404 Not Found, and the report would lose its narrative). One definition: Settings validates against it and
tests/test_gemini_model.py checks infra/variables.tf's validation names the same ids.

Checked (stored copies, 2026-12) against Google's "Gemini deprecations" page (ai.google.dev/gemini-api/docs/
deprecations): gemini-3.5-flash-lite, released July 21, 2026, "No shutdown date announced", and the replacement
Google names for gemini-2.5-flash; the 1.0, 1.5 and 2.0 families and the 2.5 Flash and Pro models are past their
shutdown dates (2.0 Flash: June 1, 2026; 2.5 Flash and Pro: the Gemini API retired them in the autumn of 2026).
Its list price (ai.google.dev/gemini-api/docs/pricing, transcribed 2026-10-07) is $0.30 per million input and $2.50
per million output tokens, the cost ledger's defaults (shared/config.py).
"""

from __future__ import annotations

import re

DEFAULT_MODEL = "gemini-3.5-flash-lite"

# Model ids (or id prefixes, ending in "-") whose shutdown date has passed, each with Google's recommended upgrade.
RETIRED: dict[str, str] = {
    "gemini-pro": DEFAULT_MODEL,
    "gemini-1.0-": DEFAULT_MODEL,
    "gemini-1.5-": DEFAULT_MODEL,
    "gemini-2.0-": DEFAULT_MODEL,
    "gemini-2.5-flash": DEFAULT_MODEL,
    "gemini-2.5-pro": "gemini-3.8-flash",
}

MODEL_ID = re.compile(r"^(models/)?gemini-[0-9a-z][0-9a-z.\-]*$")


def retired(model: str) -> str | None:
    """The recommended upgrade when `model` is shut down, else None."""
    name = model.removeprefix("models/")
    for retired_id, upgrade in RETIRED.items():
        if name == retired_id or (retired_id.endswith("-") and name.startswith(retired_id)) or \
                name.startswith(f"{retired_id}-preview") or name in (f"{retired_id}-001", f"{retired_id}-002"):
            return upgrade
    return None


def check_model(model: str) -> str:
    """`model` when it names a Gemini model that is not shut down; raises ValueError saying what to set instead."""
    if not MODEL_ID.match(model):
        raise ValueError(f"{model!r} is not a Gemini model id (like {DEFAULT_MODEL})")
    upgrade = retired(model)
    if upgrade is not None:
        raise ValueError(f"{model} has been shut down (requests answer 404 and the report would have no narrative): "
                         f"use {upgrade}")
    return model
