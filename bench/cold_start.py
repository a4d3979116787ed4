"""Cold start of every Cloud Functions entry point, against the SDKs it needs alone.

Run (emulators up: `.ci/emulators.sh start && source .ci/.state/env`): python -m bench.cold_start [--runs 5]

Each figure is one fresh process: the interpreter starts in the source folder a deploy ships (built by
infra/package.py: our packages with their bytecode for this Python, main.py at the root),
`functions_framework.create_app(target, "main.py", signature)` loads the function, and one message is pushed to it
through the app's test client (a Pub/Sub push envelope, or an HTTP GET), against the Pub/Sub and Firestore
emulators (store `firestore`, bus `pubsub`, telemetry: a demo bundle). Time = spawn -> the response, median of
--runs. The messages are the cheap deliveries every function gets (so the figure is the start, not the analysis:
bench/scale.py measures that): intake a new alert (opens an incident: Firestore writes, four task publishes); each
specialist and synthesize a redelivery for an incident already analysed (a Firestore read of its log, a publish);
execute an approved action, as the web function hands it over after a person approves it through a signed link, run
by the dry-run executor (each run its own: see `approved_actions`), and on a second line ("execute (refused)") an
action nobody approved (refused after reading the incident); web the incident list; sweep a pass.

The baseline of each entry point is the same kind of process with functions-framework and the SDKs the entry
point uses for its message alone (Firestore and Pub/Sub for intake and the specialists, which publish; Firestore only
for synthesize, execute, web and sweep, whose messages here publish nothing, so they never import the Pub/Sub SDK):
a function that imports them, builds their clients and makes one call of the same kind (a document read; a
publish). Each child reports which of the two SDKs it imported, and a row whose baseline imports others than the
function did is flagged. The floor of a row is its baseline plus pydantic (imported, one model validated): what no
function of ours can go under, since the settings and every event are pydantic models. The three arms run in turn,
the order rotated each run, and the spread (fastest and slowest run of each arm) is printed beside the medians,
with each entry point's ratio to its floor and the median CPU time (process start to response) of it and its floor,
which the machine's load moves far less than the wall clock. `--imports N` lists, per entry point, the N slowest
modules (by their own import time, `python -X importtime`) it imports beyond its floor; `--counts` counts, for one
more process of each entry point and of its floor, its round trips (gRPC calls, by method) and the pydantic schemas
it built: what the first message costs, whatever the machine's load. `--instructions` runs one more process of each
entry point and of its floor under valgrind's callgrind and prints the instructions each executed (user space, all
threads, interpreter start to exit): CPU work that neither the load nor the emulators' latency moves.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import py_compile
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.specialists import SPECIALISTS

ROOT = Path(__file__).resolve().parent.parent
APPROVER = "oncall@example.com"  # the person who approves the bench's actions
ENTRIES = [  # target, signature, the SDKs its baseline imports
    ("intake", "cloudevent", "store+bus"),
    *((f"specialist_{name}", "cloudevent", "store+bus") for name in SPECIALISTS),
    ("synthesize", "cloudevent", "store"), ("execute", "cloudevent", "store"), ("web", "http", "store"),
    ("sweep", "http", "store"),
]
BASELINE = '''
import os
from google.cloud import firestore
{bus_import}
import functions_framework

def _work():
    doc = firestore.Client(project=os.environ["AUTOSRE_PROJECT"]).collection("baseline").document("x").get()
{bus_work}

@functions_framework.cloud_event
def event(cloud_event):
    _work()

@functions_framework.http
def http(request):
    _work()
    return "ok"
'''
BUS_IMPORT = "from google.cloud import pubsub_v1"
BUS_WORK = ('    pubsub_v1.PublisherClient().publish(f"projects/{os.environ[\'AUTOSRE_PROJECT\']}/topics/findings", '
            'b"x").result(timeout=30)')
PYDANTIC_IMPORT = "from pydantic import BaseModel\n\nclass Doc(BaseModel):\n    id: str\n    exists: bool"
PYDANTIC_WORK = "    Doc.model_validate({'id': doc.id, 'exists': doc.exists})"
COUNTING = '''
import collections, grpc._channel, pydantic._internal._model_construction as construction
CALLS = collections.Counter()
def _counted(cls, name):
    call = getattr(cls, name)
    def counted(self, *args, **kwargs):
        method = getattr(self, "_method", b"?")
        CALLS[(method.decode() if isinstance(method, bytes) else str(method)).rsplit("/", 1)[-1]] += 1
        return call(self, *args, **kwargs)
    setattr(cls, name, counted)
for _kind in ("_UnaryUnaryMultiCallable", "_UnaryStreamMultiCallable", "_StreamUnaryMultiCallable",
              "_StreamStreamMultiCallable"):
    for _name in ("__call__", "with_call", "future"):
        if hasattr(getattr(grpc._channel, _kind), _name):
            _counted(getattr(grpc._channel, _kind), _name)
_complete = construction.complete_model_class
def _schema(*args, **kwargs):
    CALLS["schemas"] += 1
    return _complete(*args, **kwargs)
construction.complete_model_class = _schema
'''
CHILD = '''
import sys, time
began = float(sys.argv[1])
import functions_framework
app = functions_framework.create_app(sys.argv[2], sys.argv[3], sys.argv[4])
client = app.test_client()
if sys.argv[4] == "http":
    response = client.get(sys.argv[5])
else:
    response = client.post("/projects/p/topics/t", json={"message": {"data": sys.argv[5], "attributes":
        dict(a.split("=", 1) for a in sys.argv[6:]), "messageId": "m-" + str(began)}, "subscription": "s"})
took = time.time() - began
sdks = ",".join(n for n, m in (("firestore", "google.cloud.firestore"), ("pubsub", "google.cloud.pubsub_v1"))
                if m in sys.modules) or "-"
ours = sys.modules.get("shared")
if "CALLS" in globals():
    print("COUNTS", ",".join(f"{k}={v}" for k, v in sorted(CALLS.items())), flush=True)
print("RESULT", response.status_code, took, sdks, getattr(ours, "__file__", "-"), time.process_time(), flush=True)
import os
os._exit(0)
'''


def _push(payload: dict[str, object] | bytes) -> str:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return base64.b64encode(data).decode()


def run_once(target: str, source: Path, signature: str, message: str, attributes: list[str],
             env: dict[str, str], imports: dict[str, float] | None = None,
             counts: dict[str, int] | None = None, cpu: list[float] | None = None,
             instructions: list[int] | None = None) -> tuple[float, str]:
    """Seconds from spawn to the response, and the Google SDKs the process imported. The process starts in the
    source's folder, as an instance does: our packages are imported from there, never from the checkout.
    `imports`: filled with each module the process imported and its own import time in seconds (-X importtime).
    `counts`: filled with the process's gRPC calls by method (its round trips) and "schemas", the pydantic schemas
    it built (that run's time is not a cold start's: the counting is imported first). `cpu`: the process's CPU
    seconds up to the response (interpreter start included) are appended to it. `instructions`: the process is run
    under valgrind's callgrind (its time is not a cold start's) and the instructions it executed are appended."""
    began = time.time()
    flags = ["-X", "importtime"] if imports is not None else []
    traced = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"] if instructions is not None else []
    code = (COUNTING if counts is not None else "") + CHILD
    out = subprocess.run([*traced, sys.executable, *flags, "-c", code, str(began), target, str(source), signature,
                          message, *attributes], capture_output=True, text=True, cwd=source.parent, env=env,
                         timeout=600, check=False)
    if imports is not None:
        for row in out.stderr.splitlines():  # import time: self [us] | cumulative | imported package
            parts = row.removeprefix("import time:").split("|")
            if row.startswith("import time:") and len(parts) == 3 and parts[0].strip().isdigit():
                imports[parts[2].strip()] = int(parts[0]) / 1e6
    if instructions is not None:
        collected = re.search(r"Collected : (\d+)", out.stderr)
        if collected is None:
            raise RuntimeError(f"{target}: callgrind reported no count: {out.stderr[-1500:]}")
        instructions.append(int(collected.group(1)))
    if counts is not None:
        counted = next((x for x in out.stdout.splitlines() if x.startswith("COUNTS ")), "COUNTS ")
        counts.update({k: int(v) for k, v in (kv.split("=") for kv in counted.split(" ", 1)[1].split(",") if kv)})
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"{target}: no result: {out.stderr[-1500:]}")
    _, status, seconds, sdks, package, used = line.split()
    if cpu is not None:
        cpu.append(float(used))
    if int(status) >= 400:
        raise RuntimeError(f"{target}: HTTP {status}: {out.stderr[-1500:]}")
    if package != "-" and not Path(package).is_relative_to(source.parent):
        raise RuntimeError(f"{target}: imported our packages from {package}, not the built source")
    return float(seconds), sdks


def _counted(counts: dict[str, int]) -> str:
    trips = {k: v for k, v in counts.items() if k != "schemas"}
    calls = ", ".join(f"{k} {v}" for k, v in sorted(trips.items()))
    return f"{sum(trips.values())} round trips ({calls}), {counts.get('schemas', 0)} pydantic schema builds"


def alert(incident: str, started: int) -> bytes:
    return json.dumps({"version": "1.2", "incident": {
        "incident_id": incident, "policy_name": f"cold start {incident}", "state": "open", "started_at": started,
        "resource": {"type": "k8s_pod", "labels": {"service_name": "frontend"}}, "resource_name": "frontend",
        "metric": {"type": "custom.googleapis.com/shop/error_count"}, "summary": "cold start bench"}}).encode()


Next = Callable[[], tuple[str, list[str]]]  # the message of the next measured process, and its attributes


@dataclass(frozen=True)
class Case:
    """One row of the table: an entry point and the message each measured process of it gets."""

    label: str
    next_message: Next  # called right before each process of the entry point (it may ready the store for it)
    env: dict[str, str]
    done: Callable[[], None] = lambda: None  # called after each: raises when the message did not do what it should


@dataclass(frozen=True)
class Bases:
    """The baselines' and floors' sources: the store's alone, and with the Pub/Sub SDK."""

    store: Path
    bus: Path
    floor: Path
    floor_bus: Path


