"""Notifications to a Google Chat or Slack incoming webhook: retried with backoff, a failure is returned (and
recorded by the caller), never raised into the pipeline."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class WebhookNotifier:
    url: str
    attempts: int = 4
    backoff_s: float = 0.5
    timeout_s: float = 5.0
    sleep: Callable[[float], None] = time.sleep

    @property
    def channel(self) -> str:
        return "chat" if "chat.googleapis.com" in self.url else "slack" if "hooks.slack.com" in self.url else "webhook"

    def send(self, text: str) -> tuple[bool, str]:
        """POST {"text": ...} (both Chat and Slack accept it). Returns (delivered, detail)."""
        body = json.dumps({"text": text}).encode()
        detail = ""
        for attempt in range(1, self.attempts + 1):
            request = urllib.request.Request(self.url, data=body, method="POST",
                                             headers={"Content-Type": "application/json; charset=UTF-8"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    return True, f"HTTP {response.status} after {attempt} attempt(s)"
            except urllib.error.HTTPError as exc:
                detail = f"HTTP {exc.code}"
                if exc.code < 500 and exc.code != 429:
                    return False, f"{detail}: not retried"
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                detail = f"{type(exc).__name__}: {exc}"
            if attempt < self.attempts:
                self.sleep(self.backoff_s * 2 ** (attempt - 1))
        return False, f"{detail} after {self.attempts} attempts"
