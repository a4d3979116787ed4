"""Reading a bundle's JSON-lines file in chunks of whole lines, a line longer than a chunk given by its head only,
and placing such a line in time from its head. Used by shared/telemetry/bundle_index.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from shared.telemetry.bundle_codec import BundleError, from_rfc3339

CHUNK = 1 << 24
MAX_LINE_BYTES = 64 * 1024  # a longer line is read only this far: its record is cut (`Salvage`), or skipped


def chunks(path: Path) -> Iterator[tuple[int, int, list[bytes], dict[int, int]]]:
    """(byte offset, line number of the first line, lines, {k: length} of the lines given by their first
    MAX_LINE_BYTES only) of a file, read in chunks of whole lines. A line longer than a chunk is not held: its
    head is kept and the rest read past, so memory stays within two chunks whatever the file."""
    offset, lineno, rest = 0, 1, b""
    head: bytes | None = None  # the start of a line longer than a chunk, while reading past its rest
    length = 0
    with open(path, "rb") as f:
        while True:
            data = f.read(CHUNK)
            if head is not None:
                end = data.find(b"\n")
                if end < 0 and data:
                    length += len(data)
                    continue
                length += end if end >= 0 else len(data)
                yield offset, lineno, [head], {0: length}
                offset, lineno = offset + length + (end >= 0), lineno + 1
                data, head = data[end + 1:] if end >= 0 else b"", None
                if not data:
                    continue
            buf = rest + data
            if not buf:
                return
            cut = buf.rfind(b"\n") + 1 if data else len(buf)
            if cut == 0:
                if len(buf) > CHUNK:
                    head, length, rest = buf[:MAX_LINE_BYTES], len(buf), b""
                else:
                    rest = buf
                continue
            buf, rest = buf[:cut], buf[cut:]
            lines = buf.split(b"\n")
            if buf.endswith(b"\n"):
                lines.pop()
            yield offset, lineno, lines, {}
            offset, lineno = offset + len(buf), lineno + len(lines)


_HEAD_TIME = re.compile(rb'"(?:timestamp|startTime)":\s*"([^"\\]{1,64})"')
_HEAD_SERVICE = re.compile(rb'"(?:service_name|service\.name)":\s*(?:\{"stringValue":\s*\{"value":\s*)?"([^"\\]*)"')
_HEAD_TRACE = re.compile(rb'/traces/([^"\\/]*)')


def place_head(head: bytes) -> tuple[float, bytes, bytes] | None:
    """(time, service, trace id) of a line from its first bytes (a line too long to read whole); None when they
    name no time."""
    t = _HEAD_TIME.search(head)
    if t is None:
        return None
    try:
        at = from_rfc3339(t.group(1).decode("ascii"))
    except (BundleError, UnicodeDecodeError):
        return None
    service, trace = _HEAD_SERVICE.search(head), _HEAD_TRACE.search(head)
    return at, service.group(1) if service else b"", trace.group(1) if trace else b""
