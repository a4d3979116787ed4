"""`autosre mcp`: the MCP server over stdio (functions/mcp_server.py), against the embedded store or a deployment's
Firestore. Given a telemetry bundle (`--telemetry`), hints on services nothing examined yet get a targeted look and
investigations can be started locally; against Firestore they go through the deployment's Pub/Sub topics."""

from __future__ import annotations

import argparse
import getpass
from typing import Any

from functions.cli_base import COMPLETE, CliError, open_store


def identity_of(given: str | None) -> str:
    """Who the questions and hints are recorded as: --as, else the local user."""
    if given and given.strip():
        return given.strip().lower()
    try:
        return f"{getpass.getuser()}@local"
    except Exception:  # no user name in this environment
        return "mcp@local"


def cmd_mcp(args: argparse.Namespace) -> int:
    try:
        import mcp  # noqa: F401
    except ImportError:
        raise CliError("the MCP server needs the mcp package: pip install 'autosre[mcp]'") from None
    from functions.mcp_server import serve
    from functions.talk import Talk
    from shared.config import Settings

    if args.store == "firestore":
        if not args.project:
            raise CliError("--store firestore needs --project")
        if args.telemetry:
            raise CliError("--telemetry runs investigations here, over --db; with --store firestore the "
                           "deployment's intake and specialists run them (through its Pub/Sub)")
        from functions.runtime import deployment_talk, make_store

        settings = Settings.from_env().model_copy(update={"store": "firestore", "bus": "pubsub",
                                                          "project": args.project})
        talk = deployment_talk(settings, make_store(settings))
    else:
        from functions.runtime import bundle_talk, make_writer

        store = open_store(args.db, create=False)
        if args.telemetry:
            talk = bundle_talk(store, args.telemetry, Settings.from_env())
        else:  # free questions: the configured model, if any
            talk = Talk(store, writer=make_writer(Settings.from_env()), cannot_start=(
                "this MCP server has no telemetry: run `autosre mcp --telemetry BUNDLE_DIR` to run investigations "
                "here, or `autosre mcp --store firestore --project P` to hand them to a deployment's intake"))
    serve(talk, identity_of(args.as_))
    return COMPLETE


def add_command(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("mcp", parents=[common], help="serve the investigations to an MCP client over stdio",
                       description="An MCP server over stdio: list incidents, read reports and findings, ask "
                                   "follow-up questions, add hints, start investigations. No tool approves or runs "
                                   "a remediation.")
    p.add_argument("--db", default="autosre.db", help="the SQLite event store; must exist (default: %(default)s)")
    p.add_argument("--store", choices=["sqlite", "firestore"], default="sqlite",
                   help="where the incidents are: the embedded SQLite file or a deployment's Firestore "
                        "(default: %(default)s)")
    p.add_argument("--project",
                   help="the Google Cloud project of the Firestore store and Pub/Sub topics (default: none)")
    p.add_argument("--telemetry", help="a telemetry bundle folder (with --db): lets hints take a targeted look and "
                                       "starts investigations locally (default: none; hints only re-rank; with "
                                       "--store firestore the deployment runs them)")
    p.add_argument("--as", dest="as_", help="who questions and hints are recorded as (default: <user>@local)")
    p.set_defaults(func=cmd_mcp)
