"""Big incidents: triage a demo incident at 1x, 10x and 100x its traffic (demo/scale.py) embedded, and print per
size the time to report, the time and peak memory of each specialist, the bytes read, whether the verdict is still
the injected cause, and how time grows between sizes.

Run: python -m bench.scale [--sizes 1,10,100] [--fault bad_deploy] [--work DIR]

- time to report: wall time (and the process's CPU time: the machine's two cores are shared) from the alert
  published on the in-process bus to `report.published` recorded (functions/local.py `triage`, SQLite in memory,
  one process, every specialist reading the same BundleSource), in a fresh process per size; `triage s` adds the
  checks `triage` runs after the report.
- unindexed: the same triage with the bundle's kept time index ignored (`BundleSource(keep_index=False)`): the
  process places every log line and span itself, as the first read of a bundle written without one does.
- specialist seconds: the `seconds` of each `specialist.completed` event (rounds 1 and 2 added up).
- peak RSS per specialist: each specialist run alone on round 1's windows in a fresh subprocess (its own
  BundleSource, so it pays for every read it makes), `resource.getrusage(RUSAGE_SELF).ru_maxrss` at the end; the
  figure after the `+` is the growth over the same process after its imports (the interpreter and the modules).
- bytes read: what the BundleSource read from the bundle's files during the triage.
- growth: log(t2/t1) / log(n2/n1) between consecutive sizes, n = log lines + spans in the bundle.
- log counts: whether the logs specialist counted patterns over every log line of both windows ("every line",
  streamed; the timelines and code paths from a sample of whole traces) or over a sample ("sample").
- load: the machine's 1-minute load average when the report was published (two cores: above 2, other work
  shares them and wall times stretch; the CPU time is the steadier figure).
The bundles are generated once into --work (default: a folder in the temp dir) and reused.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from shared.specialists import SPECIALISTS


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_triage(case: Path, keep_index: bool = True) -> dict[str, Any]:
    """One triage of the case (in this process); what the table shows about it. `keep_index=False`: the log and
    span files are placed in time by this process, as on the first read of a bundle that carries no index."""
    from functions.local import triage
    from shared import events as ev
    from shared.core_models import Event
    from shared.telemetry.bundle import BundleSource

    source = BundleSource(case / "bundle", keep_index=keep_index)
    seconds: dict[str, float] = {}
    reported: list[float] = []
    cpu: list[float] = []
    load: list[float] = []

    def observe(event: Event) -> None:
        if event.type == ev.SPECIALIST_COMPLETED:
            name = str(event.data["specialist"])
            seconds[name] = seconds.get(name, 0.0) + float(event.data.get("seconds") or 0.0)
        elif event.type == ev.REPORT_PUBLISHED and not reported:
            reported.append(time.perf_counter())
            cpu.append(time.process_time())
            load.append(os.getloadavg()[0])

    alert = (case / "alert.json").read_bytes()
    began, began_cpu = time.perf_counter(), time.process_time()
    result = triage(alert, source, observers=[observe])
    total = time.perf_counter() - began
    truth = json.loads((case / "truth.json").read_text())
    top = result.report.causes[0].service if result.report.causes else ""
    notes = sorted({n for rnd in result.state.rounds.values() for ns in rnd.notes.values() for n in ns})
    return {"report_s": (reported[0] - began) if reported else total, "triage_s": total,
            "report_cpu_s": (cpu[0] - began_cpu) if cpu else time.process_time() - began_cpu, "specialists": seconds,
            "top": top, "truth": truth["root_service"], "bytes_read": int(getattr(source, "bytes_read", 0)),
            "rss_mib": _rss_mib(), "rounds": len(result.state.rounds), "notes": notes,
            "load": load[0] if load else os.getloadavg()[0]}


def run_specialist(name: str, case: Path) -> dict[str, Any]:
    """One specialist alone on round 1's windows (in this process): its peak RSS."""
    import importlib

    from agents.context import AnalysisContext, plan_windows
    from shared.alerts import parse_alert
    from shared.specialists import spec_of
    from shared.telemetry.bundle import BundleSource

    analyse = importlib.import_module(spec_of(name).analysis).analyse
    alert = parse_alert((case / "alert.json").read_bytes())
    onset = float(alert.started_at or 0.0)
    incident, baseline = plan_windows(onset)
    ctx = AnalysisContext("bench", alert.service, alert.metric_type, onset, incident, baseline)
    base = _rss_mib()
    began = time.perf_counter()
    result = analyse(BundleSource(case / "bundle"), ctx)
    return {"rss_mib": _rss_mib(), "imports_mib": base, "seconds": time.perf_counter() - began,
            "findings": len(result.findings), "notes": result.notes}