def _same(message: str, attributes: list[str] | None = None) -> Next:
    """Every process gets the same message (a redelivery, a GET)."""
    return lambda: (message, list(attributes or []))


def analysed(pipeline: Any, payload: bytes) -> str:
    """The incident `payload` (an alert) opens, analysed once: every specialist run, the report made (and with it
    the remediations proposed)."""
    from shared.alerts import parse_alert
    from shared.incidents import monitoring_key
    from shared.ports import Message

    pipeline.on_alert(Message(data=payload))
    incident = pipeline.store.lookup(monitoring_key(parse_alert(payload)))
    assert incident is not None
    for name in pipeline.specialists:
        pipeline.on_task(Message(data=json.dumps({"incident_id": incident, "round": 1, "specialist": name}).encode()))
    pipeline.synthesize(incident, 1, partial_ok=True)
    return str(incident)


def execute_env(env: dict[str, str], project: str) -> dict[str, str]:
    """The settings of a deployment where actions get approved, in a project of its own (its incidents stay out of
    the web list and the sweep measured in the other): a policy allowing every catalog action on every service
    (at most 3 an hour: the default), an approver, and the dry-run executor."""
    from agents.remediation.catalog import CATALOG

    return {**env, "AUTOSRE_PROJECT": project, "GOOGLE_CLOUD_PROJECT": project, "AUTOSRE_EXECUTOR": "dry_run",
            "AUTOSRE_APPROVERS": APPROVER, "AUTOSRE_POLICY": json.dumps({"allow": {"*": sorted(CATALOG)}})}


