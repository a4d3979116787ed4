"""What a cold start's first message costs in store round trips and imports (bench/cold_start.py measures the time):
the sweep reads only incidents that may have something to do, one query serves both of its passes, a new
incident's summary is created without a read first, the Pub/Sub bus does not hold a message it waits for, and the
pipeline imports the analysis context, the alert parser and the redaction rules only where it uses them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from demo.generator import generate
from functions.pipeline import Pipeline
from functions.runtime import embedded
from shared import topics
from shared.bus.inprocess import InProcessBus
from shared.models import Cost, ReadCounts
from shared.ports import Message
from shared.store.sqlite import SqliteEventStore
from shared.telemetry.bundle import BundleSource
from shared.telemetry.memory import MemorySource
from tests.data import alerts_dir

ROOT = Path(__file__).resolve().parents[1]


class CountingStore(SqliteEventStore):
    def __init__(self) -> None:
        super().__init__(":memory:")
        self.loads = 0
        self.queries = 0

    def load(self, incident_id: str) -> Any:
        self.loads += 1
        return super().load(incident_id)

    def summaries(self, status: str | None = None) -> Any:
        self.queries += 1
        return super().summaries(status)


def in_a_fresh_process(code: str, tmp_path: Path, check: bool = True, **settings: str
                       ) -> subprocess.CompletedProcess[str]:
    """`code` run by a new interpreter with this checkout's packages, an embedded store in tmp_path and `settings`
    (AUTOSRE_* variables) alone in its environment: what one function instance imports on its first message."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "AUTOSRE_SQLITE_PATH": str(tmp_path / "e.db"), **settings}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=check, env=env)


LOG_MODELS_IMPORTED = ("sorted(m for m in ('shared.models', 'shared.events', 'shared.incident_state',"
                       " 'shared.finding_details') if m in sys.modules)")  # a snippet's expression: which are loaded


def _analysed(store: SqliteEventStore, tmp_path: Path) -> tuple[Pipeline, InProcessBus, str]:
    """The demo's bad_deploy incident analysed to its report in `store`: the pipeline, its bus, the incident's id."""
    scenario = generate("bad_deploy", tmp_path / "demo", seed=7)
    pipeline, bus = embedded(store, BundleSource(scenario.bundle_dir))
    bus.publish(topics.ALERTS, scenario.alert_path.read_bytes())
    bus.drain()
    (summary,) = store.summaries()
    return pipeline, bus, str(summary["incident_id"])


def _alert() -> bytes:
    return next(p for p in sorted(alerts_dir().glob("*.json"))).read_bytes()


def test_the_sweep_loads_no_incident_younger_than_a_round_deadline() -> None:
    clock = [1000.0]
    store = CountingStore()
    pipeline, bus = embedded(store, MemorySource(), clock=lambda: clock[0])
    bus.publish(topics.ALERTS, _alert())
    while bus._queue:  # the alert only: its tasks are never run, so the round stays open without a report
        sub, message = bus._queue.popleft()
        if message.topic == topics.ALERTS:
            bus._run(sub, message)
    (summary,) = [s for s in store.summaries(status="open")]
    assert not summary["report"]
    store.loads = 0
    assert pipeline.sweep(now=1000.0 + 10) == [] and store.loads == 0  # no round can be past its deadline yet
    swept = pipeline.sweep(now=1000.0 + pipeline.round_deadline_s + 1)
    assert swept == [summary["incident_id"]] and store.loads >= 1  # past it: loaded and swept, as before


