"""The deployment's Pub/Sub topic names, in one place: the pipeline, the composition root, the emulator runner
and infra/ (variables.tf mirrors them; tests/test_infra.py checks it) all follow these."""

from __future__ import annotations

ALERTS = "alerts"  # Cloud Monitoring notifications -> intake
TASKS = "tasks"  # one message per specialist and round (attribute `specialist`) -> specialist_<name>
FINDINGS = "findings"  # a specialist reported -> synthesize
ACTIONS = "actions"  # an approved remediation handed to the executor -> execute
DEAD_LETTER = "dead-letter"  # poison messages, recorded and kept for replay

ALL = [ALERTS, TASKS, FINDINGS, ACTIONS, DEAD_LETTER]
