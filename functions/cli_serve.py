"""`autosre serve`: the web view over a SQLite event store, on a port it binds itself (so what it prints is where
it listens, and a port in use is one line), with the approver and the policy's actions checked before it starts.
It serves on waitress, loopback addresses only, and says which executor an approval will really use
(functions/serve_http.py)."""

from __future__ import annotations

import argparse
import errno
import re
import sys

from functions.cli_base import COMPLETE, FAILED, CliError, open_store
from shared.config import Settings

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


def cmd_serve(args: argparse.Namespace) -> int:
    from agents.remediation.policy import Policy
    from functions import serve_http
    from functions.handlers.web import create_app
    from functions.runtime import remediation_of
    from functions.web_security import local_hosts

    if refusal := serve_http.non_loopback_refusal(args.host):
        raise CliError(refusal)

    identity = (args.approver or "").strip().lower()  # only what the operator started the server with
    if identity and not EMAIL.fullmatch(identity):
        raise CliError(f"--approver {args.approver}: not an e-mail address (the identity an approval records)")
    allowed = allowed_actions(args.allow) if args.allow is not None else None
    store = open_store(args.db, create=args.create)
    settings = Settings.from_env()
    remediation = remediation_of(settings.model_copy(update={"store": "sqlite"}), store)
    if identity:
        remediation.approvers = remediation.approvers | {identity}
    if allowed is not None:
        remediation.policy = Policy({"*": allowed}, remediation.policy.max_actions_per_hour)
    app = create_app(store, remediation, identity=serve_http.local_only(identity),
                     allowed_hosts=local_hosts(args.host, args.port))
    app.config["MAX_CONTENT_LENGTH"] = serve_http.MAX_BODY_BYTES
    try:  # bound here, so a port in use is one line
        listener = serve_http.listen(args.host, args.port)
        server = serve_http.server(app, listener)
    except OSError as exc:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}"
                       + (" (another server has it: pick another with --port)" if exc.errno == errno.EADDRINUSE
                          else ""), FAILED) from exc
    print(f"serving {args.db} on http://{args.host}:{listener.getsockname()[1]}/ (approver: {identity or 'none'}; "
          f"executor: {serve_http.executor_line(remediation, settings)}); Ctrl-C stops it", file=sys.stderr,
          flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return COMPLETE
