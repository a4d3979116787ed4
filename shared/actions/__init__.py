"""ActionRunner adapters, one per executor the action catalog names, and the router between them.

`ActionRouter` runs a proposal with the runner of its action's executor. `check_policy` is the start-up check:
a policy that allows an action no configured runner can carry out is refused before anything runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.models import Proposal
from shared.ports import ActionRunner


class NoExecutor(ValueError):
    """The policy allows an action that nothing here can carry out."""


@dataclass
class ActionRouter:
    executors: Mapping[str, str]  # action name -> executor name (the catalog's)
    runners: Mapping[str, ActionRunner]  # executor name -> runner

    @property
    def dry_run(self) -> bool:
        return all(getattr(r, "dry_run", False) for r in self.runners.values())

    def run(self, proposal: Proposal) -> str:
        executor = self.executors.get(proposal.action)
        if executor is None:
            raise NoExecutor(f"{proposal.action} is not in the action catalog")
        runner = self.runners.get(executor)
        if runner is None:
            raise NoExecutor(f"no {executor} executor is configured for {proposal.action}")
        return runner.run(proposal)

    def check_policy(self, allowed_actions: set[str]) -> None:
        for action in sorted(allowed_actions):
            executor = self.executors.get(action)
            if executor is None:
                raise NoExecutor(f"the policy allows {action!r}, which is not in the action catalog "
                                 f"({', '.join(sorted(self.executors))})")
            if executor not in self.runners:
                raise NoExecutor(f"the policy allows {action!r}, but no {executor} executor is configured")
