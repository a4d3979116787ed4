"""Start (or reuse) the Pub/Sub and Firestore emulators for tests; stop only what we started.

See ../shared/EMULATORS.md: setsid so the Java child dies with the group, a private CLOUDSDK_CONFIG, prompts
off, a data dir for Pub/Sub, readiness when GET / answers "Ok", stop by signalling the process group.
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

START_TIMEOUT_S = 90.0


class EmulatorUnavailable(RuntimeError):
    """The emulator cannot be run on this machine at all (no gcloud, or gcloud lacks the component)."""


def answering(host: str, timeout: float = 1.0) -> bool:
    """True when the emulator at host:port answers GET / with "Ok"."""
    try:
        with urllib.request.urlopen(f"http://{host}/", timeout=timeout) as r:
            return bool(r.status == 200 and r.read(16).strip() == b"Ok")
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
    process: subprocess.Popen[bytes] | None = None  # None: reused, not ours to stop
    workdir: Path | None = None

    @property
    def started_here(self) -> bool:
        return self.process is not None

    def stop(self) -> None:
        if self.process is not None:
            _kill_group(self.process)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _group_gone(process: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        process.poll()  # reap the wrapper so its pid stops counting as a member
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """TERM the whole process group (gcloud's Python wrapper and its Java child); KILL what TERM leaves."""
    for sig, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        if _group_gone(process, grace):
            return


def _command(gcloud: str, kind: str, host: str, workdir: Path) -> list[str]:
    if kind == "pubsub":
        data = workdir / "data"
        data.mkdir()
        return [gcloud, "beta", "emulators", "pubsub", "start", f"--host-port={host}", "--project=autosre-test",
                f"--data-dir={data}"]
    if kind == "firestore":
        return [gcloud, "emulators", "firestore", "start", f"--host-port={host}"]
    raise ValueError(f"unknown emulator {kind!r}")


def start(kind: str, env_var: str, timeout: float = START_TIMEOUT_S) -> Emulator:
    """Reuse the emulator named by env_var if it answers, else start one on a free port.

    Raises EmulatorUnavailable when gcloud (or its emulator component) is missing, RuntimeError when an
    emulator was started but did not come up (with the tail of its log).
    """
    existing = os.environ.get(env_var)
    if existing and answering(existing):
        return Emulator(kind, existing)
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise EmulatorUnavailable(f"gcloud is not installed: cannot start the {kind} emulator")
    host = f"127.0.0.1:{free_port()}"
    workdir = Path(tempfile.mkdtemp(prefix=f"autosre-{kind}-"))
    (workdir / "config").mkdir()
    env = {**os.environ, "CLOUDSDK_CONFIG": str(workdir / "config"), "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
           "NO_GCE_CHECK": "true"}
    cmd = _command(gcloud, kind, host, workdir)
    with open(workdir / "emulator.log", "wb") as log:
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                   start_new_session=True)
    emulator = Emulator(kind, host, process, workdir)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if answering(host):
            return emulator
        time.sleep(0.2)
    output = (workdir / "emulator.log").read_text(errors="replace")[-3000:]
    emulator.stop()
    lowered = output.lower()
    if "not installed" in lowered or ("component" in lowered and "install" in lowered):
        raise EmulatorUnavailable(f"gcloud lacks the {kind} emulator component:\n{output}")
    raise RuntimeError(f"the {kind} emulator did not come up on {host} within {timeout:.0f} s:\n{output}")
