"""Start (or reuse) the Pub/Sub and Firestore emulators for tests; stop only what we started.

See ../shared/EMULATORS.md: setsid so the Java child dies with the group, a private CLOUDSDK_CONFIG,
readiness when GET / answers "Ok".
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path


def answering(host: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}/", timeout=timeout) as r:
            return r.status == 200
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Emulator:
    kind: str
    host: str
    process: subprocess.Popen[bytes] | None = None
    workdir: Path | None = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)


def start(kind: str, env_var: str) -> Emulator:
    """Reuse the emulator named by env_var if it answers, else start one on a free port."""
    existing = os.environ.get(env_var)
    if existing and answering(existing):
        return Emulator(kind, existing)
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise RuntimeError(f"gcloud is not installed: cannot start the {kind} emulator")
    port = free_port()
    host = f"127.0.0.1:{port}"
    workdir = Path(tempfile.mkdtemp(prefix=f"autosre-{kind}-"))
    env = {**os.environ, "CLOUDSDK_CONFIG": str(workdir / "config"), "CLOUDSDK_CORE_DISABLE_PROMPTS": "1"}
    if kind == "pubsub":
        (workdir / "data").mkdir()
        cmd = [gcloud, "beta", "emulators", "pubsub", "start", f"--host-port={host}", "--project=autosre-test",
               f"--data-dir={workdir / 'data'}"]
    else:
        cmd = [gcloud, "emulators", "firestore", "start", f"--host-port={host}"]
    log = open(workdir / "emulator.log", "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    emulator = Emulator(kind, host, process, workdir)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if answering(host):
            return emulator
        if process.poll() is not None:
            break
        time.sleep(0.25)
    output = (workdir / "emulator.log").read_text(errors="replace")[-3000:]
    emulator.stop()
    raise RuntimeError(f"the {kind} emulator did not come up on {host}:\n{output}")
