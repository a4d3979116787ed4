"""Google Cloud outages in the demo: where the shop's services run and the Service Health incidents of two
adversarial scenarios.

- regional_outage: the managed datastore's product is degraded in the shop's region (a Google Cloud incident,
  posted on Service Health, starting shortly before the onset); the datastore slows down and its callers with it.
  The truth: the datastore, and the outside cause is Google's incident.
- unrelated_outage: a real fault of the shop's own, while Google Cloud reports incidents that do not explain it:
  the same product in another region, a product the shop does not use in its region, and a product it does use in
  its region on a service that stays healthy.
"""

from __future__ import annotations

import random

from demo.shop import SERVICES
from shared.telemetry_records import Placement, ProviderIncident

REGION = "us-central1"
OTHER_REGION = "europe-west1"
PRODUCT_OF_RUNTIME = {"postgres": "Cloud SQL", "redis": "Memorystore for Redis"}
APP_PRODUCT = "Google Kubernetes Engine"
UNUSED_PRODUCT = "BigQuery"
OUTAGE_BEFORE_S = (30.0, 150.0)  # Google's incident starts this long before the onset


def placements() -> list[Placement]:
    """Every shop service: its datastore product or the cluster, in the shop's region (zonal for the cluster)."""
    return [Placement(s.name, PRODUCT_OF_RUNTIME.get(s.runtime, APP_PRODUCT),
                      REGION if s.datastore else f"{REGION}-a") for s in SERVICES.values()]


def product_of(service: str) -> str:
    return PRODUCT_OF_RUNTIME.get(SERVICES[service].runtime, APP_PRODUCT)


def incident(number: int, product: str, location: str, start: float, title: str) -> ProviderIncident:
    return ProviderIncident(event=f"projects/demo/locations/global/events/demo-outage-{number}", title=title,
                            start=start, state="ACTIVE", impacts=((product, location),), detailed_state="CONFIRMED",
                            description=f"We are investigating an issue with {product} in {location}.")


def regional(root: str, onset: float, rng: random.Random) -> tuple[ProviderIncident, ...]:
    product = product_of(root)
    start = onset - rng.uniform(*OUTAGE_BEFORE_S)
    return (incident(1, product, REGION, start, f"{product} instances in {REGION} have elevated latency"),)


def unrelated(root: str, onset: float, rng: random.Random) -> tuple[ProviderIncident, ...]:
    """Three incidents that do not explain a fault on `root`: its product elsewhere, an unused product here, and a
    used product here on a datastore `root` is not."""
    healthy = sorted(n for n, s in SERVICES.items() if s.datastore and n != root)
    start = onset - rng.uniform(*OUTAGE_BEFORE_S)
    here = product_of(rng.choice(healthy))
    return (incident(1, product_of(root), OTHER_REGION, start, f"{product_of(root)} in {OTHER_REGION} is degraded"),
            incident(2, UNUSED_PRODUCT, REGION, start, f"{UNUSED_PRODUCT} queries in {REGION} fail intermittently"),
            incident(3, here, REGION, start - 600, f"{here} maintenance operations in {REGION} are delayed"))
