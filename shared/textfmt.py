"""How text is cut for people, in one place: at a word boundary with an ellipsis, never mid-word."""

from __future__ import annotations

import textwrap


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters (whitespace runs collapsed when it is cut), cut at a word boundary with ' …'."""
    if len(text) <= limit:
        return text
    cut = textwrap.shorten(text, limit, placeholder=" …")
    return cut if cut != "…" and cut.strip() != "…" else text[:limit - 1] + "…"  # one long word: cut it, say so
