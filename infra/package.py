"""Build the Cloud Functions source folder: what infra/deploy.sh zips and what bench/cold_start.py starts.

Usage: python3 infra/package.py BUILD_DIR [--runtime 3.11]

The folder holds the three packages (shared, agents, functions) without caches, a requirements.txt that is
infra/requirements.lock (the exact versions the tests ran against of pyproject.toml's core dependencies, the `gcp`
extra and all they require; infra/pins.py writes it), and a main.py at the root re-exporting the targets of
functions/main.py (Cloud Functions load main.py from the source root). A lock that misses a dependency of
pyproject.toml, or pins it outside its range, stops the build.

Files the settings name (runbooks, service placements, a service graph): infra/files/, when it exists, is shipped as
files/ at the source root, where the functions run; the Terraform variables `runbooks`, `service_placements` and
`service_graph` point into it (e.g. files/runbooks).

Bytecode: when this interpreter is the runtime's Python (`--runtime`, the minor version infra/main.tf deploys),
every module is compiled into __pycache__ with unchecked hashes, so an instance's cold start reads the bytecode
instead of compiling the source (unchecked: the zip's file times cannot invalidate it; the folder is built afresh
on every deploy, so it never goes stale). Another interpreter's bytecode would be ignored by the runtime
(its file names carry the version), so none is written then, and a note says so.
"""

from __future__ import annotations

import argparse
import compileall
import py_compile
import shutil
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("shared", "agents", "functions")
RUNTIME_PYTHON = "3.11"  # infra/main.tf: runtime = "python311"
FILES = "files"  # the folder of files the settings name, shipped from infra/files/ (variables.tf checks the prefix)


def locked_requirements(lock: Path = ROOT / "infra" / "requirements.lock") -> str:
    """The lock's text, once every dependency pyproject.toml declares for the runtime is pinned within its range."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {}
    for line in lock.read_text().splitlines():
        name, _, version = line.split("#", 1)[0].strip().partition("==")
        if name:
            pins[canonicalize_name(name)] = version
    for dep in map(Requirement, project["dependencies"] + project["optional-dependencies"]["gcp"]):
        version = pins.get(canonicalize_name(dep.name))
        if version is None or not dep.specifier.contains(version, prereleases=True):
            raise SystemExit(f"{lock.name} pins {dep.name} at {version or 'nothing'}, outside {dep}: "
                             "run python3 infra/pins.py in the tested environment")
    return lock.read_text()


def build(target: Path, runtime: str = RUNTIME_PYTHON, files: Path = ROOT / "infra" / FILES) -> bool:
    """Fill `target` (created if missing); True when bytecode for the runtime was written. `files`, when it is a
    folder, is shipped as files/."""
    target.mkdir(parents=True, exist_ok=True)
    (target / "requirements.txt").write_text(locked_requirements())
    for pkg in PACKAGES:
        shutil.rmtree(target / pkg, ignore_errors=True)
        shutil.copytree(ROOT / pkg, target / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.rmtree(target / FILES, ignore_errors=True)
    if files.is_dir():
        shutil.copytree(files, target / FILES)
    (target / "main.py").write_text("from functions.main import *  # noqa: F403 - the deployed targets\n")
    if f"{sys.version_info.major}.{sys.version_info.minor}" != runtime:
        print(f"note: python {sys.version_info.major}.{sys.version_info.minor} is not the runtime's {runtime}: "
              "no bytecode shipped (instances compile the source on their first start)", file=sys.stderr)
        return False
    mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
    ok = all(compileall.compile_dir(str(target / pkg), quiet=1, invalidation_mode=mode) for pkg in PACKAGES)
    ok = compileall.compile_file(str(target / "main.py"), quiet=1, invalidation_mode=mode) and ok
    if not ok:
        raise SystemExit("compiling the source failed")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", type=Path)
    parser.add_argument("--runtime", default=RUNTIME_PYTHON, help="the runtime's Python, major.minor")
    args = parser.parse_args(argv)
    build(args.target, args.runtime)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
