"""Fuzz: whatever arrives, parse_alert returns an Alert or raises AlertParseError, nothing else."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.alerts import AlertParseError, parse_alert
from tests.data import alerts_dir

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(payload: object) -> None:
    try:
        parse_alert(payload)  # type: ignore[arg-type]
    except AlertParseError:
        pass


@FUZZ
@given(st.binary(max_size=512))
def test_arbitrary_bytes(data: bytes) -> None:
    check(data)


@FUZZ
@given(json_values)
def test_arbitrary_json(value: object) -> None:
    check(json.dumps(value).encode())
    check({"incident": value, "version": "1.2"})


@FUZZ
@given(st.sampled_from(sorted(p.name for p in alerts_dir().glob("*.json"))), st.data())
def test_mutated_real_payloads(name: str, data: st.DataObject) -> None:
    doc = json.loads((alerts_dir() / name).read_text())
    incident = doc.get("incident")
    if isinstance(incident, dict) and incident:
        key = data.draw(st.sampled_from(sorted(incident)))
        incident[key] = data.draw(json_values)
    check(doc)
    check(json.dumps(doc).encode())
