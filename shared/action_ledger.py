"""The action-rate ledger: how many remediations ran in the last hour, across every incident, read from the store.

The limit is enforced with slots, not counted from list-view summaries: a policy allowing N actions an hour has N
slots (`action-slot:<i>` keys in the store). Running an action first takes a slot that is free or whose holder
ran more than an hour ago, with the store's create-if-absent `claim` and compare-and-release `release`, so two
executors racing for the last slot cannot both win. A slot's value is `<unix time>|<incident>|<proposal>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from shared.ports import Claims

WINDOW_S = 3600.0
SLOT_KEY = "action-slot:{}"


class SlotHolder(NamedTuple):
    at: float
    incident_id: str
    proposal_id: str

    @classmethod
    def parse(cls, value: str) -> SlotHolder:
        at, incident_id, proposal_id = [*value.split("|", 2), "", ""][:3]
        try:
            return cls(float(at), incident_id, proposal_id)
        except ValueError:
            return cls(0.0, incident_id, proposal_id)  # unreadable: treated as long expired

    def value(self) -> str:
        return f"{self.at!r}|{self.incident_id}|{self.proposal_id}"


@dataclass
class ActionLedger:
    store: Claims

    def recent(self, slots: int, now: float) -> list[SlotHolder]:
        """The actions that ran in the last hour (the slots read at once)."""
        keys = [SLOT_KEY.format(i) for i in range(max(slots, 0))]
        held = self.store.lookup_all(keys)
        return [h for h in (SlotHolder.parse(held[k]) for k in keys if held.get(k)) if now - h.at < WINDOW_S]

    def acquire(self, slots: int, incident_id: str, proposal_id: str, now: float) -> bool:
        """Take a free slot for this action; False when all `slots` ran within the hour. Idempotent for the same
        proposal: a retry that already holds a slot keeps it."""
        mine = SlotHolder(now, incident_id, proposal_id)
        keys = [SLOT_KEY.format(i) for i in range(max(slots, 0))]
        held = self.store.lookup_all(keys)  # read at once: each slot is then taken or freed only if unchanged
        for key in keys:
            current = held.get(key)
            if current is not None:
                holder = SlotHolder.parse(current)
                if (holder.incident_id, holder.proposal_id) == (incident_id, proposal_id):
                    return True
                if now - holder.at < WINDOW_S or not self.store.release(key, current):
                    continue  # held within the hour, or another executor freed it first
            if self.store.claim(key, mine.value()) == mine.value():
                return True
        return False
