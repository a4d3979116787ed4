"""Hand-offs: an incident handed to another service (PagerDuty, Jira) behind one port (shared/ports.py
`HandOffTarget`), like the remediation catalog's actions: each integration is named, configured in the settings
(its credential from Secret Manager on GCP, shared/secrets.py) and every hand-off is a signed, audited step.

- Asked by a person: a signed link (the approval links' HMAC tokens, shared/approvals.py, bound to the incident and
  the integration, expiring) and a verified identity on the approvers list; `handoff.requested` records who asked.
- Or automatic: the integrations in `handoff_auto` are handed every report (an after-report step, re-driven by the
  sweep until done), asked by "autosre".
- Resolved with the incident: a PagerDuty alert handed off is resolved (the same dedup key) when the incident
  resolves; a Jira issue stays for people to close.
- Sent once: the outcome is recorded (`handoff.sent` with the service's reference, or `handoff.failed` with why);
  a claim on (incident, integration) keeps concurrent or redelivered requests from sending twice, and the request
  carries a dedup key derived from the incident, so PagerDuty folds a repeat into the same alert. A hand-off once
  sent is not sent again; a failed one may be asked again.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from shared import approvals
from shared.event_types import EventType
from shared.incident_log import IncidentHandle, IncidentLog
from shared.ports import EventStore, HandOffRequest, HandOffTarget

if TYPE_CHECKING:  # the payload is imported where a hand-off is recorded: every function builds its hand-offs
    from shared.chat_events import HandOffRecorded
    from shared.incident_state import IncidentState

CLAIM_TTL_S = 900.0
PREFIX = "handoff:"  # a hand-off link's claims name "handoff:<integration>" where an approval's name a proposal


class HandOffError(RuntimeError):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def dedup_key(incident_id: str) -> str:
    return f"autosre-{incident_id}"


def request_of(state: IncidentState, link: str) -> HandOffRequest:
    """What every integration is told: the report's headline and top cause, the service, the severity, the link."""
    alert, report = state.first_alert, state.latest_report
    top = report.causes[0] if report and report.causes else None
    summary = report.headline if report else (alert.summary if alert else state.incident_id)
    details = [("top cause", f"{top.service}: {top.title}" if top else ""),
               ("alert policy", alert.policy_name if alert else ""), ("status", state.status)]
    return HandOffRequest(incident_id=state.incident_id, dedup_key=dedup_key(state.incident_id),
                          summary=" ".join(summary.split()), service=alert.service if alert else "",
                          severity=alert.severity if alert else "", link=link,
                          details=tuple((k, v) for k, v in details if v))


@dataclass
class HandOffs:
    store: EventStore
    targets: Mapping[str, HandOffTarget]
    base_url: str
    key: bytes = b""  # signs hand-off links (the approval key); b"": no links, automatic hand-offs only
    allowed: frozenset[str] = frozenset()  # who may ask (verified identities)
    auto: tuple[str, ...] = ()
    clock: Callable[[], float] = time.time
    link_ttl_s: float = 3600.0
    log: IncidentLog = field(init=False)

    def __post_init__(self) -> None:
        self.log = IncidentLog(self.store, clock=lambda: self.clock())

    def link_token(self, incident_id: str, integration: str) -> str:
        """A signed, expiring link's token for asking one hand-off of one incident."""
        if integration not in self.targets:
            raise HandOffError("unknown_integration", f"{integration} is not configured")
        return approvals.issue(self.key, incident_id, PREFIX + integration, integration, self.link_ttl_s,
                               self.clock())

    def request(self, token: str, by: str) -> HandOffRecorded:
        """A person asks through a signed link. Raises TokenError (the link) or HandOffError (who, what)."""
        claims = approvals.verify(self.key, token, self.clock())
        integration = claims.action
        if claims.proposal_id != PREFIX + integration:
            raise approvals.TokenError("mismatched", "this link is not a hand-off link")
        if by.lower() not in self.allowed:
            raise HandOffError("not_allowed", f"{by or 'anonymous'} may not hand incidents off")
        with self.log.incident(claims.incident_id) as incident:
            if not incident.exists:
                raise approvals.TokenError("mismatched", "the link is for an unknown incident")
            return self.send(incident, integration, by)

    def send(self, incident: IncidentHandle, integration: str, by: str) -> HandOffRecorded:
        """Hand the incident to one integration once; returns the latest record (sent, failed, or requested while
        another delivery sends it)."""
        from shared.chat_events import HandOffRecorded

        target = self.targets.get(integration)
        if target is None:
            raise HandOffError("unknown_integration", f"{integration} is not configured")
        state = incident.state
        current = state.handoffs.get(integration)
        if current is not None and current[0] in ("sent", "resolved"):
            return current[1]
        key = dedup_key(state.incident_id)
        incident.record(EventType.HANDOFF_REQUESTED, (integration, by), by, HandOffRecorded(
            integration=integration, by=by, dedup_key=key, detail=f"asked by {by}"))
        claim, me = f"handoff:{state.incident_id}:{integration}", uuid.uuid4().hex
        if self.store.claim(claim, me, CLAIM_TTL_S) != me:
            return incident.state.handoffs[integration][1]  # another delivery is sending it
        try:
            result = target.send(request_of(incident.state, f"{self.base_url.rstrip('/')}/incidents/"
                                                            f"{state.incident_id}"))
        except BaseException:
            self.store.release(claim, me)
            raise
        if result.ok:
            incident.record(EventType.HANDOFF_SENT, (integration,), "handoff", HandOffRecorded(
                integration=integration, by=by, dedup_key=key, detail=result.detail, reference=result.reference,
                link=result.link))
        else:
            self.store.release(claim, me)  # it may be asked again
            incident.record(EventType.HANDOFF_FAILED, (integration, me), "handoff", HandOffRecorded(
                integration=integration, by=by, dedup_key=key, detail=result.detail))
        return incident.state.handoffs[integration][1]

    def resolve(self, incident: IncidentHandle) -> list[str]:
        """The incident resolved: each hand-off sent to a service that resolves (PagerDuty) is resolved there too,
        once (claimed; recorded). Returns the integrations resolved by this call."""
        from shared.chat_events import HandOffRecorded

        state = incident.state
        done = []
        for integration, (status, record) in sorted(state.handoffs.items()):
            target = self.targets.get(integration)
            resolve = getattr(target, "resolve", None)
            if status != "sent" or not callable(resolve):
                continue
            claim, me = f"handoff-resolve:{state.incident_id}:{integration}", uuid.uuid4().hex
            if self.store.claim(claim, me, CLAIM_TTL_S) != me:
                continue
            result = resolve(request_of(state, f"{self.base_url.rstrip('/')}/incidents/{state.incident_id}"))
            if result is None:  # the service has nothing to resolve (an issue stays for people to close)
                self.store.release(claim, me)
                continue
            if not result.ok:
                self.store.release(claim, me)
            incident.record(EventType.HANDOFF_SENT if result.ok else EventType.HANDOFF_FAILED,
                            (integration, "resolve") if result.ok else (integration, "resolve", me), "handoff",
                            HandOffRecorded(integration=integration, by="autosre", dedup_key=record.dedup_key,
                                            detail=f"resolved: {result.detail}", reference=record.reference,
                                            action="resolve"))
            if result.ok:
                done.append(integration)
        return done

    def hand_off_auto(self, incident: IncidentHandle) -> list[HandOffRecorded]:
        """The after-report step: every automatic integration not yet sent."""
        return [self.send(incident, name, "autosre") for name in self.auto if name in self.targets]
