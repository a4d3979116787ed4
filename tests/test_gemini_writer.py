"""The Gemini writer through the real google-genai client against a local stand-in: the thinking budget is set
and added on top of the narrative's tokens (2.5 models spend thinking tokens out of max_output_tokens), and a
writer without a key or a Vertex project is refused at start-up."""

from __future__ import annotations

from typing import Any

import pytest

from shared.llm.gemini import GeminiWriter
from tests.http_stub import serve


def test_the_request_carries_a_thinking_budget_on_top_of_the_answer_tokens() -> None:
    def reply(method: str, path: str, body: Any) -> tuple[int, Any]:
        return 200, {"candidates": [{"content": {"role": "model", "parts": [{"text": "ok [f-1]."}]},
                                     "finishReason": "STOP"}]}

    with serve(reply) as stub:
        writer = GeminiWriter("test-key", "gemini-test", base_url=stub.url, thinking_budget=256)
        assert writer("why did it break?", 800) == "ok [f-1]."
    (_method, path, body, _headers) = stub.requests[0]
    config = body["generationConfig"]
    assert path.endswith("/models/gemini-test:generateContent")
    thinking = config["thinkingConfig"]  # proto JSON: the API reads either spelling
    assert config["maxOutputTokens"] == 800 + 256
    assert thinking.get("thinkingBudget", thinking.get("thinking_budget")) == 256


def test_a_writer_needs_a_key_or_a_vertex_project() -> None:
    with pytest.raises(ValueError):
        GeminiWriter()


def test_vertex_ai_uses_the_functions_identity_not_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from google import genai

    seen: dict[str, Any] = {}

    class Client:
        def __init__(self, **kwargs: Any) -> None:
            seen.update(kwargs)

    monkeypatch.setattr(genai, "Client", Client)
    GeminiWriter(vertex_project="my-project", vertex_location="europe-west4")
    assert seen["vertexai"] is True and seen["project"] == "my-project" and seen["location"] == "europe-west4"
    assert "api_key" not in seen
