"""Inputs of unbounded size: one 300 MB log line among ordinary ones, and a 1 GB logs file. Per case, the logs
specialist alone in a fresh process on a bundle generated on the fly (in the temp dir, removed afterwards unless
--keep): wall and CPU seconds (the bundle's first read places its files, included), peak RSS, the lines counted and
the report's notes about what was cut.

Run: python -m bench.big_inputs [--cases line,file] [--line-mb 300] [--file-gb 1.0] [--work DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BASE_START, ONSET = 1_700_000_000.0, 1_700_003_600.0
WORDS = ["cart", "order", "user", "payment", "stock", "session", "price", "ship"]


def _line(rng: random.Random, t: float, size: int) -> dict[str, Any]:
    """An ordinary line as the bundle writer writes it, about `size` bytes of text."""
    from shared.telemetry.bundle import encode_log
    from shared.telemetry_records import LogRecord

    word = rng.choice(WORDS)
    text = f"{word} {rng.randrange(99999)} handled in {rng.randrange(999)} ms"
    if size > len(text):  # a long line of one statement: its keys fixed, its values fresh
        text += " ctx=" + " ".join(f"{word}{k}={rng.randrange(10**6)}" for k in range(size // 16))
    service = f"svc-{rng.randrange(4)}"
    return encode_log(LogRecord(t, service, text[:size] if size > 60 else text, "INFO", f"{service}-0",
                                f"{rng.getrandbits(64):016x}"))


def write_case(case: str, folder: Path, line_mb: int, file_gb: float) -> dict[str, Any]:
    """A bundle with a huge line (`line`) or a huge logs file (`file`); what it holds."""
    import orjson

    from shared.telemetry.bundle import BundleWriter, encode_log
    from shared.telemetry_records import LogRecord

    rng = random.Random(1)
    with BundleWriter(folder, {"name": f"big-{case}"}, index=False):
        pass
    lines = 0
    with open(folder / "logs.jsonl", "wb") as f:
        if case == "line":
            n = 20_000
            for i in range(n):
                t = BASE_START + 5400.0 * i / n
                f.write(orjson.dumps(_line(rng, t, 80)) + b"\n")
                if i == n * 2 // 3:  # in the incident window
                    huge = LogRecord(t, "svc-0", "dump " + "x" * (line_mb * 2**20), "ERROR", "svc-0-0")
                    f.write(orjson.dumps(encode_log(huge)) + b"\n")
            lines = n + 1
        else:
            target, size = int(file_gb * 2**30), 1400
            n = target // (size + 260)
            for i in range(n):
                f.write(orjson.dumps(_line(rng, BASE_START + 5400.0 * i / n, size)) + b"\n")
            lines = n
    return {"lines": lines, "bytes": (folder / "logs.jsonl").stat().st_size}


def run_logs(folder: Path) -> dict[str, Any]:
    """The logs specialist on the bundle (in this process): time, peak RSS, lines, notes."""
    from agents.context import AnalysisContext, plan_windows
    from agents.specialists.logs.analysis import analyse
    from shared.telemetry.bundle import BundleSource

    incident, baseline = plan_windows(ONSET)
    ctx = AnalysisContext("bench", "svc-0", "m", ONSET, incident, baseline)
    began, cpu = time.perf_counter(), time.process_time()
    result = analyse(BundleSource(folder, keep_index=False), ctx)
    return {"seconds": time.perf_counter() - began, "cpu_s": time.process_time() - cpu,
            "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "notes": result.notes,
            "findings": len(result.findings)}


def _child(*args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "bench.big_inputs", *args], capture_output=True, text=True,
                         check=False, env={**os.environ})
    if out.returncode:
        raise RuntimeError(f"bench.big_inputs {' '.join(args)} failed: {out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", default="line,file")
    p.add_argument("--line-mb", type=int, default=300)
    p.add_argument("--file-gb", type=float, default=1.0)
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()))
    p.add_argument("--keep", action="store_true")
    p.add_argument("--run", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--write", nargs=2, metavar=("CASE", "FOLDER"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.run:
        print(json.dumps(run_logs(args.run)))
        return 0
    if args.write:
        print(json.dumps(write_case(args.write[0], Path(args.write[1]), args.line_mb, args.file_gb)))
        return 0
    print("| case | logs file | lines | logs specialist s (CPU s) | peak RSS MiB | notes on cut lines |")
    print("|---|---|---|---|---|---|")
    for case in args.cases.split(","):
        folder = Path(tempfile.mkdtemp(prefix=f"autosre-big-{case}-", dir=args.work))
        try:
            # each in a process of its own: a child's peak RSS starts from its parent's (Linux keeps it across exec)
            held = _child("--write", case, str(folder), "--line-mb", str(args.line_mb), "--file-gb", str(args.file_gb))
            run = _child("--run", str(folder))
            cut = "; ".join(n for n in run["notes"] if "over" in n and "KiB" in n) or "-"
            print(f"| {case} | {held['bytes'] / 2**20:,.0f} MiB | {held['lines']:,} | {run['seconds']:.1f} "
                  f"({run['cpu_s']:.1f}) | {run['rss_mib']:.0f} | {cut} |", flush=True)
        finally:
            if not args.keep:
                shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
