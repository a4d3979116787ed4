"""Whether the first round's ranking needs a second, targeted look before it is published (the OODA loop's
second pass), which services that look is about, and how the rounds' findings combine.

A ranking is decided when its leader is clearly ahead: nothing ranked, or a runner-up scoring less than
AMBIGUOUS of the leader, needs no second look. Otherwise the leading FOCUS services are re-examined by the
specialists that have a closer look to offer (FOCUSED_SPECIALISTS: the raw log lines and code paths of just
those services, where the first round may have had only pre-aggregated counts, tested against the bar that a few
services allow instead of the whole system's; their calls compared on thinner samples than a first round trusts
across the whole system; and a day of their change history, to rule a change in or out).
Reporting more of the same metrics for the leaders only was tried and dropped: it shifts the balance between them
without observing anything new (measured worse on the Nezha cases). The follow-up's findings supersede the first
round's of the same kind about the same service from the same specialist; the rest of the first round's evidence
stands.
Deterministic: the same first-round ranking always asks the same question.
"""

from __future__ import annotations

from shared.models import Finding, RankedCause

AMBIGUOUS = 0.8  # a runner-up at this share of the leader's score or more leaves the ranking open
FOCUS = 3  # leading services re-examined
FOCUSED_SPECIALISTS = ("logs", "traces", "changes")


def second_look(causes: list[RankedCause]) -> tuple[str, ...]:
    """The services a follow-up round should examine, or () when the ranking is decided."""
    if len(causes) < 2 or causes[0].score <= 0:
        return ()
    if causes[1].score < AMBIGUOUS * causes[0].score:
        return ()
    return tuple(c.service for c in causes[:FOCUS])


def merged(rounds: list[list[Finding]]) -> list[Finding]:
    """The findings of rounds 1..n: where a later round reported a kind of finding about a service (its closer
    look), those replace the earlier rounds' findings of that kind about that service from the same specialist."""
    latest: dict[tuple[str, str, str], list[Finding]] = {}
    for findings in rounds:
        fresh: dict[tuple[str, str, str], list[Finding]] = {}
        for f in findings:
            fresh.setdefault((f.specialist, f.kind, f.service), []).append(f)
        latest.update(fresh)
    return [f for group in latest.values() for f in group]
