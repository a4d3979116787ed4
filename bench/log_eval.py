"""Log-parsing evaluation on Loghub-style ground truth: Grouping Accuracy, FGA, Parsing Accuracy, FTA.

- GA: a line is correct iff its predicted cluster holds exactly the lines of its true template.
- FGA (Loghub-2.0, Jiang et al. 2024): F1 over groups; a predicted group is correct iff its line set equals a
  true group's line set; precision over predicted groups, recall over true groups.
- PA (Loghub-2.0): a line is correct iff its predicted template string equals the true template (after
  normalising wildcards only: runs of <*> and surrounding spaces collapse).
- FTA (template-level F1 of exact template matches, Khan et al. 2022): a predicted template is a true positive
  iff its cluster equals a true template's lines and the template strings match.
- New patterns between two windows of one stream (`new_patterns`): what the log analyst would report as new
  after a fault-free stretch; those of an event the first window already had are spurious (an over-split).
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

SYSTEMS = ("HDFS", "Spark", "BGL", "HPC", "Windows", "HealthApp", "OpenStack", "Mac")


@dataclass
class Labelled:
    contents: list[str]
    event_ids: list[str]
    templates: list[str]


def load(loghub: Path, system: str, corrected: str = "corrected") -> Labelled:
    """corrected: "" for the original labels, "corrected" or "corrected_loghub2.0"."""
    folder = loghub / system
    path = folder / f"{system}_2k.log_structured.csv"
    for name in (corrected, "corrected") if corrected else ():  # not every system has every correction
        candidate = folder / name / f"{system}_2k.log_structured_corrected.csv"
        if candidate.exists():
            path = candidate
            break
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return Labelled([r["Content"] for r in rows], [r["EventId"] for r in rows], [r["EventTemplate"] for r in rows])


def _norm(template: str) -> str:
    t = re.sub(r"(<\*>\s*)+", "<*> ", template)
    return re.sub(r"\s+", " ", t).strip()


def grouping_accuracy(predicted: Sequence[object], truth: Sequence[str]) -> float:
    clusters, events = _groups(predicted, truth)
    return sum(1 for i, p in enumerate(predicted) if clusters[p] == events[truth[i]]) / max(len(truth), 1)


def _groups(predicted: Sequence[object], truth: Sequence[str]
            ) -> tuple[dict[object, set[int]], dict[str, set[int]]]:
    clusters: dict[object, set[int]] = defaultdict(set)
    events: dict[str, set[int]] = defaultdict(set)
    for i, (p, t) in enumerate(zip(predicted, truth, strict=True)):
        clusters[p].add(i)
        events[t].add(i)
    return clusters, events


def fga(predicted: Sequence[object], truth: Sequence[str]) -> float:
    clusters, events = _groups(predicted, truth)
    true_sets = {frozenset(v) for v in events.values()}
    correct = sum(1 for v in clusters.values() if frozenset(v) in true_sets)
    if not correct:
        return 0.0
    precision, recall = correct / len(clusters), correct / len(events)
    return 2 * precision * recall / (precision + recall)


def parsing_accuracy(predicted_templates: Sequence[str], true_templates: Sequence[str]) -> float:
    ok = sum(_norm(p) == _norm(t) for p, t in zip(predicted_templates, true_templates, strict=True))
    return ok / max(len(true_templates), 1)


def fta(predicted: Sequence[object], predicted_templates: Sequence[str], truth: Sequence[str],
        true_templates: Sequence[str]) -> float:
    clusters, events = _groups(predicted, truth)
    event_of_set = {frozenset(v): k for k, v in events.items()}
    true_template = {truth[i]: true_templates[i] for i in range(len(truth))}
    tp = 0
    for lines in clusters.values():
        e = event_of_set.get(frozenset(lines))
        first = min(lines)
        if e is not None and _norm(predicted_templates[first]) == _norm(true_template[e]):
            tp += 1
    precision = tp / max(len(clusters), 1)
    recall = tp / max(len(events), 1)
    return 0.0 if tp == 0 else 2 * precision * recall / (precision + recall)


@dataclass(frozen=True)
class NewPatterns:
    """Patterns of the second window of a stream that the first window did not have."""

    patterns: int  # how many
    lines: int  # their lines
    spurious: int  # of those lines, the ones whose true event the first window had: a known event split off
    missed: int  # lines of events new in the second window that went into a pattern the first window had
    # of the new patterns, those no distinct truly new event accounts for (patterns minus a maximum matching of
    # new patterns to the truly new events they hold): a new pattern beyond one per truly new event is an over-split
    extra: int = 0


def new_patterns(predicted: Sequence[Hashable], truth: Sequence[Hashable], half: int) -> NewPatterns:
    """Lines [0, half) are the first window, the rest the second; predicted and true ids per line."""
    old, old_events = set(predicted[:half]), set(truth[:half])
    new = [(p, t) for p, t in zip(predicted[half:], truth[half:], strict=True) if p not in old]
    missed = sum(1 for p, t in zip(predicted[half:], truth[half:], strict=True) if p in old and t not in old_events)
    holds: dict[Hashable, set[Hashable]] = defaultdict(set)  # new pattern -> the truly new events it holds
    for p, t in new:
        events = holds[p]
        if t not in old_events:
            events.add(t)
    extra = len(holds) - _matching(holds)
    return NewPatterns(len(holds), len(new), sum(1 for _, t in new if t in old_events), missed, extra)


def _matching(holds: dict[Hashable, set[Hashable]]) -> int:
    """Size of a maximum matching of patterns to events they hold (augmenting paths; the sets are small)."""
    owner: dict[Hashable, Hashable] = {}

    def place(p: Hashable, seen: set[Hashable]) -> bool:
        for t in holds[p]:
            if t not in seen:
                seen.add(t)
                if t not in owner or place(owner[t], seen):
                    owner[t] = p
                    return True
        return False

    return sum(place(p, set()) for p in holds)


Parser = Callable[[list[str]], tuple[list[object], list[str]]]


def score(parser: Parser, data: Labelled) -> dict[str, float]:
    ids, templates = parser(data.contents)
    return {"GA": grouping_accuracy(ids, data.event_ids), "FGA": fga(ids, data.event_ids),
            "PA": parsing_accuracy(templates, data.templates),
            "FTA": fta(ids, templates, data.event_ids, data.templates), "clusters": float(len(set(ids)))}
