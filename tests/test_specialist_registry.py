"""The registry of specialists (shared/specialists.py) is the one list: the Cloud Functions targets, the tasks
topic's subscriptions, the benches and Terraform's list agree with it, each entry's analysis exists, and each
specialist reads exactly the signals the registry says it reads."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

import functions.main as targets
from agents.context import AnalysisContext, plan_windows
from bench.cold_start import ENTRIES
from demo.generator import generate
from functions.pipeline import load_analysis
from functions.topology import subscriptions
from shared.config import Settings
from shared.ports import LogPatternCounter, TelemetrySource
from shared.specialists import REGISTRY, SPECIALISTS, spec_of
from shared.telemetry.bundle import BundleSource
from shared.telemetry_records import (
    ChangeEvent,
    Dependency,
    LogRecord,
    MetricSeries,
    PatternCount,
    ReadResult,
    Span,
    Window,
)

ROOT = Path(__file__).resolve().parents[1]


def test_names_are_unique_and_the_defaults_are_the_registry() -> None:
    assert len(set(SPECIALISTS)) == len(REGISTRY) > 0
    assert Settings().specialists == SPECIALISTS
    with pytest.raises(KeyError, match="registered: logs"):
        spec_of("nobody")


def test_every_specialist_has_its_function_and_no_other_exists() -> None:
    deployed = {name for name in dir(targets) if name.startswith("specialist_") and callable(getattr(targets, name))}
    assert deployed == {f"specialist_{name}" for name in SPECIALISTS}


def test_every_specialist_has_its_subscription_filtered_on_its_name() -> None:
    specs = {s.name: s for s in subscriptions()}
    tasks = {name for name, s in specs.items() if s.topic == "tasks"}
    assert tasks == {f"specialist-{name}" for name in SPECIALISTS}
    for name in SPECIALISTS:
        assert specs[f"specialist-{name}"].filter == {"specialist": name}


def test_terraform_deploys_the_registry() -> None:
    # Terraform takes the list as a variable, and the deploy script passes it from the registry itself
    text = (ROOT / "infra" / "main.tf").read_text()
    assert re.search(r"^\s*specialists\s*=\s*var\.specialists\s*$", text, re.MULTILINE), \
        "infra/main.tf local.specialists must be var.specialists, not a list of its own"
    deploy = (ROOT / "infra" / "deploy.sh").read_text()
    (command,) = re.findall(r"^specialists=\"\$\(cd \"\$here/\.\.\" && (python3 -c '[^']+')\)\"$", deploy, re.MULTILINE)
    out = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert tuple(json.loads(out)) == SPECIALISTS
    assert '-var "specialists=$specialists"' in deploy


def test_the_benches_measure_the_registry() -> None:
    assert [t for t, _, _ in ENTRIES if t.startswith("specialist_")] == [f"specialist_{n}" for n in SPECIALISTS]
    scale = (ROOT / "bench" / "scale.py").read_text()
    assert "from shared.specialists import SPECIALISTS" in scale and '"logs", "traces"' not in scale


def test_every_entry_is_an_analysis() -> None:
    for spec in REGISTRY:
        assert callable(load_analysis(spec.name)), spec.analysis


class Recording:
    """A source that says which signals were read."""

    def __init__(self, inner: TelemetrySource):
        self.inner, self.read = inner, set[str]()
        self.log_counter: LogPatternCounter | None = self if inner.log_counter is not None else None

    def logs(self, window: Window, services: list[str] | None = None) -> ReadResult[LogRecord]:
        self.read.add("logs")
        return self.inner.logs(window, services)

    def spans(self, window: Window, services: list[str] | None = None) -> ReadResult[Span]:
        self.read.add("spans")
        return self.inner.spans(window, services)

    def metrics(self, window: Window, services: list[str] | None = None) -> ReadResult[MetricSeries]:
        self.read.add("metrics")
        return self.inner.metrics(window, services)

    def changes(self, window: Window, services: list[str] | None = None) -> ReadResult[ChangeEvent]:
        self.read.add("changes")
        return self.inner.changes(window, services)

    def dependencies(self) -> ReadResult[Dependency]:
        self.read.add("dependencies")
        return self.inner.dependencies()

    def log_pattern_counts(self, baseline: Window, incident: Window, services: list[str] | None = None
                           ) -> tuple[list[PatternCount], bool]:
        self.read.add("logs")
        assert self.inner.log_counter is not None
        return self.inner.log_counter.log_pattern_counts(baseline, incident, services)

    def describe(self) -> dict[str, str]:
        return self.inner.describe()


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return generate("bad_deploy", tmp_path_factory.mktemp("registry"), seed=3)


@pytest.mark.parametrize("spec", REGISTRY, ids=SPECIALISTS)
def test_each_specialist_reads_the_signals_the_registry_says(scenario: Any, spec: Any) -> None:
    incident, baseline = plan_windows(scenario.onset)
    for focus in ((), (scenario.root_service,)):  # a first round, and a follow-up's closer look
        source = Recording(BundleSource(scenario.bundle_dir))
        ctx = AnalysisContext("i", "frontend", "", scenario.onset, incident, baseline, 1 + bool(focus), focus)
        load_analysis(spec.name)(source, ctx)
        assert source.read <= set(spec.signals), f"{spec.name} read {sorted(source.read)}"
        if not focus:
            assert source.read == set(spec.signals), f"{spec.name} read {sorted(source.read)}"
