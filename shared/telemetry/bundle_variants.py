"""A bundle's log lines by variant (`LogVariants`): a line is decoded only when its bytes, but for its time, trace
and span, were not met before. Used by `BundleSource.log_variants`.

Why a line told by its bytes is exact. A line as the writer writes it starts with `{"timestamp":"<time>"` and may
end with `,"trace":"<trace>"` and `,"spanId":"<span>"` then `}`. The time, trace and span texts are checked to be
printable ASCII without quote or backslash: such a text is a whole JSON string wherever it stands, so two lines
equal outside these texts parse alike (both valid or both not), into objects equal but for the values of those
three keys. The trace and span are the object's own (top-level) keys: in a valid line, a string right before the
closing brace is a member of the top-level object. Decoding reads neither the time (the index's is taken) nor,
for a record's service, instance, severity and message, the trace or span. So the bytes outside the three texts
(the key, looked up in a dict) give the record's identity, once a line with that key decoded; its trace is read
from its bytes. A key is taken only from a line that decoded to a record whose trace is the one its bytes say
(a line naming "trace" twice could say otherwise). Anything else is decoded line by line.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Callable, Hashable
from typing import TypeVar

from shared.telemetry.bundle_index import Index
from shared.telemetry_records import SKIPPED, LogRecord

K = TypeVar("K", bound=Hashable)
MAX_KEY_BYTES = 32 << 20  # the keys remembered (line bytes without time, trace and span), at most this many bytes
_HEAD = b'{"timestamp":"'
_TEXT_END = re.compile(rb'[ !#-\[\]-~]*"')  # a JSON string's text, printable ASCII but quote and backslash, its end
_TRACE = b',"trace":"'
_TAIL = re.compile(rb',"trace":"([ !#-\[\]-~]*)"(?:,"spanId":"[ !#-\[\]-~]*")?\}\n?')


def _trace_id(trace: bytes) -> str:
    return trace.rsplit(b"/", 1)[-1].decode("ascii")  # as decode_log takes it from the trace's resource name


def variants(index: Index[LogRecord], lo: int, hi: int, identity: Callable[[LogRecord], K], traces: int
             ) -> tuple[array[int], list[K], dict[int, list[tuple[int, str]]]]:
    """(the variant of each line lo..hi-1, the identity of each variant, the first `traces` trace ids of each
    variant with the line of each: `LogVariants`)."""
    plain: dict[bytes, int] = {}  # line bytes but its time -> variant (a line without trace and span texts)
    tailed: dict[bytes, int] = {}  # line bytes between its time and its trace -> variant
    plain_trace: dict[bytes, str] = {}  # the trace id of a plain line (part of its key)
    ids: dict[K, int] = {}
    out: list[K] = []
    found: dict[int, list[tuple[int, str]]] = {}
    wanting: dict[int, set[str]] = {}  # variants with fewer than `traces` trace ids found: the ids
    key_bytes = 0
    lines = array("I")
    append = lines.append

    def note_trace(v: int, n: int, trace: str) -> None:
        seen = wanting[v]
        if trace and trace not in seen:
            seen.add(trace)
            found[v].append((n, trace))
            if len(seen) >= traces:
                del wanting[v]

    for n, raw in enumerate(index.raw_lines(lo, hi)):
        key = tail = None
        if raw is not None and raw.startswith(_HEAD):
            m = _TEXT_END.match(raw, 14)
            if m is not None:
                j = m.end() - 1
                p = raw.rfind(_TRACE, j)
                tail = _TAIL.fullmatch(raw, p) if p > 0 else None
                if tail is None:
                    key = raw[j:]
                    v = plain.get(key)
                else:
                    key = raw[j:p]
                    v = tailed.get(key)
                if v is not None:
                    append(v)
                    if v in wanting:
                        note_trace(v, n, _trace_id(tail.group(1)) if tail is not None else plain_trace[key])
                    continue
        record = index.line_record(lo + n, raw)
        if record is None:
            append(SKIPPED)
            continue
        ident = identity(record)
        v = ids.get(ident)
        if v is None:
            v = ids[ident] = len(out)
            out.append(ident)
            if traces > 0:
                wanting[v], found[v] = set(), []
        if key is not None and key_bytes < MAX_KEY_BYTES:
            if tail is None:
                plain[key], plain_trace[key] = v, record.trace_id
                key_bytes += len(key)
            elif _trace_id(tail.group(1)) == record.trace_id:
                tailed[key] = v
                key_bytes += len(key)
        append(v)
        if v in wanting:
            note_trace(v, n, record.trace_id)
    return lines, out, found
