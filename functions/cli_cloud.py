"""`autosre send-alert` and `autosre dlq replay`: the commands that act on a deployment's Pub/Sub topics (they need
Google credentials, or PUBSUB_EMULATOR_HOST for the emulator)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.ports import Bus


def _pubsub(project: str) -> Bus:
    """The deployment's Pub/Sub topics in `project`, as the composition root builds the bus."""
    from functions.runtime import make_bus
    from shared.config import Settings

    return make_bus(Settings(bus="pubsub", project=project))


def cmd_send_alert(args: argparse.Namespace) -> int:
    from functions.synthetic_alert import send, synthetic_alert

    payload = synthetic_alert(args.service, args.project, args.region)
    message_id = send(_pubsub(args.project), payload)
    print(json.dumps({"message_id": message_id, "monitoring_incident_id": payload["incident"]["incident_id"],
                      "started_at": payload["incident"]["started_at"]}))
    print(f"sent a synthetic alert on {args.service} to projects/{args.project}/topics/alerts; its report appears "
          "in the web view once the specialists have answered", file=sys.stderr)
    return 0


def cmd_dlq_replay(args: argparse.Namespace) -> int:
    from functions.dlq import replay

    done = replay(args.project, _pubsub(args.project), max_messages=args.max, dry_run=args.dry_run)
    for r in done:
        print(f"{r.message_id}\t{r.topic or 'left in the archive: origin unknown'}")
    verb = "would replay" if args.dry_run else "replayed"
    print(f"{verb} {sum(1 for r in done if r.topic)} of {len(done)} message(s)", file=sys.stderr)
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    alert = sub.add_parser("send-alert", parents=[common], help="send a synthetic alert through a deployment's "
                                                                "alerts topic",
                           description="Publish a Cloud Monitoring notification about a Cloud Run service, stamped "
                                       "with the current time, on the alerts topic: a first end-to-end check.")
    alert.add_argument("--project", required=True, help="the project Auto SRE is deployed in (required)")
    alert.add_argument("--service", required=True, help="the Cloud Run service the alert is about (required)")
    alert.add_argument("--region", default="us-central1", help="the service's region (default: %(default)s)")
    alert.set_defaults(func=cmd_send_alert)

    dlq = sub.add_parser("dlq", parents=[common], help="the dead-letter archive")
    dlq_sub = dlq.add_subparsers(dest="dlq_command", required=True, metavar="{replay}")
    rep = dlq_sub.add_parser("replay", parents=[common], help="re-publish dead-lettered messages to their topics",
                             description="Pull messages from the dead-letter-archive subscription and re-publish "
                                         "each to the topic it came from (after a fix); a message whose origin "
                                         "cannot be told stays in the archive.")
    rep.add_argument("--project", required=True, help="the project Auto SRE is deployed in (required)")
    rep.add_argument("--max", type=int, default=100, help="messages to replay at most (default: %(default)s)")
    rep.add_argument("--dry-run", action="store_true", help="say where each would go; publish nothing "
                                                            "(default: off)")
    rep.set_defaults(func=cmd_dlq_replay)
