"""Cloud Monitoring notifications parse defensively; anything else is a clear AlertParseError."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from shared.alerts import MAX_PAYLOAD_BYTES, AlertParseError, parse_alert, unwrap
from tests.data import alerts_dir

ALERTS = alerts_dir()


def load(name: str) -> bytes:
    return (ALERTS / name).read_bytes()


def test_all_five_real_payloads_parse() -> None:
    files = sorted(p.name for p in ALERTS.glob("*.json"))
    assert len(files) == 5
    for name in files:
        assert parse_alert(load(name)).monitoring_incident_id


def test_test_channel_payload() -> None:
    a = parse_alert(load("00_test_channel.version_test.json"))
    assert a.version == "test" and a.state == "open"  # uppercase OPEN
    assert a.started_at is None  # started_at 0 means unknown
    assert a.documentation == "Test documentation"  # a plain string here
    assert a.observed_value == 1.0


def test_closed_v12_payload() -> None:
    a = parse_alert(load("01_gce_cpu_threshold_closed.v1.2.json"))
    assert a.state == "closed"
    assert a.started_at == 1577840461 and a.ended_at == 1577877071
    assert a.resource_type == "gce_instance" and a.resource_labels["zone"] == "us-central1-c"
    assert a.metric_type == "compute.googleapis.com/instance/cpu/utilization"
    assert a.observed_value == pytest.approx(0.835)
    assert a.documentation.startswith("TEST ALERT")  # {"content": ...}
    assert a.service == "gke-cluster-1-default-pool-e2df4cbd-dgp3"


def test_promql_payload_value_from_metric_labels() -> None:
    a = parse_alert(load("02_promql_etcd_open.v1.2.json"))
    assert a.metric_type == "__missing__" and a.ended_at is None and a.state == "open"
    assert a.observed_value == pytest.approx(99.50849887364325)
    assert a.policy_name.startswith("EtcdHighDiskUtilization")


def test_cloud_run_payload_and_its_push_envelope_are_equal() -> None:
    raw = parse_alert(load("03_cloud_run_5xx_open.v1.2.json"))
    pushed = parse_alert(load("04_pubsub_push_envelope_of_03.json"))
    assert raw == pushed
    assert raw.service == "servicenow-sre-poc" and raw.project_id == "my-gcp-project"
    assert raw.policy_name == "Cloud Run 5xx Error Rate"


def test_cloudevent_data_form() -> None:
    data = base64.b64encode(load("03_cloud_run_5xx_open.v1.2.json")).decode()
    event_data = {"message": {"data": data, "messageId": "1", "attributes": {}}}
    assert parse_alert(event_data) == parse_alert(load("03_cloud_run_5xx_open.v1.2.json"))
    assert unwrap(json.dumps(event_data))["version"] == "1.2"


def test_missing_incident_id_gets_a_deterministic_one() -> None:
    doc = json.loads(load("03_cloud_run_5xx_open.v1.2.json"))
    del doc["incident"]["incident_id"]
    assert parse_alert(doc).monitoring_incident_id == parse_alert(json.dumps(doc)).monitoring_incident_id


@pytest.mark.parametrize(("payload", "reason"), [
    (b"{not json", "bad_json"),
    (b"\xff\xfe", "bad_json"),
    (b"[1, 2]", "not_an_object"),
    (b"{}", "missing_incident"),
    (b" " * (MAX_PAYLOAD_BYTES + 1), "too_large"),
    (b'{"message": {"data": "***"}}', "bad_base64"),
    (b'{"message": {"attributes": {}}}', "bad_envelope"),
    (b'{"incident": []}', "wrong_type"),
    (b'{"incident": {"started_at": "abc"}}', "wrong_type"),
    (b'{"incident": {"resource": {"labels": "x"}}}', "wrong_type"),
    (b'{"incident": {"state": "maybe"}}', "wrong_type"),
    (b'{"incident": {"summary": {"a": 1}}}', "wrong_type"),
])
def test_bad_payloads_give_clear_errors(payload: bytes, reason: str) -> None:
    with pytest.raises(AlertParseError) as info:
        parse_alert(payload)
    assert info.value.reason == reason
    assert str(info.value)


def test_nested_envelope_is_rejected() -> None:
    inner = base64.b64encode(load("04_pubsub_push_envelope_of_03.json")).decode()
    with pytest.raises(AlertParseError) as info:
        parse_alert({"message": {"data": inner}})
    assert info.value.reason == "bad_envelope"


def test_long_strings_are_capped() -> None:
    doc = json.loads(load("03_cloud_run_5xx_open.v1.2.json"))
    doc["incident"]["summary"] = "x" * 100_000
    assert len(parse_alert(doc).summary) == 4096


def test_paths_exist() -> None:
    assert isinstance(ALERTS, Path) and ALERTS.is_dir()
