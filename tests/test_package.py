"""The source folder a deploy ships (infra/package.py): the packages, requirements and main.py, bytecode for the
runtime that infra/main.tf deploys, and nothing imported from the checkout it was built from."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def package() -> ModuleType:
    spec = importlib.util.spec_from_file_location("autosre_package", ROOT / "infra" / "package.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HERE = f"{sys.version_info.major}.{sys.version_info.minor}"


def test_the_bytecode_is_for_the_python_terraform_deploys() -> None:
    runtimes = set(re.findall(r'runtime\s*=\s*"python(\d)(\d+)"', (ROOT / "infra" / "main.tf").read_text()))
    assert runtimes == {tuple(package().RUNTIME_PYTHON.split("."))}


def test_the_folder_holds_the_packages_requirements_and_main(tmp_path: Path) -> None:
    package().build(tmp_path / "src", runtime=HERE)
    src = tmp_path / "src"
    requirements = [r for r in (src / "requirements.txt").read_text().splitlines() if not r.startswith("#")]
    assert any(r.startswith("google-cloud-firestore==") for r in requirements)
    assert any(r.startswith("pydantic==") for r in requirements)
    assert requirements and all(re.fullmatch(r"[a-z0-9.\-_]+==[^=\s]+", r) for r in requirements)  # exact pins only
    assert (src / "main.py").read_text().startswith("from functions.main import *")
    for pkg in ("shared", "agents", "functions"):
        assert (src / pkg / "__init__.py").is_file()
    assert not (src / "tests").exists() and not (src / "demo").exists()


def test_every_module_has_unchecked_bytecode_for_the_runtime(tmp_path: Path) -> None:
    package().build(tmp_path, runtime=HERE)
    sources = [p for p in tmp_path.rglob("*.py")]
    assert len(sources) > 50
    tag = sys.implementation.cache_tag
    for source in sources:
        pyc = source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc"
        assert pyc.is_file(), source
        flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
        assert flags == 0b01, f"{pyc}: hash-based and unchecked, so the zip's file times cannot invalidate it"


def test_another_python_writes_no_bytecode_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert package().build(tmp_path, runtime="2.7") is False
    assert not list(tmp_path.rglob("*.pyc"))
    assert "no bytecode shipped" in capsys.readouterr().err


def test_an_instance_started_in_the_folder_runs_the_folder_and_its_bytecode(tmp_path: Path) -> None:
    package().build(tmp_path, runtime=HERE)
    with open(tmp_path / "shared" / "topics.py", "a") as f:  # changed after the build: the bytecode still rules
        f.write("\nSOURCE_READ = True\n")
    probe = ("import main, shared.topics\n"
             "print(shared.topics.__file__)\n"
             "print(hasattr(shared.topics, 'SOURCE_READ'))\n"
             "print(','.join(t for t in ('intake', 'synthesize', 'execute', 'web', 'sweep') if hasattr(main, t)))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin", "AUTOSRE_PROJECT": "p", "PYTHONDONTWRITEBYTECODE": "1"})
    path, source_read, names = out.stdout.strip().splitlines()
    assert Path(path).is_relative_to(tmp_path)
    assert source_read == "False"
    assert names == "intake,synthesize,execute,web,sweep"


def pins() -> ModuleType:
    spec = importlib.util.spec_from_file_location("autosre_pins", ROOT / "infra" / "pins.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_lock_pins_every_runtime_dependency_of_pyproject_within_its_range() -> None:
    p = pins()
    locked = p.read_lock()
    for dep in p.runtime_dependencies():
        name = p.canonicalize_name(dep.name)
        assert name in locked, f"{dep.name} is not pinned in infra/requirements.lock"
        assert dep.specifier.contains(locked[name], prereleases=True), f"{name}=={locked[name]} is outside {dep}"


def test_the_lock_holds_the_versions_this_environment_tested() -> None:
    p = pins()
    assert p.read_lock() == p.installed_closure(p.runtime_dependencies()), \
        "infra/requirements.lock differs from the tested environment: run python3 infra/pins.py"


def test_a_lock_that_misses_a_dependency_stops_the_build(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("".join(line + "\n" for line in (ROOT / "infra" / "requirements.lock").read_text().splitlines()
                            if not line.startswith("pydantic==")))
    with pytest.raises(SystemExit, match="pydantic"):
        package().locked_requirements(lock)


def test_the_files_the_settings_name_are_shipped_as_files(tmp_path: Path) -> None:
    """infra/files/ (runbooks, placements, a service graph) is shipped as files/, where the Terraform variables
    point (infra/variables.tf refuses a path outside it)."""
    files = tmp_path / "mine"
    (files / "runbooks").mkdir(parents=True)
    (files / "runbooks" / "checkout.md").write_text("---\ntitle: Checkout\n---\nRoll back.\n")
    (files / "placements.jsonl").write_text('{"service": "checkout", "product": "Cloud Run", "location": "us"}\n')
    package().build(tmp_path / "src", runtime="2.7", files=files)
    assert (tmp_path / "src" / package().FILES / "runbooks" / "checkout.md").is_file()
    assert (tmp_path / "src" / "files" / "placements.jsonl").is_file()
    package().build(tmp_path / "none", runtime="2.7", files=tmp_path / "missing")
    assert not (tmp_path / "none" / "files").exists()
