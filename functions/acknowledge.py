"""Acknowledging an incident: a person with a verified identity (the one an approval records: IAP's on Google
Cloud, the operator's under `autosre serve`) says "I'm on it". It is an event in the incident's log, keyed by who
said it, so saying it again records nothing and tells the channel nothing new; the first time is told to the
team's channel where the report went. The form that says it carries a CSRF token bound to the incident and the
person (an HMAC with the approval key), besides the web view's same-origin check."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from shared import events as ev
from shared.events import NotificationRecorded
from shared.feedback_events import IncidentAcknowledged
from shared.incident_log import IncidentLog
from shared.ports import Notifier


class AcknowledgeError(RuntimeError):
    """Nothing was recorded, and why (no such incident, a closed one)."""


@dataclass
class Acknowledgements:
    log: IncidentLog
    key: bytes
    notifier: Notifier | None = None
    base_url: str = ""

    def csrf(self, incident_id: str, who: str) -> str:
        message = "\x1f".join(("ack", incident_id, who)).encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def csrf_matches(self, incident_id: str, who: str, csrf: str) -> bool:
        return bool(who) and hmac.compare_digest(csrf, self.csrf(incident_id, who))

    def acknowledge(self, incident_id: str, who: str) -> bool:
        """Record that `who` is on it; True when this call recorded it (and told the channel), False when they had
        said so already. Raises AcknowledgeError for an unknown or closed incident."""
        from functions.handlers.after_report import one_line

        with self.log.incident(incident_id) as incident:
            if not incident.exists:
                raise AcknowledgeError(f"no incident {incident_id}")
            state = incident.state
            if state.status != "open":
                raise AcknowledgeError(f"the incident is {state.status}: there is nothing to be on")
            if not incident.record(ev.INCIDENT_ACKNOWLEDGED, (who,), who, IncidentAcknowledged(by=who)):
                return False
            if self.notifier is None:
                return True
            report, alert = state.latest_report, state.first_alert
            about = report.headline if report else alert.summary if alert else incident_id
            link = f"{self.base_url.rstrip('/')}/incidents/{incident_id}" if self.base_url else incident_id
            delivered, detail = self.notifier.send(f"*{one_line(who, 120)} is on it*: {one_line(about)}\n{link}")
            incident.record(ev.NOTIFICATION_SENT if delivered else ev.NOTIFICATION_FAILED,
                            ("acknowledged", who, self.notifier.channel), "notify",
                            NotificationRecorded(channel=self.notifier.channel, detail=f"acknowledged: {detail}",
                                                 round=max(state.rounds, default=1)))
        return True
