"""Every port the domain depends on, in one place. Adapters are grouped by port beside it:
shared/store/ (EventStore, the composite of EventLog, Claims, Summaries and TermIndex), shared/bus/ (Bus),
shared/telemetry/ (TelemetrySource), shared/actions/ (ActionRunner), shared/notify/ (Notifier, ThreadedNotifier),
shared/handoff/ (HandOffTarget), shared/llm/ (NarrativeWriter).

Each port (each store capability) has one contract suite under tests/contract/ that every adapter must pass.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:  # the models and records are only named here: a function that reads no telemetry never imports them
    from shared.core_models import Event
    from shared.models import Proposal
    from shared.paging import ListFilter
    from shared.telemetry_records import (
        ChangeEvent,
        Dependency,
        LogRecord,
        MetricSeries,
        PatternCount,
        ReadResult,
        SloStatus,
        Span,
        Window,
    )


class EventLog(Protocol):
    """Append-only events per incident.

    Contract (tests/contract/test_event_log.py, run against every adapter):
    - `append` writes an event only if no event with that (incident_id, event_id) exists; returns whether it
      wrote (True for exactly one of concurrent appends of one event). Appends never overwrite.
    - `append_all` appends several events of one incident in one write where the store can (one commit): each is
      create-if-absent as with `append`, and the result says, event by event, whether this call wrote it.
    - `load` returns every event of an incident ordered by (at, event_id), each field and its data as written
      (any JSON); an incident without events loads as [].
    - `recorded` returns which of the given event ids the incident holds, read by id (no load of its events).
    - `read_by_id` returns the data (as written) of those of the given event ids the incident holds, by event id,
      read by id as `recorded` reads them.
    Only shared/incident_log.py reads and writes incidents' events.
    """

    def append(self, event: Event) -> bool: ...

    def append_all(self, events: list[Event]) -> list[bool]: ...

    def load(self, incident_id: str) -> list[Event]: ...

    def recorded(self, incident_id: str, event_ids: Collection[str]) -> set[str]: ...

    def read_by_id(self, incident_id: str, event_ids: Collection[str]) -> dict[str, dict[str, Any]]: ...


class Claims(Protocol):
    """A create-if-absent key index: routing keys, execution claims, the action ledger's slots.

    Contract (tests/contract/test_claims.py):
    - `claim(key, value)` stores value under key if the key is free and returns the value now stored (the winner's,
      under concurrency: every concurrent claimer gets the same one).
    - `lookup(key)` returns the value stored, or None; `lookup_all(keys)` the values stored under those of the keys
      that hold one, in one read (a batched get).
    - `release(key, value)` frees the key only if it still holds value; returns whether it freed it (True for
      exactly one of concurrent releases). Keys of any length and spelling are distinct.
    - `expires_in_s` (> 0): the claim may be deleted that long after it was taken (a TTL; the store may keep it
      longer, never drops it sooner); 0: it lasts as long as the store keeps incidents.
    """

    def claim(self, key: str, value: str, expires_in_s: float = 0.0) -> str: ...

    def lookup(self, key: str) -> str | None: ...

    def lookup_all(self, keys: Collection[str]) -> dict[str, str]: ...

    def release(self, key: str, value: str) -> bool: ...


class Summaries(Protocol):
    """The list-view projection: one summary per incident, rebuilt from its events.

    Contract (tests/contract/test_summaries.py):
    - `put_summary` stores an incident's summary, overwriting the stored one unless that was folded from more
      events (its `events`, then its `updated_at`): a stale fold never lands last.
    - `summaries(status)` lists them, ordered by incident id; with a status, only those (a query, not a scan).
    - `summaries_page(limit, cursor)` lists at most `limit` (1 to shared/paging.py MAX_PAGE), the most recently
      updated first, starting after `cursor` (the one the previous page returned; "" for the first page), and the
      cursor of the next page ("" when this page is the last). A cursor it did not give raises ValueError.
      With `where` (shared/paging.py ListFilter), only the summaries it `matches`, in the same order; a store that
      filters after reading may return fewer than `limit` with a cursor (it read as far as it may for one page).
    - `put_summary` that cannot store the summary (other writers won every attempt) raises; it never gives up
      silently.
    """

    def put_summary(self, incident_id: str, summary: dict[str, Any]) -> None: ...

    def summaries(self, status: str | None = None) -> list[dict[str, Any]]: ...

    def summaries_page(self, limit: int, cursor: str = "",
                       where: ListFilter | None = None) -> tuple[list[dict[str, Any]], str]: ...


class TermIndex(Protocol):
    """Search: an inverted index from signature terms to the incidents that hold them (similar past incidents).

    Contract (tests/contract/test_term_index.py):
    - `index_terms(incident_id, terms)` sets the incident's terms (replacing the ones indexed before; the same
      call again changes nothing).
    - `incidents_with_terms(terms, limit)`: the incidents indexed under at least one of `terms`, each with how many
      of them it holds, at most `limit`, the most matches first (ties by incident id); a query per term batch,
      never a scan of every incident. No terms or a limit of 0 give {}.
    - `indexed_terms(incident_ids)` returns the stored terms of those incidents (sorted; unknown ids absent).
    Terms and incident ids of any spelling and length work.
    """

    def index_terms(self, incident_id: str, terms: Collection[str]) -> None: ...

    def incidents_with_terms(self, terms: Collection[str], limit: int) -> dict[str, int]: ...

    def indexed_terms(self, incident_ids: Collection[str]) -> dict[str, list[str]]: ...


class EventStore(EventLog, Claims, Summaries, TermIndex, Protocol):
    """The composite an adapter may implement (shared/store/: SQLite, Firestore): all four capabilities over one
    database, none of which sees another's data (tests/contract/test_event_store.py). Callers depend on the
    capability they use; the whole store is held only where it is built or handed on (the composition root, the
    entry points, the pipeline and the remediation workflow, which give each of their parts its own).
    """


@dataclass(frozen=True)
class Message:
    """A message as a handler sees it, whichever bus delivered it."""

    data: bytes
    attributes: dict[str, str] = field(default_factory=dict)
    message_id: str = ""
    topic: str = ""
    delivery_attempt: int = 1


Handler = Callable[[Message], object]


class Bus(Protocol):
    """Publishes messages to named topics. Subscriptions belong to the deployment, not the port."""

    def publish(self, topic: str, data: bytes, attributes: dict[str, str] | None = None) -> str: ...

    def publish_all(self, topic: str, messages: list[tuple[bytes, dict[str, str]]]) -> list[str]:
        """Publish several (data, attributes) to one topic and return their ids in order once every one is
        accepted (sent together where the transport allows); raises if any was not (some may have been)."""
        ...


class LogPatternCounter(Protocol):
    """A capability some telemetry sources have: log lines counted per normalised pattern where they live."""

    def log_pattern_counts(self, baseline: Window, incident: Window, services: list[str] | None = None
                           ) -> tuple[list[PatternCount], bool]:
        """Rows per (template, service, window), most frequent first, and whether a row cap cut the result."""
        ...


class SloReader(Protocol):
    """A capability some telemetry sources have: the SLOs of services, with their burn rates and error budget."""

    def slo_status(self, at: float, services: list[str]) -> ReadResult[SloStatus]:
        """Each SLO of `services` at `at`: burn rate over 5 min, 1 h and 6 h, error budget left (empty: none)."""
        ...


class TelemetrySource(Protocol):
    """Reads telemetry for a time window. Implementations bound what they read and report sampling.

    `log_counter` is the optional pre-aggregation capability (None when the source has none): the log analyst
    then reads counts per pattern instead of lines.
    """

    log_counter: LogPatternCounter | None

    def logs(self, window: Window, services: list[str] | None = None) -> ReadResult[LogRecord]: ...

    def spans(self, window: Window, services: list[str] | None = None) -> ReadResult[Span]: ...

    def metrics(self, window: Window, services: list[str] | None = None) -> ReadResult[MetricSeries]: ...

    def changes(self, window: Window, services: list[str] | None = None) -> ReadResult[ChangeEvent]: ...

    def dependencies(self) -> ReadResult[Dependency]:
        """The service graph the source declares (caller -> callee, sorted, each edge once), whatever the window:
        a bundle's graph.jsonl, a user-supplied graph file. Empty when it declares none; the traces add the calls
        they show on top."""
        ...

    def describe(self) -> dict[str, str]:
        """Where the data comes from (for the finding's `query`)."""
        ...


class OutcomePending(Exception):
    """An action was started but its outcome was not known within the wait: `operation` names the long-running
    operation to read later (the sweep reads it), `started` says what was started."""

    def __init__(self, operation: str, started: str):
        super().__init__(f"{started}; outcome pending (operation {operation})")
        self.operation, self.started = operation, started


class OperationState(NamedTuple):
    """A long-running operation as its API reports it: still running, done, or done with an error."""

    done: bool
    error: str = ""  # the operation's error ("" when it succeeded or is still running)


class ActionRunner(Protocol):
    """Carries out one approved proposal and says what it did.

    Contract (tests/contract/test_action_runner.py, run against every adapter of shared/actions/):
    - `run(proposal)` carries the proposal out once (one change to what it drives; the dry run, whose `dry_run`
      is True, changes nothing) and returns what it did, in words (never empty).
    - When it could not carry it out (an action it has no way to run, a target that refused or failed) it raises:
      a failure is never returned as text, so the execution is recorded as failed.
    - The proposal is left as it was given.
    - A change whose outcome is not known within the runner's wait (a long-running operation still running)
      raises OutcomePending with the operation's name instead of waiting longer; the operation is read later.
    """

    def run(self, proposal: Proposal) -> str: ...


class Notifier(Protocol):
    """Posts a short text to the team's channel.

    Contract (tests/contract/test_notifier.py, run against every adapter of shared/notify/ and each channel kind):
    - `channel` names the kind of channel (never empty); it is recorded with each notification.
    - `send(text)` returns (delivered, detail): (True, detail) once the channel accepted the text, posted once;
      (False, why) when it was refused, kept failing, could not be reached or answered nonsense, or the address
      is malformed. It never raises: a notification that fails is recorded, never fatal to the pipeline.
    """

    @property
    def channel(self) -> str: ...

    def send(self, text: str) -> tuple[bool, str]: ...


class ChatPost(NamedTuple):
    """What a threaded channel answered: whether it took the message, why not, and where the message now is."""

    ok: bool
    detail: str
    conversation: str = ""  # the channel's id, as the channel names it (what an edit must name)
    ts: str = ""  # the message's id in that channel (a thread's root: the thread's id)


class ThreadedNotifier(Notifier, Protocol):
    """A channel with threads whose messages can be edited (Slack's Web API with a bot token).

    Contract (tests/test_chat_thread.py, on a stand-in enforcing the Web API's documented answers):
    - `post(text, thread="", broadcast=False)` posts a message (a reply in `thread` when given; `broadcast` also
      shows the reply in the channel) and returns where it is; `edit(conversation, ts, text)` replaces a message's
      text. Both return `ChatPost(ok=False, why)` when refused, rate limited past their retries or unreachable;
      neither raises.
    """

    def post(self, text: str, thread: str = "", broadcast: bool = False) -> ChatPost: ...

    def edit(self, conversation: str, ts: str, text: str) -> ChatPost: ...


class HandOffResult(NamedTuple):
    ok: bool
    detail: str  # what the service answered, in words
    reference: str = ""  # the service's own id for what it holds now (PagerDuty's dedup key, Jira's issue key)
    link: str = ""  # where a person sees it


class HandOffRequest(NamedTuple):
    """What a hand-off tells another service: the incident, the report's summary and the link to the report."""

    incident_id: str
    dedup_key: str  # the same for every attempt of one hand-off: a retried request changes nothing twice
    summary: str
    service: str
    severity: str
    link: str
    details: tuple[tuple[str, str], ...] = ()


class HandOffTarget(Protocol):
    """A service an incident is handed to (shared/handoff/: PagerDuty's Events API v2, Jira's REST API).

    Contract (tests/contract/test_handoff_target.py, each adapter on a stand-in enforcing its API's documented
    answers):
    - `name` is the integration's name (the event's key: one hand-off per incident and integration).
    - `send(request)` sends it once (retrying only what the API says to retry) and returns what the service
      answered: `ok` with its reference, or not with why. It never raises.
    """

    name: str

    def send(self, request: HandOffRequest) -> HandOffResult: ...


class NarrativeWriter(Protocol):
    """Writes prose for a grounded prompt (an LLM). The caller keeps only sentences that cite findings.

    Contract (tests/contract/test_narrative_writer.py, run against every adapter of shared/llm/):
    - `writer(prompt, max_output_tokens)` sends the prompt as it is, asks for at most `max_output_tokens` of
      answer (an adapter may add on top what the model spends before answering, such as thinking) and returns
      the answer's text: all of it, none of the model's thinking, "" when the model gave none.
    - A call that fails (refused, over quota, a server error after the adapter's own retries) raises; the caller
      publishes the report without a narrative.
    """

    def __call__(self, prompt: str, max_output_tokens: int) -> str: ...
