"""Cloud Functions (2nd gen) entry points, run by functions-framework.

Deploy each target as its own function: `intake` (alerts topic), `specialist_<name>` for every specialist of the
registry (shared/specialists.py; tasks topic, filtered on attributes.specialist), `synthesize` (findings topic),
`execute` (actions topic), `web` (HTTP, behind IAP) and `sweep` (HTTP, called by Cloud Scheduler). Each target
decodes its message and calls its handler (functions/handlers/); what the handlers use is built once per instance,
on first use, by the composition root (functions/runtime.py) from the AUTOSRE_* settings.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import TYPE_CHECKING, Any

import functions_framework
from cloudevents.http import CloudEvent
from functions_framework import _function_registry

from shared import topics
from shared.config import Settings
from shared.jsonlog import setup_logging
from shared.ports import Message
from shared.specialists import REGISTRY

if TYPE_CHECKING:  # each entry point imports what it uses, when it first uses it (cold starts pay for their own)
    from functions.pipeline import Pipeline
    from functions.remediation import Remediation
    from shared.ports import EventStore

setup_logging(logging.INFO)
log = logging.getLogger("autosre.functions")
_pipeline: Pipeline | None = None
_store: tuple[Settings, EventStore] | None = None  # the store alone, with the settings it was built from
_remediation: tuple[Settings, EventStore, Remediation] | None = None  # with the settings and store it was built on


def pipeline() -> Pipeline:
    """One pipeline per instance, built on first use (adapters import their SDKs lazily; the bus is built on the
    first publish)."""
    global _pipeline
    if _pipeline is None:
        from functions.runtime import from_settings

        settings = Settings.from_env()
        _pipeline = from_settings(settings, store=_store[1] if _store and _store[0] == settings else None)
    return _pipeline


def store() -> EventStore:
    """The event store alone, for the functions that need no pipeline (execute; web and mcp without the Pub/Sub bus):
    no bus, no telemetry."""
    global _store
    if _pipeline is not None:
        return _pipeline.store
    settings = Settings.from_env()
    if _store is None or _store[0] != settings:
        from functions.runtime import make_store

        _store = (settings, make_store(settings))
    return _store[1]


def _as_bytes(body: Any) -> bytes:
    """Whatever arrived, as bytes the alert parser can reject with a reason (never an exception here)."""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8", "surrogatepass")
    try:
        return json.dumps(body, default=str).encode()
    except (ValueError, RecursionError):
        return repr(type(body)).encode()


def _attempt(value: Any) -> int:
    """Pub/Sub's deliveryAttempt (set only with a dead-letter policy); anything unreadable counts as 1."""
    try:
        return max(1, int(value))
    except (TypeError, ValueError, OverflowError):
        return 1


def message_of(cloud_event: CloudEvent) -> Message:
    """The Pub/Sub message inside a messagePublished CloudEvent (or push envelope), as the handlers see it. Never
    raises: what cannot be decoded is passed on as raw bytes, and intake records and dead-letters it."""
    body: Any = cloud_event.data
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except (ValueError, RecursionError):
            return Message(data=_as_bytes(body))
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, dict):
        return Message(data=_as_bytes(body))
    try:
        data = base64.b64decode(message.get("data") or "", validate=True)
    except (binascii.Error, ValueError, TypeError):
        data = _as_bytes(body)  # the parser will reject and record it
    source = str(cloud_event.get("source") or "")
    attributes = message.get("attributes") if isinstance(message.get("attributes"), dict) else {}
    return Message(
        data=data,
        attributes={str(k): str(v) for k, v in (attributes or {}).items()},
        message_id=str(message.get("messageId") or message.get("message_id") or cloud_event.get("id") or ""),
        topic=source.rsplit("/", 1)[-1] if "/topics/" in source else "",
        delivery_attempt=_attempt(body.get("deliveryAttempt") or message.get("deliveryAttempt")
                                  or _pushed_attempt(message) or 1),
    )


