"""`autosre`: demo | triage | serve | eval | postmortem. Runs the real pipeline on the embedded default (SQLite +
in-process bus).

Exit codes (also in `autosre --help` and the README): 0 a complete report; 3 a partial report (a specialist
failed or gave no answer, or there was no telemetry in the incident window); 2 bad input (an unreadable or rejected
alert, a folder that is not a telemetry bundle, a bad --db, a missing dataset folder, a usage error); 1 anything
else (and `demo --strict` when a top cause is not the injected one). Stack traces only with --debug.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from functions.cli_base import COMPLETE, FAILED, PARTIAL, CliError, open_store
from functions.local import TriageError, TriageResult, triage
from functions.report_text import Progress, on_terminal, render_view
from functions.report_view import ReportView, built_without, report_json, view_of
from functions.runtime import bundle_indexes, bundle_source
from shared.ports import EventStore, TelemetrySource

EXIT_CODES = ("exit codes: 0 a complete report; 3 a partial report (a specialist failed or gave no answer, or no "
              "telemetry in the incident window); 2 bad input (alert, bundle, --db, dataset folder, usage); 1 any "
              "other error, or `demo --strict` with a missed cause. Stack traces only with --debug.")
NEZHA_SOURCE = ("the cases are the Nezha paper's TrainTicket fault-injection data (Yu et al., FSE 2023, MIT licence, "
                "https://github.com/IntelligentDDS/Nezha); the team keeps them in ../shared/datasets/nezha-tt/cases "
                "beside the checkout (see ../shared/datasets/README.md), found through AUTOSRE_DATASETS when set")
PETSHOP_SOURCE = ("the issues are the PetShop dataset's (Hardt et al., CLeaR 2024, amazon-science/petshop-root-cause-"
                  "analysis, data CC-BY-4.0): a folder of <scenario>/graph.csv, <scenario>/noissue/ and "
                  "<scenario>/<split>/issue_N/; the team keeps it in ../shared/datasets/petshop, found through "
                  "AUTOSRE_DATASETS when set")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        number = version("autosre")
    except PackageNotFoundError:
        number = "unknown"
    return f"autosre {number} from {Path(__file__).resolve().parents[1]}"


def _bundle(path: str) -> TelemetrySource:
    if not Path(path).exists():
        raise CliError(f"--telemetry {path}: no such folder")
    if not Path(path).is_dir():
        raise CliError(f"--telemetry {path}: not a folder (a telemetry bundle is a folder, docs/bundle-format.md)")
    try:
        return bundle_source(path)
    except ValueError as exc:  # not a telemetry bundle (BundleError)
        raise CliError(str(exc)) from exc
    except OSError as exc:
        raise CliError(f"--telemetry {path}: {exc.strerror or exc}") from exc


def _code(result: TriageResult) -> int:
    return COMPLETE if result.complete else PARTIAL


def _view(result: TriageResult) -> ReportView:
    """What the text report, `--json` and the web page say beside the causes (one story)."""
    return view_of(result.state, result.report, result.warnings, result.no_data)


def _diagnose(command: str, result: TriageResult) -> None:
    """What makes the report weaker than it looks, on stderr (also at the top of the text report)."""
    missing = built_without(result.report)
    if missing:
        print(f"autosre {command}: partial report, built without {'; '.join(missing)}", file=sys.stderr)
    for warning in result.warnings:
        print(f"autosre {command}: warning: {warning}", file=sys.stderr)


@contextlib.contextmanager
def _workdir(out: str | None, prefix: str) -> Iterator[Path]:
    """`out` when given (kept), else a temporary folder removed on the way out."""
    if out:
        path = Path(out)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CliError(f"{out}: {exc.strerror or exc}") from exc
        yield path
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)


def _close(alert: bytes, source: TelemetrySource, store: EventStore) -> None:
    """The demo's incident ends as a real one does: its alert closes, so the next scenario's alert (same policy,
    same service) opens an incident of its own instead of joining this one."""
    payload = json.loads(alert)
    incident = payload.get("incident", payload)
    incident["state"], incident["ended_at"] = "closed", int(incident.get("started_at") or 0) + 600
    with contextlib.suppress(TriageError):
        triage(json.dumps(payload).encode(), source, store=store)


def cmd_demo(args: argparse.Namespace) -> int:
    from demo.generator import FAULT_KINDS, generate

    faults = list(FAULT_KINDS) if args.fault == "all" else [args.fault]
    store = open_store(args.db)
    hits, worst = 0, COMPLETE
    rows: list[tuple[str, str, str, bool, float]] = []
    runs: list[dict[str, Any]] = []
    with _workdir(args.out, "autosre-demo-") as root:
        for fault in faults:
            began = time.perf_counter()
            if on_terminal():
                print(f"\n>>> generating a '{fault}' incident in the demo shop (seed {args.seed}) ...", file=sys.stderr)
            scenario = generate(fault, root / fault, seed=args.seed)
            if on_terminal():
                print(f">>> telemetry bundle: {scenario.bundle_dir}"
                      + ("" if args.out else " (removed at exit: keep it with --out)"), file=sys.stderr)
            alert = Path(scenario.alert_path).read_bytes()
            result = triage(alert, bundle_source(scenario.bundle_dir), store=store, observers=[Progress()])
            if not (args.keep_open and fault == faults[-1]):
                _close(alert, bundle_source(scenario.bundle_dir), store)
            _diagnose("demo", result)
            worst = max(worst, _code(result))
            top = result.report.causes[0].service if result.report.causes else "-"
            ok = top == scenario.root_service
            hits += ok
            seconds = time.perf_counter() - began
            rows.append((fault, scenario.root_service, top, ok, seconds))
            runs.append({"fault": fault, "seed": args.seed, "injected": scenario.root_service, "top_cause": top,
                         "correct": ok, "seconds": round(seconds, 3), "complete": result.complete,
                         "warnings": result.warnings, "bundle": str(scenario.bundle_dir) if args.out else None,
                         "report": report_json(result.state, result.report, _view(result))})
            if not args.json:
                print(render_view(result.state, result.report, _view(result)))
                print(f"ground truth: {scenario.root_service} ({fault})  top cause: {top}  "
                      f"{'CORRECT' if ok else 'MISSED'}\n")
    if args.json:
        print(json.dumps({"runs": runs, "correct": hits, "total": len(rows)}, indent=2))
    elif len(rows) > 1:
        print(f"{'fault':<18}{'injected':<22}{'top cause':<22}{'ok':<5}{'seconds':>8}")
        for fault, truth, top, ok, secs in rows:
            print(f"{fault:<18}{truth:<22}{top:<22}{'yes' if ok else 'NO':<5}{secs:>8.2f}")
    if worst != COMPLETE:
        return worst
    return FAILED if args.strict and hits < len(rows) else COMPLETE


def cmd_triage(args: argparse.Namespace) -> int:
    try:
        payload = Path(args.alert).read_bytes()
    except OSError as exc:
        raise CliError(f"--alert {args.alert}: {exc.strerror or exc}") from exc
    source = _bundle(args.telemetry)
    store = open_store(args.db)
    indexes = bundle_indexes(args.telemetry)
    try:
        result = triage(payload, source, store=store, observers=[Progress()])
    except TriageError as exc:
        raise CliError(str(exc)) from exc
    _diagnose("triage", result)
    written = sorted(bundle_indexes(args.telemetry) - indexes)
    if written:
        print(f"autosre triage: note: wrote {len(written)} read index file{'s' if len(written) > 1 else ''} "
              f"({', '.join(p.name for p in written)}) into {args.telemetry}, beside the files they index: the "
              "next triage of this bundle reads faster; deleting them is safe", file=sys.stderr)
    if args.json:
        print(json.dumps(report_json(result.state, result.report, _view(result)), indent=2))
    else:
        print(render_view(result.state, result.report, _view(result)))
    return _code(result)


def _dataset_folder(given: str | None, under: str, source: str) -> Path:
    """The folder `given` on the command line, else `under` inside the datasets folder; an error naming `source`
    (where the data comes from) when there is none."""
    from evaluation.datasets import datasets_dir

    if given:
        folder = Path(given)
    else:
        found = datasets_dir()
        if found is None:
            raise CliError(f"no datasets folder (AUTOSRE_DATASETS unset or missing, no ../shared/datasets): {source}")
        folder = found / under
    if not folder.is_dir():
        raise CliError(f"no folder {folder}: {source}")
    return folder


def cmd_eval(args: argparse.Namespace) -> int:
    from evaluation.nezha_eval import evaluate_nezha, print_table, summarize

    cases = _dataset_folder(args.cases, "nezha-tt/cases", NEZHA_SOURCE)
    if not any((p / "label.json").exists() for p in cases.iterdir()):
        raise CliError(f"no cases (folders with label.json) in {cases}: {NEZHA_SOURCE}")
    with _workdir(args.work, "autosre-eval-") as work:
        rows = evaluate_nezha(cases, limit=args.limit, work=work)
    if args.json:
        print(json.dumps({"cases": [{**asdict(r), "rank": r.rank} for r in rows], "summary": summarize(rows)},
                         indent=2))
    else:
        print_table(rows)
    return COMPLETE


def cmd_eval_petshop(args: argparse.Namespace) -> int:
    from evaluation.petshop_eval import evaluate, print_table, summarize
    from evaluation.petshop_import import issue_dirs

    root = _dataset_folder(args.root, "petshop", PETSHOP_SOURCE)
    if not issue_dirs(root, args.split):
        raise CliError(f"no {args.split} issues (<scenario>/{args.split}/issue_N/target.json) in {root}: "
                       f"{PETSHOP_SOURCE}")
    with _workdir(args.work, "autosre-eval-") as work:
        rows = evaluate(root, args.split, work, alert_delay_s=args.alert_delay, alert_on=args.alert_on)
    if args.json:
        print(json.dumps({"issues": [asdict(r) for r in rows], "summary": summarize(rows)}, indent=2))
    else:
        print_table(rows)
    return COMPLETE


def cmd_postmortem(args: argparse.Namespace) -> int:
    from agents.reporting.postmortem import render
    from shared.incident_log import IncidentLog

    if not Path(args.db).exists():
        raise CliError(f"--db {args.db} does not exist")
    state = IncidentLog(open_store(args.db, create=False)).read(args.incident_id)
    if state is None:
        raise CliError(f"no incident {args.incident_id} in {args.db}")
    text = render(state)
    if args.out:
        try:
            Path(args.out).write_text(text)
        except OSError as exc:
            raise CliError(f"--out {args.out}: {exc.strerror or exc}") from exc
    else:
        sys.stdout.write(text)
    return COMPLETE


def _common(top: bool) -> argparse.ArgumentParser:
    """-v and --debug, accepted before and after the command (after it, they only override when given)."""
    p = argparse.ArgumentParser(add_help=False)
    default: Any = False if top else argparse.SUPPRESS
    p.add_argument("-v", "--verbose", action="store_true", default=default,
                   help="print the pipeline's structured (JSON) logs on stderr (default: errors only)")
    p.add_argument("--debug", action="store_true", default=default,
                   help="debug logs and stack traces on stderr (default: one-line errors, no stack traces)")
    return p


def build_parser() -> argparse.ArgumentParser:
    from agents.remediation.catalog import CATALOG
    from evaluation.petshop_import import ALERT_ON

    common = _common(top=False)
    p = argparse.ArgumentParser(prog="autosre", description="Auto SRE: alert in, root-cause report out.",
                                epilog=EXIT_CODES, parents=[_common(top=True)])
    p.add_argument("--version", action="version", version=_version(), help="print the version and exit")
    sub = p.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", parents=[common], epilog=EXIT_CODES,
                          help="generate an incident in a demo shop and triage it end to end",
                          description="Generate a 14-service demo shop with an injected fault, triage it with the "
                                      "real pipeline and print the report.")
    demo.add_argument("--fault", default="bad_deploy",
                      choices=["all", "bad_deploy", "cpu_saturation", "slow_dependency", "pool_exhaustion"],
                      help="the fault to inject; `all` runs each and prints a table (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=7, help="random seed of the generator (default: %(default)s)")
    demo.add_argument("--out", help="keep the generated bundles in this folder (default: a temporary folder, "
                                    "removed at exit)")
    demo.add_argument("--db", help="SQLite file for the event store, created if absent (default: in memory)")
    demo.add_argument("--keep-open", action="store_true",
                      help="leave the (last) incident open, as a live one is, so `autosre serve` can approve its "
                           "remediation (default: off: the demo's alert closes and the incident resolves)")
    demo.add_argument("--strict", action="store_true",
                      help="exit 1 unless every top cause is the injected one (default: off)")
    demo.add_argument("--json", action="store_true",
                      help="print the runs and their reports as one JSON document (default: text)")
    demo.set_defaults(func=cmd_demo)

    tri = sub.add_parser("triage", parents=[common], epilog=EXIT_CODES,
                         help="triage an alert against your own telemetry bundle",
                         description="Triage a Cloud Monitoring alert against a telemetry bundle folder "
                                     "(docs/bundle-format.md) and print the root-cause report.")
    tri.add_argument("--alert", required=True,
                     help="Cloud Monitoring notification JSON, or its Pub/Sub push envelope (required)")
    tri.add_argument("--telemetry", required=True,
                     help="telemetry bundle folder, see docs/bundle-format.md (required)")
    tri.add_argument("--db", help="SQLite file for the event store, created if absent (default: in memory)")
    tri.add_argument("--json", action="store_true",
                     help="print the report as JSON; warnings go to stderr (default: text)")
    tri.set_defaults(func=cmd_triage)

    from functions.cli_serve import cmd_serve, port_number

    srv = sub.add_parser("serve", parents=[common], help="serve the web view (reports, approvals) over a SQLite "
                                                         "event store or a deployment's Firestore",
                         description="Serve the web view over the event store an `autosre demo --db` run wrote, or "
                                     "over a Google Cloud deployment's Firestore (--store firestore --project P) with "
                                     "your own Application Default Credentials: read-only unless --approver is "
                                     "given.")
    srv.add_argument("--store", choices=("sqlite", "firestore"), default="sqlite",
                     help="where the incidents are: the SQLite file --db, or the Firestore of --project "
                          "(default: %(default)s)")
    srv.add_argument("--project",
                     help="the deployment's Google Cloud project (required with --store firestore; default: none)")
    srv.add_argument("--db", default="autosre.db",
                     help="the SQLite file `autosre demo --db` wrote; must exist unless --create "
                          "(default: %(default)s)")
    srv.add_argument("--create", action="store_true",
                     help="start an empty store when --db does not exist (default: off: a missing file is an error)")
    srv.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    srv.add_argument("--port", type=port_number, default=8080,
                     help="port to listen on, 1 to 65535 (default: %(default)s)")
    srv.add_argument("--approver", help="the local approver's e-mail address, added to the approvers list; the only "
                                        "identity this server knows (default: none, nobody can approve)")
    srv.add_argument("--telemetry", help="a telemetry bundle folder: investigations started through the API run "
                                        "here, and hints get a targeted look (default: none; on --store firestore "
                                        "the deployment's intake runs them)")
    srv.add_argument("--allow", help=f"actions the policy allows on every service, comma-separated, from "
                                     f"{', '.join(CATALOG)} (default: AUTOSRE_POLICY, else deny everything)")
    srv.set_defaults(func=cmd_serve)

    pm = sub.add_parser("postmortem", parents=[common], help="print a postmortem draft (Markdown) of an incident",
                        description="Draft a postmortem in Markdown from an incident's event log: summary, impact, "
                                    "timeline, root cause and its evidence, what was ruled out, action items.")
    pm.add_argument("incident_id", help="the incident (as the report and `autosre serve` name it)")
    pm.add_argument("--db", default="autosre.db",
                    help="the SQLite file `autosre demo --db` or `triage --db` wrote; must exist "
                         "(default: %(default)s)")
    pm.add_argument("--out", help="write the draft to this file (default: stdout)")
    pm.set_defaults(func=cmd_postmortem)

    ev = sub.add_parser("eval", parents=[common], help="score the root-cause ranking on labelled fault-injection "
                                                       "data")
    ev_sub = ev.add_subparsers(dest="dataset", required=True, metavar="{nezha,petshop}")
    nez = ev_sub.add_parser("nezha", parents=[common], epilog=EXIT_CODES,
                            help="Nezha TrainTicket cases (a folder of <case>/ with label.json)",
                            description="Triage every labelled Nezha TrainTicket case from a synthesized frontend "
                                        f"alert and score the ranking. Data: {NEZHA_SOURCE}.")
    nez.add_argument("cases", nargs="?",
                     help="folder of <case>/ with label.json (default: $AUTOSRE_DATASETS/nezha-tt/cases, else "
                          "../shared/datasets/nezha-tt/cases beside the checkout)")
    nez.add_argument("--limit", type=int, default=0, help="only the first N cases (default: 0, every case)")
    nez.add_argument("--work", help="keep the imported bundles in this folder (default: a temporary folder, "
                                    "removed at exit)")
    nez.add_argument("--json", action="store_true",
                     help="print the per-case scores and the summary as JSON (default: a table)")
    nez.set_defaults(func=cmd_eval)
    pet = ev_sub.add_parser("petshop", parents=[common], epilog=EXIT_CODES,
                            help="PetShop issues (metrics at 5-minute resolution and a call graph)",
                            description="Triage every PetShop issue of a split from an alert on its target node and "
                                        "metric, and print top-1/top-3 per scenario beside three baselines (the "
                                        "alerting node, a robust z on the alert's metric per node, the dataset "
                                        f"authors' graph traversal). Data: {PETSHOP_SOURCE}.")
    pet.add_argument("root", nargs="?", help="the PetShop folder (default: $AUTOSRE_DATASETS/petshop, else "
                                             "../shared/datasets/petshop beside the checkout)")
    pet.add_argument("--split", default="train", help="train or test (default: %(default)s)")
    pet.add_argument("--alert-delay", type=float, default=0.0, metavar="SECONDS",
                     help="the alert fires this many seconds after the issue's target time, as a policy that waits "
                          "before it fires would (default: 0)")
    pet.add_argument("--alert-on", choices=ALERT_ON, default="target",
                     help="where the alert fires, on the issue's metric: its target node (default), the root cause "
                          "itself, or each node the call graph says calls the root cause (one alert each)")
    pet.add_argument("--work", help="keep the imported bundles in this folder (default: a temporary folder, "
                                    "removed at exit)")
    pet.add_argument("--json", action="store_true",
                     help="print the per-issue scores and the summary as JSON (default: a table)")
    pet.set_defaults(func=cmd_eval_petshop)

    from functions.cli_cloud import add_commands
    from functions.cli_handoff import add_commands as add_handoff

    add_commands(sub, common)
    from functions.cli_mcp import add_command as add_mcp

    add_mcp(sub, common)
    add_handoff(sub, common)
    sub.metavar = "{" + ",".join(sub.choices) + "}"  # the usage line names every command
    return p


class _OneLineErrors(logging.Filter):
    """Without --debug: a logged exception becomes `message: Type: text` on its record, with no stack trace."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.msg, record.args = f"{record.getMessage()}: {type(exc).__name__}: {exc}", None
            record.exc_info, record.exc_text = None, None
        return True


def _setup_logging(verbose: bool, debug: bool) -> None:
    from shared.jsonlog import setup_logging

    setup_logging(logging.DEBUG if debug else logging.INFO if verbose else logging.ERROR)
    if not debug:
        for handler in logging.getLogger().handlers:
            handler.addFilter(_OneLineErrors())


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose, args.debug)
    name = f"autosre {args.command}" + (f" {args.dataset}" if args.command == "eval" else "")
    try:
        code: int = args.func(args)
    except CliError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        print(f"{name}: {type(exc).__name__}: {exc} (--debug shows the stack trace)", file=sys.stderr)
        return FAILED
    return code


if __name__ == "__main__":
    raise SystemExit(main())
