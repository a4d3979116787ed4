"""One writer at a time for an incident's membership: the check "is this incident still open?" before an alert
joins it, and the close "every alert of this incident is closed" before it is resolved, each run as one unit
against the other (otherwise an alert joining while the close is processed ends up open inside the resolved
incident).

The unit is a lease in the store's create-if-absent key index (`members:<incident id>`, the same `claim` /
`release` the action ledger uses: atomic on SQLite and on Firestore): whoever holds it reads the incident afresh,
decides and records; the other waits for it. A lease whose holder died (its value carries when it was taken) is
taken over after `STALE_S`.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from shared.ports import Claims

KEY = "members:{}"
STALE_S = 60.0  # far longer than recording an alert takes
WAIT_S = 30.0  # then the delivery fails and the bus delivers it again


class GateBusy(TimeoutError):
    """Another writer held the incident's membership for longer than a delivery may wait."""


@contextmanager
def membership(store: Claims, incident_id: str, clock: Callable[[], float] = time.time,
               sleep: Callable[[float], None] = time.sleep) -> Iterator[None]:
    """Hold the incident's membership lease for the block (read the incident inside it)."""
    key, mine = KEY.format(incident_id), f"{uuid.uuid4().hex}|{clock()!r}"
    deadline = time.monotonic() + WAIT_S
    pause = 0.002
    while (held := store.claim(key, mine, expires_in_s=STALE_S * 10)) != mine:
        _, _, taken = held.partition("|")
        try:
            stale = clock() - float(taken) > STALE_S
        except ValueError:
            stale = True
        if stale:
            store.release(key, held)  # its holder died: take it over (only one taker wins the release)
            continue
        if time.monotonic() > deadline:
            raise GateBusy(f"incident {incident_id} is being changed by another delivery")
        sleep(pause * random.uniform(0.5, 1.5))
        pause = min(pause * 2, 0.1)
    try:
        yield
    finally:
        store.release(key, mine)
