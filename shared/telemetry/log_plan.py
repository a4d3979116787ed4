"""Reading a busy project's logs by plan: what an investigation needs first, then a sample of the rest.

On a busy project the newest 20,000 lines of a window may cover seconds of it. So a window is read in parts, each
with a resource-scoped filter (shared/telemetry/cloud_logging.py `build_filter`):

- every WARNING-and-above entry of the services in question over the whole window (up to the reader's bound,
  newest first, as any read);
- the lower severities: on a quiet window all of them; on a busy one a sample that spans the whole window instead
  of its last seconds: at most `per_slice` of its newest lines, then the time before those cut into `slices - 1`
  equal parts, at most `per_slice` entries of each (newest first within its part).

The result says what was read whole and what was sampled (its note is the report's coverage line). On a quiet
project every part is read whole, and the plan reads what one read would have.
"""

from __future__ import annotations

from typing import Protocol

from shared.telemetry_records import LogRecord, ReadCost, ReadResult, Window

FLOOR = "WARNING"  # this level and above is read whole
SLICES = 4  # equal parts of the window the lower severities are sampled from
PER_SLICE = 1000  # entries of each part at most (one entries.list page)


class SeverityLogReader(Protocol):
    def logs(self, window: Window, services: list[str] | None = None, severity: str = "",
             max_entries: int | None = None) -> ReadResult[LogRecord]: ...


def read_by_plan(reader: SeverityLogReader, window: Window, services: list[str] | None = None,
                 slices: int = SLICES, per_slice: int = PER_SLICE) -> ReadResult[LogRecord]:
    """The window's logs by plan (see the module's docstring), oldest first. The whole read keeps the reader's
    bound (`max_entries`): the sample of the lower severities gets what the severe entries leave of it. A quiet
    window costs two requests: the severe entries, then the lower severities, whole; only when that second read
    is cut (it kept the window's newest lines) are the earlier parts of the window read, one request each."""
    if slices < 1 or per_slice < 1:
        raise ValueError("slices and per_slice must be positive")
    if services is not None and not services:
        return ReadResult([], note="logs: no services asked for")
    severe = reader.logs(window, services, severity=f">= {FLOOR}")  # a failure here fails the read
    items, calls = list(severe.items), severe.cost.api_calls
    room = max(getattr(reader, "max_entries", slices * per_slice) - len(items), 0)
    sizes = [min(per_slice, room // slices + (1 if i < room % slices else 0)) for i in range(slices)]
    low, parts, cut_notes, unread = 0, 0, [], []

    def sample(part: Window, size: int, label: str) -> ReadResult[LogRecord] | None:
        nonlocal low, calls, parts
        parts += 1
        if size == 0:
            unread.append(f"{label} (no room left in the read's bound)")
            return None
        try:
            read = reader.logs(part, services, severity=f"< {FLOOR}", max_entries=size)
        except Exception as exc:  # the severe entries stand; the part is said to be unread
            unread.append(f"{label} ({type(exc).__name__})")
            return None
        items.extend(read.items)
        low += len(read.items)
        calls += read.cost.api_calls
        return read

    newest = sample(window, sizes[-1], "the newest part")
    if newest is not None and newest.sampled:  # busy: the rest of the window, in equal parts before what was read
        cut_notes.append(f"the newest part: {newest.note}")
        end = min((r.timestamp for r in newest.items), default=window.end)
        step = (end - window.start) / max(slices - 1, 1)
        for i in range(slices - 1):
            part = Window(window.start + i * step, end if i == slices - 2 else window.start + (i + 1) * step)
            read = sample(part, sizes[i], f"part {i + 1}")
            if read is not None and read.sampled:
                cut_notes.append(f"part {i + 1}: {read.note}")
    items.sort(key=lambda r: r.timestamp)
    if not (severe.sampled or cut_notes or unread):
        return ReadResult(items, cost=ReadCost(api_calls=calls))
    severe_said = (f"every {FLOOR}-and-above entry of the window read ({len(severe.items)})" if not severe.sampled
                   else f"{FLOOR}-and-above entries cut ({severe.note})")
    note = (f"logs read by plan: {severe_said}; lower severities sampled: {low} entries, at most {max(sizes)} "
            f"from each of {parts} part(s) of the window (its newest lines, then equal parts before them), "
            "newest first in each")
    if cut_notes:
        note += f"; {len(cut_notes)} part(s) had more ({'; '.join(cut_notes)})"
    if unread:
        note += f"; unread: {', '.join(unread)}"
    return ReadResult(items, True, note, ReadCost(api_calls=calls))