def test_a_specialists_redelivered_task_reads_its_events_by_id_without_loading_the_log(tmp_path: Path) -> None:
    """A task whose run is recorded (its round started, the specialist completed or failed) is told to the
    synthesizer again after a read of those three events by id: no load of the log, no fold of its events."""
    from shared.models import FindingsReady, Task

    store = CountingStore()
    pipeline, bus, incident_id = _analysed(store, tmp_path)
    state = pipeline.log.read(incident_id)
    assert state is not None and state.latest_report is not None
    before = len(state.timeline)
    for name in pipeline.specialists:
        store.loads = 0
        sent = len(bus.published)
        task = Task(incident_id=incident_id, round=1, specialist=name)
        pipeline.on_task(Message(data=task.model_dump_json().encode()))
        assert store.loads == 0, name
        (ready,) = bus.published[sent:]
        assert ready.topic == topics.FINDINGS
        assert FindingsReady.model_validate_json(ready.data) == FindingsReady(**task.model_dump())
    state = pipeline.log.read(incident_id)
    assert state is not None and len(state.timeline) == before  # nothing more recorded
    with pytest.raises(LookupError):  # a round that never started is still an error, read from the whole log
        pipeline.on_task(Message(data=Task(incident_id=incident_id, round=7, specialist="logs")
                                 .model_dump_json().encode()))


def test_the_sweep_function_queries_the_open_incidents_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import functions.main as main

    store = CountingStore()
    pipeline, _ = embedded(store, MemorySource())
    monkeypatch.setattr(main, "_pipeline", pipeline)
    monkeypatch.setenv("AUTOSRE_APPROVAL_KEY", "k" * 40)
    monkeypatch.setenv("AUTOSRE_SQLITE_PATH", str(tmp_path / "unused.db"))
    body, status = main.sweep(None)
    assert status == 200 and json.loads(body) == {"partial_reports": [], "handed_off": [], "outcomes_recorded": [],
                                                  "outcome_unknown": [], "recovery_checked": [], "chat_told": []}
    assert store.queries == 1


def test_summary_line_says_what_the_estimate_counts() -> None:
    from shared.cost_ledger import summary_line

    line = summary_line(Cost(total=ReadCounts(reads=3, log_entries=10, billed_series=4), estimate_usd=0.0001))
    assert line.endswith("estimate $0.0001 at list prices, of BigQuery bytes billed, Monitoring series returned (4) "
                         "and LLM tokens (Logging and Trace reads are not billed)")


def test_the_list_prices_have_one_definition() -> None:
    from shared import config
    from shared.cost_ledger import Prices

    settings = config.Settings()
    assert Prices() == Prices(settings.price_bq_tib, settings.price_monitoring_million_series,
                              settings.price_llm_1k_tokens_in, settings.price_llm_1k_tokens_out)
    assert Prices().bq_tib is config.LIST_PRICE_BQ_TIB


