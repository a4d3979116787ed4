"""Gemini through google-genai: the one place the narrative's model is called (lazily imported).

Two ways in: an API key (Gemini API), or Vertex AI with the function's own identity (Application Default
Credentials: no key in an environment variable; the service account needs roles/aiplatform.user). Gemini 2.5 models
spend "thinking" tokens out of `max_output_tokens`, so a small budget could come back empty: the thinking budget is
set explicitly and added on top of the tokens the narrative needs.

`last_usage` is the token count of this thread's last call (the response's usage_metadata: prompt tokens in,
candidate plus thinking tokens out, as both are billed as output), for the cost ledger.
"""

from __future__ import annotations

import threading
from typing import Any

from shared.llm_models import DEFAULT_MODEL


class GeminiWriter:
    def __init__(self, api_key: str = "", model: str = DEFAULT_MODEL, base_url: str = "",
                 timeout_s: float = 30.0, client: Any = None, vertex_project: str = "",
                 vertex_location: str = "us-central1", thinking_budget: int = 512):
        from google import genai
        from google.genai import types

        if client is None:
            options = types.HttpOptions(base_url=base_url or None, timeout=int(timeout_s * 1000),
                                        retry_options=types.HttpRetryOptions(attempts=3))
            if api_key:
                client = genai.Client(api_key=api_key, http_options=options)
            elif vertex_project:
                client = genai.Client(vertexai=True, project=vertex_project, location=vertex_location,
                                      http_options=options)
            else:
                raise ValueError("Gemini needs an API key or a Vertex AI project")
        self.client = client
        self.model = model
        self.thinking_budget = max(0, thinking_budget)
        self._usage = threading.local()

    @property
    def last_usage(self) -> dict[str, int]:
        """{"tokens_in": .., "tokens_out": ..} of this thread's last call ({} before any, or when not reported)."""
        usage: dict[str, int] = getattr(self._usage, "value", {})
        return dict(usage)

    def __call__(self, prompt: str, max_output_tokens: int) -> str:
        from google.genai import types

        self._usage.value = {}
        response = self.client.models.generate_content(
            model=self.model, contents=prompt,
            config=types.GenerateContentConfig(
                max_output_tokens=max_output_tokens + self.thinking_budget, temperature=0.2,
                thinking_config=types.ThinkingConfig(thinking_budget=self.thinking_budget)))
        meta = getattr(response, "usage_metadata", None)
        if meta is not None:
            def count(name: str) -> int:
                value = getattr(meta, name, None)
                return value if isinstance(value, int) else 0

            self._usage.value = {"tokens_in": count("prompt_token_count"),
                                 "tokens_out": count("candidates_token_count") + count("thoughts_token_count")}
        return str(response.text or "")