def _pushed_attempt(message: dict[str, Any]) -> Any:
    """The deliveryAttempt of a raw Pub/Sub push: functions-framework turns the push body ({"message", "subscription",
    "deliveryAttempt"}) into a CloudEvent whose data keeps the message alone (event_conversion.py
    `background_event_to_cloud_event`), so the count is read from the request being served, when its message is
    this one. None outside a request, or when the request says nothing."""
    try:
        import flask

        if not flask.has_request_context():
            return None
        raw = flask.request.get_json(silent=True)
    except Exception:  # no request to read: the count is unknown, never an error
        return None
    if not isinstance(raw, dict):
        return None
    pushed = raw.get("message")
    if isinstance(pushed, dict) and pushed.get("messageId") == message.get("messageId"):
        return raw.get("deliveryAttempt")
    return None


@functions_framework.cloud_event
def intake(cloud_event: CloudEvent) -> None:
    pipeline().on_alert(message_of(cloud_event))


def _specialist(name: str) -> Any:
    def handler(cloud_event: CloudEvent) -> None:
        message = message_of(cloud_event)
        wanted = message.attributes.get("specialist")
        if wanted and wanted != name:
            log.warning("task for %s delivered to %s: ignored (check the subscription filter)", wanted, name)
            return
        pipeline().on_task(message)

    handler.__name__ = f"specialist_{name}"
    return functions_framework.cloud_event(handler)


for _spec in REGISTRY:  # specialist_logs, specialist_traces, ...: one target per registered specialist
    globals()[f"specialist_{_spec.name}"] = _specialist(_spec.name)


@functions_framework.cloud_event
def synthesize(cloud_event: CloudEvent) -> None:
    pipeline().on_findings(message_of(cloud_event))


def remediation() -> Remediation:
    """The approval and execution workflow, built once per instance (web, execute and sweep share it). The
    deployed workflow hands approved actions to the `execute` function through the actions topic."""
    global _remediation
    settings, store_ = Settings.from_env(), store()
    if _remediation is None or _remediation[0] != settings or _remediation[1] is not store_:
        from functions.runtime import remediation_of

        built = remediation_of(settings, store_)
        built.hand_off = _hand_off
        _remediation = (settings, store_, built)
    return _remediation[2]


def _hand_off(incident_id: str, proposal_id: str) -> None:
    _bus().publish(topics.ACTIONS, json.dumps({"incident_id": incident_id, "proposal_id": proposal_id}).encode(),
                   {"incident_id": incident_id})


_buses: dict[str, Any] = {}


def _bus() -> Any:
    """The pipeline's bus when there is a pipeline, else one built for the hand-offs (built on its first publish)."""
    if _pipeline is not None:
        return _pipeline.bus
    settings = Settings.from_env()
    key = settings.model_dump_json()
    if key not in _buses:
        from functions.runtime import make_bus

        _buses.clear()
        _buses[key] = make_bus(settings)
    return _buses[key]


_web: Any = None


@functions_framework.http
def web(request: Any) -> Any:
    """The web view behind IAP: incidents, reports, approval pages, JSON API. The approver is the `email` of IAP's
    verified `X-Goog-IAP-JWT-Assertion` for AUTOSRE_IAP_AUDIENCE; without an audience nobody can decide. An
    investigation started through the API is handed to the intake through the alerts topic (AUTOSRE_BUS=pubsub)."""
    global _web
    if _web is None:
        from functions.handlers.web import create_app
        from functions.web_security import fixed_identity, iap_identity

        settings = Settings.from_env()
        if settings.iap_audience:
            from shared.iap import CachedKeys, IapVerifier

            identity = iap_identity(IapVerifier(settings.iap_audience, CachedKeys(settings.iap_certs_url)))
        else:
            log.warning("AUTOSRE_IAP_AUDIENCE is not set: no approver identity can be verified; approvals are off")
            identity = fixed_identity("")
        hosts = [h.strip() for h in settings.allowed_hosts.split(",") if h.strip()] or ["*"]
        from agents.remediation.policy import Policy
        from functions.runtime import approval_key, chat_told, deployment_talk

        try:  # what the workflow is built from, checked now; the workflow itself is built on first need
            key: bytes | None = approval_key(settings, store())
            Policy.from_json(settings.policy)
        except ValueError:  # an unreadable policy or signing key: the reports stay readable, approvals are off
            log.exception("approvals are off: the remediation workflow cannot be built from the settings")
            key = None
        _web = create_app(store(), _web_approvals if key is not None else None, key=key, identity=identity,
                          allowed_hosts=hosts, told=chat_told(settings, store()),
                          talk=deployment_talk(settings, store(), pipeline))  # starts go to the intake's topic
    with _web.request_context(request.environ):
        return _web.full_dispatch_request()


