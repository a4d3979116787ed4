"""The list view's page cursor, one format for every store: the last row's (updated_at, id) as JSON. Pages run
newest first: `updated_at` descending, then the row's id descending (its document id in Firestore, its incident id
in SQLite); a page starts after the cursor's row."""

from __future__ import annotations

import json

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
