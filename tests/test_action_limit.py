"""The per-hour action limit holds across incidents (the ledger is read from the store), and a proposal delivered
to the executor twice at once runs once."""

from __future__ import annotations

import threading
import time
from collections.abc import Collection

import pytest

from agents.remediation.policy import Policy
from functions.remediation import Remediation, RemediationError
from shared import events as ev
from shared.core_models import Alert
from shared.incident_log import IncidentLog
from shared.lifecycle_events import IncidentOpened
from shared.models import Proposal
from shared.remediation_events import RemediationProposed
from shared.store.sqlite import SqliteEventStore
from tests.concurrency import together

KEY = b"k" * 32
APPROVER = "alice@example.com"


def open_incident_with_proposal(store: SqliteEventStore, n: int) -> tuple[str, str]:
    incident_id, proposal_id = f"inc-{n}", f"p-{n}"
    alert = Alert(monitoring_incident_id=f"m{n}", policy_name=f"policy-{n}",
                  resource_labels={"service_name": f"svc-{n}"}, started_at=1000.0)
    proposal = Proposal(proposal_id=proposal_id, action="restart", service=f"svc-{n}", preview="restart it")
    with IncidentLog(store).incident(incident_id) as incident:
        incident.record(ev.INCIDENT_OPENED, (), "test", IncidentOpened(group_key=f"g{n}", alert=alert))
        incident.record(ev.REMEDIATION_PROPOSED, (proposal_id,), "test", RemediationProposed(proposal=proposal))
    return incident_id, proposal_id


class CountingRunner:
    dry_run = True

    def __init__(self, delay_s: float = 0.0):
        self.calls = 0
        self.delay_s = delay_s
        self.lock = threading.Lock()

    def run(self, proposal: Proposal) -> str:
        with self.lock:
            self.calls += 1
        time.sleep(self.delay_s)
        return f"ran {proposal.action} on {proposal.service}"


def remediation(store: SqliteEventStore, limit: int, runner: CountingRunner, now: float = 10_000.0) -> Remediation:
    return Remediation(store=store, key=KEY, policy=Policy({"*": ["restart"]}, max_actions_per_hour=limit),
                       approvers=frozenset({APPROVER}), runner=runner, clock=lambda: now)


def approve(r: Remediation, incident_id: str, proposal_id: str) -> None:
    r.decide(r.link_token(incident_id, proposal_id), "approve", APPROVER)


@pytest.mark.parametrize(("incidents", "limit"), [(2, 1), (5, 3)])
def test_the_hourly_limit_counts_executions_of_every_incident(incidents: int, limit: int) -> None:
    store, runner = SqliteEventStore(":memory:"), CountingRunner()
    r = remediation(store, limit, runner)
    pairs = [open_incident_with_proposal(store, n) for n in range(incidents)]
    for incident_id, proposal_id in pairs:  # every approval is given before anything runs
        approve(r, incident_id, proposal_id)
    outcomes = []
    for incident_id, proposal_id in pairs:
        try:
            outcomes.append(r.execute(incident_id, proposal_id))
        except RemediationError as exc:
            outcomes.append(exc.reason)
    assert runner.calls == limit
    assert outcomes.count("denied_by_policy") == incidents - limit


def test_the_limit_frees_up_after_an_hour() -> None:
    store, runner = SqliteEventStore(":memory:"), CountingRunner()
    (a, pa), (b, pb) = open_incident_with_proposal(store, 1), open_incident_with_proposal(store, 2)
    early = remediation(store, 1, runner, now=10_000.0)
    approve(early, a, pa)
    early.execute(a, pa)
    later = remediation(store, 1, runner, now=10_000.0 + 3601)
    approve(later, b, pb)
    later.execute(b, pb)
    assert runner.calls == 2


def test_two_concurrent_deliveries_of_one_approved_action_run_it_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store, runner = SqliteEventStore(str(tmp_path / "events.db")), CountingRunner(delay_s=0.3)
    incident_id, proposal_id = open_incident_with_proposal(store, 1)
    approve(remediation(store, 3, runner), incident_id, proposal_id)
    results: list[str] = []

    def deliver() -> None:
        r = remediation(SqliteEventStore(str(tmp_path / "events.db")), 3, runner)
        try:
            results.append(r.execute(incident_id, proposal_id))
        except RemediationError as exc:
            results.append(exc.reason)

    together([deliver, deliver])
    assert runner.calls == 1
    assert sorted(results) == ["already_claimed", "ran restart on svc-1"]


class ReadCounting(SqliteEventStore):
    def __init__(self) -> None:
        super().__init__(":memory:")
        self.reads: list[str] = []

    def lookup(self, key: str) -> str | None:
        self.reads.append("lookup")
        return super().lookup(key)

    def lookup_all(self, keys: Collection[str]) -> dict[str, str]:
        self.reads.append("lookup_all")
        return super().lookup_all(keys)


def test_the_policy_reads_the_hours_slots_at_once() -> None:
    """Checking the limit reads every slot in one store read (one round trip on Firestore), not one per slot."""
    from shared.action_ledger import SLOT_KEY, ActionLedger, SlotHolder

    store = ReadCounting()
    store.claim(SLOT_KEY.format(0), SlotHolder(5000.0, "inc-1", "p-1").value())
    store.claim(SLOT_KEY.format(1), SlotHolder(100.0, "inc-0", "p-0").value())  # ran more than an hour before
    store.claim(SLOT_KEY.format(2), SlotHolder(5100.0, "inc-2", "p-2").value())
    assert ActionLedger(store).recent(3, now=5200.0) == [SlotHolder(5000.0, "inc-1", "p-1"),
                                                         SlotHolder(5100.0, "inc-2", "p-2")]
    assert store.reads == ["lookup_all"]


def test_taking_a_slot_reads_the_slots_at_once() -> None:
    """Taking a slot reads every slot in one store read, then claims a free (or expired) one: a retry of the same
    action keeps the slot it holds, and a full hour is refused."""
    from shared.action_ledger import SLOT_KEY, ActionLedger, SlotHolder

    store = ReadCounting()
    store.claim(SLOT_KEY.format(0), SlotHolder(5000.0, "inc-1", "p-1").value())
    store.claim(SLOT_KEY.format(1), SlotHolder(100.0, "inc-0", "p-0").value())  # expired: freed and taken
    ledger = ActionLedger(store)
    assert ledger.acquire(3, "inc-2", "p-2", now=5200.0)
    assert store.reads == ["lookup_all"]
    assert SlotHolder.parse(store.lookup(SLOT_KEY.format(1)) or "").proposal_id == "p-2"
    assert ledger.acquire(3, "inc-2", "p-2", now=5201.0)  # the retry keeps its slot
    assert ledger.acquire(3, "inc-3", "p-3", now=5202.0) and not ledger.acquire(3, "inc-4", "p-4", now=5203.0)
    assert [SlotHolder.parse(store.lookup(SLOT_KEY.format(i)) or "").proposal_id for i in range(3)] == \
        ["p-1", "p-2", "p-3"]
