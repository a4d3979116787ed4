"""Read quotas shared by every instance of a deployment, kept in the store as claims in time windows.

Cloud Logging allows 60 entries.list requests a minute per project and Cloud Trace 300 quota units (12 ListTraces
calls): the quota belongs to the project, while a bucket in memory (shared/telemetry/cloud_logging.py TokenBucket)
only counts one instance's requests, and forty specialist instances each keeping to 60 a minute would send 2,400.
`StoreQuota` has the same `acquire(deadline)` as that bucket, but every request first claims one of the slots of
the current time window in the store (`quota:<name>:<window>:<slot>`, create-if-absent, so each slot is won once
across instances). The minute is cut into `windows` windows of `rate // (windows + 1)` slots: a rolling minute
overlaps at most `windows + 1` of them, so it never holds more than `rate` requests. The slots expire an hour after
they are taken (a TTL on the claim), so they never pile up.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from shared.ports import Claims

SLOT_TTL_S = 3600.0  # a taken slot is kept this long, then the store's TTL may delete it


class StoreQuota:
    def __init__(self, claims: Claims, name: str, rate: int, per: float = 60.0, windows: int = 6,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep):
        if windows < 1 or per <= 0 or rate // (windows + 1) < 1:
            raise ValueError(f"{rate} per {per:g} s cannot be cut into {windows} windows of at least one request")
        self.claims, self.name, self.rate, self.per = claims, name, rate, per
        self.window_s, self.slots = per / windows, rate // (windows + 1)
        self.clock, self.sleep = clock, sleep  # wall clock: the windows are the same in every instance
        self._first_free: tuple[int, int] = (-1, 0)  # (window, the first slot not yet seen taken in it)

    def acquire(self, deadline: float) -> bool:
        """Take a slot of the current window, waiting for the next window while the wait ends by `deadline` (on
        this quota's clock). False when none could be had in time."""
        while True:
            now = self.clock()
            window = int(now // self.window_s)
            slot = self._first_free[1] if self._first_free[0] == window else 0
            while slot < self.slots:
                me = uuid.uuid4().hex
                taken = self.claims.claim(f"quota:{self.name}:{window}:{slot}", me, expires_in_s=SLOT_TTL_S)
                slot += 1
                if taken == me:
                    self._first_free = (window, slot)
                    return True
            self._first_free = (window, slot)
            wait = (window + 1) * self.window_s - now
            if now + wait > deadline:
                return False
            self.sleep(wait)
