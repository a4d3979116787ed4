"""The Logging query language, as far as the Cloud Logging stand-in must honour it (the filters the reader
sends): comparisons `field OP value` or `field OP (value OR value ...)`, OP one of = != < <= > >=, `:` (the
has operator, a substring here) and =~ !~ (regular expressions); `AND`, `OR`, `NOT`, parentheses, and values
quoted ("..." with backslash escapes) or bare. `severity` compares by level (DEFAULT < DEBUG < INFO < NOTICE <
WARNING < ERROR < CRITICAL < ALERT < EMERGENCY; an entry without one is DEFAULT), `timestamp` by time; any other
field is a dotted path into the LogEntry JSON (`resource.labels.service_name`). A missing field compares false (and
`NOT` of it true), as the reference says. Anything else is a syntax error: the API answers 400 INVALID_ARGUMENT,
and so does the stand-in (FilterError)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from shared.telemetry.bundle import from_rfc3339

SEVERITIES = ("DEFAULT", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT", "EMERGENCY")
TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<op>=~|!~|>=|<=|!=|=|<|>|:)|(?P<paren>[()])'
                   r'|(?P<word>[^\s()"=<>!:]+))')
Predicate = Callable[[dict[str, Any]], bool]


class FilterError(ValueError):
    pass


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = TOKEN.match(text, pos)
        if m is None:
            raise FilterError(f"cannot parse the filter at {text[pos:pos + 20]!r}")
        kind = m.lastgroup or ""
        value = m.group(kind)
        out.append((kind, value[1:-1].replace('\\"', '"').replace("\\\\", "\\") if kind == "str" else value))
        pos = m.end()
    return out


def _field(entry: dict[str, Any], path: str) -> Any:
    value: Any = entry
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _compare(path: str, op: str, literal: str) -> Predicate:
    def key(v: Any) -> Any:
        if path == "severity":
            name = str(v or "DEFAULT").upper()
            if name not in SEVERITIES:
                raise FilterError(f"unknown severity {name}")
            return SEVERITIES.index(name)
        if path == "timestamp":
            return from_rfc3339(str(v))
        return str(v)

    target = key(literal)

    def test(entry: dict[str, Any]) -> bool:
        raw = _field(entry, path)
        if raw is None and path != "severity":
            return False
        value = key(raw)
        if op == ":":
            return str(literal).lower() in str(raw).lower()
        if op in ("=~", "!~"):  # a regular expression (RE2 in the API; these filters use its common subset)
            return (re.search(literal, str(raw)) is not None) == (op == "=~")
        return bool({"=": value == target, "!=": value != target, "<": value < target, "<=": value <= target,
                     ">": value > target, ">=": value >= target}[op])
    return test


def parse(text: str) -> Predicate:
    tokens = _tokens(text)
    pos = 0

    def peek() -> tuple[str, str] | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal pos
        if pos >= len(tokens):
            raise FilterError("unexpected end of the filter")
        pos += 1
        return tokens[pos - 1]

    def expr() -> Predicate:  # OR binds looser than AND
        parts = [conj()]
        while peek() == ("word", "OR"):
            take()
            parts.append(conj())
        return parts[0] if len(parts) == 1 else (lambda e: any(p(e) for p in parts))

    def conj() -> Predicate:
        parts = [factor()]
        while (t := peek()) is not None and t != ("paren", ")") and t != ("word", "OR"):
            if t == ("word", "AND"):
                take()
            parts.append(factor())
        return parts[0] if len(parts) == 1 else (lambda e: all(p(e) for p in parts))

    def factor() -> Predicate:
        kind, value = take()
        if (kind, value) == ("word", "NOT"):
            inner = factor()
            return lambda e: not inner(e)
        if (kind, value) == ("paren", "("):
            inner = expr()
            if take() != ("paren", ")"):
                raise FilterError("unbalanced parenthesis")
            return inner
        if kind != "word":
            raise FilterError(f"expected a field, got {value!r}")
        op_kind, op = take()
        if op_kind != "op":
            raise FilterError(f"expected an operator after {value}, got {op!r}")
        if peek() == ("paren", "("):  # field OP ("a" OR "b"): any of the values
            take()
            alternatives = [_compare(value, op, _value(value, op))]
            while peek() == ("word", "OR"):
                take()
                alternatives.append(_compare(value, op, _value(value, op)))
            if take() != ("paren", ")"):
                raise FilterError("unbalanced parenthesis")
            return lambda e: any(a(e) for a in alternatives)
        return _compare(value, op, _value(value, op))

    def _value(field: str, op: str) -> str:
        kind, literal = take()
        if kind not in ("str", "word"):
            raise FilterError(f"expected a value after {field} {op}")
        return literal

    predicate = expr()
    if pos != len(tokens):
        raise FilterError(f"unexpected {tokens[pos][1]!r}")
    return predicate
