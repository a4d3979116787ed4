"""What makes every approved action end with an outcome the page and the timeline agree on (used by
functions/remediation.py):

- the execution claim records when the run started (`<run id>|<unix time>`), so a redelivery that finds the claim
  taken and no outcome recorded can tell a run still under way (retry later) from one whose executor was killed
  during the runner call (its outcome is then recorded as unknown: the action may or may not have happened);
- a hand-off to the executor gets a short deadline, so a publish that hangs does not hold the approver's request
  (the decision stands and the sweep hands it over again).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import NamedTuple

HAND_OFF_TIMEOUT_S = 5.0  # well inside a load balancer's request timeout
OUTCOME_DEADLINE_S = 360.0  # > the execute function's timeout (300 s): a run not recorded by then was stopped


class RunClaim(NamedTuple):
    run_id: str
    started_at: float

    @classmethod
    def new(cls, now: float) -> RunClaim:
        return cls(uuid.uuid4().hex, now)

    @classmethod
    def parse(cls, value: str) -> RunClaim:
        run_id, _, at = value.partition("|")
        try:
            return cls(run_id, float(at))
        except ValueError:
            return cls(run_id, 0.0)  # a claim without its start time: treated as long stopped

    def value(self) -> str:
        return f"{self.run_id}|{self.started_at!r}"


def unknown_outcome(claim: RunClaim) -> str:
    return ("outcome unknown: the executor stopped during the runner call (it started at "
            f"{claim.started_at:.0f}, unix time) and recorded nothing; check the target before approving it again")


def within(timeout_s: float, call: Callable[[], None]) -> None:
    """Run `call`, waiting at most `timeout_s`: raises TimeoutError when it has not returned by then (it goes on in
    the background; a hand-off given twice is run once, as the executor claims the execution), and re-raises what
    it raised."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:  # handed to the caller
            failure.append(exc)

    worker = threading.Thread(target=run, name="autosre-hand-off", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise TimeoutError(f"no answer within {timeout_s:g} s")
    if failure:
        raise failure[0]
