"""Which redaction rules can match a text at all: a rule's pattern is compiled and run only when the text holds one
of the strings every match of it must contain (its literals), so a text with none of them pays neither the rule's
compilation nor its scan.

The literals of a rule are derived from its parsed pattern (`required_literals`): a run of literal characters the
pattern must match in sequence, or, for an alternation, one such run from each branch. A pattern with nothing
derivable has none, and then always runs. The derivation is conservative: every construct it does not know (a
class of characters, a repeat that may match nothing, a lookaround, a back-reference) contributes nothing.

Derived once, kept in shared/redaction_literals.py (`python -m shared.redaction_prefilter` writes it): parsing the
hundred-odd patterns at every cold start would cost most of what compiling them does. A rule is looked up by a
digest of its exact pattern and flags, so a pattern changed since the table was written finds no entry and always
runs (fail closed); tests/test_redaction_prefilter.py checks that the table is current and that the literals hold
for what each pattern matches.

The check compares lower-cased text with lower-cased literals, and only for ASCII text: a case-insensitive
pattern matches some non-ASCII letters that lower() does not map onto ASCII ones (the long s, U+017F, matches `s`; the
Kelvin sign `k`), so a text with any non-ASCII character runs every rule.
"""

from __future__ import annotations

import hashlib
import importlib
import sys
import textwrap
from pathlib import Path
from typing import Any

from shared.redaction_literals import LITERALS

sre: Any = importlib.import_module("re._constants")  # the parser behind re.compile (not a public API: the
sre_parse: Any = importlib.import_module("re._parser")  # table is derived with it, never a cold start)


def key_of(pattern: str, flags: int = 0) -> str:
    """The table's key of a pattern: a digest of its source and flags (any change to either misses the table)."""
    return hashlib.blake2b(f"{flags}\x1f{pattern}".encode(), digest_size=8).hexdigest()


def literals_of(pattern: str, flags: int = 0) -> tuple[str, ...]:
    """The rule's literals from the table (lower case, ASCII): a match holds one of them. () when the pattern has
    none or is not in the table: it always runs."""
    return LITERALS.get(key_of(pattern, flags), ())


def may_match(literals: tuple[str, ...], lowered: str | None) -> bool:
    """Whether a rule with these literals can match the text (`lowered`: the ASCII text lower-cased; None for text
    that is not ASCII, which every rule may match)."""
    return lowered is None or not literals or any(literal in lowered for literal in literals)


def lowered(text: str) -> str | None:
    """The text as `may_match` compares it: lower-cased when ASCII, else None (every rule runs)."""
    return text.lower() if text.isascii() else None


def required_literals(pattern: str, flags: int = 0) -> tuple[str, ...]:
    """Strings (lower case, ASCII) one of which every match of the pattern contains; () when none is known."""
    found = _required(list(sre_parse.parse(pattern, flags)))
    return tuple(sorted(found)) if found else ()


def _required(items: list[tuple[Any, Any]]) -> set[str] | None:
    """A set of strings one of which any match of this sequence contains, the most selective one known; None when
    nothing is known."""
    candidates: list[set[str]] = []
    run: list[str] = []
    for op, av in items:
        if op is sre.LITERAL:
            run.append(chr(av).lower())
            continue
        if run:  # a run of literal characters is matched as one string
            candidates.append({"".join(run)})
            run = []
        if op is sre.SUBPATTERN:
            inner = _required(list(av[-1]))
        elif op is sre.BRANCH:
            branches = [_required(list(branch)) for branch in av[1]]
            inner = None if any(b is None for b in branches) else set().union(*(b for b in branches if b))
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT) or op is getattr(sre, "POSSESSIVE_REPEAT", None):
            inner = _required(list(av[2])) if av[0] >= 1 else None
        elif op is getattr(sre, "ATOMIC_GROUP", None):
            inner = _required(list(av))
        else:  # classes, anchors, lookarounds, back-references: nothing required is known
            inner = None
        if inner:
            candidates.append(inner)
    if run:
        candidates.append({"".join(run)})
    usable = [c for c in candidates if c and all(s and s.isascii() for s in c)]
    if not usable:
        return None
    return max(usable, key=lambda c: (min(len(s) for s in c), -len(c)))  # the longest shortest string first


def table(rules: list[tuple[str, int]]) -> dict[str, tuple[str, ...]]:
    """The table of these rules' (pattern, flags): key -> literals, for the rules that have any."""
    return {key_of(p, f): lits for p, f in rules if (lits := required_literals(p, f))}


def write(path: Path) -> None:
    """Write shared/redaction_literals.py from the rules of shared/redaction.py."""
    from shared.redaction import rule_sources

    rows = "".join(textwrap.fill(f"{k!r}: {v!r},", 116, initial_indent="    ", subsequent_indent="        ",
                                 break_long_words=False, break_on_hyphens=False) + "\n"
                   for k, v in table(rule_sources()).items())
    path.write_text('"""The literals of the redaction rules (shared/redaction_prefilter.py), written by\n'
                    '`python -m shared.redaction_prefilter`: do not edit. A rule missing here always runs."""\n\n'
                    f"LITERALS: dict[str, tuple[str, ...]] = {{\n{rows}}}\n")


if __name__ == "__main__":
    target = Path(__file__).with_name("redaction_literals.py")
    write(target)
    print(f"wrote {target}", file=sys.stderr)
