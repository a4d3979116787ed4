"""The narrative's model: a validated setting with a current default (a model that has been shut down is refused,
here and at plan time), and a narrative that fails or comes back empty is a visible note on the report instead of
vanishing. The Gemini API is a local stand-in answering as it does for a shut-down model (404 NOT_FOUND); the real
google-genai client talks to it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from demo.generator import generate
from functions.report_text import render_report
from functions.runtime import embedded, make_writer
from shared import topics
from shared.config import Settings
from shared.incident_state import fold
from shared.llm_models import DEFAULT_MODEL, RETIRED, check_model
from shared.store.sqlite import SqliteEventStore
from shared.telemetry.bundle import BundleSource
from tests.http_stub import serve
from tests.test_infra import parsed

pytest.importorskip("google.genai")


@pytest.mark.parametrize("model", ["gemini-1.5-flash", "gemini-1.5-pro-002", "gemini-2.0-flash-001", "gemini-pro",
                                   "gemini-2.5-flash", "models/gemini-2.5-pro", "gemini-2.5-flash-preview-05-20",
                                   "gpt-4o", "gemini flash", ""])
def test_a_model_that_has_been_shut_down_or_is_not_a_model_is_refused(model: str) -> None:
    with pytest.raises(ValidationError):
        Settings(gemini_model=model)
    with pytest.raises(ValidationError):
        Settings.from_env({"AUTOSRE_GEMINI_MODEL": model})


@pytest.mark.parametrize("model", [DEFAULT_MODEL, "gemini-3.5-flash", "gemini-3.8-flash", "gemini-2.5-flash-lite"])
def test_current_models_are_accepted(model: str) -> None:
    assert Settings(gemini_model=model).gemini_model == model == check_model(model)


def test_the_default_is_current_and_terraform_refuses_the_same_models() -> None:
    assert Settings().gemini_model == DEFAULT_MODEL and check_model(DEFAULT_MODEL) == DEFAULT_MODEL
    (variable,) = [block["gemini_model"] for block in parsed("variables.tf")["variable"] if "gemini_model" in block]
    assert variable["default"] == DEFAULT_MODEL
    (validation,) = variable["validation"]
    listed = re.search(r"for r in \[([^\]]*)\]", validation["condition"])
    assert listed is not None
    assert [s.strip().strip('"') for s in listed.group(1).split(",")] == list(RETIRED)


def _not_found(method: str, path: str, body: Any) -> tuple[int, Any]:
    model = path.rsplit("/", 1)[-1].split(":")[0]
    return 404, {"error": {"code": 404, "status": "NOT_FOUND",
                           "message": f"models/{model} is not found for API version v1beta, or is not supported "
                                      "for generateContent."}}


def _triaged(tmp_path: Any, reply: Any, model: str) -> str:
    scenario = generate("bad_deploy", tmp_path / "demo", seed=5)
    store = SqliteEventStore()
    with serve(reply) as stub:
        settings = Settings(gemini_api_key="test-key", gemini_base_url=stub.url, gemini_model=model)
        _, bus = embedded(store, BundleSource(scenario.bundle_dir), settings=settings)
        bus.publish(topics.ALERTS, scenario.alert_path.read_bytes())
        bus.drain()
    (summary,) = store.summaries()
    state = fold(store.load(summary["incident_id"]))
    assert state.latest_report is not None and state.latest_report.causes  # the report stands
    return render_report(state, state.latest_report, width=200)


def test_a_failing_narrative_is_a_visible_note_on_the_report(tmp_path: Any) -> None:
    text = _triaged(tmp_path, _not_found, "gemini-3.5-flash")
    assert "the narrative failed: gemini-3.5-flash answered" in text and "404" in text
    assert "deterministic analysis alone" in text


def test_an_empty_narrative_says_why(tmp_path: Any) -> None:
    def uncited(method: str, path: str, body: Any) -> tuple[int, Any]:
        return 200, {"candidates": [{"content": {"role": "model", "parts": [{"text": "Something broke. Roll back."}]},
                                     "finishReason": "STOP"}]}

    text = _triaged(tmp_path, uncited, DEFAULT_MODEL)
    assert f"the narrative of {DEFAULT_MODEL} was dropped: none of its 2 sentences cited the findings" in text


def test_the_writer_is_built_on_its_first_call_only() -> None:
    from functions.runtime import LazyWriter

    writer = make_writer(Settings(gemini_api_key="k"))
    assert isinstance(writer, LazyWriter) and writer.built is False and writer.model == DEFAULT_MODEL
