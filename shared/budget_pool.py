"""One investigation's read budget, held in the store so every specialist run of it (threads, processes,
functions on Pub/Sub) draws from the same one instead of each starting from zero.

The ledger is append-only in the store's create-if-absent key index, as the action ledger's slots are
(shared/action_ledger.py): entry i of a counter is the key `budget:<investigation>:<counter>:<i>`, holding a signed
amount (and a unique tag, so two writers never read one entry as theirs). Taking from the budget claims the next
free entry for at most what is left; a concurrent taker that claimed it first is read, and the next entry tried,
so the amounts taken never sum past the cap. What a read did not use is handed back as a negative entry.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field

from shared.cost_ledger import Budget
from shared.ports import Claims

KEY = "budget:{}:{}:{}"
KEEP_S = 30 * 86400.0  # the store may drop an entry after a month; no investigation lasts that long


@dataclass
class BudgetPool:
    store: Claims
    investigation: str  # `<incident id>:<first round of the investigation>`
    budget: Budget
    _seen: dict[str, tuple[int, int]] = field(default_factory=dict)  # counter -> (entries read, their sum)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def cap(self, counter: str) -> int:
        return int(getattr(self.budget, counter, 0) or 0)

    def _next(self, counter: str) -> tuple[int, int]:
        """The first entry not yet written, and the sum of those before it."""
        with self._lock:
            index, total = self._seen.get(counter, (0, 0))
        while (value := self.store.lookup(KEY.format(self.investigation, counter, index))) is not None:
            index, total = index + 1, total + _amount(value)
        with self._lock:
            self._seen[counter] = max(self._seen.get(counter, (0, 0)), (index, total))
        return index, total

    def used(self, counter: str) -> int:
        return self._next(counter)[1] if self.cap(counter) > 0 else 0

    def take(self, counter: str, want: int) -> int:
        """Take up to `want` of `counter` (0 when the cap is reached); without a cap, `want`."""
        cap = self.cap(counter)
        if cap <= 0:
            return want
        index, total = self._next(counter)
        while True:
            grant = min(want, cap - total)
            if grant <= 0:
                return 0
            mine = f"{grant}|{uuid.uuid4().hex}"
            held = self.store.claim(KEY.format(self.investigation, counter, index), mine, KEEP_S)
            if held == mine:
                with self._lock:
                    self._seen[counter] = max(self._seen.get(counter, (0, 0)), (index + 1, total + grant))
                return grant
            index, total = index + 1, total + _amount(held)  # another run took this entry: the next one

    def add(self, counter: str, amount: int) -> None:
        """Record `amount` more (a read that cost more than it took) or less (negative: handed back)."""
        if amount == 0 or self.cap(counter) <= 0:
            return
        index, _ = self._next(counter)
        while self.store.claim(KEY.format(self.investigation, counter, index), mine := f"{amount}|{uuid.uuid4().hex}",
                               KEEP_S) != mine:
            index += 1


def _amount(value: str) -> int:
    try:
        return int(value.partition("|")[0])
    except ValueError:
        return 0
