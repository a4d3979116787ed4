"""Incident signatures and how alike two incidents are: pure, deterministic, no store.

A signature is a set of terms drawn from a report and its findings, each term prefixed by what it says:

| prefix | from | weight |
|---|---|---|
| `cause:` | the top cause's finding kind | 3.0 |
| `chain:` | the top cause's chain shape (roles from cause to impact) | 1.0 |
| `kind:` | the kinds of the report's findings that stand (score >= STRONG, not ruled out) | 1.0 |
| `metric:` | an anomalous metric's short name and the way it moved | 1.5 |
| `change:` | the kind of a change that stands as a suspect | 1.5 |
| `pattern:` | a log template of a finding that stands (hashed) | 1.0 |
| `logword:` | the words of those templates (>= 4 letters, no placeholders) | 0.5 |
| `root:` | the top cause's service | 1.0 |
| `svc:` | the services of the findings that stand | 0.25 |
| `alert:` | the alert's metric's short name | 0.5 |
| `feedback:` | a responder's word on the top cause (`confirmed` / `rejected`): not a likeness, it weighs 0 | 0 |

What went wrong (kinds, metrics, changes, log words) weighs more than where (services): the same fault on another
service is more alike than another fault on the same service. Similarity is the weighted Jaccard index
sum(w, A and B) / sum(w, A or B), in [0, 1].

The ranking trusts a past incident whose cause a responder confirmed more than one nobody spoke for, and that one
more than one whose cause was rejected: its similarity is multiplied by TRUST before ranking, so a confirmed cause
outranks an unconfirmed one as alike (the similarity shown is the likeness alone).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable, Mapping

from shared.finding_details import ChangeDetails, MetricAnomalyDetails, MetricDetails, template_of
from shared.models import Finding, Report

STRONG = 0.3  # a finding at or above this score (and not ruled out) is part of the signature
MAX_TERMS = 80  # the heaviest terms are kept: a bounded index entry per incident
MIN_SIMILARITY = 0.15  # below this, an incident is not listed as similar
WEIGHTS: dict[str, float] = {"cause": 3.0, "chain": 1.0, "kind": 1.0, "metric": 1.5, "change": 1.5, "pattern": 1.0,
                             "logword": 0.5, "root": 1.0, "svc": 0.25, "alert": 0.5, "feedback": 0.0}
TRUST = {"feedback:confirmed": 1.0, "": 0.9, "feedback:rejected": 0.75}  # by the responder's word on the cause
_SKIP_KINDS = frozenset({"log.none", "change.none", "trace.topology", "slo.burn"})
_WORD = re.compile(r"[a-z][a-z_]{3,}")
_STOP = frozenset({"with", "from", "that", "this", "have", "been", "will", "desc", "code", "into"})


def weight(term: str) -> float:
    """A term's weight, by its prefix (an unknown prefix weighs 1)."""
    return WEIGHTS.get(term.split(":", 1)[0], 1.0)


def _short(metric: str) -> str:
    return metric.rstrip("/").rsplit("/", 1)[-1].lower()


def _words(template: str) -> set[str]:
    text = re.sub(r"<[^>]*>", " ", template.lower())
    return {w for w in _WORD.findall(text) if w not in _STOP}


def finding_terms(f: Finding) -> set[str]:
    """The terms one finding that stands contributes."""
    if f.kind in _SKIP_KINDS:
        return set()
    terms = {f"kind:{f.kind}"}
    if f.service:
        terms.add(f"svc:{f.service}")
    details = f.details
    if isinstance(details, MetricDetails) and details.metric:
        direction = (details.direction or details.bad_direction) if isinstance(details, MetricAnomalyDetails) else ""
        terms.add(f"metric:{_short(details.metric)}" + (f":{direction}" if direction else ""))
    if f.kind.startswith("change."):
        kind = details.change_kind if isinstance(details, ChangeDetails) else ""
        terms.add(f"change:{kind or f.kind.removeprefix('change.')}")
    template = template_of(details)
    if template:
        terms.add("pattern:" + hashlib.sha256(template.encode("utf-8")).hexdigest()[:16])
        terms |= {f"logword:{w}" for w in _words(template)}
    return terms


def signature(report: Report, findings: Mapping[str, Finding], alert_metric: str = "") -> list[str]:
    """The report's signature: sorted terms, at most MAX_TERMS (the heaviest, then by name)."""
    terms: set[str] = set()
    if report.causes:
        top = report.causes[0]
        terms |= {f"cause:{top.kind}", f"root:{top.service}"}
        if top.chain:
            terms.add("chain:" + ">".join(step.role for step in top.chain))
    for fid in report.finding_ids:
        f = findings.get(fid)
        if f is not None and not f.ruled_out and f.score >= STRONG:
            terms |= finding_terms(f)
    if alert_metric:
        terms.add(f"alert:{_short(alert_metric)}")
    kept = sorted(terms, key=lambda t: (-weight(t), t))[:MAX_TERMS]
    return sorted(kept)


def _mass(terms: Iterable[str]) -> float:
    return sum(weight(t) for t in terms)


def similarity(a: Collection[str], b: Collection[str]) -> float:
    """Weighted Jaccard index of two signatures (0 when both are empty)."""
    sa, sb = set(a), set(b)
    union = _mass(sa | sb)
    return 0.0 if union <= 0 else _mass(sa & sb) / union


def shared_terms(a: Collection[str], b: Collection[str], limit: int = 6) -> list[str]:
    """The terms two signatures share, heaviest first (what makes them alike, for the reader)."""
    return sorted((t for t in set(a) & set(b) if weight(t) > 0), key=lambda t: (-weight(t), t))[:limit]


def trust(terms: Collection[str]) -> float:
    """How far a past incident's cause is trusted: by the responder's word recorded in its terms."""
    return next((TRUST[t] for t in terms if t in TRUST), TRUST[""])


def rank(query: Collection[str], candidates: Mapping[str, Collection[str]], exclude: str = "", limit: int = 3,
         floor: float = MIN_SIMILARITY) -> list[tuple[str, float]]:
    """The `limit` candidates most like `query` (at least `floor`), the most similar as trusted first (TRUST),
    ties by id; never `exclude` (the incident itself). Returns each with its similarity."""
    scored = [(cid, similarity(query, terms), trust(terms)) for cid, terms in candidates.items() if cid != exclude]
    kept = [(cid, s, t) for cid, s, t in scored if s >= floor]
    kept.sort(key=lambda x: (-x[1] * x[2], x[0]))
    return [(cid, s) for cid, s, _ in kept[:limit]]
