"""Cloud Monitoring notifications parse defensively; anything else is a clear AlertParseError."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from shared.alerts import MAX_PAYLOAD_BYTES, AlertParseError, parse_alert, unwrap
from shared.core_models import Alert
from tests.data import alerts_dir

ALERTS = alerts_dir()


def load(name: str) -> bytes:
    return (ALERTS / name).read_bytes()


# file -> (state, service, policy_name, started_at, ended_at)
EXPECTED = {
    "00_test_channel.version_test.json": ("open", "Example Resource", "projects/12345/alertPolicies/12345", None, None),
    "01_gce_cpu_threshold_closed.v1.2.json": (
        "closed", "gke-cluster-1-default-pool-e2df4cbd-dgp3", "Monitor-Project-Cluster", 1577840461, 1577877071),
    "02_promql_etcd_open.v1.2.json": (
        "open", "", "EtcdHighDiskUtilization - Error", 1772574279, None),
    "03_cloud_run_5xx_open.v1.2.json": (
        "open", "servicenow-sre-poc", "Cloud Run 5xx Error Rate", 1704067200, None),
    "04_pubsub_push_envelope_of_03.json": (
        "open", "servicenow-sre-poc", "Cloud Run 5xx Error Rate", 1704067200, None),
}


def test_all_five_real_payloads_parse() -> None:
    assert sorted(p.name for p in ALERTS.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_payload_fields(name: str) -> None:
    a = parse_alert(load(name))
    assert (a.state, a.service, a.policy_name, a.started_at, a.ended_at) == EXPECTED[name]
    assert a.monitoring_incident_id == unwrap(load(name))["incident"]["incident_id"]
    assert Alert.model_validate_json(a.model_dump_json()) == a  # storable as it is


def test_test_channel_payload() -> None:
    a = parse_alert(load("00_test_channel.version_test.json"))
    assert a.version == "test" and a.state == "open"  # uppercase OPEN
    assert a.started_at is None and a.ended_at is None  # 0 means unknown
    assert a.documentation == "Test documentation"  # a plain string here
    assert a.observed_value == 1.0 and a.threshold_value == 0.5  # both strings in the payload
    assert a.project_id == "12345" and a.policy_user_labels == {"example": "label"}


def test_closed_v12_payload() -> None:
    a = parse_alert(load("01_gce_cpu_threshold_closed.v1.2.json"))
    assert a.state == "closed"
    assert a.started_at == 1577840461 and a.ended_at == 1577877071
    assert a.resource_type == "gce_instance" and a.resource_labels["zone"] == "us-central1-c"
    assert a.metric_type == "compute.googleapis.com/instance/cpu/utilization"
    assert a.observed_value == pytest.approx(0.835) and a.threshold_value == pytest.approx(0.9)
    assert a.documentation.startswith("TEST ALERT")  # {"content": ...}
    assert a.severity == "no severity" and a.policy_user_labels["user-label-1"] == "important label"


def test_promql_payload_value_from_metric_labels() -> None:
    a = parse_alert(load("02_promql_etcd_open.v1.2.json"))
    assert a.metric_type == "__missing__" and a.ended_at is None and a.state == "open"
    assert a.observed_value == pytest.approx(99.50849887364325)
    assert a.severity == "Error" and a.resource_type == "prometheus_target"
    assert a.metric_labels["region"] == "us-central1"


def test_cloud_run_payload_and_its_push_envelope_are_equal() -> None:
    raw = parse_alert(load("03_cloud_run_5xx_open.v1.2.json"))
    pushed = parse_alert(load("04_pubsub_push_envelope_of_03.json"))
    assert raw == pushed
    assert raw.service == "servicenow-sre-poc" and raw.project_id == "my-gcp-project"
    assert raw.resource_labels["revision_name"] == "servicenow-sre-poc-00001-abc"
    assert raw.observed_value is None and raw.threshold_value is None  # absent, not invented


def test_cloudevent_data_form() -> None:
    data = base64.b64encode(load("03_cloud_run_5xx_open.v1.2.json")).decode()
    event_data = {"message": {"data": data, "messageId": "1", "attributes": {}}}
    assert parse_alert(event_data) == parse_alert(load("03_cloud_run_5xx_open.v1.2.json"))
    assert unwrap(json.dumps(event_data))["version"] == "1.2"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def cloud_run() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(load("03_cloud_run_5xx_open.v1.2.json"))
    return doc


def test_missing_incident_id_gets_a_deterministic_one() -> None:
    doc = cloud_run()
    del doc["incident"]["incident_id"]
    first = parse_alert(doc).monitoring_incident_id
    assert first.startswith("derived-")
    assert first == parse_alert(json.dumps(doc)).monitoring_incident_id  # redelivery
    assert first == parse_alert({"message": {"data": b64(json.dumps(doc).encode())}}).monitoring_incident_id
    closing = cloud_run()
    del closing["incident"]["incident_id"]
    closing["incident"].update(state="closed", ended_at=1704070800)
    assert parse_alert(closing).monitoring_incident_id == first  # the closing notification joins it
    later = cloud_run()
    del later["incident"]["incident_id"]
    later["incident"]["started_at"] = 1704153600
    assert parse_alert(later).monitoring_incident_id != first  # a new incident of the same policy


def test_derived_id_tells_resources_apart_without_a_resource_name() -> None:
    ids = set()
    for zone in ("a", "b"):
        doc = {"incident": {"policy_name": "p", "started_at": 1, "resource": {"type": "gce_instance",
                                                                              "labels": {"zone": zone}}}}
        ids.add(parse_alert(doc).monitoring_incident_id)
    assert len(ids) == 2


@pytest.mark.parametrize(("value", "expected"), [
    (1704067200, 1704067200.0),
    ("1704067200", 1704067200.0),
    (" 1704067200.5 ", 1704067200.5),
    ("2024-01-01T00:00:00Z", 1704067200.0),
    ("2024-01-01T01:00:00+01:00", 1704067200.0),
    ("2024-01-01T00:00:00", 1704067200.0),  # no offset: UTC
    (0, None), ("0", None), ("", None), (None, None),
])
def test_times_as_numbers_or_strings(value: object, expected: float | None) -> None:
    a = parse_alert({"incident": {"started_at": value, "ended_at": value}})
    assert a.started_at == expected and a.ended_at == expected


def test_states_in_any_case() -> None:
    for raw, state in (("open", "open"), ("OPEN", "open"), ("closed", "closed"), ("CLOSED", "closed"), (None, "open")):
        assert parse_alert({"incident": {"state": raw}}).state == state


def test_labels_coerced_to_strings() -> None:
    labels = {"n": 5, "f": 0.5, "t": True, "z": None, "s": "x"}
    a = parse_alert({"incident": {"resource": {"labels": labels}, "metric": {"labels": labels},
                                  "policy_user_labels": labels}})
    expected = {"n": "5", "f": "0.5", "t": "true", "z": "", "s": "x"}
    assert a.resource_labels == a.metric_labels == a.policy_user_labels == expected


def test_values_as_numbers_strings_or_garbage() -> None:
    a = parse_alert({"incident": {"observed_value": 3, "threshold_value": "n/a"}})
    assert a.observed_value == 3.0 and a.threshold_value is None
    assert parse_alert({"incident": {"observed_value": "NaN"}}).observed_value is None


def test_lone_surrogates_are_replaced_so_the_alert_stays_storable() -> None:
    a = parse_alert(b'{"incident": {"summary": "bad \\ud800 text", "resource": {"labels": {"k\\udc00": "v"}}}}')
    assert a.summary == "bad ? text" and a.resource_labels == {"k?": "v"}
    a.model_dump_json()


def test_envelope_attributes_and_extra_fields_are_ignored() -> None:
    envelope = json.loads(load("04_pubsub_push_envelope_of_03.json"))
    envelope["message"]["attributes"] = {"x": "y"}
    envelope["deliveryAttempt"] = 3
    assert parse_alert(envelope) == parse_alert(load("03_cloud_run_5xx_open.v1.2.json"))


@pytest.mark.parametrize(("payload", "reason", "names"), [
    (b"{not json", "bad_json", "payload"),
    (b"\xff\xfe", "bad_json", "payload"),
    (b"", "bad_json", "payload"),
    (b"[1, 2]", "not_an_object", "list"),
    (b'"text"', "not_an_object", "str"),
    ([{"incident": {}}], "not_an_object", "list"),  # a caller's already-parsed list
    (b"{}", "missing_incident", "incident"),
    pytest.param(b" " * (MAX_PAYLOAD_BYTES + 1), "too_large", "bytes", id="huge-bytes"),
    pytest.param("é" * (MAX_PAYLOAD_BYTES // 2 + 1), "too_large", "bytes", id="huge-str"),  # UTF-8 bytes count
    pytest.param({"message": {"data": "A" * (MAX_PAYLOAD_BYTES * 2)}}, "too_large", "message.data", id="huge-data"),
    (b'{"message": {"data": "***"}}', "bad_base64", "base64"),
    (b'{"message": {"attributes": {}}}', "bad_envelope", "message.data"),
    (b'{"message": "x"}', "bad_envelope", "message.data"),
    (b'{"message": {"data": 5}}', "bad_envelope", "message.data"),
    ({"message": {"data": b64(b"[1]")}}, "not_an_object", "message.data"),
    ({"message": {"data": b64(b"{nope")}}, "bad_json", "message.data"),
    ({"message": {"data": b64(b'{"version": "1.2"}')}}, "missing_incident", "incident"),
    (b'{"incident": []}', "wrong_type", "incident"),
    (b'{"incident": "x"}', "wrong_type", "incident"),
    (b'{"incident": {"started_at": "abc"}}', "wrong_type", "incident.started_at"),
    (b'{"incident": {"started_at": true}}', "wrong_type", "incident.started_at"),
    (b'{"incident": {"started_at": -5}}', "wrong_type", "incident.started_at"),
    (b'{"incident": {"started_at": 1e300}}', "wrong_type", "incident.started_at"),
    pytest.param(b'{"incident": {"started_at": 1' + b"0" * 400 + b"}}", "wrong_type", "incident.started_at",
                 id="huge-int-time"),
    (b'{"incident": {"ended_at": [1]}}', "wrong_type", "incident.ended_at"),
    (b'{"incident": {"resource": []}}', "wrong_type", "incident.resource"),
    (b'{"incident": {"resource": {"labels": "x"}}}', "wrong_type", "incident.resource.labels"),
    (b'{"incident": {"metric": {"labels": {"a": {"b": 1}}}}}', "wrong_type", "incident.metric.labels.a"),
    (b'{"incident": {"policy_user_labels": [1]}}', "wrong_type", "incident.policy_user_labels"),
    (b'{"incident": {"state": "maybe"}}', "wrong_type", "incident.state"),
    (b'{"incident": {"summary": {"a": 1}}}', "wrong_type", "incident.summary"),
    (b'{"incident": {"policy_name": ["p"]}}', "wrong_type", "incident.policy_name"),
    (b'{"incident": {"documentation": {"content": [1]}}}', "wrong_type", "incident.documentation.content"),
    pytest.param({"incident": {"summary": 10**5000}}, "wrong_type", "incident.summary", id="huge-int-text"),
])
def test_bad_payloads_give_clear_errors(payload: object, reason: str, names: str) -> None:
    with pytest.raises(AlertParseError) as info:
        parse_alert(payload)  # type: ignore[arg-type]
    assert info.value.reason == reason
    assert names in str(info.value)


def test_nested_envelope_is_rejected() -> None:
    inner = b64(load("04_pubsub_push_envelope_of_03.json"))
    with pytest.raises(AlertParseError) as info:
        parse_alert({"message": {"data": inner}})
    assert info.value.reason == "bad_envelope"


def test_long_strings_and_label_maps_are_capped() -> None:
    doc = cloud_run()
    doc["incident"]["summary"] = "x" * 100_000
    doc["incident"]["policy_name"] = "p" * 100_000
    doc["incident"]["resource"]["labels"] = {f"k{i}": "v" * 100_000 for i in range(1000)}
    a = parse_alert(doc)
    assert len(a.summary) == 4096 and len(a.policy_name) == 512
    assert len(a.resource_labels) == 64 and all(len(v) == 1024 for v in a.resource_labels.values())
    assert len(a.model_dump_json()) < 200_000


def test_a_payload_at_the_limit_is_accepted() -> None:
    raw = load("03_cloud_run_5xx_open.v1.2.json")
    padded = raw + b" " * (MAX_PAYLOAD_BYTES - len(raw))
    assert parse_alert(padded) == parse_alert(raw)


def test_paths_exist() -> None:
    assert isinstance(ALERTS, Path) and ALERTS.is_dir()
