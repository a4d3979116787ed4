"""Execute (the actions topic): run an approved remediation handed over by the approval click or the sweep.

The remediation re-checks everything before it runs anything (approved, policy, incident still open, not yet run)
and claims the execution, so a duplicate delivery never runs it twice. A refusal is recorded where it applies and
acknowledged: it is never retried forever. A delivery that finds the run claimed by another one with no outcome yet
raises, so the bus delivers it again later: by then the outcome (or a pending outcome) is recorded, or the run is
known to have stopped and its outcome is recorded as unknown. The workflow is built once per instance
(functions/main.py), not per message.
"""

from __future__ import annotations

import json
import logging

from functions.remediation import Remediation, RemediationError
from shared.ports import Message

log = logging.getLogger("autosre.functions")


def on_action(remediation: Remediation, message: Message) -> str:
    """Run the action the message names; returns its outcome ("" when it was refused)."""
    action = json.loads(message.data)
    try:
        return remediation.execute(str(action["incident_id"]), str(action["proposal_id"]))
    except RemediationError as exc:  # refused or failed: recorded where it applies; never retried forever
        if exc.reason == "already_claimed":
            raise
        log.warning("execute refused: %s", exc, extra={"json_fields": {"reason": exc.reason}})
        return ""
