"""ActionRunner adapters, one per executor the action catalog names, and the router between them.

`ActionRouter` is the ActionRunner the remediation workflow uses: it holds, per action name, the one function that
carries the action out (an adapter's method, or a runner that carries out any action, like the dry run), chosen once
by the composition root (functions/runtime.py `make_runner`), so an action's name is dispatched once, here.
`unavailable` names the actions a policy allows that nothing configured can carry out, and why: the remediation
workflow refuses those actions alone (the web view and every other action keep working), and the deployment refuses
such a policy at plan time (infra/main.tf `policy_is_executable`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeAlias

from shared.ports import OperationState as OperationState  # the port's types, re-exported for the adapters
from shared.ports import OutcomePending as OutcomePending

if TYPE_CHECKING:
    from shared.models import Proposal

# carries out one approved proposal and says what it did (raises when it could not)
Act: TypeAlias = "Callable[[Proposal], str]"


class NoExecutor(ValueError):
    """The policy allows an action that nothing here can carry out."""


ReadOperation = Callable[[str], OperationState]  # operation name -> its state (raises when the API cannot say)


@dataclass
class ActionRouter:
    actions: Mapping[str, Act]  # action name -> what carries it out
    executors: Mapping[str, str]  # action name -> executor name (the catalog's): what an unconfigured one lacks
    dry_run: bool = False  # every action only records its plan
    read_operation: ReadOperation | None = field(default=None)  # reads a pending action's operation (None: none)

    def run(self, proposal: Proposal) -> str:
        act = self.actions.get(proposal.action)
        if act is None:
            raise NoExecutor(f"{proposal.action} cannot run: {self._missing(proposal.action)}")
        return act(proposal)

    def unavailable(self, allowed_actions: set[str]) -> dict[str, str]:
        """The allowed actions nothing here can carry out, each with the reason ({} when every one can run)."""
        return {action: self._missing(action) for action in sorted(allowed_actions) if action not in self.actions}

    def _missing(self, action: str) -> str:
        executor = self.executors.get(action)
        if executor is None:
            return f"it is not in the action catalog ({', '.join(sorted(self.executors))})"
        return f"no {executor} executor is configured"
