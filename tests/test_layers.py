"""The layer rules, read from every module's imports (all of them: at the top, inside functions, type-only):

- the domain core (shared/ outside its adapter folders) imports no adapter;
- agents/ (pure analysis) imports no adapter, nothing of functions/ and no cloud SDK;
- functions/ imports nothing of bench/, and only the composition root (runtime.py, with topology.py: how the
  deployment's subscriptions are wired) imports adapters: handlers, renderers and the CLI get theirs from it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ADAPTER_FOLDERS = ("store", "bus", "telemetry", "actions", "notify", "llm")  # shared/<folder>/: a port's adapters
CLOUD_SDKS = ("google", "googleapiclient", "grpc")
COMPOSITION_ROOT = ("functions/runtime.py", "functions/topology.py")


def module_of(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(path: Path) -> str:
    return module_of(path) if path.name == "__init__.py" else module_of(path).rpartition(".")[0]


def imports(path: Path, package: str) -> Iterator[tuple[int, str]]:
    """(line, module) for every import in the file (of `package`); `from a import b` names a.b too (b may be a
    module)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, base
            yield from ((node.lineno, f"{base}.{alias.name}") for alias in node.names if alias.name != "*")


def is_adapter(module: str) -> bool:
    parts = module.split(".")
    return len(parts) > 1 and parts[0] == "shared" and parts[1] in ADAPTER_FOLDERS


def in_package(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def core_files() -> list[Path]:
    return [p for p in files("shared") if p.relative_to(ROOT / "shared").parts[0] not in ADAPTER_FOLDERS]


def broken(paths: list[Path], rule: str, forbidden: object) -> list[str]:
    found = []
    for path in paths:
        for line, module in imports(path, package_of(path)):
            if forbidden(module):  # type: ignore[operator]
                found.append(f"{path.relative_to(ROOT)}:{line} imports {module} ({rule})")
    return sorted(set(found))


def test_the_core_imports_no_adapter() -> None:
    assert core_files() and not broken(core_files(), "core -> adapter", is_adapter)


def test_the_analysis_imports_no_adapter_no_entry_point_and_no_cloud_sdk() -> None:
    def forbidden(module: str) -> bool:
        return is_adapter(module) or in_package(module, "functions") or module.split(".")[0] in CLOUD_SDKS

    assert not broken(files("agents"), "agents -> adapter, functions or cloud SDK", forbidden)


def test_the_entry_points_import_no_bench() -> None:
    assert not broken(files("functions"), "functions -> bench", lambda m: in_package(m, "bench"))


def test_only_the_composition_root_chooses_adapters() -> None:
    outside = [p for p in files("functions") if str(p.relative_to(ROOT)) not in COMPOSITION_ROOT]
    assert not broken(outside, "functions -> adapter outside the composition root", is_adapter)


@pytest.mark.parametrize(("source", "module"), [("from shared.store.sqlite import X", "shared.store.sqlite"),
                                                ("from shared import telemetry", "shared.telemetry"),
                                                ("from .store import sqlite", "shared.store.sqlite"),
                                                ("from ..bench import scale", "bench.scale"),
                                                ("import google.cloud.logging", "google.cloud.logging")])
def test_the_reader_sees_every_form_of_import(tmp_path: Path, source: str, module: str) -> None:
    path = tmp_path / "probe.py"  # a module of the package `shared`, importing inside a function
    path.write_text(f"def f() -> None:\n    {source}\n")
    assert module in {m for _, m in imports(path, "shared")}
