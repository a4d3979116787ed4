"""The registry of specialists: each one's name, its analysis entry and the signals it reads.

Everything that lists the specialists is derived from here or checked against it: the default of
AUTOSRE_SPECIALISTS (shared/config.py), the Cloud Functions targets `specialist_<name>` (functions/main.py), the
tasks topic's subscriptions (functions/topology.py), the benches (bench/scale.py, bench/cold_start.py) and
Terraform's `local.specialists` (infra/main.tf, checked by tests/test_specialist_registry.py). Adding a
specialist: docs/adding-a-specialist.md.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

Signal = Literal["logs", "spans", "metrics", "changes", "dependencies"]  # the TelemetrySource reads of the same names


class SpecialistSpec(NamedTuple):
    name: str  # the tasks' `specialist` attribute; function `specialist_<name>`, subscription `specialist-<name>`
    analysis: str  # the module whose `analyse(source, ctx) -> SpecialistResult` is the analysis (imported on first use)
    signals: tuple[Signal, ...]  # what it reads from the telemetry source (tests/test_specialist_registry.py checks)


REGISTRY: tuple[SpecialistSpec, ...] = (
    # logs reads spans: the code paths of traced log lines; traces reads logs (the errors a span's own lines report)
    # and the declared graph (merged with the calls the spans show)
    SpecialistSpec("logs", "agents.specialists.logs.analysis", ("logs", "spans")),
    SpecialistSpec("traces", "agents.specialists.traces.analysis", ("spans", "logs", "dependencies")),
    SpecialistSpec("metrics", "agents.specialists.metrics.analysis", ("metrics",)),
    SpecialistSpec("changes", "agents.specialists.changes.analysis", ("changes",)),
)
SPECIALISTS: tuple[str, ...] = tuple(s.name for s in REGISTRY)


def spec_of(name: str) -> SpecialistSpec:
    """The registered specialist of that name (KeyError names the ones there are)."""
    for spec in REGISTRY:
        if spec.name == name:
            return spec
    raise KeyError(f"no specialist {name!r} (registered: {', '.join(SPECIALISTS)})")
