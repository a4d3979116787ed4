"""A busy project: the demo incident's telemetry scaled to a heavy hour, read through stand-ins of Cloud Logging,
Cloud Trace and Cloud Monitoring with Google's documented per-project quotas, page limits and per-call latencies
(bench/busy_standins.py says which figures are documented and which assumed), on a simulated clock.

The real pipeline runs (intake, the specialists, the synthesizer; functions/runtime.py `assemble`), with the
project's read quotas kept in the store as in a deployment (shared/quota.py) and each specialist's reads sharing the
run's read deadline (AUTOSRE_READ_DEADLINE_S, 240 s). Nothing sleeps: the stand-ins, the quotas' waits and the
read deadline all see one simulated clock.

Concurrency: as in a deployment, the specialists of a round run at once (each its own function instance). The bench
runs them on threads under a discrete-event simulation (busy_standins.VirtualClock.together): each has its own
timeline from when the tasks were sent, and only the one whose timeline is earliest runs until its next call, so
their calls meet the project's quotas and the store in time order. The time to report is when the report was
published on the pipeline's clock; intake, the store and the synthesizer take no simulated time.

It prints, per specialist: the API calls it made, the 429s it met, the simulated seconds it used and whether it
finished inside its read deadline; the time to report; the top cause beside the embedded run's (functions.local
triage on the same bundle).

Run: python -m bench.busy_project [--factor 10] [--fault bad_deploy] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.busy_standins import (
    LoggingStandIn,
    MonitoringStandIn,
    Served,
    Tally,
    TraceStandIn,
    VirtualClock,
)
from shared import topics
from shared.bus.inprocess import InProcessBus
from shared.ports import Message

PROJECT = "demo-shop-prod"
FUNCTION_TIMEOUT_S = 300.0


@dataclass
class Run:
    specialist: str
    round: int
    calls: int
    throttled: int
    seconds: float
    deadline_s: float
    failed: bool = False  # the run recorded a failure instead of its findings

    @property
    def in_time(self) -> bool:
        """It finished (not failed) inside its read deadline."""
        return self.seconds <= self.deadline_s and not self.failed


@dataclass
class BusyResult:
    factor: int
    records: dict[str, int]
    runs: list[Run]
    time_to_report_s: float
    verdict: str
    embedded_verdict: str
    rounds: int
    kinds: tuple[str, str] = ("", "")  # the top cause's leading finding kind: here, in the embedded run
    notes: list[str] = field(default_factory=list)
    cap: str = ""  # the budget cap the report names (a read it stopped), "" when none bound
    partial: bool = False  # the report says it is partial

    @property
    def ok(self) -> bool:
        return (self.time_to_report_s <= 240.0 and all(r.in_time for r in self.runs)
                and self.verdict == self.embedded_verdict)


class TimedBus(InProcessBus):
    """The in-process bus, the tasks sent together run at once (as the specialists' function instances do), each
    on its own simulated timeline from when they were sent; the rest one after another."""

    def __init__(self, clock: VirtualClock, tally: Tally):
        super().__init__()
        self.clock, self.tally = clock, tally
        self.runs: list[tuple[str, int, int, int, float, float]] = []  # (specialist, round, calls, 429s, start, end)

    def drain(self, limit: int = 1_000_000) -> int:
        ran = 0
        while self._queue and ran < limit:
            if self._queue[0][1].topic != topics.TASKS:
                ran += super().drain(1)
                continue
            batch = []
            while self._queue and self._queue[0][1].topic == topics.TASKS:
                batch.append(self._queue.popleft())
            began, tallied = self.clock(), [(self.tally.calls[n], self.tally.throttled[n]) for n in self._names(batch)]
            ends = self.clock.together([self._task(sub, message) for sub, message in batch])
            for name, (calls, throttled), (_, message), end in zip(self._names(batch), tallied, batch, ends,
                                                                   strict=True):
                number = int(json.loads(message.data).get("round", 1))
                self.runs.append((name, number, self.tally.calls[name] - calls, self.tally.throttled[name] - throttled,
                                  began, end))
            ran += len(batch)
        return ran

    @staticmethod
    def _names(batch: list[tuple[Any, Message]]) -> list[str]:
        return [m.attributes.get("specialist", "") for _, m in batch]

    def _task(self, sub: Any, message: Message) -> Callable[[], None]:
        def run() -> None:
            self.tally.current = message.attributes.get("specialist", "")
            self._run(sub, message)
        return run


def busy_source(bundle: Path, clock: VirtualClock, tally: Tally, claims: Any) -> Any:
    """The project's readers as functions/runtime.py gcp_source builds them (default bounds and budgets, quotas in
    the store), their clients the stand-ins and their clock the simulated one."""
    from shared.quota import StoreQuota
    from shared.telemetry.cloud_logging import READS_PER_MINUTE, CloudLoggingLogReader
    from shared.telemetry.gcp import (
        LIST_TRACES_PER_MINUTE,
        CloudMonitoringReader,
        CloudTraceReader,
        GcpTelemetrySource,
    )
    from tests.logging_filter import parse

    served = Served(bundle, clock, tally)
    log_quota = StoreQuota(claims, f"logging:{PROJECT}", READS_PER_MINUTE, clock=clock, sleep=clock.sleep)
    trace_quota = StoreQuota(claims, f"trace:{PROJECT}", LIST_TRACES_PER_MINUTE, windows=2, clock=clock,
                             sleep=clock.sleep)
    kinds = {s["metric"]["type"]: (s["metricKind"], s["valueType"]) for s in served.series}
    return GcpTelemetrySource(
        PROJECT, CloudLoggingLogReader(PROJECT, client=LoggingStandIn(served, parse), quota=log_quota),
        CloudTraceReader(PROJECT, client=TraceStandIn(served), clock=clock, quota=trace_quota),
        CloudMonitoringReader(PROJECT, sorted(kinds), client=MonitoringStandIn(served), clock=clock, kinds=kinds))


def top_cause(report: Any) -> str:
    """The verdict: the service the report names as the top cause ("none named" when it names none)."""
    return str(report.causes[0].service) if report.causes else "none named"


def leading_kind(report: Any) -> str:
    return str(report.causes[0].kind) if report is not None and report.causes else ""


def run_busy(bundle: Path, alert: bytes, factor: int = 0, read_deadline_s: float = 240.0,
             budget_api_calls: int = 0) -> BusyResult:
    from functions.local import triage
    from functions.runtime import assemble
    from shared import events as ev
    from shared.config import Settings
    from shared.core_models import Event
    from shared.store.sqlite import SqliteEventStore
    from shared.telemetry.bundle import BundleSource

    clock, tally = VirtualClock(), Tally()
    store = SqliteEventStore(":memory:")
    bus = TimedBus(clock, tally)
    clock.now = float(json.loads(alert)["incident"]["started_at"])  # the alert arrives when the incident starts
    start = clock()
    source = busy_source(bundle, clock, tally, store)
    settings = Settings(store="sqlite", sqlite_path=":memory:", read_deadline_s=read_deadline_s,
                        budget_api_calls=budget_api_calls)
    pipeline = assemble(store, bus, lambda state: source, settings, clock=clock)
    pipeline.read_clock = clock
    published: list[Event] = []
    pipeline.observers.append(lambda e: published.append(e) if e.type == ev.REPORT_PUBLISHED else None)
    bus.publish(topics.ALERTS, alert)
    bus.drain()
    report, state = None, None
    if published:
        state = pipeline.log.read(published[-1].incident_id)
        report = state.latest_report if state is not None else None
    at = published[0].at - start if published else float("inf")  # the first report (a second round may follow)
    # a follow-up round's reads share what was left of the first round's deadline (functions/pipeline.py)
    failed = {(n, s) for n, r in (state.rounds.items() if state is not None else ()) for s in r.failed}
    runs = [Run(name, number, calls, throttled, round(end - began, 1), round(read_deadline_s - (began - start), 1),
                (number, name) in failed) for name, number, calls, throttled, began, end in bus.runs]
    embedded = triage(alert, BundleSource(bundle)).report
    records = {name: sum(1 for _ in (bundle / f"{name}.jsonl").open()) for name in ("logs", "spans", "metrics")}
    return BusyResult(factor, records, runs, round(at, 1), top_cause(report) if report is not None else "no report",
                      top_cause(embedded), len(state.rounds) if report is not None and state is not None else 0,
                      (leading_kind(report), leading_kind(embedded)),
                      cap=report.cost.cap if report is not None and report.cost is not None else "",
                      partial=bool(report is not None and report.partial))


def table(result: BusyResult) -> str:
    rows = ["| round | specialist | API calls | 429s met | simulated s | its deadline (s) | finished inside it |",
            "|---:|---|---:|---:|---:|---:|---|"]
    rows += [f"| {r.round} | {r.specialist} | {r.calls} | {r.throttled} | {r.seconds:.1f} | {r.deadline_s:.1f} | "
             f"{'yes' if r.in_time else 'failed' if r.failed else 'no'} |" for r in result.runs]
    rows += ["", f"records served: {', '.join(f'{k} {v:,}' for k, v in result.records.items())} "
                 f"(demo traffic x{result.factor}, 14 services)",
             f"investigation rounds: {result.rounds}; time to report: {result.time_to_report_s:.1f} s "
             "(simulated, from the alert)",
             f"verdict (top cause): {result.verdict} (leading finding: {result.kinds[0]}); embedded run: "
             f"{result.embedded_verdict} ({result.kinds[1]}); "
             f"{'same' if result.verdict == result.embedded_verdict else 'DIFFERENT'}",
             f"report inside 240 s, every specialist inside its deadline, same verdict: {'yes' if result.ok else 'NO'}"]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    from demo.scale import scale

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--factor", type=int, default=10, help="the demo's traffic multiplied by this")
    parser.add_argument("--fault", default="bad_deploy")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        scaled = scale(args.fault, args.factor, Path(work) / "case", seed=args.seed)
        result = run_busy(scaled.bundle_dir, scaled.alert_path.read_bytes(), args.factor)
    print(table(result))
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
