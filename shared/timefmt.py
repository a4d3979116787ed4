"""How times read for people, in one place: UNIX seconds (UTC) as a date and time, or a time of day."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_text(t: float | None, missing: str = "-") -> str:
    """'2026-01-15 10:02:14 UTC' (`missing` when there is no time)."""
    return missing if t is None else datetime.fromtimestamp(float(t), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def clock_text(t: float) -> str:
    """'10:02:14' (UTC), for times within one incident's windows."""
    return datetime.fromtimestamp(float(t), UTC).strftime("%H:%M:%S")
