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

Lines with fresh numbers in their messages are told by their bytes too, when the reader says the identity does
not depend on them (`blind`): the key then has every ASCII digit of the message text as 0. Only for a message
that is the line's last member before the trace and span (or the closing brace) and whose text holds no quote
and no backslash: then the text is the whole message as it is (a JSON string without escapes), the other
digits of the same key give a valid line too, and its record differs only in those digits of its message.
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
# the time's text: printable ASCII but quote and backslash (a JSON string's text as it is), to its closing quote
_HEAD = re.compile(rb'\{"timestamp":"[ !#-\[\]-~]*"')
_TRACE = b',"trace":"'
_PAYLOAD = b',"textPayload":"'
_DIGITS = bytes.maketrans(b"0123456789", b"0000000000")
NOT_BLIND = -1  # `shaped`: lines of this shape are told apart by their digits
_TAIL = re.compile(rb',"trace":"([ !#-\[\]-~]*)"(?:,"spanId":"[ !#-\[\]-~]*")?\}\n?')


def _trace_id(trace: bytes) -> str:
    return trace.rsplit(b"/", 1)[-1].decode("ascii")  # as decode_log takes it from the trace's resource name


def _shape_key(raw: bytes, j: int, stop: int, tail: re.Match[bytes] | None) -> tuple[bytes, int, int] | None:
    """(the line's key with every ASCII digit of its message as 0, where its message's text starts and ends), for
    a line whose textPayload is its last member before the trace and span (or the closing brace), its text as it is
    (no quote, no backslash: no escape) and holding no "#" nor a digit before an "x" (what the pattern miner's
    shapes treat apart); else None."""
    q = raw.rfind(_PAYLOAD, j, stop)
    if q < 0:
        return None
    a = q + len(_PAYLOAD)
    if tail is not None:
        close = stop - 1 if raw[stop - 1:stop] == b'"' else -1
    else:
        close = stop - 3 if raw.endswith(b'"}\n') else stop - 2 if raw.endswith(b'"}') else -1
    if close < a:
        return None
    text = raw[a:close]
    if b'"' in text or b"\\" in text or b"#" in text:
        return None
    shape = text.translate(_DIGITS)
    if b"0x" in shape or b"0X" in shape:
        return None
    return raw[j:a] + shape + raw[close:stop] + (b"t" if tail is not None else b"p"), a, close


def variants(index: Index[LogRecord], lo: int, hi: int, identity: Callable[[LogRecord], K], traces: int,
             blind: Callable[[LogRecord], bool] | None = None
             ) -> tuple[array[int], list[K], dict[int, list[tuple[int, str]]]]:
    """(the variant of each line lo..hi-1, the identity of each variant, the first `traces` trace ids of each
    variant with the line of each: `LogVariants`). `blind(record)`: whether every record equal to this one but for
    the ASCII digits of its message has its identity (then such lines are told by their bytes too)."""
    plain: dict[bytes, int] = {}  # line bytes but its time -> variant (a line without trace and span texts)
    tailed: dict[bytes, int] = {}  # line bytes between its time and its trace -> variant
    plain_trace: dict[bytes, str] = {}  # the trace id of a plain line (part of its key)
    shaped: dict[bytes, int] = {}  # `_shape_key` -> variant, or NOT_BLIND
    shaped_trace: dict[bytes, str] = {}
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

    head, end, plain_variant, tailed_variant = _HEAD.match, _TAIL.fullmatch, plain.get, tailed.get
    for n, raw in enumerate(index.raw_lines(lo, hi)):
        key = tail = shape = None
        if raw is not None and (m := head(raw)) is not None:
            j = m.end() - 1
            p = raw.rfind(_TRACE, j)
            tail = end(raw, p) if p > 0 else None
            if tail is None:
                key = raw[j:]
                v = plain_variant(key)
            else:
                key = raw[j:p]
                v = tailed_variant(key)
            if v is None and blind is not None:
                shape = _shape_key(raw, j, len(raw) if tail is None else p, tail)
                if shape is not None:
                    v = shaped.get(shape[0])
                    if v == NOT_BLIND:
                        v = None
                    elif v is not None and key_bytes < MAX_KEY_BYTES:  # lines often come again as they are
                        key_bytes += len(key)
                        if tail is None:
                            plain[key], plain_trace[key] = v, shaped_trace[shape[0]]
                        else:
                            tailed[key] = v
            if v is not None:
                append(v)
                if v in wanting:
                    note_trace(v, n, _trace_id(tail.group(1)) if tail is not None else
                               plain_trace[key] if shape is None else shaped_trace[shape[0]])
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
        append(v)
        if v in wanting:
            note_trace(v, n, record.trace_id)
        if key is None or key_bytes >= MAX_KEY_BYTES or (
                tail is not None and _trace_id(tail.group(1)) != record.trace_id):
            continue
        key_bytes += len(key)
        if tail is None:
            plain[key], plain_trace[key] = v, record.trace_id
        else:
            tailed[key] = v
        if shape is not None and shape[0] not in shaped:
            assert blind is not None and raw is not None
            told = blind(record) and record.message.encode("utf-8", "surrogatepass") == raw[shape[1]:shape[2]]
            shaped[shape[0]] = v if told else NOT_BLIND
            if tail is None:
                shaped_trace[shape[0]] = record.trace_id
            key_bytes += len(shape[0])
    return lines, out, found
