"""The chat thread's trigger policy (settings): which incidents the channel is told of, and when. Every function
builds it with its pipeline, so it sits apart from the thread itself (functions/chat_thread.py), which imports the
incident log's payloads."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from shared.config import Settings
    from shared.incident_state import IncidentState


class NotYet(Exception):
    """The update waits (quiet hours, or another delivery is telling it or opening the thread): it is re-driven,
    and no later update overtakes it."""


def minutes(hhmm: str) -> int:
    hours, _, mins = hhmm.strip().partition(":")
    value = int(hours) * 60 + int(mins or 0)
    if not 0 <= value < 24 * 60:
        raise ValueError(f"not a time of day: {hhmm!r}")
    return value


class ChatPolicy(NamedTuple):
    """Which incidents the channel is told of, and when."""

    severities: tuple[str, ...] = ()  # empty: every severity
    services: tuple[str, ...] = ()  # empty: every service
    quiet: tuple[int, int] | None = None  # quiet hours, minutes of the UTC day (start, end; may wrap midnight)
    quiet_severities: tuple[str, ...] = ("critical",)

    @classmethod
    def from_settings(cls, settings: Settings) -> ChatPolicy:
        quiet = None
        if settings.quiet_hours.strip():
            start, _, end = settings.quiet_hours.partition("-")
            quiet = (minutes(start), minutes(end))
        return cls(tuple(s.lower() for s in settings.notify_severities), tuple(settings.notify_services), quiet,
                   tuple(s.lower() for s in settings.quiet_hours_severities))

    def refuses(self, state: IncidentState) -> str:
        """Why the channel is not told of this incident at all ("" when it is)."""
        alert = state.first_alert
        severity, service = (alert.severity.lower(), alert.service) if alert else ("", "")
        if self.severities and severity not in self.severities:
            return f"severity {severity or 'none'} is not among those notified ({', '.join(self.severities)})"
        if self.services and service not in self.services:
            return f"service {service or 'unknown'} is not among those notified"
        return ""

    def holds(self, state: IncidentState, now: float) -> bool:
        """Whether an update waits for the end of the quiet hours."""
        if self.quiet is None:
            return False
        alert = state.first_alert
        if alert is not None and alert.severity.lower() in self.quiet_severities:
            return False
        start, end = self.quiet
        minute = int(now // 60) % (24 * 60)
        return start <= minute < end if start <= end else minute >= start or minute < end
