"""Masking: secrets and personal data out of every line we store or show, and variables out of lines before
they are clustered into patterns. Generic rules only: nothing here knows one system's log format."""

from __future__ import annotations

import re


def mask_secrets(text: str) -> str:
    """Replace tokens, keys, passwords, e-mails and card numbers with labelled placeholders (<SECRET>, <TOKEN>,
    <API_KEY>, <EMAIL>, ...): the rules of shared.redaction, the one redaction boundary, with short labels."""
    from shared.redaction import redact_text, short_placeholder

    return redact_text(text, placeholder=short_placeholder)


# Variables -> <*> before clustering, so that fresh values do not create fresh patterns.
_VARIABLES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"), "<*>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"), "<*>"),
    (re.compile(r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b"), "<*>"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b"), "<*>"),
    (re.compile(r"\b(?:0x)?[0-9a-fA-F]*\d[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\b|"
                r"\b(?:0x)?[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\d[0-9a-fA-F]*\b"), "<*>"),
    (re.compile(r"\b[A-Za-z]{1,6}[-_]?\d{3,}\w*\b"), "<*>"),  # ids such as u1234, SKU-40213, ord_889
    # numbers (with a unit); not the line number of a code location such as Class#48
    (re.compile(r"(?<![\w.])(?<![A-Za-z]#)[-+]?\d+(?:\.\d+)?"
                r"(?:ms|s|us|ns|m|h|kb|mb|gb|KB|MB|GB|B|%|\s(?:[KMGT]i?B|B|ms|us|ns)\b)?(?![A-Za-z])"), "<*>"),
]
# a host name with a port (db-0.svc.local:5432, proxy.example.org:5070): one network endpoint, one variable, not
# a host word (a parameter) beside a port; a dotted name is needed so that key:value (status:200) is not taken
# a value after a dot leader (icache prefetch depth.......0, name....value): the leader ends the key, the value is
# a variable of its own; otherwise the key word and its value are masked as one identifier
DOT_LEADER = re.compile(r"(?<=\.\.)[-+]?\d[\w\-]*(?:\.\d+)?")
HOST_PORT = re.compile(r"(?<![\w.\-/])[A-Za-z][\w\-]*(?:\.[\w\-]+)+:\d{1,5}\b")
_LEADING_PREFIX = re.compile(
    r"^\s*(?:\[?\d{2,4}[-/]\d{2}[-/]\d{2}[T ]?\S*\]?\s+)?(?:\[?\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\]?\s+)?"
    r"(?:\[?(?:TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|FATAL|CRITICAL|SEVERE)\]?:?\s+)?")


def strip_prefix(line: str) -> str:
    """Drop a leading date/time and level token: they are metadata, not the message."""
    stripped = _LEADING_PREFIX.sub("", line, count=1)
    return stripped or line


# Whatever digits are left sit inside identifiers: rdd_12_3, subdir7, core.48211, attempt_2008..._0001.
# Those are variables too, except a short word with one trailing digit (en0, v2, IPV4: a name, not a value)
# and a code location (Class#48, a.b.Travel2Controller#129): one log statement, a constant. The lookbehind
# leaves its line number alone; the class name is kept when a line number follows it.
_DIGIT_WORD = re.compile(r"(?<![#\w.\-])[\w.\-]*\d[\w.\-]*")
_NAME_WITH_DIGIT = re.compile(r"[A-Za-z]{1,12}\d")
CODE_LOCATION = re.compile(r"(?<![\w.$])[A-Za-z_][\w.$]*[A-Za-z]#\d+")


def _mask_digit_word(m: re.Match[str]) -> str:
    word, after = m.group(0), m.string[m.end():m.end() + 2]
    if _NAME_WITH_DIGIT.fullmatch(word) or (word[-1:].isalpha() and after[:1] == "#" and after[1:].isdigit()):
        return word
    return "<*>"


def mask_variables(line: str, host_port: bool = True, dot_leader: bool = True) -> str:
    if host_port:
        line = HOST_PORT.sub("<*>", line)
    if dot_leader and ".." in line:
        line = DOT_LEADER.sub("<*>", line)
    for pattern, repl in _VARIABLES:
        line = pattern.sub(repl, line)
    return _DIGIT_WORD.sub(_mask_digit_word, line)
