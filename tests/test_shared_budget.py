"""One read budget per investigation, held in the store: specialists running at once (threads here, functions on
Pub/Sub) share it instead of each starting from zero; each read is bounded by what is left of it; the cap is noted
in the report when it binds; `triage` (and `demo`, which runs it) honour AUTOSRE_BUDGET_* as every entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from demo.generator import generate
from functions.local import triage
from shared.budget_pool import BudgetPool
from shared.cost_ledger import Budget
from shared.ports import LogPatternCounter
from shared.store.sqlite import SqliteEventStore
from shared.telemetry.bundle import BundleSource
from shared.telemetry.metered import MeteredSource
from shared.telemetry_records import ReadCost, ReadResult, Window
from tests.concurrency import together


class Api:
    """A source whose every read sends one API request and returns `entries` log entries (as many as asked)."""

    def __init__(self, entries: int = 50):
        self.log_counter: LogPatternCounter | None = None
        self.entries = entries
        self.asked: list[int] = []

    def logs(self, window, services=None):  # type: ignore[no-untyped-def]
        from shared.read_limit import records_allowed

        n = records_allowed(self.entries)
        self.asked.append(n)
        return ReadResult(list(range(n)), cost=ReadCost(api_calls=1))

    spans = metrics = changes = logs

    def dependencies(self):  # type: ignore[no-untyped-def]
        return ReadResult([])

    def describe(self) -> dict[str, str]:
        return {}


WINDOW = Window(0.0, 60.0)


def test_concurrent_specialists_share_one_api_call_budget(tmp_path: Path) -> None:
    path = str(tmp_path / "events.db")
    budget = Budget(api_calls=4)
    meters: list[MeteredSource] = []

    def specialist(name: str) -> None:
        meter = MeteredSource(Api(), budget, pool=BudgetPool(SqliteEventStore(path), "inc-1:1", budget))
        meters.append(meter)
        for _ in range(5):
            getattr(meter, name)(WINDOW)

    together([lambda n=n: specialist(n) for n in ("logs", "spans", "metrics", "changes")])  # type: ignore[misc]
    assert sum(m.counts.api_calls for m in meters) == 4
    assert sum(m.counts.refused for m in meters) == 16 and all(m.counts.cap for m in meters if m.counts.refused)


def test_a_read_is_bounded_by_what_is_left_of_the_log_entry_budget(tmp_path: Path) -> None:
    budget = Budget(log_entries=100)
    pool = BudgetPool(SqliteEventStore(str(tmp_path / "events.db")), "inc-1:1", budget)
    inner = Api(entries=6038)
    first = MeteredSource(inner, budget, pool=pool).logs(WINDOW)
    assert len(first.items) == 100 and inner.asked == [100]
    second = MeteredSource(inner, budget, pool=pool).logs(WINDOW)  # another specialist, same investigation
    assert second.items == [] and "budget" in second.note and inner.asked == [100]


def test_triage_honours_the_budget_settings_and_the_report_notes_the_cap(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = generate("bad_deploy", tmp_path / "demo", seed=3)
    monkeypatch.setenv("AUTOSRE_BUDGET_LOG_ENTRIES", "100")
    result = triage(scenario.alert_path.read_bytes(), BundleSource(scenario.bundle_dir))
    cost = result.report.cost
    assert cost is not None and cost.total.log_entries <= 100
    assert "log entries" in cost.cap and "AUTOSRE_BUDGET_LOG_ENTRIES" in cost.cap
    assert result.report.partial