def _web_approvals() -> Remediation | None:
    """The web's approval workflow, built on the first request that needs one."""
    return _remediation_or_none("approvals are off")


def _remediation_or_none(consequence: str) -> Remediation | None:
    """The workflow, or None (logged, with what follows) when the settings cannot build it: an unreadable policy
    leaves the reports, the partial reports and the steps going."""
    try:
        return remediation()
    except ValueError:
        log.exception("%s: the remediation workflow cannot be built from the settings", consequence)
        return None


_mcp: Any = None


def _asgi_http(fn: Any) -> Any:
    """`functions_framework.aio.http` without importing Starlette into every function's cold start (~250 ms): the
    same two registrations, which make functions-framework serve this target with its ASGI server."""
    _function_registry.REGISTRY_MAP[fn.__name__] = _function_registry.HTTP_SIGNATURE_TYPE
    _function_registry.ASGI_FUNCTIONS.add(fn.__name__)
    return fn


@_asgi_http
async def mcp(request: Any) -> Any:
    """The MCP server over streamable HTTP, behind IAP: the caller is the `email` of IAP's verified assertion for
    AUTOSRE_IAP_AUDIENCE, and only the approvers and AUTOSRE_READERS may read. No tool approves or runs anything;
    a started investigation is handed to the intake through the alerts topic, as the web function hands it."""
    global _mcp
    if _mcp is None:
        from functions.mcp_http import IapMcp
        from functions.runtime import deployment_talk
        from shared.iap import CachedKeys, IapVerifier

        settings = Settings.from_env()
        if not settings.iap_audience:
            return _NoIap()
        _mcp = IapMcp(deployment_talk(settings, store(), pipeline),  # starts go to the intake's topic
                      IapVerifier(settings.iap_audience, CachedKeys(settings.iap_certs_url)),
                      (*settings.approvers, *settings.readers))
    return _AsAsgi(_mcp)


class _AsAsgi:
    """A response that hands the request to an ASGI app (functions-framework's Starlette calls it as one)."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


class _NoIap(_AsAsgi):
    def __init__(self) -> None:
        super().__init__(None)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        log.error("AUTOSRE_IAP_AUDIENCE is not set: the MCP server serves nobody")
        body = b'{"error": "no IAP audience is configured"}'
        await send({"type": "http.response.start", "status": 503, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})


@functions_framework.cloud_event
def execute(cloud_event: CloudEvent) -> None:
    """Runs an approved remediation (actions topic): re-checks approval, policy and that the incident is open."""
    from functions.handlers.execute import on_action

    on_action(remediation(), message_of(cloud_event))


@functions_framework.http
def sweep(request: Any) -> tuple[str, int]:
    """Cloud Scheduler, every 5 minutes: partial reports past their deadline, after-report steps not recorded as
    done, and approved actions whose hand-off to the executor was not recorded."""
    from functions.handlers.sweep import sweep_all

    return json.dumps(sweep_all(pipeline(), _sweep_approvals)), 200


def _sweep_approvals() -> Remediation | None:
    """The workflow the sweep follows approved actions through, built when an incident has one to follow."""
    if not Settings.from_env().approval_key:  # without a signing key there are no approvals to hand over
        return None
    return _remediation_or_none("hand-offs are not re-driven")
