"""`autosre`: demo | triage | eval. Runs the real pipeline on the embedded default (SQLite + in-process bus)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

from functions.local import TriageError, TriageResult, triage
from functions.report_text import Progress, render_report
from shared.store.sqlite import SqliteEventStore
from shared.telemetry.bundle import BundleError, BundleSource


def _store(db: str | None) -> SqliteEventStore:
    return SqliteEventStore(db or ":memory:")


def cmd_demo(args: argparse.Namespace) -> int:
    from demo.generator import FAULT_KINDS, generate

    faults = list(FAULT_KINDS) if args.fault == "all" else [args.fault]
    root = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="autosre-demo-"))
    hits = 0
    rows = []
    for fault in faults:
        began = time.perf_counter()
        print(f"\n>>> generating a '{fault}' incident in the demo shop (seed {args.seed}) ...", file=sys.stderr)
        scenario = generate(fault, root / fault, seed=args.seed)
        print(f">>> telemetry bundle: {scenario.bundle_dir}", file=sys.stderr)
        result = triage(Path(scenario.alert_path).read_bytes(), BundleSource(scenario.bundle_dir),
                        store=_store(args.db), observers=[Progress()])
        print(render_report(result.state, result.report))
        top = result.report.causes[0].service if result.report.causes else "-"
        ok = top == scenario.root_service
        hits += ok
        rows.append((fault, scenario.root_service, top, ok, time.perf_counter() - began))
        print(f"ground truth: {scenario.root_service} ({fault})  top cause: {top}  "
              f"{'CORRECT' if ok else 'MISSED'}\n")
    if len(rows) > 1:
        print(f"{'fault':<18}{'injected':<22}{'top cause':<22}{'ok':<5}{'seconds':>8}")
        for fault, truth, top, ok, secs in rows:
            print(f"{fault:<18}{truth:<22}{top:<22}{'yes' if ok else 'NO':<5}{secs:>8.2f}")
    return 0 if hits == len(rows) or not args.strict else 1


def cmd_triage(args: argparse.Namespace) -> int:
    try:
        source = BundleSource(args.telemetry)
        payload = Path(args.alert).read_bytes()
        result: TriageResult = triage(payload, source, store=_store(args.db), observers=[Progress()])
    except (TriageError, BundleError, OSError) as exc:
        print(f"autosre triage: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.report.model_dump(mode="json"), indent=2))
    else:
        print(render_report(result.state, result.report))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from bench.nezha_eval import evaluate_nezha, print_table

    rows = evaluate_nezha(Path(args.cases), limit=args.limit, work=Path(args.work) if args.work else None)
    print_table(rows)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from agents.policy import Policy
    from functions.runtime import remediation_of
    from functions.web import create_app
    from shared.config import Settings

    settings = Settings.from_env()
    store = SqliteEventStore(args.db)
    remediation = remediation_of(settings.model_copy(update={"store": "sqlite"}), store)
    identity = args.approver or settings.local_identity
    if args.approver:
        remediation.approvers = remediation.approvers | {args.approver.lower()}
    if args.allow:
        remediation.policy = Policy({"*": [a.strip() for a in args.allow.split(",") if a.strip()]},
                                    remediation.policy.max_actions_per_hour)
    app = create_app(store, remediation, identity)
    print(f"serving {args.db} on http://{args.host}:{args.port}/ (approver: {identity or 'none'}; "
          f"executor: dry run)", file=sys.stderr)
    app.run(host=args.host, port=args.port, debug=False)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="autosre", description="Auto SRE: alert in, root-cause report out.")
    p.add_argument("-v", "--verbose", action="store_true", help="log the pipeline's structured logs")
    sub = p.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="generate an incident in a demo shop and triage it end to end")
    demo.add_argument("--fault", default="bad_deploy",
                      choices=["all", "bad_deploy", "cpu_saturation", "slow_dependency", "pool_exhaustion"])
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--out", help="where to write the generated bundles (default: a temp folder)")
    demo.add_argument("--db", help="SQLite file for the event store (default: in memory)")
    demo.add_argument("--strict", action="store_true", help="exit 1 unless every top cause is the injected one")
    demo.set_defaults(func=cmd_demo)

    tri = sub.add_parser("triage", help="triage an alert against your own telemetry bundle")
    tri.add_argument("--alert", required=True, help="Cloud Monitoring notification JSON (or a push envelope)")
    tri.add_argument("--telemetry", required=True, help="telemetry bundle folder (docs/bundle-format.md)")
    tri.add_argument("--db", help="SQLite file for the event store (default: in memory)")
    tri.add_argument("--json", action="store_true", help="print the report as JSON")
    tri.set_defaults(func=cmd_triage)

    srv = sub.add_parser("serve", help="serve the web view (reports, approvals) over a SQLite event store")
    srv.add_argument("--db", default="autosre.db", help="the SQLite file `autosre demo --db` wrote")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=8080)
    srv.add_argument("--approver", help="the local approver identity (added to the approvers list)")
    srv.add_argument("--allow", help="actions the policy allows on every service, comma-separated "
                                     "(default: AUTOSRE_POLICY, else deny everything)")
    srv.set_defaults(func=cmd_serve)

    ev = sub.add_parser("eval", help="score the root-cause ranking on labelled fault-injection data")
    ev_sub = ev.add_subparsers(dest="dataset", required=True)
    nez = ev_sub.add_parser("nezha", help="Nezha TrainTicket cases (a folder of <case>/ with label.json)")
    nez.add_argument("cases", help="e.g. ../shared/datasets/nezha-tt/cases")
    nez.add_argument("--limit", type=int, default=0, help="only the first N cases")
    nez.add_argument("--work", help="where to keep the imported bundles (default: a temp folder)")
    nez.set_defaults(func=cmd_eval)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from shared.jsonlog import setup_logging

    setup_logging(logging.INFO if args.verbose else logging.ERROR)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
