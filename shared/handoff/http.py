"""One JSON POST with the retries an API documents: 429 (after its Retry-After, bounded) and 5xx and network errors
are retried with backoff; any other answer is returned as it is. Never raises."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Answer:
    status: int  # 0: no HTTP answer (unreachable, malformed address)
    body: Any  # the JSON answer (None when there was none or it was not JSON)
    detail: str  # what happened, in words


def post_json(url: str, body: dict[str, Any], headers: dict[str, str], attempts: int = 4, backoff_s: float = 0.5,
              max_wait_s: float = 30.0, timeout_s: float = 10.0,
              sleep: Callable[[float], None] = time.sleep) -> Answer:
    data = json.dumps(body).encode()
    last = Answer(0, None, "not sent")
    for attempt in range(1, attempts + 1):
        wait = backoff_s * 2 ** (attempt - 1)
        try:
            request = urllib.request.Request(url, data=data, method="POST",
                                             headers={"Content-Type": "application/json",
                                                      "Accept": "application/json", **headers})
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                return Answer(response.status, _json(response.read()), f"HTTP {response.status} after {attempt} "
                                                                        "attempt(s)")
        except urllib.error.HTTPError as exc:
            last = Answer(exc.code, _json(exc.read()), f"HTTP {exc.code}")
            if exc.code == 429:
                after = exc.headers.get("Retry-After")
                try:
                    wait = float(after) if after is not None else wait
                except ValueError:
                    pass
                if wait > max_wait_s:
                    return Answer(exc.code, last.body, f"HTTP 429: retry after {after} s, not waited for")
            elif exc.code < 500:
                return Answer(exc.code, last.body, f"HTTP {exc.code}: not retried")
        except (ValueError, http.client.InvalidURL) as exc:
            return Answer(0, None, f"{type(exc).__name__}: {exc}: not retried")
        except (urllib.error.URLError, TimeoutError, OSError, http.client.HTTPException) as exc:
            last = Answer(0, None, f"{type(exc).__name__}: {exc}")
        if attempt < attempts:
            sleep(max(0.0, wait))
    return Answer(last.status, last.body, f"{last.detail} after {attempts} attempts")


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
