"""Acknowledging an incident: a person with a verified identity (the one an approval records: IAP's on Google
Cloud, the operator's under `autosre serve`) says "I'm on it". It is an event in the incident's log, keyed by who
said it, so saying it again records nothing and tells the channel nothing new; the first time is told in the
incident's chat thread like its other updates (functions/chat_thread.py: once, under the trigger policy and quiet
hours). The form that says it carries a CSRF token bound to the incident and the
person (an HMAC with the approval key), besides the web view's same-origin check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shared.approvals import form_token, form_token_matches
from shared.event_types import EventType
from shared.incident_log import IncidentHandle, IncidentLog


class AcknowledgeError(RuntimeError):
    """Nothing was recorded, and why (no such incident, a closed one)."""


@dataclass
class Acknowledgements:
    log: IncidentLog
    key: bytes
    told: Callable[[IncidentHandle], None] | None = None  # tells the incident's chat thread (functions/chat_thread.py)

    def csrf(self, incident_id: str, who: str) -> str:
        return form_token(self.key, "ack", incident_id, who)

    def csrf_matches(self, incident_id: str, who: str, csrf: str) -> bool:
        return bool(who) and form_token_matches(csrf, self.key, "ack", incident_id, who)

    def acknowledge(self, incident_id: str, who: str) -> bool:
        """Record that `who` is on it; True when this call recorded it (and told the chat thread, once, as its
        other updates), False when they had said so already. Raises AcknowledgeError for an unknown or closed
        incident."""
        from shared.feedback_events import IncidentAcknowledged  # imported where one is recorded: not on the web list

        with self.log.incident(incident_id) as incident:
            if not incident.exists:
                raise AcknowledgeError(f"no incident {incident_id}")
            state = incident.state
            if state.status != "open":
                raise AcknowledgeError(f"the incident is {state.status}: there is nothing to be on")
            if not incident.record(EventType.INCIDENT_ACKNOWLEDGED, (who,), who, IncidentAcknowledged(by=who)):
                return False
            if self.told is not None:
                self.told(incident)
        return True
