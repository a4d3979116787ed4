"""PagerDuty's Events API v2: the incident handed to a PagerDuty service as an alert event.

As documented (developer.pagerduty.com, Events API v2): POST https://events.pagerduty.com/v2/enqueue with
`routing_key` (the integration key, 32 characters), `event_action` (trigger | acknowledge | resolve), `dedup_key`
(at most 255 characters: events with the same key apply to the same open alert, so a retried hand-off changes
nothing twice) and `payload` (`summary` at most 1024 characters, `source`, `severity` one of critical, error,
warning, info). It answers 202 `{"status": "success", "message": "Event processed", "dedup_key": ...}`; 400 an
invalid event (`{"status": "invalid event", "message": ..., "errors": [...]}`), not retried; 429 too many events,
and 5xx, retried after a while.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.handoff.http import post_json
from shared.ports import HandOffRequest, HandOffResult

ENQUEUE = "https://events.pagerduty.com/v2/enqueue"
SEVERITIES = {"critical": "critical", "error": "error", "warning": "warning"}  # Monitoring's -> PagerDuty's


@dataclass
class PagerDutyHandOff:
    routing_key: str
    url: str = ENQUEUE
    attempts: int = 4
    backoff_s: float = 1.0
    sleep: Callable[[float], None] = field(default=time.sleep)
    name: str = "pagerduty"

    def event(self, request: HandOffRequest) -> dict[str, object]:
        payload: dict[str, object] = {
            "summary": request.summary[:1024], "source": request.service or "autosre",
            "severity": SEVERITIES.get(request.severity.lower(), "error"), "class": "autosre incident report",
            "custom_details": {"incident": request.incident_id, "report": request.link, **dict(request.details)}}
        if request.service:
            payload["component"] = request.service
        return {"routing_key": self.routing_key, "event_action": "trigger", "dedup_key": request.dedup_key[:255],
                "payload": payload, "links": [{"href": request.link, "text": "Auto SRE report"}],
                "client": "Auto SRE", "client_url": request.link}

    def send(self, request: HandOffRequest) -> HandOffResult:
        return self._enqueue(self.event(request), request)

    def resolve(self, request: HandOffRequest) -> HandOffResult:
        """The incident resolved: its PagerDuty alert (the same dedup key) resolved too."""
        return self._enqueue({"routing_key": self.routing_key, "event_action": "resolve",
                              "dedup_key": request.dedup_key[:255]}, request)

    def _enqueue(self, event: dict[str, object], request: HandOffRequest) -> HandOffResult:
        answer = post_json(self.url, event, {}, self.attempts, self.backoff_s, sleep=self.sleep)
        body = answer.body if isinstance(answer.body, dict) else {}
        if answer.status == 202 and body.get("status") == "success":
            key = str(body.get("dedup_key") or request.dedup_key)
            return HandOffResult(True, f"PagerDuty: {body.get('message') or 'accepted'} ({answer.detail})", key)
        errors = "; ".join(str(e) for e in body.get("errors") or [])
        said = " ".join(x for x in (str(body.get("status") or ""), str(body.get("message") or ""), errors) if x)
        return HandOffResult(False, f"PagerDuty: {answer.detail}" + (f": {said}" if said else ""))
