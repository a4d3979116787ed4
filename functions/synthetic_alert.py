"""A synthetic Cloud Monitoring notification about a named Cloud Run service, stamped with the current time,
for a first end-to-end check of a deployment (`autosre send-alert`): it goes through the real alerts topic, so
intake, the specialists and the report run exactly as for a real alert, on telemetry that is still in retention.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from shared import topics
from shared.ports import Bus


def synthetic_alert(service: str, project: str, region: str = "us-central1", now: float | None = None,
                    metric: str = "run.googleapis.com/request_count", lookback_s: float = 120.0) -> dict[str, Any]:
    """A v1.2 notification (Monitoring's schema) for an open incident on `service`, started `lookback_s` ago."""
    started = int((time.time() if now is None else now) - lookback_s)
    return {
        "incident": {
            "incident_id": f"0.synthetic-{uuid.uuid4().hex[:12]}",
            "scoping_project_id": project,
            "url": f"https://console.cloud.google.com/run/detail/{region}/{service}?project={project}",
            "started_at": started,
            "ended_at": None,
            "state": "open",
            "resource_name": service,
            "resource": {"type": "cloud_run_revision",
                         "labels": {"project_id": project, "service_name": service, "location": region}},
            "metric": {"type": metric, "displayName": "Request count"},
            "policy_name": "Auto SRE synthetic check",
            "policy_user_labels": {"autosre": "synthetic"},
            "condition_name": f"synthetic alert on {service}",
            "summary": f"Synthetic alert on {service} sent to check the Auto SRE deployment end to end.",
        },
        "version": "1.2",
    }


def send(bus: Bus, payload: dict[str, Any]) -> str:
    """Publish on the alerts topic as Monitoring's notification channel would; returns the message id."""
    return bus.publish(topics.ALERTS, json.dumps(payload).encode(), {"autosre_synthetic": "1"})