def _child(*args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "bench.scale", *args], capture_output=True, text=True, check=False,
                         env={**os.environ, "PYTHONHASHSEED": "0"})
    if out.returncode:
        raise RuntimeError(f"bench.scale {' '.join(args)} failed: {out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def prepare(fault: str, factor: int, work: Path) -> tuple[Path, int]:
    """The case folder for this size (generated unless already there) and its n (log lines + spans)."""
    case = work / f"{fault}-x{factor}"
    if not (case / "truth.json").exists():
        from demo.scale import scale

        scale(fault, factor, case)
    counts = json.loads((case / "bundle" / "manifest.json").read_text())["counts"]
    return case, int(counts["logs"]) + int(counts["spans"])


def _exponent(t2: float, t1: float, n2: int, n1: int) -> str:
    if min(t1, t2) <= 0 or n1 == n2:
        return "-"
    return f"{math.log(t2 / t1) / math.log(n2 / n1):.2f}"


def _log_counts(notes: list[str]) -> str:
    """How the logs specialist counted patterns, as its notes say."""
    every = [n for n in notes if "pattern counts from every line" in n]
    if every:
        return "every line (" + every[0].split("(", 1)[1].split(")", 1)[0] + ")"
    return "sample" if any(n.startswith("logs (") and "sampl" in n for n in notes) else "every line"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,10,100", help="traffic factors (default: 1,10,100)")
    parser.add_argument("--fault", default="bad_deploy", help="the injected fault (default: bad_deploy)")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "autosre-scale",
                        help="where the bundles are generated and kept (default: $TMPDIR/autosre-scale)")
    parser.add_argument("--no-rss", action="store_true", help="skip the per-specialist memory runs")
    parser.add_argument("--no-cold", action="store_true", help="skip the triage that places the files itself")
    parser.add_argument("--triage", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cold", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--specialist", nargs=2, metavar=("NAME", "CASE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.triage:
        print(json.dumps(run_triage(args.triage, keep_index=not args.cold)))
        return 0
    if args.specialist:
        print(json.dumps(run_specialist(args.specialist[0], Path(args.specialist[1]))))
        return 0
    rows = []
    for factor in (int(s) for s in args.sizes.split(",")):
        case, n = prepare(args.fault, factor, args.work)
        counts = json.loads((case / "bundle" / "manifest.json").read_text())["counts"]
        print(f"x{factor}: {counts}", file=sys.stderr, flush=True)
        run = _child("--triage", str(case))
        cold = None if args.no_cold else _child("--triage", str(case), "--cold")
        rss = {} if args.no_rss else {s: _child("--specialist", s, str(case)) for s in SPECIALISTS}
        rows.append((factor, n, counts, run, rss, cold))
    print(f"fault {args.fault}; n = log lines + spans in the bundle; RSS = peak of a fresh process running one "
          "specialist (+ growth over its imports)")
    head = ["size", "logs", "spans", "series", "report s", "report CPU s", "unindexed report s (CPU s)", "triage s",
            *(f"{s} s" for s in SPECIALISTS), *(f"{s} RSS MiB" for s in SPECIALISTS),
            "MiB read", "log counts", "verdict", "growth", "load"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    prev: tuple[float, int] | None = None
    for factor, n, counts, run, rss, cold in rows:
        growth = _exponent(run["report_s"], prev[0], n, prev[1]) if prev else "-"
        prev = (run["report_s"], n)
        verdict = "ok" if run["top"] == run["truth"] else f"MISSED ({run['top']} vs {run['truth']})"
        cells = [f"x{factor}", str(counts["logs"]), str(counts["spans"]), str(counts["metrics"]),
                 f"{run['report_s']:.2f}", f"{run['report_cpu_s']:.2f}",
                 f"{cold['report_s']:.2f} ({cold['report_cpu_s']:.2f})" if cold else "-", f"{run['triage_s']:.2f}",
                 *(f"{run['specialists'].get(s, 0.0):.2f}" for s in SPECIALISTS),
                 *((f"{rss[s]['rss_mib']:.0f} (+{rss[s]['rss_mib'] - rss[s]['imports_mib']:.0f})" if rss else "-")
                   for s in SPECIALISTS),
                 f"{run['bytes_read'] / 2**20:.0f}", _log_counts(run["notes"]), verdict, growth, f"{run['load']:.1f}"]
        print("| " + " | ".join(cells) + " |")
    for factor, _, _, run, _, _ in rows:
        notes = sorted(n for n in run["notes"] if "sampl" in n)
        if notes:
            print(f"x{factor} sampling notes: " + "; ".join(notes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
