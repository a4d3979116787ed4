"""The severity vocabulary, in one place: Cloud Logging's levels, their order, and the level a log line states.

Every adapter and analyst reads severities through here, so a word such as WARN or FATAL means the same
everywhere.
"""

from __future__ import annotations

import re

SEVERITIES = ("DEFAULT", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT", "EMERGENCY")

_LEVEL = re.compile(r"\b(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|SEVERE|CRITICAL|CRIT|FATAL|PANIC|"
                    r"EMERGENCY|EMERG)\b")
_LEVEL_SEVERITY = {"TRACE": "DEBUG", "WARN": "WARNING", "ERR": "ERROR", "SEVERE": "ERROR", "CRIT": "CRITICAL",
                   "FATAL": "CRITICAL", "PANIC": "CRITICAL", "EMERG": "EMERGENCY"}
LEVEL_SCAN_CHARS = 120  # a line states its level near its start (after a timestamp, maybe a thread)


def severity_rank(severity: str) -> int:
    """0 for DEFAULT .. 8 for EMERGENCY; unknown severities count as DEFAULT."""
    try:
        return SEVERITIES.index(severity.upper())
    except ValueError:
        return 0


def severity_of(line: str) -> str:
    """The Cloud Logging severity a line states in its first level token; DEFAULT when it states none."""
    m = _LEVEL.search(line[:LEVEL_SCAN_CHARS])
    return _LEVEL_SEVERITY.get(m.group(1), m.group(1)) if m else "DEFAULT"
