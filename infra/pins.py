"""The exact versions a deploy installs: infra/requirements.lock, the tested environment's versions of the runtime
dependencies (pyproject.toml's core dependencies plus the `gcp` extra) and of everything they require on the
runtime (Linux, the Python infra/main.tf deploys).

Usage: python3 infra/pins.py [--check]   (write the lock from this environment; --check: say whether it matches)

infra/package.py ships the lock as the source's requirements.txt, so an instance installs what the tests ran
against, never the newest release a range admits. After upgrading a dependency and running the tests, write the
lock again. tests/test_package.py checks the lock against pyproject.toml and against this environment.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "infra" / "requirements.lock"
RUNTIME_PYTHON = "3.11"  # infra/main.tf: runtime = "python311"
HEADER = ("# The tested versions infra/package.py ships as requirements.txt (infra/pins.py writes it: "
          "python3 infra/pins.py).\n")


def runtime_dependencies() -> list[Requirement]:
    """pyproject.toml's core dependencies plus the `gcp` extra: what the deployed functions import."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["gcp"]]


def _environment(extra: str = "") -> dict[str, str]:
    env = default_environment()
    env.update({"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
                "python_version": RUNTIME_PYTHON, "python_full_version": f"{RUNTIME_PYTHON}.0",
                "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": extra})
    return env


def _applies(req: Requirement, extras: set[str]) -> bool:
    if req.marker is None:
        return True
    return any(req.marker.evaluate(_environment(e)) for e in (extras or {""}))


def installed_closure(roots: list[Requirement]) -> dict[str, str]:
    """Every distribution the roots need on the runtime, with its installed version (name -> version). Raises
    PackageNotFoundError for one that is not installed: the lock only holds what was installed and tested."""
    pins: dict[str, str] = {}
    extras_seen: dict[str, set[str]] = {}
    todo = [(r, set(r.extras)) for r in roots]
    while todo:
        req, extras = todo.pop()
        name = canonicalize_name(req.name)
        if name in extras_seen and extras <= extras_seen[name]:
            continue
        extras_seen[name] = extras_seen.get(name, set()) | extras
        dist = metadata.distribution(req.name)
        pins[name] = dist.version
        for line in dist.requires or []:
            sub = Requirement(line)
            if _applies(sub, extras_seen[name]):
                todo.append((sub, set(sub.extras)))
    return dict(sorted(pins.items()))


def render(pins: dict[str, str]) -> str:
    return HEADER + "".join(f"{name}=={version}\n" for name, version in pins.items())


def read_lock(path: Path = LOCK) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            out[canonicalize_name(name)] = version
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only say whether the lock matches this environment")
    args = parser.parse_args(argv)
    text = render(installed_closure(runtime_dependencies()))
    if args.check:
        if LOCK.exists() and LOCK.read_text() == text:
            return 0
        print(f"{LOCK} does not match this environment: run python3 infra/pins.py", file=sys.stderr)
        return 1
    LOCK.write_text(text)
    print(f"wrote {LOCK} ({text.count(chr(10)) - 1} pins)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
