"""`autosre handoff`: hand an incident of a local store to PagerDuty or Jira, as the person the embedded mode knows
(`--as`, else AUTOSRE_LOCAL_IDENTITY; it must be on AUTOSRE_APPROVERS). The integration's settings come from the
environment (docs/features.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from functions.cli_base import BAD_INPUT, COMPLETE, FAILED, CliError, open_store


def cmd_handoff(args: argparse.Namespace) -> int:
    from functions.handoffs import HandOffError
    from functions.runtime import approval_key, make_handoffs
    from shared.approvals import TokenError
    from shared.config import Settings

    if not Path(args.db).exists():
        raise CliError(f"--db {args.db} does not exist")
    settings = Settings.from_env()
    store = open_store(args.db, create=False)
    handoffs = make_handoffs(settings.model_copy(update={"store": "sqlite"}), store,
                             approval_key(settings.model_copy(update={"store": "sqlite"}), store))
    if handoffs is None or args.integration not in handoffs.targets:
        raise CliError(f"{args.integration} is not configured (docs/features.md says how)", BAD_INPUT)
    who = (args.as_ or settings.local_identity).strip()
    try:
        record = handoffs.request(handoffs.link_token(args.incident_id, args.integration), who)
    except (HandOffError, TokenError) as exc:
        raise CliError(str(exc), BAD_INPUT) from exc
    state = handoffs.log.read(args.incident_id)
    status = state.handoffs[args.integration][0] if state else "failed"
    print(f"{args.integration}: {status}: {record.detail}" + (f" ({record.link or record.reference})"
                                                             if record.reference else ""))
    return COMPLETE if status in ("sent", "resolved") else FAILED


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    h = sub.add_parser("handoff", parents=[common], help="hand an incident to PagerDuty or Jira",
                       description="Hand an incident of a local store to PagerDuty (an alert event) or Jira (an "
                                   "issue): recorded on the incident, sent once.")
    h.add_argument("incident_id", help="the incident's id (required)")
    h.add_argument("integration", choices=("pagerduty", "jira"), help="where to hand it (required)")
    h.add_argument("--db", default="autosre.db", help="the SQLite store (default: %(default)s)")
    h.add_argument("--as", dest="as_", default="", help="who asks: an e-mail on AUTOSRE_APPROVERS (default: "
                                                        "AUTOSRE_LOCAL_IDENTITY)")
    h.set_defaults(func=cmd_handoff)