def test_the_pipeline_imports_the_analysis_the_parser_and_redaction_where_used() -> None:
    code = (
        "import sys\n"
        "from functions.pipeline import Pipeline\n"
        "from shared.store.sqlite import SqliteEventStore\n"
        "from shared.bus.inprocess import InProcessBus\n"
        "Pipeline(store=SqliteEventStore(':memory:'), bus=InProcessBus(), telemetry=lambda state, spent: None)\n"
        "print(sorted(m for m in ('shared.redaction', 'agents.context', 'shared.alerts')"
        " if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]", out.stdout


@pytest.mark.emulator
def test_a_new_incidents_summary_never_overwrites_another_writers_newer_one(firestore_emulator: Any,
                                                                           project_id: str) -> None:
    from shared.store.firestore import FirestoreEventStore

    ours, theirs = FirestoreEventStore(project_id), FirestoreEventStore(project_id)
    assert ours.load("inc-new") == []  # ours will create the summary without reading it first ...
    theirs.put_summary("inc-new", {"incident_id": "inc-new", "status": "open", "events": 5, "updated_at": 50.0})
    ours.put_summary("inc-new", {"incident_id": "inc-new", "status": "open", "events": 3, "updated_at": 30.0})
    assert ours.summaries()[0]["events"] == 5  # ... but another writer's newer fold stands
    ours.put_summary("inc-new", {"incident_id": "inc-new", "status": "resolved", "events": 7, "updated_at": 70.0})
    assert theirs.summaries(status="resolved")[0]["events"] == 7


@pytest.mark.emulator
def test_the_pubsub_bus_sends_a_message_it_waits_for_at_once(pubsub_emulator: Any) -> None:
    from shared.bus.pubsub import PUBLISH_BATCH_LATENCY_S, PubSubBus

    bus = PubSubBus("autosre-test")
    assert bus._publisher.batch_settings.max_latency == PUBLISH_BATCH_LATENCY_S <= 0.001


@pytest.mark.parametrize(("module", "never"), [
    ("functions.main", ("functions.handlers", "functions.pipeline", "functions.remediation", "agents.", "shared.store",
                        "shared.telemetry.", "starlette", "mcp", "functions.mcp_http")),
    ("functions.handlers.intake", ("agents.", "shared.alerts", "shared.redaction", "functions.handlers.synthesize",
                                   "functions.handlers.specialist", "shared.telemetry.")),
    ("functions.handlers.specialist", ("agents.", "shared.redaction", "shared.telemetry.", "functions.handlers.intake",
                                       "functions.handlers.synthesize")),
    ("functions.handlers.synthesize", ("agents.", "functions.memory", "functions.remediation", "shared.telemetry.",
                                       "functions.handlers.intake", "functions.handlers.specialist")),
    ("functions.handlers.sweep", ("agents.", "functions.memory", "functions.remediation", "shared.telemetry.")),
    ("functions.handlers.execute", ("agents.remediation.catalog", "agents.reporting.synthesis", "agents.ranking.rca",
                                    "functions.pipeline", "functions.handlers.synthesize", "flask")),
])
def test_each_entry_point_loads_only_what_its_own_messages_need(module: str, never: tuple[str, ...]) -> None:
    """A function's cold start imports its own handler alone: the analysis, the alert parser, redaction, the
    telemetry readers and the other handlers are imported where used."""
    code = f"import sys\nimport {module}\nprint(sorted(m for m in sys.modules if m.startswith({never!r})))\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_with_gemini_on_only_a_narrative_imports_google_genai(tmp_path: Path) -> None:
    """Every function assembles the pipeline; only the synthesis of a report calls the writer, so intake, the four
    specialists and a sweep with nothing to publish never pay google-genai's import (about a second cold)."""
    code = (
        "import sys\n"
        "import functions.main as main\n"
        "p = main.pipeline()\n"
        "print(p.writer is not None, 'google.genai' in sys.modules)\n"
        "try:\n"
        "    p.writer('x', 10)\n"
        "except Exception:\n"
        "    pass\n"
        "print('google.genai' in sys.modules)\n")
    out = in_a_fresh_process(code, tmp_path, AUTOSRE_GEMINI_API_KEY="k", AUTOSRE_GEMINI_BASE_URL="http://127.0.0.1:9")
    assert out.stdout.split() == ["True", "False", "True"], out.stdout + out.stderr


def test_a_deployed_pipeline_is_built_without_the_recovery_checks_or_the_in_process_bus(tmp_path: Path) -> None:
    """Every function builds the pipeline: on Pub/Sub it needs neither the in-process bus nor the recovery checks
    (and the telemetry records they read) until a sweep checks an action."""
    code = ("import sys\n"
            "import functions.main as main\n"
            "p = main.pipeline()\n"
            "print(p.recovery.window_s > 0, sorted(m for m in ('functions.recovery', 'shared.telemetry_records',"
            " 'shared.bus.inprocess') if m in sys.modules))\n")
    out = in_a_fresh_process(code, tmp_path, AUTOSRE_BUS="pubsub", AUTOSRE_PROJECT="p")
    assert out.stdout.strip() == "True []", out.stdout + out.stderr


def test_opening_a_round_and_a_sweep_with_no_recovery_work_import_no_telemetry_records(tmp_path: Path) -> None:
    """Intake plans a round's windows with the window alone (shared/time_window.py), and a sweep imports the
    recovery checks, which read telemetry records, only when an incident has recovery work."""
    code = ("import sys\n"
            "from shared.ports import Message\n"
            "import functions.main as main\n"
            f"main.pipeline().on_alert(Message(data=open({str(_alert_path())!r}, 'rb').read()))\n"
            "print(sorted(m for m in ('functions.recovery', 'shared.telemetry_records') if m in sys.modules))\n"
            "assert 'shared.time_window' in sys.modules  # the round was planned, without what specialists get:\n"
            "assert 'agents.context' not in sys.modules\n"
            "main.sweep(None)\n"
            "print(sorted(m for m in ('functions.recovery', 'shared.telemetry_records') if m in sys.modules))\n")
    out = in_a_fresh_process(code, tmp_path, AUTOSRE_APPROVAL_KEY="k" * 40, check=False)
    assert out.stdout.split("\n")[:2] == ["[]", "[]"], out.stdout + out.stderr


def _alert_path() -> Path:
    return alerts_dir() / "03_cloud_run_5xx_open.v1.2.json"  # an open alert: it opens round 1


WEB_LIST = ("import sys\n"  # a fresh instance of the web function serves the incident list and its JSON
            "import functions.main as main\n"
            "from werkzeug.test import EnvironBuilder\n"
            "for path in ('/api/incidents', '/'):\n"
            "    response = main.web(EnvironBuilder(path=path, headers={'Host': 'localhost'}).get_request())\n"
            "    assert response.status_code == 200, response.status_code\n")


def test_the_web_functions_list_and_json_answers_import_no_report_renderer_nor_iap_verifier(tmp_path: Path) -> None:
    """The report page's renderers (and the report view, the charts, the runbooks they read) are imported by the
    report's route alone; the IAP verifier (google-auth's JWT) only where an IAP audience is configured."""
    code = (WEB_LIST +
            "print(sorted(m for m in ('functions.web_report', 'functions.web_charts', 'functions.report_view',"
            " 'shared.iap') if m in sys.modules))\n")
    out = in_a_fresh_process(code, tmp_path, AUTOSRE_APPROVAL_KEY="k" * 40, check=False)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_the_web_function_wires_starting_on_pubsub_without_importing_the_pubsub_sdk(tmp_path: Path) -> None:
    """The web view hands a started investigation to the deployment's bus (tests/test_start_on_gcp.py); the pipeline
    is built on the first start or hint and its Pub/Sub client on that first publish, so pages and reads build
    neither and never import the SDK."""
    code = ("import sys\n"
            "from werkzeug.test import EnvironBuilder\n"
            "import functions.main as main\n"
            "r = main.web(EnvironBuilder(path='/api/v1/incidents', base_url='https://sre.example').get_request())\n"
            "print(r.status_code, main._pipeline is not None, sorted(m for m in ('google.cloud.pubsub_v1',"
            " 'shared.bus.pubsub', 'functions.pipeline') if m in sys.modules))\n")
    out = in_a_fresh_process(code, tmp_path, AUTOSRE_BUS="pubsub", AUTOSRE_PROJECT="p")
    assert out.stdout.strip().splitlines()[-1] == "200 False []", out.stdout + out.stderr


def _findings(incident_id: str, number: int, name: str) -> Message:
    from shared.messages import FindingsReady

    return Message(data=FindingsReady(incident_id=incident_id, round=number, specialist=name).model_dump_json()
                   .encode())


def test_a_findings_message_after_the_report_reads_events_by_id_without_loading_the_log(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A findings message for a round whose complete report is published and followed through (a redelivery, a
    late specialist) is settled by reading the round's events by id: no load, no fold, nothing recorded. A step
    not recorded as done still has the log loaded and the step run."""
    from functions.handlers import after_report

    store = CountingStore()
    pipeline, _, incident_id = _analysed(store, tmp_path)
    state = pipeline.log.read(incident_id)
    assert state is not None and state.latest_report is not None and not state.latest_report.partial
    number, before = state.latest_report.round, len(state.timeline)
    for name in pipeline.specialists:
        store.loads = 0
        pipeline.on_findings(_findings(incident_id, number, name))
        assert store.loads == 0, name
    state = pipeline.log.read(incident_id)
    assert state is not None and len(state.timeline) == before  # nothing more recorded
    ran: list[str] = []
    extra = after_report.ReportStep("extra", lambda p, incident, report: ran.append(incident.incident_id))
    monkeypatch.setattr(after_report, "STEPS", (*after_report.STEPS, extra))
    store.loads = 0
    pipeline.on_findings(_findings(incident_id, number, "logs"))
    assert store.loads == 1 and ran == [incident_id]  # a step left to run: loaded, and the step run and recorded
    store.loads = 0
    pipeline.on_findings(_findings(incident_id, number, "logs"))
    assert store.loads == 0 and ran == [incident_id]


def test_a_findings_message_while_its_round_waits_reads_events_by_id_without_loading_the_log() -> None:
    """While a specialist of the round has neither completed nor failed, a findings message reads the round's events
    by id and waits, without loading the log; the message that completes the round loads it and publishes the
    report, as before."""
    store = CountingStore()
    pipeline, bus = embedded(store, MemorySource())
    bus.publish(topics.ALERTS, _alert())
    tasks = []
    while bus._queue:  # the alert, then each task by hand; no findings message is delivered by the bus
        sub, message = bus._queue.popleft()
        if message.topic == topics.ALERTS:
            bus._run(sub, message)
        elif message.topic == topics.TASKS:
            tasks.append((sub, message))
    (summary,) = store.summaries()
    incident_id = summary["incident_id"]
    assert sorted(m.attributes["specialist"] for _, m in tasks) == sorted(pipeline.specialists)
    for i, (sub, message) in enumerate(tasks):
        bus._run(sub, message)
        store.loads = 0
        pipeline.on_findings(_findings(incident_id, 1, message.attributes["specialist"]))
        state = pipeline.log.read(incident_id)
        assert state is not None
        if i < len(tasks) - 1:
            assert store.loads == 1 and state.rounds[1].report is None  # the read above is the one load
        else:
            assert store.loads >= 2 and state.rounds[1].report is not None  # the last one folds and reports
    store.loads = 0
    with pytest.raises(LookupError):  # an incident with no events is still an error, read from the whole log
        pipeline.on_findings(_findings("inc-none", 1, "logs"))
    assert store.loads == 1


def test_a_findings_redelivery_imports_no_model_of_the_incident_log(tmp_path: Path) -> None:
    """A findings message after the round's report and its steps is read, checked by id against the log and
    dropped: neither the models, the event payloads nor the fold are imported on that path."""
    _, _, incident_id = _analysed(SqliteEventStore(str(tmp_path / "e.db")), tmp_path)
    code = ("import sys\n"
            "import functions.main as main\n"
            "from shared.ports import Message\n"
            f"data = b'{{\"incident_id\": \"{incident_id}\", \"round\": 1, \"specialist\": \"logs\"}}'\n"
            "main.pipeline().on_findings(Message(data=data))\n"
            f"print(main.pipeline().log.loads, {LOG_MODELS_IMPORTED})\n")
    out = in_a_fresh_process(code, tmp_path, AUTOSRE_BUS="pubsub", AUTOSRE_PROJECT="p")
    assert out.stdout.strip() == "0 []", out.stdout + out.stderr


def test_a_specialists_redelivery_imports_no_model_of_the_incident_log(tmp_path: Path) -> None:
    """A redelivered task is read, checked by id against the log and told again with the bus's two messages alone:
    neither the models, the event payloads nor the fold are imported on that path."""
    _, _, incident_id = _analysed(SqliteEventStore(str(tmp_path / "e.db")), tmp_path)
    code = ("import sys\n"
            "import functions.main as main\n"
            "from functions.handlers.specialist import reported\n"
            "from shared.messages import FindingsReady, Task\n"
            f"task = Task(incident_id={incident_id!r}, round=1, specialist='logs')\n"
            "FindingsReady(**task.model_dump()).model_dump()\n"
            f"print(reported(main.pipeline(), task), {LOG_MODELS_IMPORTED})\n")
    out = in_a_fresh_process(code, tmp_path, AUTOSRE_BUS="pubsub", AUTOSRE_PROJECT="p")
    assert out.stdout.strip() == "True []", out.stdout + out.stderr


def test_a_new_alert_imports_no_finding_details(tmp_path: Path) -> None:
    """Intake records an alert, an incident's opening and its first round: no finding, so none of the details
    models of the finding kinds is imported (a finding validated later still gets its kind's details)."""
    code = ("import sys\n"
            "import functions.main as main\n"
            "from shared.ports import Message\n"
            f"assert main.pipeline().on_alert(Message(data={_alert()!r}))\n"
            "print('shared.finding_details' in sys.modules)\n"
            "from shared.models import Finding\n"
            "f = Finding.model_validate({'specialist': 'logs', 'kind': 'change.deploy', 'title': 't',"
            " 'details': {'revision': 'r2'}})\n"
            "print(type(f.details).__name__, f.details.revision, type(Finding(specialist='logs', kind='log.none',"
            " title='t').details).__name__)\n")
    out = in_a_fresh_process(code, tmp_path)
    assert out.stdout.split() == ["False", "ChangeDetails", "r2", "QuietLogsDetails"], out.stdout + out.stderr


def test_the_settings_annotations_are_evaluated_as_the_class_is_made() -> None:
    """Every entry point makes the settings model as it starts: its annotations are objects, not strings that
    pydantic would compile one by one (as the event payloads' are)."""
    from shared.config import Settings

    assert Settings.__annotations__ and not [n for n, a in Settings.__annotations__.items() if isinstance(a, str)]


def _an_open_incident(tmp_path: Path) -> SqliteEventStore:
    """A store with one incident whose alert alone was handled: its round stays open, younger than its deadline."""
    store = SqliteEventStore(str(tmp_path / "e.db"))
    _, bus = embedded(store, MemorySource())
    bus.publish(topics.ALERTS, _alert())
    while bus._queue:
        sub, message = bus._queue.popleft()
        if message.topic == topics.ALERTS:
            bus._run(sub, message)
    return store


def test_the_web_list_and_a_sweep_with_nothing_to_do_import_no_model_of_the_incident_log(tmp_path: Path) -> None:
    """The incident list reads the summaries alone (an incident with nothing to approve is not loaded), and a sweep
    whose incidents have nothing to do yet reads one query: neither imports the models, the event payloads, the fold
    or the chat thread."""
    store = _an_open_incident(tmp_path)
    assert [s["status"] for s in store.summaries()] == ["open"]
    code = (WEB_LIST +
            "main.sweep(None)\n"
            "print(sorted(m for m in ('shared.models', 'shared.events', 'shared.incident_state',"
            " 'functions.chat_thread') if m in sys.modules))\n")
    out = in_a_fresh_process(code, tmp_path, AUTOSRE_APPROVAL_KEY="k" * 40, check=False)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_a_findings_schema_builds_no_kinds_details_model_until_one_is_validated() -> None:
    """A finding's details are its kind's model, validated from a stored dict by the finding itself: the finding's
    own schema checks what it gets is a details model, so a fold builds the details models of the kinds its
    findings have, not all of them (each kind's model is a schema of its own)."""
    from shared.finding_details import DETAILS_OF
    from shared.models import Finding

    finding = Finding.model_validate({"specialist": "logs", "kind": "log.spike", "title": "t",
                                      "details": {"template": "x <*>", "count": 3}})
    schema = repr(Finding.__pydantic_core_schema__)
    assert [m.__name__ for m in set(DETAILS_OF.values()) if f"'{m.__name__}'" in schema] == []
    assert type(finding.details) is DETAILS_OF["log.spike"]
    assert json.loads(finding.model_dump_json())["details"] == {"template": "x <*>", "count": 3}


def test_a_sweep_with_no_action_to_follow_builds_no_remediation_workflow(tmp_path: Path) -> None:
    """The sweep builds the approval and execution workflow (the policy, the action catalog and runners, the rate
    ledger) only when an incident has an approved action to hand over, an outcome pending or a run to settle."""
    _an_open_incident(tmp_path)
    code = ("import sys\n"
            "import functions.main as main\n"
            "print(main.sweep(None)[1], main._remediation is None, sorted(m for m in sys.modules if m.startswith("
            "('functions.remediation', 'agents.remediation', 'shared.action_ledger', 'shared.actions'))))\n")
    out = in_a_fresh_process(code, tmp_path, AUTOSRE_APPROVAL_KEY="k" * 40)
    assert out.stdout.strip().splitlines()[-1] == "200 True []", out.stdout + out.stderr


class BatchCountingStore(SqliteEventStore):
    def __init__(self) -> None:
        super().__init__(":memory:")
        self.writes: list[list[str]] = []  # the event types of each write, in order

    def append(self, event: Any) -> bool:
        self.writes.append([event.type])
        return super().append(event)

    def append_all(self, events: Any) -> list[bool]:
        self.writes.append([e.type for e in events])
        return super().append_all(events)


def test_a_new_alerts_events_are_written_in_one_commit_before_its_tasks_go_out() -> None:
    """Intake records a new incident's opening, its alert and its first round together (one commit on Firestore,
    not three), then publishes the round's tasks; a redelivered alert writes nothing and re-sends the tasks."""
    store = BatchCountingStore()
    pipeline, bus = embedded(store, MemorySource())
    published: list[tuple[str, int]] = []
    publish_all = bus.publish_all

    def recorded_then_published(topic: str, messages: Any) -> Any:
        published.append((topic, len(store.writes)))
        return publish_all(topic, messages)

    bus.publish_all = recorded_then_published  # type: ignore[method-assign]
    alert = Message(data=_alert_path().read_bytes())
    incident_id = pipeline.on_alert(alert)
    assert store.writes == [["incident.opened", "alert.received", "round.started"]]
    assert published == [(topics.TASKS, 1)]  # the tasks went out after the events were written
    state = pipeline.log.read(str(incident_id))
    assert state is not None and state.rounds[1].missing and state.status == "open"
    assert pipeline.on_alert(alert) == incident_id  # redelivered: nothing more written, the tasks sent again
    assert store.writes[1:] == [] and len(published) == 2
    assert len(pipeline.log.read(str(incident_id)).timeline) == len(state.timeline)  # type: ignore[union-attr]


def test_redacting_an_alert_compiles_only_the_rules_its_text_could_match(tmp_path: Path) -> None:
    """Intake masks every new alert: a rule is compiled and run only when the alert's text holds one of the strings
    every match of it contains (shared/redaction_prefilter.py), so a plain alert compiles a few of the rules."""
    code = ("import sys\n"
            "from shared import redaction\n"
            "from shared.alerts import parse_alert\n"
            "print(sum(r._compiled is not None for r in redaction._RULES))\n"
            f"redaction.redact_alert(parse_alert(open({str(_alert_path())!r}, 'rb').read()))\n"
            "print(sum(r._compiled is not None for r in redaction._RULES), len(redaction._RULES))\n")
    out = in_a_fresh_process(code, tmp_path)
    before, (after, total) = int(out.stdout.split()[0]), map(int, out.stdout.split()[1:])
    assert before == 0 and after <= total // 5, out.stdout


def test_the_web_list_builds_no_remediation_workflow_until_a_request_needs_it(tmp_path: Path) -> None:
    """The incident list and its JSON need no approval workflow (the action runners, the rate ledger, the outcome
    bookkeeping): it is built on the first request that does (an approval, a report page, an incident with approvals
    pending in the list), while the forms sign with the approval key from the start."""
    code = (WEB_LIST +
            "print(main._remediation is None, sorted(m for m in sys.modules if m.startswith(("
            "'functions.remediation', 'functions.action_outcome', 'shared.action_ledger', 'shared.actions'))))\n"
            "response = main.web(EnvironBuilder(path='/approve', headers={'Host': 'localhost'}).get_request())\n"
            "print(response.status_code, main._remediation is not None)\n")
    out = in_a_fresh_process(code, tmp_path, AUTOSRE_APPROVAL_KEY="k" * 40, check=False)
    assert out.stdout.strip().splitlines()[-2:] == ["True []", "200 True"], out.stdout + out.stderr
