"""Gemini through google-genai: the one place the narrative's model is called (lazily imported)."""

from __future__ import annotations

from typing import Any


class GeminiWriter:
    def __init__(self, api_key: str, model: str = "gemini-2.5-flash", base_url: str = "", timeout_s: float = 30.0,
                 client: Any = None):
        from google import genai
        from google.genai import types

        options = types.HttpOptions(base_url=base_url or None, timeout=int(timeout_s * 1000),
                                    retry_options=types.HttpRetryOptions(attempts=3))
        self.client = client or genai.Client(api_key=api_key, http_options=options)
        self.model = model

    def __call__(self, prompt: str, max_output_tokens: int) -> str:
        from google.genai import types

        response = self.client.models.generate_content(
            model=self.model, contents=prompt,
            config=types.GenerateContentConfig(max_output_tokens=max_output_tokens, temperature=0.2))
        return str(response.text or "")
