"""The runbook webhook runner: POSTs the approved proposal and its incident to the team's runbook endpoint.

A non-2xx answer raises, so the execution is recorded as failed: a redirect is not followed (it fails, naming
its Location), and an address that is not http(s) is refused (shared/outbound.py)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass

from shared.models import Proposal
from shared.outbound import describe, post


@dataclass
class RunbookWebhookRunner:
    url: str
    timeout_s: float = 10.0
    dry_run = False

    def run(self, proposal: Proposal) -> str:
        body = json.dumps({"action": proposal.action, "service": proposal.service, "params": proposal.params,
                           "proposal_id": proposal.proposal_id, "rationale": proposal.rationale,
                           "preview": proposal.preview}).encode()
        request = urllib.request.Request(self.url, data=body, method="POST",
                                         headers={"Content-Type": "application/json; charset=UTF-8"})
        try:
            with post(request, self.timeout_s) as response:  # raises on 3xx, 4xx, 5xx
                return f"runbook webhook answered HTTP {response.status} for {proposal.service}"
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"runbook webhook answered {describe(exc)}") from exc
