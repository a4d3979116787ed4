"""The cyclic garbage collector paused around work that makes many small objects which all live on until it ends
(a big read's records, the log analyst's trails): each of the collector's passes would scan them all again, and
reference counting frees whatever they drop. Nothing made under the pause may rely on the collector (no cycles)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
