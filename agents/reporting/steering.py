"""Responders' hints, weighed into a ranking (deterministic; replayed from the incident's log at every synthesis).

A hint is a person's prior, not evidence. It moves a service only among the causes the findings already rank:
a suspected service (or the service of a suspected change) has its score raised by at most HINT_PRIOR of itself,
the service whose alerts are called noise has its score lowered by at most as much. A service the findings do not
rank is never added, so a hint cannot put a service without evidence first; a hinted service that is far behind
stays behind. Each hint gets a line saying what it changed (or why it changed nothing), which the report shows.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.models import Finding, RankedCause
from shared.steering_events import Hint

HINT_PRIOR = 0.25  # the most a hint moves a ranked service's score, as a share of that score


def hinted_services(hint: Hint, findings: Sequence[Finding]) -> list[str]:
    """The services a hint is about: its service, and for a suspected change the services of the change findings
    its text names (in their title or resource)."""
    out = [hint.service] if hint.service else []
    if hint.kind == "change" and hint.text.strip():
        needle = hint.text.strip().lower()
        out += [f.service for f in findings if f.kind.startswith("change.") and f.service
                and (needle in f.title.lower() or (f.resource and needle in f.resource.lower()))]
    return list(dict.fromkeys(out))


def steer(causes: list[RankedCause], hints: Sequence[Hint],
          findings: Sequence[Finding]) -> tuple[list[RankedCause], list[str]]:
    """The causes re-ranked by the hints, and one line per hint on what it changed."""
    if not hints:
        return causes, []
    factor: dict[str, float] = {}
    for hint in hints:
        sign = -1.0 if hint.kind == "noise" else 1.0
        for service in hinted_services(hint, findings):
            factor[service] = sign  # one weight per service, whatever the number of hints: the prior is bounded
    before = {c.service: c for c in causes}
    # the ranking's own order, re-sorted by the weighed scores: a cause explained by its callee stays behind the
    # causes with evidence of their own, whatever a hint says
    weighed = any(factor.get(c.service) for c in causes)
    steered = causes
    if weighed:
        scored = (c.model_copy(update={"score": round(c.score * (1 + HINT_PRIOR * factor.get(c.service, 0.0)), 6)})
                  for c in causes)
        ordered = sorted(scored, key=lambda c: (bool(c.propagation_of), -c.score, c.rank))
        steered = [c.model_copy(update={"rank": i}) for i, c in enumerate(ordered, 1)]
    after = {c.service: c for c in steered}
    lines = []
    for hint in hints:
        services = hinted_services(hint, findings)
        said = f"{hint.by}: {hint.summary_line().removeprefix(hint.by + ' ')}"
        if not services:
            lines.append(f"{said}: no finding names it, so it changed nothing (a hint weighs on evidence; it is not "
                         "evidence)")
            continue
        for service in services:
            if service not in after:
                lines.append(f"{said}: {service} has no anomaly in the findings, so it is not ranked (a hint weighs "
                             "on evidence; it is not evidence)")
                continue
            old, new = before[service], after[service]
            moved = (f"moved from #{old.rank} to #{new.rank}" if new.rank != old.rank else f"stays #{new.rank}")
            lines.append(f"{said}: {service} {moved} (score {old.score:.2f} -> {new.score:.2f})")
    return steered, lines
