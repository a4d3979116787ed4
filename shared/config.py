"""Configuration in one place: environment variables prefixed AUTOSRE_ (see docs/configuration.md)."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, Field

from shared.models import SPECIALISTS


class Settings(BaseModel):
    project: str = Field("autosre-local", description="GCP project id (or the emulators' project)")
    store: Literal["sqlite", "firestore"] = "sqlite"
    sqlite_path: str = Field("autosre.db", description="SQLite file for the embedded store")
    firestore_prefix: str = Field("autosre", description="collection-name prefix in Firestore")
    bus: Literal["inprocess", "pubsub"] = "inprocess"
    telemetry: str = Field("", description="bundle:<folder> for a telemetry bundle")
    specialists: tuple[str, ...] = SPECIALISTS
    round_deadline_s: float = 600.0

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name in cls.model_fields:
            raw = env.get(f"AUTOSRE_{name.upper()}")
            if raw is None:
                continue
            values[name] = tuple(s.strip() for s in raw.split(",") if s.strip()) if name == "specialists" else raw
        if "project" not in values and env.get("GOOGLE_CLOUD_PROJECT"):
            values["project"] = env["GOOGLE_CLOUD_PROJECT"]
        return cls.model_validate(values)
