"""Fuzz: whatever arrives, parse_alert returns a storable Alert or raises AlertParseError, nothing else."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.alerts import AlertParseError, parse_alert
from shared.core_models import Alert
from tests.data import alerts_dir

REAL = sorted(p.name for p in alerts_dir().glob("*.json"))
# Text includes lone surrogates (legal in JSON, illegal in UTF-8); integers go far beyond float range.
text = st.text(alphabet=st.characters(exclude_categories=()), max_size=20)
scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-(10**600), max_value=10**600)
           | st.floats(allow_nan=True, allow_infinity=True) | text
           | st.sampled_from(["", "0", "open", "CLOSED", "1704067200", "2024-01-01T00:00:00Z", "NaN", "1e999"]))
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=20,
)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(payload: object) -> None:
    try:
        alert = parse_alert(payload)  # type: ignore[arg-type]
    except AlertParseError as exc:
        assert exc.reason and str(exc)
        return
    assert isinstance(alert, Alert)
    assert Alert.model_validate_json(alert.model_dump_json()) == alert  # storable, losslessly
    assert parse_alert(payload) == alert  # type: ignore[arg-type]  # deterministic


def envelope(raw: bytes) -> dict[str, Any]:
    return {"message": {"data": base64.b64encode(raw).decode(), "messageId": "1"}, "subscription": "s"}


def real(name: str) -> Any:
    return json.loads((alerts_dir() / name).read_text())


def replace_somewhere(doc: Any, data: st.DataObject) -> Any:
    """`doc` with one value, at any depth, swapped for an arbitrary JSON value (or the whole doc replaced)."""
    path: list[Any] = []
    node = doc
    while isinstance(node, (dict, list)) and node and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(node) if isinstance(node, dict) else range(len(node))))
        path.append(key)
        node = node[key]
    value = data.draw(json_values)
    if not path:
        return value
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return doc


@FUZZ
@given(st.binary(max_size=512))
def test_arbitrary_bytes(data: bytes) -> None:
    check(data)
    check(envelope(data))


@FUZZ
@given(json_values)
def test_arbitrary_json(value: Any) -> None:
    check(json.dumps(value).encode())
    check(json.dumps(value, ensure_ascii=False))  # may hold lone surrogates: only a str can carry them
    check({"incident": value, "version": "1.2"})
    check({"message": value})
    check(envelope(json.dumps({"incident": value}).encode()))


@FUZZ
@given(st.sampled_from(REAL), st.data())
def test_mutated_real_payloads(name: str, data: st.DataObject) -> None:
    doc = real(name)
    if "message" in doc:  # mutate the notification inside the envelope as well as the envelope
        inner = json.loads(base64.b64decode(doc["message"]["data"]))
        doc["message"]["data"] = base64.b64encode(json.dumps(replace_somewhere(inner, data)).encode()).decode()
    doc = replace_somewhere(doc, data)
    check(doc)
    check(json.dumps(doc).encode())
    check(envelope(json.dumps(doc).encode()))


@FUZZ
@given(st.sampled_from(REAL), st.lists(st.tuples(st.integers(min_value=0), st.binary(max_size=3)), max_size=4))
def test_byte_level_edits_of_real_payloads(name: str, edits: list[tuple[int, bytes]]) -> None:
    raw = (alerts_dir() / name).read_bytes()
    for position, replacement in edits:
        at = position % (len(raw) + 1)
        raw = raw[:at] + replacement + raw[at + len(replacement):]
    check(raw)
    check(envelope(raw))
