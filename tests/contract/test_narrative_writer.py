"""The NarrativeWriter contract (shared/ports.py), run against every adapter of shared/llm/ (Gemini through the real
google-genai client, on a local stand-in of the generateContent endpoint, as tests/test_gemini_writer.py does).

The prompt is sent as it is, the answer's budget is asked for, the answer's text comes back whole (none of the
model's thinking; "" when it gave none), a passing failure is retried and a call that fails raises."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from shared.ports import NarrativeWriter
from tests.http_stub import Stub, serve

PROMPT = "Findings:\n[f-1] payment: error rate 0.2 -> 4.1 %\n[f-2] payment: deploy 00118 at 09:12\n\nWhy?"


def answer(*parts: dict[str, Any], finish: str = "STOP") -> dict[str, Any]:
    return {"candidates": [{"content": {"role": "model", "parts": list(parts)}, "finishReason": finish}]}


ANSWERS: dict[str, tuple[int, Any]] = {
    "whole": (200, answer({"text": "The deploy broke payment [f-2]. "}, {"text": "Errors rose after it [f-1]."})),
    "thinking": (200, answer({"text": "let me think about f-9", "thought": True}, {"text": "Deploy [f-2]."})),
    "empty": (200, {"candidates": [{"content": {"role": "model"}, "finishReason": "MAX_TOKENS"}]}),
    "blocked": (200, {"promptFeedback": {"blockReason": "SAFETY"}}),
    "refused": (400, {"error": {"code": 400, "message": "bad request", "status": "INVALID_ARGUMENT"}}),
    "failing": (500, {"error": {"code": 500, "message": "internal", "status": "INTERNAL"}}),
}


@dataclass
class Model:
    """The endpoint's side: what it answers next, and how many passing failures (503) come first."""

    says: str = "whole"
    unavailable: int = 0
    prompts: list[str] = field(default_factory=list)

    def reset(self) -> None:
        self.says, self.unavailable, self.prompts = "whole", 0, []

    def reply(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        self.prompts.append("".join(p.get("text", "") for c in body["contents"] for p in c["parts"]))
        if self.unavailable > 0:
            self.unavailable -= 1
            return 503, {"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}
        return ANSWERS[self.says]


@dataclass
class Harness:
    writer: NarrativeWriter
    model: Model
    stub: Stub
    requested_tokens: Callable[[Any], int]  # the answer budget a request asked for
    error: type[Exception]  # what the adapter raises for a failed call


def gemini(stub: Stub, model: Model) -> Harness:
    from google.genai.errors import APIError

    from shared.llm.gemini import GeminiWriter

    return Harness(GeminiWriter("test-key", "gemini-test", base_url=stub.url, timeout_s=10), model, stub,
                   lambda body: int(body["generationConfig"]["maxOutputTokens"]), APIError)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[tuple[Stub, Model]]:
    model = Model()
    with serve(lambda method, path, body: model.reply(method, path, body)) as stub:
        yield stub, model


@pytest.fixture(params=["gemini"])
def harness(request: pytest.FixtureRequest, endpoint: tuple[Stub, Model]) -> Harness:
    stub, model = endpoint
    stub.requests.clear()
    model.reset()
    return gemini(stub, model)


def test_the_prompt_is_sent_as_it_is_and_the_whole_answer_comes_back(harness: Harness) -> None:
    said = harness.writer(PROMPT, 800)
    assert said == "The deploy broke payment [f-2]. Errors rose after it [f-1]."
    assert harness.model.prompts == [PROMPT]


def test_the_answer_budget_is_asked_for(harness: Harness) -> None:
    harness.writer(PROMPT, 800)
    harness.writer(PROMPT, 50)
    asked = [harness.requested_tokens(body) for _method, _path, body, _headers in harness.stub.requests]
    assert asked[0] >= 800 and asked[1] >= 50
    assert asked[0] - asked[1] == 750  # what is added on top does not eat into the answer's budget


def test_none_of_the_models_thinking_is_returned(harness: Harness) -> None:
    harness.model.says = "thinking"
    assert harness.writer(PROMPT, 800) == "Deploy [f-2]."


@pytest.mark.parametrize("says", ["empty", "blocked"])
def test_an_answer_without_text_is_the_empty_string(harness: Harness, says: str) -> None:
    harness.model.says = says
    assert harness.writer(PROMPT, 800) == ""


def test_a_passing_failure_is_retried(harness: Harness) -> None:
    harness.model.unavailable = 1
    assert harness.writer(PROMPT, 800).startswith("The deploy broke payment")
    assert len(harness.model.prompts) == 2


@pytest.mark.parametrize("says", ["refused", "failing"])
def test_a_call_that_fails_raises(harness: Harness, says: str) -> None:
    harness.model.says = says
    with pytest.raises(harness.error) as raised:
        harness.writer(PROMPT, 800)
    assert says != "failing" or len(harness.model.prompts) > 1  # a server error is retried before it is raised
    assert "500" in str(raised.value) or "400" in str(raised.value)
