"""The recovery checks' settings: a module of their own, so that building a pipeline does not import the checks
(and the telemetry records they read) in every function."""

from __future__ import annotations

from typing import NamedTuple


class CheckSettings(NamedTuple):
    window_s: float = 900.0  # how long after the action the SLI is read (0: recovery checks are off)
    sustain: int = 3  # this many last points on the good side: recovered
