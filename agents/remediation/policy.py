"""The safety policy: deny by default; allow listed actions per service; rate-limit executions."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from shared.models import Proposal


class Decision(NamedTuple):
    allowed: bool
    reason: str


@dataclass
class Policy:
    allow: dict[str, list[str]] = field(default_factory=dict)  # service (or "*") -> action names
    max_actions_per_hour: int = 3

    @classmethod
    def from_json(cls, text: str) -> Policy:
        """`{"allow": {"*": ["runbook_webhook"], "payment": ["rollback_cloud_run"]}, "max_actions_per_hour": 3}`"""
        if not text.strip():
            return cls()
        doc: Any = json.loads(text)
        if not isinstance(doc, dict) or not isinstance(doc.get("allow", {}), dict):
            raise ValueError("policy must be a JSON object with an 'allow' object")
        allow = {str(k): [str(a) for a in v] for k, v in doc.get("allow", {}).items() if isinstance(v, list)}
        return cls(allow, int(doc.get("max_actions_per_hour", 3)))

    @property
    def allowed_actions(self) -> set[str]:
        """Every action name the policy allows on some service."""
        return {a for actions in self.allow.values() for a in actions}

    def check(self, proposal: Proposal, executed_at: list[float], now: float) -> Decision:
        from agents.remediation.catalog import action_title  # the catalog's analysis: not in the executor's cold start

        allowed = set(self.allow.get(proposal.service, [])) | set(self.allow.get("*", []))
        if proposal.action not in allowed:
            return Decision(False, f"policy does not allow \"{action_title(proposal.action)}\" on {proposal.service} "
                                   "(deny by default)")
        recent = [t for t in executed_at if now - t < 3600]
        if len(recent) >= self.max_actions_per_hour:
            return Decision(False, f"rate limit: {len(recent)} actions in the last hour "
                                   f"(max {self.max_actions_per_hour})")
        return Decision(True, f"\"{action_title(proposal.action)}\" on {proposal.service} is allowed by policy")
