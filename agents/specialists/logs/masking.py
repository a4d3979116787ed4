"""Masking: secrets and personal data out of every line we store or show, and variables out of lines before
they are clustered into patterns. Generic rules only: nothing here knows one system's log format."""

from __future__ import annotations

import re


def mask_secrets(text: str) -> str:
    """Replace tokens, keys, passwords, e-mails and card numbers with labelled placeholders (<SECRET>, <TOKEN>,
    <API_KEY>, <EMAIL>, ...): the rules of shared.redaction, the one redaction boundary, with short labels."""
    from shared.redaction import redact_text, short_placeholder

    return redact_text(text, placeholder=short_placeholder)


# A date or a time, whatever its written form, as one variable: an optional weekday, then a date (numeric with
# separators, or with a month name before or after the day) with an optional time, zone and a year after the time
# (Sun Jul 24 02:38:22 PDT 2005); or a time alone (with seconds, or with AM/PM). Names only beside digits: a weekday
# or a month alone is a word. Every rule here treats all digits alike (the pattern miner's cache relies on it).
_MONTH = (r"(?=[A-Z])(?i:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_WEEKDAY = r"(?=[A-Z])(?i:mon|tue(?:s)?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?i:day)?\.?,?\s+"
_CLOCK = r"\d{1,2}:\d{2}(?::\d{2})?(?:[.,:]\d{1,9})?"
_MERIDIEM = r"\s?(?i:[ap]\.?m\.?)(?![\w.])"
_ZONE = r"(?:\s?(?:Z|[+-]\d{2}:?\d{2}|UTC|GMT|[A-Z]{2,3}T)\b)?"
_DATE = (r"(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4}|\d{2}[-/]\d{2}[-/]\d{2}"
         rf"|\d{{1,2}}[-/ ]{_MONTH}[-/ ],?\s*\d{{2,4}}|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?)")
DATE_TIME = re.compile(
    rf"(?=[\dA-Z])(?<![\w.:/-])(?:(?:{_WEEKDAY})?{_DATE}(?:(?:[T\s:-]|,\s)\s?{_CLOCK}(?:{_MERIDIEM})?{_ZONE}(?:\s\d{{4}}\b)?)?"
    rf"|\d{{8}}[-T]{_CLOCK}{_ZONE}|\d{{1,2}}:\d{{2}}(?::\d{{2}}(?:[.,]\d{{1,9}})?{_ZONE}|{_MERIDIEM}))"
    r"(?![\w/:]|[-.]\d)")
# an empty group, "()" or "[]" standing alone (not a call's parentheses): an optional value that is absent, the
# same variable as "(host.example.org)" beside it
EMPTY_GROUP = re.compile(r"(?<=(?<![\w)\]])\()(?=\)(?!\w))|(?<=(?<![\w)\]])\[)(?=\](?!\w))")  # inside it

_UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
# Variables -> <*> before clustering, so that fresh values do not create fresh patterns (after the above).
_VARIABLES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b"), "<*>"),
    (re.compile(r"\b(?:0x)?[0-9a-fA-F]*\d[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\b|"
                r"\b(?:0x)?[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\d[0-9a-fA-F]*\b"), "<*>"),
    (re.compile(r"\b[A-Za-z]{1,6}[-_]?[-+]?\d{3,}\w*\b"), "<*>"),  # ids such as u1234, SKU-40213, ord_889, blk_-77
    # numbers (with a unit); not the line number of a code location such as Class#48
    (re.compile(r"(?<![\w.])(?<![A-Za-z]#)[-+]?\d+(?:\.\d+)?"
                r"(?:ms|s|us|ns|m|h|kb|mb|gb|KB|MB|GB|B|%|\s(?:[KMGT]i?B|B|ms|us|ns)\b)?(?![A-Za-z])"), "<*>"),
]
# a value after a dot leader (icache prefetch depth.......0, name....value): the leader ends the key, the value is
# a variable of its own; otherwise the key word and its value are masked as one identifier
DOT_LEADER = re.compile(r"(?<=\.\.)[-+]?\d[\w\-]*(?:\.\d+)?")
# a host name with a port (db-0.svc.local:5432, proxy.example.org:5070): one network endpoint, one variable, not
# a host word (a parameter) beside a port; a dotted name is needed so that key:value (status:200) is not taken
HOST_PORT = re.compile(r"(?<![\w.\-/])[A-Za-z][\w\-]*(?:\.[\w\-]+)+:\d{1,5}\b")
_LEADING_PREFIX = re.compile(
    rf"^\s*(?:\[?(?:{DATE_TIME.pattern})\]?\s+)?"
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


def mask_variables(line: str, host_port: bool = True, dot_leader: bool = True, dates: bool = True,
                   empty_groups: bool = True) -> str:
    """Variables -> <*>; the switches turn single rules off (the pattern miner's ablation)."""
    if host_port:
        line = HOST_PORT.sub("<*>", line)
    if dot_leader and ".." in line:
        line = DOT_LEADER.sub("<*>", line)
    line = _UUID.sub("<*>", line)
    if dates:
        line = DATE_TIME.sub("<*>", line)
    if empty_groups and ("()" in line or "[]" in line):
        line = EMPTY_GROUP.sub("<*>", line)
    for pattern, repl in _VARIABLES:
        line = pattern.sub(repl, line)
    return _DIGIT_WORD.sub(_mask_digit_word, line)