def approved_actions(count: int, env: dict[str, str], payload: bytes) -> tuple[Next, Callable[[], None]]:
    """`count` approved actions not yet run, one for each process measured. Each is its own incident (the alert
    `payload` under a new id and policy name, analysed as the first was), whose first proposal a person approved
    through its signed link, and which the web function handed to the executor (`decide_and_deliver`, the approval
    click: the decision and the hand-off recorded; the message is the one it publishes on the actions topic).
    Right before each process, the store's action slots are freed: each run is the hour's first action, as if the
    runs were an hour apart (the limit's slots are otherwise shared by every incident of the project). Returns the
    next message, and a check that the last one was run (its execution recorded, by the dry run)."""
    from functions.runtime import from_settings, remediation_of
    from shared import topics
    from shared.action_ledger import SLOT_KEY
    from shared.bus.pubsub_topology import ensure_topology
    from shared.config import Settings

    settings = Settings.from_env(env)
    ensure_topology(settings.project, [topics.ALERTS, topics.TASKS, topics.FINDINGS, topics.ACTIONS,
                                       topics.DEAD_LETTER], [])
    pipeline = from_settings(settings)
    remediation = remediation_of(settings, pipeline.store)
    handed: list[tuple[str, str]] = []
    remediation.hand_off = lambda incident_id, proposal_id: handed.append((incident_id, proposal_id))
    alert_doc = json.loads(payload)
    policy = alert_doc["incident"]["policy_name"]
    for n in range(count):  # another alert policy each: an open incident takes in its own policy's alerts
        alert_doc["incident"] |= {"incident_id": f"0.approved-{uuid.uuid4().hex[:12]}", "policy_name": f"{policy} {n}"}
        incident = analysed(pipeline, json.dumps(alert_doc).encode())
        state = remediation.log.read(incident)
        assert state is not None and state.proposals, "the bench incident proposed no remediation"
        proposal = next(iter(state.proposals))
        said = remediation.decide_and_deliver(remediation.link_token(incident, proposal, state), "approve", APPROVER)
        assert said.startswith("approved: handed to the executor"), said

    def next_message() -> tuple[str, list[str]]:
        slots = [SLOT_KEY.format(i) for i in range(remediation.policy.max_actions_per_hour)]
        for key, held in pipeline.store.lookup_all(slots).items():
            pipeline.store.release(key, held)
        sent.append(handed.pop(0))
        incident_id, proposal_id = sent[-1]
        return _push({"incident_id": incident_id, "proposal_id": proposal_id}), [f"incident_id={incident_id}"]

    def ran() -> None:
        incident_id, proposal_id = sent[-1]
        state = remediation.log.read(incident_id)
        execution = state.executions.get(proposal_id) if state is not None else None
        if execution is None or execution.status != "executed" or not execution.dry_run:
            raise RuntimeError(f"execute: the approved action {incident_id}/{proposal_id} was not run by the dry run "
                               f"({execution})")

    sent: list[tuple[str, str]] = []
    return next_message, ran


