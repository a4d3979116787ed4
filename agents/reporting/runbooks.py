"""Runbooks cited in a report: the alert policy's own documentation (its text and links, as the notification
carries them) and a team's runbook catalogue (Markdown files whose front matter names the services and symptoms
each is for, and optionally the catalogue actions it covers), matched to the incident's causes and proposed actions.

A catalogue runbook matches a cause when it names the cause's service (or names none) and one of its symptoms
shares a word with what the incident shows (the alert's policy, condition, metric and summary, the cause's title
and kind); it matches a proposed action when it names the action's key, or its title or text says the action's
verb, for a service it covers. The alert's documentation is the alerting policy's own: it is cited on the top
cause, and each of its links on the action whose verb it says.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field

from shared.core_models import Alert, Model
from shared.models import Proposal, RankedCause

MAX_EXCERPT = 400
_WORD = re.compile(r"[a-z0-9]+")
_MD_LINK = re.compile(r"\[([^\]\n]{1,200})\]\((https?://[^)\s]{1,2000})\)")
_BARE_URL = re.compile(r"(?<![(\[])\bhttps?://[^\s)>\]]{1,2000}")
ACTION_VERBS = {  # what a runbook says when it describes the catalogue's action (agents/remediation/catalog.py)
    "rollback_cloud_run": ("rollback", "roll back", "previous revision"),
    "scale_min_instances": ("scale", "min instances", "minimum instances"),
    "restart": ("restart", "new revision with the same image"),
    "runbook_webhook": ("webhook",),
}
STOP = frozenset({"the", "a", "an", "of", "on", "in", "is", "for", "to", "and", "or", "its", "it", "by", "at", "with",
                  "from", "than", "above", "below", "over", "under", "was", "shortly", "before", "after", "onset"})


class Runbook(Model):
    """One runbook: where it comes from, where to read it, what it is for."""

    title: str
    url: str = ""
    source: Literal["alert", "catalogue"] = "catalogue"
    path: str = ""  # a catalogue runbook's file
    services: list[str] = Field(default_factory=list)  # empty: any service
    symptoms: list[str] = Field(default_factory=list)
    actions: list[str] = Field(default_factory=list)  # catalogue action keys it covers
    excerpt: str = ""


class Citation(Model):
    """A runbook cited on a cause (`cause_rank`) or a proposed action (`proposal_id`), and why."""

    runbook: Runbook
    cause_rank: int = 0
    proposal_id: str = ""
    why: str = ""


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in STOP and len(w) > 1}


def from_alert(alert: Alert | None) -> list[Runbook]:
    """The alert policy's documentation: its text (when it has any), each Markdown or bare link in it, and each
    of the notification's documentation links."""
    if alert is None:
        return []
    out: list[Runbook] = []
    text = alert.documentation.strip()
    if text:
        out.append(Runbook(title=f"alert policy documentation ({alert.policy_name or 'the alerting policy'})",
                           source="alert", excerpt=text[:MAX_EXCERPT]))
    seen: set[str] = set()
    links = [(m.group(1), m.group(2)) for m in _MD_LINK.finditer(text)]
    links += [("", m.group(0).rstrip(".,;:")) for m in _BARE_URL.finditer(text)]
    links += [(link.display_name, link.url) for link in alert.documentation_links]
    for name, url in links:
        if url not in seen:
            seen.add(url)
            out.append(Runbook(title=name or url, url=url, source="alert"))
    return out


def parse_markdown(text: str, path: str = "") -> Runbook | None:
    """A catalogue file: front matter between `---` lines (`title`, `url`, `services`, `symptoms`, `actions`; a
    list as `[a, b]`, `a, b` or `- a` lines), then the text. None when it has no front matter."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        return None
    meta: dict[str, list[str]] = {}
    key = ""
    for line in lines[1:end]:
        if line.strip().startswith("- ") and key:
            meta[key].append(line.strip()[2:].strip().strip("\"'"))
            continue
        if ":" not in line:
            continue
        key, _, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if value.startswith("[") and value.endswith("]"):
            value = value[1:-1]
        meta[key] = [v.strip().strip("\"'") for v in value.split(",") if v.strip()] if key != "title" else [value]
    body = "\n".join(lines[end + 1:]).strip()
    heading = next((ln.lstrip("# ").strip() for ln in body.splitlines() if ln.startswith("#")), "")
    title = (meta.get("title") or [""])[0].strip("\"'") or heading or path.rsplit("/", 1)[-1]
    return Runbook(title=title, url=(meta.get("url") or [""])[0], path=path, services=meta.get("services", []),
                   symptoms=meta.get("symptoms", []), actions=meta.get("actions", []), excerpt=body[:MAX_EXCERPT])


def incident_words(alert: Alert | None, cause: RankedCause | None) -> set[str]:
    """What the incident shows, as words: the alert's policy, condition, metric and summary, the cause's title and
    kind."""
    parts: list[str] = []
    if alert is not None:
        parts += [alert.policy_name, alert.condition_name, alert.metric_type.replace("/", " ").replace("_", " "),
                  alert.summary]
    if cause is not None:
        parts += [cause.title, cause.kind.replace(".", " ").replace("_", " ")]
    return _words(" ".join(parts))


def _covers(runbook: Runbook, service: str) -> bool:
    return not runbook.services or service.lower() in {s.lower() for s in runbook.services}


def _says_action(runbook: Runbook, action: str) -> bool:
    if action in runbook.actions:
        return True
    text = f" {runbook.title} {runbook.excerpt} {runbook.url} ".lower().replace("-", " ").replace("_", " ")
    return any(verb in text for verb in ACTION_VERBS.get(action, (action.replace("_", " "),)))


def cite(runbooks: list[Runbook], alert: Alert | None, causes: list[RankedCause],
         proposals: list[Proposal]) -> list[Citation]:
    """Which runbook is cited where: on each cause whose service and symptoms it matches (the alert's own
    documentation on the top cause), and on each proposed action it describes."""
    out: list[Citation] = []
    for cause in causes:
        words = incident_words(alert, cause)
        for rb in runbooks:
            if rb.source == "alert":
                if cause.rank == 1:
                    out.append(Citation(runbook=rb, cause_rank=cause.rank, why="the alerting policy's documentation"))
                continue
            hit = sorted({s for s in rb.symptoms if _words(s) & words})
            if _covers(rb, cause.service) and (hit or not rb.symptoms):
                why = f"for {cause.service}" if rb.services else "for any service"
                out.append(Citation(runbook=rb, cause_rank=cause.rank,
                                    why=why + (f", symptom {', '.join(hit)}" if hit else "")))
    for p in proposals:
        for rb in runbooks:
            if _covers(rb, p.service) and _says_action(rb, p.action):
                out.append(Citation(runbook=rb, proposal_id=p.proposal_id,
                                    why=f"describes {p.action.replace('_', ' ')}"))
    return out
