"""Grouping alerts into incidents, idempotently and safely under concurrent deliveries.

Two create-if-absent keys in the store do the work:
- `mon:<monitoring incident id>` maps one Cloud Monitoring incident to our incident for good, so a redelivered
  or re-sent notification (even after our incident was resolved) lands in the same incident;
- `open:<policy|resource>` points at the one open incident of a policy on a resource; a new Monitoring incident
  of the same policy and resource joins it while it is open. Resolving the incident releases the key.
Under a race, `claim` returns the winner's value, so every concurrent writer agrees on one incident id.
"""

from __future__ import annotations

from shared.core_models import Alert
from shared.events import stable_id
from shared.ports import Claims


def monitoring_key(alert: Alert) -> str:
    return f"mon:{alert.project_id}:{alert.monitoring_incident_id}"


def open_key(alert: Alert) -> str:
    return f"open:{alert.project_id}:{alert.group_key()}"


def route_alert(store: Claims, alert: Alert) -> str:
    """The incident id this alert belongs to (opening a new one if needed)."""
    known = store.lookup(monitoring_key(alert))
    if known is not None:
        return known
    candidate = "inc-" + stable_id(alert.project_id, alert.monitoring_incident_id, alert.group_key(), length=16)
    incident_id = store.claim(open_key(alert), candidate)
    return store.claim(monitoring_key(alert), incident_id)


def release_open(store: Claims, alert: Alert, incident_id: str) -> bool:
    """Let the next alert of this policy and resource open a new incident."""
    return store.release(open_key(alert), incident_id)


def reroute_after_resolution(store: Claims, alert: Alert, resolved_id: str) -> str:
    """A new Monitoring incident that was routed to an incident resolved meanwhile (its close was processed
    between routing and recording) opens a fresh incident instead: the resolved one's open key is freed (if the
    close has not freed it yet) and the alert's monitoring key is moved to the new incident."""
    store.release(open_key(alert), resolved_id)
    candidate = "inc-" + stable_id(alert.project_id, alert.monitoring_incident_id, alert.group_key(), "after",
                                   resolved_id, length=16)
    incident_id = store.claim(open_key(alert), candidate)
    store.release(monitoring_key(alert), resolved_id)
    return store.claim(monitoring_key(alert), incident_id)