def measure(case: Case, target: str, signature: str, sdks: str, main_py: Path, bases: Bases,
            args: argparse.Namespace) -> tuple[str, str, list[float], list[float], str, str, list[float]]:
    """The runs of one row (the entry point, its baseline and its floor in turn), then its --counts, --instructions
    and --imports processes (each with the row's next message)."""
    env = case.env
    base_source = bases.bus if sdks == "store+bus" else bases.store
    floor_source = bases.floor_bus if sdks == "store+bus" else bases.floor
    base_target = "http" if signature == "http" else "event"
    base_message = _push(b"x") if signature != "http" else "/"
    ours: list[float] = []
    base: list[float] = []
    floor_runs: list[float] = []
    ours_cpu: list[float] = []
    floor_cpu: list[float] = []
    used: set[str] = set()
    base_used: set[str] = set()
    arms = ("ours", "base", "floor")
    for i in range(args.runs):  # in turn, the order rotated: a busy machine slows every arm alike
        for arm in arms[i % 3:] + arms[:i % 3]:
            if arm == "ours":
                message, attributes = case.next_message()
                seconds, imported = run_once(target, main_py, signature, message, attributes, env, cpu=ours_cpu)
                case.done()
                ours.append(seconds)
                used.add(imported)
            elif arm == "base":
                seconds, imported = run_once(base_target, base_source, signature, base_message, [], env)
                base.append(seconds)
                base_used.add(imported)
            else:
                floor_runs.append(run_once(base_target, floor_source, signature, base_message, [], env,
                                           cpu=floor_cpu)[0])
    label = case.label
    print(f"{label}: {statistics.median(ours):.3f} s vs {statistics.median(base):.3f} s, floor "
          f"{statistics.median(floor_runs):.3f} s (ours {min(ours):.3f}-{max(ours):.3f}, baseline "
          f"{min(base):.3f}-{max(base):.3f}); CPU {statistics.median(ours_cpu):.3f} s vs its floor's "
          f"{statistics.median(floor_cpu):.3f} s (medians)", file=sys.stderr)
    def once_more(ours_kw: dict[str, Any], floor_kw: dict[str, Any]) -> None:
        """One more process of the entry point (the row's next message) and one of its floor, each with what it
        fills in (`run_once`'s imports, counts or instructions)."""
        message, attributes = case.next_message()
        run_once(target, main_py, signature, message, attributes, env, **ours_kw)
        case.done()
        run_once(base_target, floor_source, signature, base_message, [], env, **floor_kw)

    if args.counts:
        ours_counts: dict[str, int] = {}
        floor_counts: dict[str, int] = {}
        once_more({"counts": ours_counts}, {"counts": floor_counts})
        print(f"{label} counts: {_counted(ours_counts)}; its floor: {_counted(floor_counts)}", file=sys.stderr)
    if args.instructions:
        ours_ir: list[int] = []
        floor_ir: list[int] = []
        once_more({"instructions": ours_ir}, {"instructions": floor_ir})
        print(f"{label} instructions: {ours_ir[0] / 1e6:.0f} M, its floor {floor_ir[0] / 1e6:.0f} M: "
              f"{(ours_ir[0] - floor_ir[0]) / 1e6:.0f} M beyond it ({ours_ir[0] / floor_ir[0]:.3f}x)",
              file=sys.stderr)
    if args.imports:
        mine: dict[str, float] = {}
        floor_imports: dict[str, float] = {}
        once_more({"imports": mine}, {"imports": floor_imports})
        extra = sorted(((t, name) for name, t in mine.items() if name not in floor_imports), reverse=True)
        print(f"{label} imports beyond its floor: {len(extra)} modules, {sum(t for t, _ in extra):.3f} s "
              "(own import time); slowest: " + ", ".join(f"{n} {t * 1000:.0f} ms" for t, n in
                                                       extra[:args.imports]), file=sys.stderr)
    return label, sdks, ours, base, "/".join(sorted(used)), "/".join(sorted(base_used)), floor_runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default="", help="comma-separated targets (default: all)")
    parser.add_argument("--imports", type=int, default=0, metavar="N",
                        help="also list, per entry point, the N slowest modules it imports beyond its floor")
    parser.add_argument("--counts", action="store_true",
                        help="also count, per entry point and its floor, the round trips (gRPC calls) and the "
                             "pydantic schemas built by one process: figures the machine's load does not move")
    parser.add_argument("--instructions", action="store_true",
                        help="also count, per entry point and its floor, the instructions one process executes "
                             "(valgrind's callgrind; a minute or so each)")
    args = parser.parse_args(argv)
    if args.instructions and shutil.which("valgrind") is None:
        print("--instructions needs valgrind", file=sys.stderr)
        return 2
    if not (os.environ.get("PUBSUB_EMULATOR_HOST") and os.environ.get("FIRESTORE_EMULATOR_HOST")):
        print("start the emulators first: .ci/emulators.sh start && source .ci/.state/env", file=sys.stderr)
        return 2
    from demo.generator import generate
    from functions.runtime import from_settings
    from shared import topics
    from shared.bus.pubsub_topology import ensure_topology
    from shared.config import Settings

    project = f"cold-{uuid.uuid4().hex[:8]}"
    work = Path(tempfile.mkdtemp(prefix="autosre-cold-"))
    scenario = generate("bad_deploy", work / "demo")
    env = {**os.environ, "AUTOSRE_STORE": "firestore", "AUTOSRE_BUS": "pubsub", "AUTOSRE_PROJECT": project,
           "AUTOSRE_TELEMETRY": f"bundle:{scenario.bundle_dir}", "AUTOSRE_APPROVAL_KEY": "k" * 40,
           "GOOGLE_CLOUD_PROJECT": project, "PYTHONDONTWRITEBYTECODE": "1"}
    os.environ.update(env)
    ensure_topology(project, [topics.ALERTS, topics.TASKS, topics.FINDINGS, topics.ACTIONS, topics.DEAD_LETTER], [])
    payload = scenario.alert_path.read_bytes()
    incident = analysed(from_settings(Settings.from_env()), payload)  # analysed once: the redeliveries' target
    source = work / "source"  # what infra/deploy.sh ships: the packages, main.py, bytecode for the runtime
    subprocess.run([sys.executable, str(ROOT / "infra" / "package.py"), str(source), "--runtime",
                    f"{sys.version_info.major}.{sys.version_info.minor}"], check=True)
    baseline_src = work / "baseline_store" / "main.py"
    bus_src = work / "baseline_bus" / "main.py"
    floor_src = work / "baseline_pydantic" / "main.py"  # the store's baseline and pydantic: one model validated
    floor_bus_src = work / "baseline_bus_pydantic" / "main.py"  # ... with the Pub/Sub baseline
    for path, bus_import, bus_work in ((baseline_src, "", ""), (bus_src, BUS_IMPORT, BUS_WORK),
                                       (floor_src, PYDANTIC_IMPORT, PYDANTIC_WORK),
                                       (floor_bus_src, f"{BUS_IMPORT}\n{PYDANTIC_IMPORT}",
                                        f"{BUS_WORK}\n{PYDANTIC_WORK}")):
        path.parent.mkdir()
        path.write_text(BASELINE.format(bus_import=bus_import, bus_work=bus_work))
        py_compile.compile(str(path), invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    wanted = {t for t in args.only.split(",") if t}
    extra = int(args.counts) + int(args.instructions) + int(args.imports > 0)  # processes beyond the runs
    bases = Bases(baseline_src, bus_src, floor_src, floor_bus_src)
    rows = []
    for target, signature, sdks in ENTRIES:
        if wanted and target not in wanted:
            continue
        if target == "intake":  # every process its own new alert
            cases = [Case(target, lambda: (_push(alert(f"0.cold-{uuid.uuid4().hex[:8]}", int(time.time()))), []),
                          env)]
        elif target.startswith("specialist_"):
            name = target.removeprefix("specialist_")
            cases = [Case(target, _same(_push({"incident_id": incident, "round": 1, "specialist": name}),
                                        [f"specialist={name}"]), env)]
        elif target == "synthesize":
            cases = [Case(target, _same(_push({"incident_id": incident, "round": 1, "specialist": "logs"})), env)]
        elif target == "execute":
            approving = execute_env(env, f"{project}-x")
            approved, ran = approved_actions(args.runs + extra, approving, payload)
            cases = [Case(target, approved, approving, ran),
                     Case(f"{target} (refused)", _same(_push({"incident_id": incident, "proposal_id": "p-none"})),
                          env)]
        else:
            cases = [Case(target, _same("/api/incidents" if target == "web" else "/"), env)]
        for case in cases:
            rows.append(measure(case, target, signature, sdks, source / "main.py", bases, args))
    floor: list[float] = []
    plain: list[float] = []
    for i in range(args.runs):  # what pydantic alone adds to the Firestore baseline: the floor of any function here
        for arm in ("floor", "plain") if i % 2 == 0 else ("plain", "floor"):
            seconds, _ = run_once("event", floor_src if arm == "floor" else baseline_src, "cloudevent",
                                  _push(b"x"), [], env)
            (floor if arm == "floor" else plain).append(seconds)
    print(f"cold start, fresh process, median of {args.runs}, the arms alternated; Pub/Sub and Firestore emulators; "
          "baseline = functions-framework + the SDKs the message uses, alone, one call of the same kind; both started "
          "from bytecode, ours as infra/package.py builds it for a deploy")
    print("floor = the baseline plus pydantic (imported, one model validated), run in turn with each row")
    print("| entry point | baseline SDKs | cold start s | baseline s | ratio | spread ours s | spread baseline s "
          "| ratio of the fastest runs | floor s | ratio to the floor | fastest runs to the floor's |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for target, sdks, ours, base, imported, base_imported, floor_runs in rows:
        names = "firestore + pubsub" if sdks == "store+bus" else "firestore"
        flag = "" if imported == base_imported else f" (function imported {imported}, baseline {base_imported})"
        ours_s, base_s, floor_s = statistics.median(ours), statistics.median(base), statistics.median(floor_runs)
        print(f"| {target} | {names}{flag} | {ours_s:.3f} | {base_s:.3f} | {ours_s / base_s:.2f}x "
              f"| {min(ours):.3f}-{max(ours):.3f} | {min(base):.3f}-{max(base):.3f} | {min(ours) / min(base):.2f}x "
              f"| {floor_s:.3f} | {ours_s / floor_s:.2f}x | {min(ours) / min(floor_runs):.2f}x |")
    print(f"floor row: the Firestore baseline plus pydantic (imported, one model validated) takes "
          f"{statistics.median(floor):.3f} s against {statistics.median(plain):.3f} s without it: "
          f"{statistics.median(floor) / statistics.median(plain):.2f}x before any code of ours "
          f"(fastest runs {min(floor) / min(plain):.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
