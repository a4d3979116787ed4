"""The redaction rules' prefilter (shared/redaction_prefilter.py) stays fail-closed: a rule is skipped only for a
text that cannot hold a match of it, the literals table is current, and redacting with the prefilter gives what
running every rule gives."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared import redaction
from shared.redaction import redact_text, rule_sources
from shared.redaction_literals import LITERALS
from shared.redaction_prefilter import key_of, literals_of, lowered, may_match, required_literals, table

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TEXTS = [json.loads(line)["text"] for line in (FIXTURES / "secrets" / "corpus.jsonl").read_text().splitlines()
         if line.strip()] + [line for path in (FIXTURES / "secrets" / "benign.txt", FIXTURES / "benign_corpus.txt")
                             for line in path.read_text().splitlines() if line]
RULES = redaction._RULES


def test_the_literals_table_is_current() -> None:
    """`python -m shared.redaction_prefilter` rewrites shared/redaction_literals.py after a rule changes (until then
    the changed rule finds no entry and always runs)."""
    assert table(rule_sources()) == LITERALS
    assert sum(bool(rule.literals) for rule in RULES) >= len(RULES) * 3 // 4  # most rules have literals


def test_a_changed_pattern_has_no_literals_and_always_runs() -> None:
    source, flags = rule_sources()[5]
    assert literals_of(source, flags) and literals_of(source + "x", flags) == ()
    assert key_of(source, flags) != key_of(source, flags | re.I)
    assert may_match((), "anything") and may_match(("abc",), None)  # a text that is not ASCII: every rule runs


@pytest.mark.parametrize(("pattern", "flags", "literals"), [
    (r"\bglpat-[0-9A-Za-z_-]{20,}", 0, ("glpat-",)),
    (r"(?:hf_|api_org_)[A-Za-z]{34}", 0, ("api_org_", "hf_")),
    (r"(?i)\bBearer\s+\S+", 0, ("bearer",)),
    (r"\b(?:sk|rk)_(?:live|test)_x{3}", 0, ("live", "test")),
    (r"x?[0-9a-f]{32}", 0, ()),  # nothing required: always runs
    (r"(?:abc|[0-9]+)def", 0, ("def",)),  # a branch with no literal: the run after it
    (r"(?:abc)*def", 0, ("def",)),  # a repeat that may match nothing requires nothing
    (r"(?=secret)\w+", 0, ()),  # a lookahead is not counted
])
def test_the_derivation_names_only_what_every_match_contains(pattern: str, flags: int,
                                                             literals: tuple[str, ...]) -> None:
    assert required_literals(pattern, flags) == literals


def test_every_match_of_a_rule_in_the_corpora_holds_one_of_its_literals() -> None:
    for rule in RULES:
        for text in TEXTS:
            for line in {text, *text.splitlines()}:
                if rule.pattern.search(line):
                    assert may_match(rule.literals, lowered(line)), (rule.kind, rule.source, line)


@pytest.mark.parametrize("index", range(len(RULES)), ids=[f"{i}-{r.kind}" for i, r in enumerate(RULES)])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_what_a_rule_matches_holds_one_of_its_literals(index: int, data: st.DataObject) -> None:
    """Strings generated from each rule's own pattern, in any case: every one the rule matches passes the filter."""
    rule = RULES[index]
    if not rule.literals:
        return
    try:
        text = data.draw(st.from_regex(rule.pattern))
    except Exception:  # a construct hypothesis cannot generate (a back-reference): the corpora cover it
        return
    for variant in (text, text.upper(), text.swapcase()):
        if variant.isascii() and rule.pattern.search(variant):
            assert may_match(rule.literals, lowered(variant)), (rule.kind, rule.source, variant)


def test_redaction_with_the_prefilter_is_redaction_with_every_rule() -> None:
    for text in TEXTS:
        for variant in (text, text.upper(), text.lower()):
            assert redact_text(variant) == redact_text(variant, prefilter=False), variant
