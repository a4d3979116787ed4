"""Hand-off adapters (the HandOffTarget port, shared/ports.py): PagerDuty's Events API v2 and Jira's REST API v3, and
which of them the settings configure (`make_targets`), each built on its first use. Apart from the hand-off
operations (functions/handoffs.py), so that a function whose settings configure none imports neither."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.config import Settings
    from shared.ports import HandOffRequest, HandOffResult, HandOffTarget


class LazyTarget:
    """An integration built on its first use: a credential named by its Secret Manager secret is read then, not
    when a function starts."""

    def __init__(self, name: str, build: Callable[[], HandOffTarget]):
        self.name = name
        self._build = build
        self._target: HandOffTarget | None = None

    @property
    def target(self) -> HandOffTarget:
        if self._target is None:
            self._target = self._build()
        return self._target

    def send(self, request: HandOffRequest) -> HandOffResult:
        return self.target.send(request)

    def resolve(self, request: HandOffRequest) -> HandOffResult | None:
        resolve = getattr(self.target, "resolve", None)
        return resolve(request) if callable(resolve) else None


def make_targets(settings: Settings) -> dict[str, HandOffTarget]:
    """The integrations the settings configure, each built (its credential read) on first use."""
    from shared.secrets import credential

    targets: dict[str, HandOffTarget] = {}
    if settings.pagerduty_routing_key or settings.pagerduty_routing_key_secret:
        def pagerduty() -> HandOffTarget:
            from shared.handoff.pagerduty import PagerDutyHandOff

            key = credential(settings.pagerduty_routing_key, settings.pagerduty_routing_key_secret)
            return PagerDutyHandOff(key, settings.pagerduty_url)

        targets["pagerduty"] = LazyTarget("pagerduty", pagerduty)
    if settings.jira_url and settings.jira_project and (settings.jira_api_token or settings.jira_api_token_secret):
        def jira() -> HandOffTarget:
            from shared.handoff.jira import JiraHandOff

            token = credential(settings.jira_api_token, settings.jira_api_token_secret)
            return JiraHandOff(settings.jira_url, settings.jira_email, token, settings.jira_project,
                               settings.jira_issue_type)

        targets["jira"] = LazyTarget("jira", jira)
    return targets
