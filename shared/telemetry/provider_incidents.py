"""Google Cloud's own incidents as changes: which Service Health events touch the products and locations the
system's services run in (their placements), each as a `ChangeEvent` of kind `provider_incident` on the service it
touches. Every telemetry source that reads provider incidents (a bundle's provider_incidents.jsonl, the Service
Health API) hands them to the changes specialist this way, beside the project's own changes.

Shapes: a Service Health `Event` in its REST (JSON) form: `name`, `title`, `description`, `category`, `state`,
`detailedState`, `startTime`, `endTime`, `eventImpacts[].product.productName`, `eventImpacts[].location.locationName`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shared.telemetry.bundle_codec import from_rfc3339, to_rfc3339
from shared.telemetry_records import ChangeEvent, Placement, ProviderIncident, Window

KIND = "provider_incident"
ACTOR = "Google Cloud Service Health"
STATES = ("ACTIVE", "CLOSED")
GLOBAL = "global"


def decode_event(e: dict[str, Any]) -> ProviderIncident:
    """A Service Health event (REST JSON) -> `ProviderIncident`. Raises KeyError/ValueError on a malformed one."""
    name, title = e["name"], e.get("title") or ""
    if not isinstance(name, str) or not name or not isinstance(title, str):
        raise ValueError(f"an event needs a name and a title: {name!r}")
    category = e.get("category", "INCIDENT")
    if category != "INCIDENT":
        raise ValueError(f"not an incident: category {category!r}")
    state = e.get("state", "ACTIVE")
    if state not in STATES:
        raise ValueError(f"state must be one of {', '.join(STATES)}, not {state!r}")
    impacts: list[tuple[str, str]] = []
    for impact in e.get("eventImpacts") or []:
        product = ((impact or {}).get("product") or {}).get("productName")
        location = ((impact or {}).get("location") or {}).get("locationName")
        if not isinstance(product, str) or not isinstance(location, str):
            raise ValueError("eventImpacts[] needs product.productName and location.locationName")
        impacts.append((product, location))
    end = e.get("endTime")
    return ProviderIncident(event=name, title=title, start=from_rfc3339(e["startTime"]), state=state,
                            end=from_rfc3339(end) if end else None, impacts=tuple(impacts),
                            description=str(e.get("description") or ""),
                            detailed_state=str(e.get("detailedState") or ""))


def encode_event(p: ProviderIncident) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": p.event, "title": p.title, "description": p.description, "category": "INCIDENT",
        "state": p.state, "startTime": to_rfc3339(p.start),
        "eventImpacts": [{"product": {"productName": prod}, "location": {"locationName": loc}}
                         for prod, loc in p.impacts]}
    if p.detailed_state:
        out["detailedState"] = p.detailed_state
    if p.end is not None:
        out["endTime"] = to_rfc3339(p.end)
    return out


def decode_placement(e: dict[str, Any]) -> Placement:
    service, product, location = e["service"], e["product"], e["location"]
    if not all(isinstance(v, str) and v for v in (service, product, location)):
        raise ValueError("service, product and location must be non-empty strings")
    return Placement(service, product, location)


def encode_placement(p: Placement) -> dict[str, Any]:
    return {"service": p.service, "product": p.product, "location": p.location}


def read_placements(path: str) -> list[Placement]:
    """A placements file (the bundle's placements.jsonl format; every line must be a valid placement)."""
    import json
    from pathlib import Path

    if not Path(path).is_file():
        raise ValueError(f"service placements {path}: no such file")
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [decode_placement(json.loads(line)) for line in lines if line.strip()]


def _same_product(a: str, b: str) -> bool:
    return " ".join(a.lower().split()) == " ".join(b.lower().split())


def covers(incident_location: str, location: str) -> bool:
    """An impact's location covers a placement's: the same region or zone, the region of a zone
    (us-central1 covers us-central1-a), a multi-region's members (us covers us-central1), or global."""
    where, here = incident_location.lower(), location.lower()
    return where in (GLOBAL, here) or here.startswith(where + "-")


def active_in(p: ProviderIncident, window: Window) -> bool:
    """It started before the window ends and had not ended when the window started."""
    return p.start < window.end and (p.end is None or p.end >= window.start)


def touching(incidents: Iterable[ProviderIncident], placements: Iterable[Placement], window: Window,
             services: list[str] | None = None) -> list[ChangeEvent]:
    """One change per (incident active in the window, placed service it impacts), at the incident's start."""
    placed = [p for p in placements if services is None or p.service in services]
    out: list[ChangeEvent] = []
    for inc in incidents:
        if not active_in(inc, window):
            continue
        hit = sorted({(p.service, prod, loc) for p in placed for prod, loc in inc.impacts
                      if _same_product(prod, p.product) and covers(loc, p.location)})
        for service in sorted({s for s, _, _ in hit}):
            impacts = [f"{prod} in {loc}" for s, prod, loc in hit if s == service]
            out.append(ChangeEvent(
                timestamp=inc.start, service=service, kind=KIND, actor=ACTOR,
                description=f"Google Cloud incident: {inc.title} ({', '.join(impacts)})",
                details=tuple(sorted({"event": inc.event, "state": inc.state, "impacts": "; ".join(impacts),
                                      "detailedState": inc.detailed_state,
                                      "ended_at": "" if inc.end is None else f"{inc.end:.3f}"}.items()))))
    return sorted(out, key=lambda c: (c.timestamp, c.service))
