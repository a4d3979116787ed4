"""Alert storm on the emulators: N alerts across P policies (and some poison) published as fast as the client
can, the functions driven by pull subscribers; every alert must be accounted for, none lost, none duplicated.

Run (emulators reachable via PUBSUB_EMULATOR_HOST / FIRESTORE_EMULATOR_HOST, e.g. `eval "$(.ci/emulators.sh
start)"`): python -m bench.storm --alerts 1000 --policies 50
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from functions.runtime import assemble
from functions.topology import routes, subscriptions
from shared import topics
from shared.events import ALERT_RECEIVED, DEAD_LETTER_STREAM
from shared.incident_state import fold
from shared.telemetry.bundle import BundleSource, BundleWriter

POISON_EVERY = 47  # about one malformed message in 47 (prime: no policy gets only poison)


@dataclass
class StormResult:
    alerts: int
    poison: int
    policies: int
    publish_seconds: float
    last_report_seconds: float
    incidents: int
    recorded_alerts: int
    duplicated_alerts: int
    rejected: int
    reports: int

    @property
    def lost(self) -> int:
        return self.alerts - self.recorded_alerts + self.poison - self.rejected


def alert(i: int, policies: int, started: int) -> bytes:
    p = i % policies
    return json.dumps({"incident": {
        "incident_id": f"0.storm-{i}", "policy_name": f"storm policy {p}", "state": "open", "started_at": started,
        "resource": {"type": "cloud_run_revision", "labels": {"service_name": f"svc-{p}"}},
        "resource_name": f"svc-{p}", "metric": {"type": "run.googleapis.com/request_count"},
        "summary": f"storm alert {i}"}, "version": "1.2"}).encode()


def storm(n_alerts: int, n_policies: int, timeout_s: float = 600.0) -> StormResult:
    from shared.bus.pubsub import PubSubBus
    from shared.bus.pubsub_topology import PullDispatcher, ensure_topology
    from shared.store.firestore import FirestoreEventStore

    project = f"autosre-storm-{uuid.uuid4().hex[:8]}"
    empty = Path(tempfile.mkdtemp(prefix="autosre-storm-"))
    with BundleWriter(empty, {"name": "empty"}):
        pass
    source = BundleSource(empty)
    pipeline = assemble(FirestoreEventStore(project), PubSubBus(project), lambda state: source)
    ensure_topology(project, topics.ALL, subscriptions())
    dispatcher = PullDispatcher(project, routes(pipeline), max_messages=8)
    dispatcher.start()
    started = int(time.time()) - 120
    poison = [i for i in range(n_alerts) if i % POISON_EVERY == POISON_EVERY - 1]
    began = time.perf_counter()
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    publisher = pubsub_v1.PublisherClient()
    topic = publisher.topic_path(project, topics.ALERTS)
    futures = [publisher.publish(topic, b"{poison " + str(i).encode() if i in poison else alert(i, n_policies, started))
               for i in range(n_alerts)]
    for f in futures:
        f.result(timeout=60)
    publish_seconds = time.perf_counter() - began
    expected_valid = n_alerts - len(poison)

    def tally() -> tuple[int, int, int, int, int]:
        summaries = [s for s in pipeline.store.summaries()]
        received: Counter[str] = Counter()
        reports = 0
        for s in summaries:
            events = pipeline.store.load(s["incident_id"])
            received.update(e.data["alert"]["monitoring_incident_id"] for e in events if e.type == ALERT_RECEIVED)
            reports += fold(events).latest_report is not None
        rejected = len(pipeline.store.load(DEAD_LETTER_STREAM))
        return len(summaries), sum(received.values()), sum(n - 1 for n in received.values()), rejected, reports

    deadline = time.monotonic() + timeout_s
    while True:
        incidents, recorded, duplicated, rejected, reports = tally()
        done = recorded >= expected_valid and rejected >= len(poison) and reports >= incidents > 0
        if done or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    last_report = time.perf_counter() - began
    dispatcher.wait_idle(timeout=60)
    dispatcher.stop()
    return StormResult(expected_valid, len(poison), n_policies, publish_seconds, last_report, incidents, recorded,
                       duplicated, rejected, reports)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--alerts", type=int, default=1000)
    p.add_argument("--policies", type=int, default=50)
    args = p.parse_args()
    r = storm(args.alerts, args.policies)
    print(f"{'alerts':>8}{'poison':>8}{'policies':>10}{'incidents':>11}{'recorded':>10}{'dup':>5}{'lost':>6}"
          f"{'rejected':>10}{'reports':>9}{'publish/s':>11}{'last report s':>15}")
    print(f"{r.alerts:>8}{r.poison:>8}{r.policies:>10}{r.incidents:>11}{r.recorded_alerts:>10}{r.duplicated_alerts:>5}"
          f"{r.lost:>6}{r.rejected:>10}{r.reports:>9}{(r.alerts + r.poison) / r.publish_seconds:>11.0f}"
          f"{r.last_report_seconds:>15.1f}")


if __name__ == "__main__":
    main()
