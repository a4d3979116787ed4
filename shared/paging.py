"""The list view's page cursor, one format for every store: the last row's (updated_at, id) as JSON. Pages run
newest first: `updated_at` descending, then the row's id descending (its document id in Firestore, its incident id
in SQLite); a page starts after the cursor's row."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_PAGE = 500  # rows one page may ask for


def encode_cursor(updated_at: float, row_id: str) -> str:
    return json.dumps([float(updated_at), row_id])


def decode_cursor(cursor: str) -> tuple[float, str]:
    """A cursor as a page gave it. Raises ValueError for anything else (a link edited by hand)."""
    try:
        updated_at, row_id = json.loads(cursor)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a page cursor: {cursor[:80]!r}") from exc
    if isinstance(updated_at, bool) or not isinstance(updated_at, (int, float)) or not isinstance(row_id, str) \
            or not row_id or "/" in row_id:
        raise ValueError(f"not a page cursor: {cursor[:80]!r}")
    return float(updated_at), row_id


def check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"a page holds 1 to {MAX_PAGE} incidents, not {limit}")


class ListFilter(BaseModel):
    """What the list view narrows its pages to: exact status, service and severity (case-insensitive), and words
    that must all appear in the incident's id, service, policy or top cause. Every store applies `matches`, so a
    filter means the same on each."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)  # built on a filtered page's first use
    status: str = Field("", max_length=20)
    service: str = Field("", max_length=200)
    severity: str = Field("", max_length=40)
    text: str = Field("", max_length=200)

    @property
    def active(self) -> bool:
        return bool(self.status or self.service or self.severity or self.text.strip())

    def matches(self, summary: dict[str, Any]) -> bool:
        def same(wanted: str, key: str) -> bool:
            return not wanted or str(summary.get(key) or "").strip().lower() == wanted.strip().lower()

        if not (same(self.status, "status") and same(self.service, "service") and same(self.severity, "severity")):
            return False
        haystack = " ".join(str(summary.get(k) or "") for k in SEARCHED).lower()
        return all(word in haystack for word in self.text.lower().split())


SEARCHED = ("incident_id", "service", "policy", "top_cause", "severity")


def narrowing(where: ListFilter | None) -> ListFilter | None:
    """The filter when it narrows the list at all; None for no filter or one that keeps every incident (the stores
    page the list unfiltered then)."""
    return where if where is not None and where.active else None
