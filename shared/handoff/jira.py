"""Jira Cloud's REST API v3: an issue created with the report's summary and its link.

As documented (developer.atlassian.com, "Create issue"): POST <site>/rest/api/3/issue with basic auth (the account's
e-mail and an API token) and `{"fields": {"project": {"key": ...}, "issuetype": {"name": ...}, "summary": ...,
"description": <an Atlassian Document Format document>, "labels": [...]}}`. The summary is one line of at most 255
characters; the description must be an ADF document (`{"type": "doc", "version": 1, "content": [...]}`). It answers
201 `{"id": ..., "key": "OPS-12", "self": ...}`; 400 `{"errorMessages": [...], "errors": {"field": "why"}}`; 401
without valid credentials; 403 without permission; 429 (after Retry-After) and 5xx are retried.

Jira has no deduplication of its own: the hand-off is claimed once per incident (functions/handoffs.py) and the
issue carries the label `autosre-<dedup key>`, so a person can find it from the incident and the other way round.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.handoff.http import post_json
from shared.ports import HandOffRequest, HandOffResult


def text(value: str, href: str = "") -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": value}
    if href:
        node["marks"] = [{"type": "link", "attrs": {"href": href}}]
    return node


def adf(request: HandOffRequest) -> dict[str, Any]:
    """The issue's description: the summary, the link to the report, and the details as a list."""
    content: list[dict[str, Any]] = [
        {"type": "paragraph", "content": [text(request.summary)]},
        {"type": "paragraph", "content": [text("Auto SRE report: "), text(request.link, request.link)]},
    ]
    if request.details:
        content.append({"type": "bulletList", "content": [
            {"type": "listItem", "content": [{"type": "paragraph", "content": [text(f"{k}: {v}")]}]}
            for k, v in request.details if v]})
    return {"type": "doc", "version": 1, "content": content}


@dataclass
class JiraHandOff:
    site: str  # https://YOUR-SITE.atlassian.net
    email: str
    api_token: str
    project: str
    issue_type: str = "Task"
    attempts: int = 4
    backoff_s: float = 1.0
    sleep: Callable[[float], None] = field(default=time.sleep)
    name: str = "jira"

    def issue(self, request: HandOffRequest) -> dict[str, Any]:
        summary = " ".join(request.summary.split())
        return {"fields": {
            "project": {"key": self.project}, "issuetype": {"name": self.issue_type},
            "summary": summary if len(summary) <= 255 else summary[:254] + "…",
            "description": adf(request), "labels": ["autosre", f"autosre-{request.dedup_key}"[:255]],
        }}

    def send(self, request: HandOffRequest) -> HandOffResult:
        auth = base64.b64encode(f"{self.email}:{self.api_token}".encode()).decode()
        answer = post_json(f"{self.site.rstrip('/')}/rest/api/3/issue", self.issue(request),
                           {"Authorization": f"Basic {auth}"}, self.attempts, self.backoff_s, sleep=self.sleep)
        body = answer.body if isinstance(answer.body, dict) else {}
        if answer.status == 201 and body.get("key"):
            key = str(body["key"])
            return HandOffResult(True, f"Jira: issue {key} created ({answer.detail})", key,
                                 f"{self.site.rstrip('/')}/browse/{key}")
        said = "; ".join([*(str(m) for m in body.get("errorMessages") or []),
                          *(f"{k}: {v}" for k, v in (body.get("errors") or {}).items())])
        return HandOffResult(False, f"Jira: {answer.detail}" + (f": {said}" if said else ""))
