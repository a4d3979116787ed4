"""`autosre serve`: the web view over a SQLite event store, or over a Google Cloud deployment's Firestore with the
user's own credentials (`--store firestore --project P`: read-only unless an approver is given), on a port it binds
itself (so what it prints is where it listens, and a port in use is one line), with the approver and the policy's
actions checked before it starts. It serves on waitress, loopback addresses only, and says which executor an
approval will really use (functions/serve_http.py) and what starting an investigation does: run here on a telemetry
bundle (`--telemetry`), or handed to a deployment's intake (`--store firestore` with an approver)."""

from __future__ import annotations

import argparse
import errno
import json
import re
import sys
from typing import TYPE_CHECKING

from functions.cli_base import COMPLETE, FAILED, CliError, open_store
from shared.config import Settings
from shared.ports import EventStore

if TYPE_CHECKING:
    from functions.remediation import Remediation
    from functions.talk import Talk

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def port_number(text: str) -> int:
    """A TCP port to listen on, 1 to 65535 (what `serve` prints is where it listens)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port (1 to 65535)")
    return port


def allowed_actions(text: str) -> list[str]:
    from agents.remediation.catalog import CATALOG

    actions = [a.strip() for a in text.split(",") if a.strip()]
    unknown = [a for a in actions if a not in CATALOG]
    if unknown or not actions:
        raise CliError(f"--allow {text}: {'unknown action ' + ', '.join(unknown) if unknown else 'no action'} "
                       f"(the actions are {', '.join(sorted(CATALOG))})")
    return actions


def deployment_store(project: str, settings: Settings) -> EventStore:
    """A deployment's Firestore, read with Application Default Credentials (the user's own `gcloud auth
    application-default login`, or FIRESTORE_EMULATOR_HOST); one read now, so missing credentials or permission
    are said before the server starts, not on the first page."""
    from functions.runtime import make_store

    try:
        store = make_store(settings.model_copy(update={"store": "firestore", "project": project}))
        store.summaries_page(1)
    except Exception as exc:  # the SDK's errors: no credentials, permission denied, no database, unreachable
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise CliError(f"cannot read the Firestore of project {project}: {type(exc).__name__}: {reason} (sign in "
                       "with `gcloud auth application-default login`; reading needs roles/datastore.viewer)",
                       FAILED) from exc
    return store


def approvals_on_firestore(settings: Settings, store: EventStore) -> Remediation:
    """Approvals against a deployment: its approval key (AUTOSRE_APPROVAL_KEY, the deployment's secret) signs the
    links, and an approved action goes to the deployment's actions topic, run by its `execute` function, as
    approvals made through its own web view are."""
    from functions.runtime import make_bus, remediation_of
    from shared import topics

    try:
        remediation = remediation_of(settings, store)
    except ValueError as exc:
        raise CliError(f"--approver on --store firestore: {exc}") from exc
    bus = make_bus(settings.model_copy(update={"bus": "pubsub"}))

    def hand_off(incident_id: str, proposal_id: str) -> None:
        bus.publish(topics.ACTIONS, json.dumps({"incident_id": incident_id, "proposal_id": proposal_id}).encode(),
                    {"incident_id": incident_id})

    remediation.hand_off = hand_off
    return remediation


NO_TELEMETRY = ("this server has no telemetry, so nothing can run an investigation here: restart it with "
                "`autosre serve --telemetry BUNDLE_DIR` to run them here, or start them on the deployment (its web "
                "view, or `autosre serve --store firestore --project P --approver EMAIL`)")


def conversation(args: argparse.Namespace, settings: Settings, store: EventStore,
                 writes: bool) -> tuple[Talk | None, str]:
    """What the API's questions, hints and started investigations run on, and what starting one does: with
    --telemetry, run here as `autosre mcp --telemetry` runs it; on a deployment's Firestore (with an approver, who
    can write), handed to the deployment's intake through its Pub/Sub, as `autosre mcp --store firestore` hands it."""
    from functions.runtime import bundle_talk, deployment_talk
    from functions.talk import Talk

    if args.store == "firestore":
        if args.telemetry:
            raise CliError("--telemetry runs investigations here, over --db; with --store firestore the "
                           "deployment's intake and specialists run them (through its Pub/Sub)")
        if not writes:
            return None, "off (read-only)"
        deployment = settings.model_copy(update={"bus": "pubsub"})
        return deployment_talk(deployment, store), "handed to the deployment's intake"
    if not args.telemetry:
        return Talk(store, cannot_start=NO_TELEMETRY), "off (no --telemetry)"
    try:
        return bundle_talk(store, args.telemetry, settings), f"run here on {args.telemetry}"
    except ValueError as exc:  # not a bundle folder: said before the server starts
        raise CliError(f"--telemetry {args.telemetry}: {exc}") from exc


def cmd_serve(args: argparse.Namespace) -> int:
    from agents.remediation.policy import Policy
    from functions import serve_http
    from functions.handlers.web import create_app
    from functions.runtime import chat_told, read_only, remediation_of
    from functions.web_security import local_hosts

    if refusal := serve_http.non_loopback_refusal(args.host):
        raise CliError(refusal)

    identity = (args.approver or "").strip().lower()  # only what the operator started the server with
    if identity and not EMAIL.fullmatch(identity):
        raise CliError(f"--approver {args.approver}: not an e-mail address (the identity an approval records)")
    allowed = allowed_actions(args.allow) if args.allow is not None else None
    settings = Settings.from_env()
    remediation: Remediation | None
    if args.store == "firestore":
        if not args.project:
            raise CliError("--store firestore needs --project, the deployment's Google Cloud project")
        settings = settings.model_copy(update={"store": "firestore", "project": args.project})
        store: EventStore = deployment_store(args.project, settings)
        where = f"the Firestore of project {args.project}"
        if identity:
            remediation = approvals_on_firestore(settings, store)
        else:  # nothing to decide with and nobody to acknowledge: nothing is written to the deployment
            store, remediation, where = read_only(store, "no --approver"), None, where + " (read-only)"
    else:
        store = open_store(args.db, create=args.create)
        where = args.db
        remediation = remediation_of(settings.model_copy(update={"store": "sqlite"}), store)
    if remediation is not None and identity:
        remediation.approvers = remediation.approvers | {identity}
    if remediation is not None and allowed is not None:
        remediation.policy = Policy({"*": allowed}, remediation.policy.max_actions_per_hour)
    talk, starts = conversation(args, settings, store, remediation is not None)
    here = settings.model_copy(update={"base_url": settings.base_url or f"http://{args.host}:{args.port}"})
    app = create_app(store, remediation, identity=serve_http.local_only(identity),
                     allowed_hosts=local_hosts(args.host, args.port),
                     told=chat_told(here, store) if identity else None, talk=talk)
    app.config["MAX_CONTENT_LENGTH"] = serve_http.MAX_BODY_BYTES
    try:  # bound here, so a port in use is one line
        listener = serve_http.listen(args.host, args.port)
        server = serve_http.server(app, listener)
    except OSError as exc:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}"
                       + (" (another server has it: pick another with --port)" if exc.errno == errno.EADDRINUSE
                          else ""), FAILED) from exc
    executor = ("off" if remediation is None else "the deployment's, through its actions topic"
                if remediation.hand_off is not None else serve_http.executor_line(remediation, settings))
    print(f"serving {where} on http://{args.host}:{listener.getsockname()[1]}/ (approver: {identity or 'none'}; "
          f"executor: {executor}; investigations: {starts}); Ctrl-C stops it", file=sys.stderr, flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return COMPLETE
