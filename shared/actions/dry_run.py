"""The default runner: records what would be done and changes nothing anywhere."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.models import Proposal


class DryRunRunner:
    dry_run = True

    def run(self, proposal: Proposal) -> str:
        return f"DRY RUN (nothing changed): {proposal.preview}"
