"""Runbooks as the report shows them (text and page): the alert's documentation and the configured catalogue
(`AUTOSRE_RUNBOOKS`, a folder of Markdown files with front matter), cited on the causes and actions they match
(agents/reporting/runbooks.py)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from agents.reporting.runbooks import Citation, Runbook, cite, from_alert, parse_markdown
from shared.incident_state import IncidentState
from shared.models import Report

MAX_FILES = 500
MAX_BYTES = 256 * 1024  # a bigger file is not a runbook page: skipped


def load_catalogue(folder: str | Path) -> list[Runbook]:
    """Every Markdown file under `folder` with front matter, sorted by path; others are skipped. A missing folder
    is an empty catalogue."""
    root = Path(folder)
    if not str(folder) or not root.is_dir():
        return []
    return list(_load(str(root), _stamp(root)))


def _stamp(root: Path) -> tuple[tuple[str, float], ...]:
    return tuple((str(p), p.stat().st_mtime) for p in sorted(root.rglob("*.md"))[:MAX_FILES])


@lru_cache(maxsize=4)
def _load(root: str, stamp: tuple[tuple[str, float], ...]) -> tuple[Runbook, ...]:
    out: list[Runbook] = []
    for path, _ in stamp:
        p = Path(path)
        if p.stat().st_size > MAX_BYTES:
            continue
        rb = parse_markdown(p.read_text(encoding="utf-8", errors="replace"), str(p.relative_to(root)))
        if rb is not None:
            out.append(rb)
    return tuple(out)


def configured_catalogue() -> list[Runbook]:
    from shared.config import Settings

    return load_catalogue(Settings.from_env().runbooks)


def citations(state: IncidentState, report: Report, catalogue: list[Runbook] | None = None) -> list[Citation]:
    """The runbooks the report cites, on its causes and on the incident's proposed actions."""
    books = from_alert(state.first_alert) + (configured_catalogue() if catalogue is None else catalogue)
    return cite(books, state.first_alert, report.causes, list(state.proposals.values())) if books else []


def where(rb: Runbook) -> str:
    """Where to read it: its link, else its file in the catalogue, else that it is the alert's text."""
    return rb.url or (f"catalogue: {rb.path}" if rb.path else "in the alert's notification")


def runbooks_html(cited: list[Citation], cause_rank: int = 0, proposal_id: str = "") -> str:
    """The runbooks cited on one cause or one proposed action, as a list (links only to http(s) addresses)."""
    from functions.web_page import esc

    items = []
    for c in cited:
        if (cause_rank and c.cause_rank != cause_rank) or (proposal_id and c.proposal_id != proposal_id):
            continue
        rb = c.runbook
        name = esc(rb.title)
        if rb.url.lower().startswith(("https://", "http://")):
            name = f"<a href='{esc(rb.url)}' target=_blank rel='noopener noreferrer'>{name}</a>"
        elif rb.path:
            name += f" <span class=muted>({esc(rb.path)})</span>"
        text = (f"<details><summary class=muted>what it says</summary><div class=muted>{esc(rb.excerpt)}</div>"
                "</details>") if rb.excerpt and not rb.url else ""
        items.append(f"<li>{name} <span class=muted>{esc(c.why)}</span>{text}</li>")
    # one line each (the excerpt folded), so the first screen keeps what changed and the action in view
    return f"<div class=runbooks><b>Runbooks</b><ul class=runbooks>{''.join(items)}</ul></div>" if items else ""
