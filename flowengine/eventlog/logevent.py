"""One stored event as an event log's writers see it, and what ``--pseudonymise`` takes out.

Every writer (CSV, XES, OCEL) gets the same attributes from :func:`event_attributes` and
:func:`case_attributes`, already as text, with the XES type of each; so the three formats
cannot drift apart, and an import reading any of them rebuilds the same event.

Pseudonymised, a log keeps the shape of the process (states, roles, triggers, times, kinds,
numbers, dates and choices) and loses everything a person wrote or is: actor names become
``person-1``, ``person-2``… in order of first appearance, free text becomes empty, and the
hashes are left out because they would no longer verify.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flowengine.clock import as_utc
from flowengine.eventlog.attributes import (
    ACTIVITY,
    CASE_FROM,
    CASE_TITLE,
    CASE_WORKFLOW,
    CASE_WORKFLOW_VERSION,
    CHANGES,
    COMMENT,
    COMPLETE,
    DETAILS,
    ENTERED_AT,
    ERASABLE,
    FROM_STATE,
    HASH,
    IDEMPOTENCY_KEY,
    KIND,
    LIFECYCLE,
    LOGIN,
    RECORDED_AT,
    RESOURCE,
    ROLE,
    SEQ,
    TIMESTAMP,
    TRIGGER,
)
from flowengine.history.erasure import Committed, carried
from flowengine.history.provenance import DETAILS_KEY
from flowengine.history.records import CREATED, FROM_KEY, MIGRATED, PROGRESS, REMINDED, SYSTEM
from flowengine.store.eventstream import LoggedEvent

# XES attribute types; CSV and OCEL carry every value as text, typed by their declarations.
STRING = "string"
DATE = "date"
INT = "int"

Attribute = tuple[str, str, str]  # (key, XES type, value as text)

WITHHELD = ""  # what free text becomes in a pseudonymised log
KEPT_FIELD_TYPES = frozenset({"number", "date", "choice"})  # a workflow's words or figures, not a person's
_KEPT_DETAILS: dict[str, frozenset[str]] = {
    CREATED: frozenset({"workflow", "workflow_version", "definition", FROM_KEY}),  # a proposal id is no one's name
    PROGRESS: frozenset({"percent", "milestone_date"}),
    REMINDED: frozenset({"after", "due"}),
    MIGRATED: frozenset({"from_definition", "to_definition", "from_version", "to_version", "map"}),
}  # other kinds, and the other keys of these: every text in them is withheld
# One encoder for the whole export: json.dumps with options builds a new one for every value.
_JSON_TEXT = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


@dataclass(frozen=True, slots=True)
class LogEvent:
    """An event as it goes out. ``title``, ``idempotency_key`` and ``hash`` are None when left out."""

    case: str
    activity: str
    at: datetime
    resource: str
    role: str
    title: str | None
    workflow: str
    workflow_version: str
    seq: int
    kind: str
    trigger: str | None
    from_state: str | None
    entered_at: datetime
    comment: str
    changes: dict[str, Any]
    details: dict[str, Any]
    idempotency_key: str | None
    hash: str | None
    came_from: str | None = None  # the proposal this case came from, when it names one
    login: str | None = None  # who recorded it (event format 2); left out when pseudonymised
    recorded_at: datetime | None = None
    # event format 3: each personal value's commitment and salt (None once erased); left out when pseudonymised
    personal: Mapping[str, Committed] | None = None


def timestamp_text(moment: datetime) -> str:
    """ISO 8601 with offset, in UTC with microseconds: what XES's xs:dateTime, OCEL and pandas all read."""
    return as_utc(moment).isoformat(timespec="microseconds")


def json_text(value: Mapping[str, Any]) -> str:
    """Changes and details as one line of JSON, keys sorted, so equal events export equal text."""
    return _JSON_TEXT(value)


def as_is(logged: LoggedEvent, came_from: str | None = None) -> LogEvent:
    event = logged.event
    return LogEvent(
        case=event.proposal, activity=event.to_state, at=event.at, resource=event.actor, role=event.role,
        title=logged.title, workflow=logged.workflow, workflow_version=logged.workflow_version, seq=event.seq,
        kind=event.kind, trigger=event.trigger, from_state=event.from_state, entered_at=event.entered_at,
        comment=event.comment, changes=event.changes, details=event.details,
        idempotency_key=event.idempotency_key, hash=event.hash, came_from=came_from, login=event.login,
        recorded_at=event.recorded_at, personal=event.personal,
    )


class Pseudonymiser:
    """Turns events into pseudonymised ones; one per export, so pseudonyms are stable within it.

    ``field_types`` maps a definition's content hash to its fields' types: only values of
    number, date and choice fields are kept; text and URL values (and values of fields no
    definition declares) are withheld.
    """

    def __init__(self, field_types: Mapping[str, Mapping[str, str]]) -> None:
        self._field_types = field_types
        self._names: dict[str, str] = {}

    def actor(self, name: str, role: str) -> str:
        if name == SYSTEM and role == SYSTEM:  # flowengine's own escalations and reminders: no person
            return SYSTEM
        if name not in self._names:
            self._names[name] = f"person-{len(self._names) + 1}"
        return self._names[name]

    def __call__(self, logged: LoggedEvent, came_from: str | None = None) -> LogEvent:
        event = logged.event
        types = self._field_types.get(logged.definition_hash, {})
        changes = {name: value if types.get(name) in KEPT_FIELD_TYPES else _withheld(value)
                   for name, value in event.changes.items()}
        kept = _KEPT_DETAILS.get(event.kind, frozenset())
        details = {key: value if key in kept else _withheld(value) for key, value in event.details.items()}
        if isinstance(event.details.get(DETAILS_KEY), dict):  # where a step came from: its kind, not its words
            details[DETAILS_KEY] = {**details[DETAILS_KEY], "kind": event.details[DETAILS_KEY].get("kind")}
        return LogEvent(
            case=event.proposal, activity=event.to_state, at=event.at, resource=self.actor(event.actor, event.role),
            role=event.role, title=None, workflow=logged.workflow, workflow_version=logged.workflow_version,
            seq=event.seq, kind=event.kind, trigger=event.trigger, from_state=event.from_state,
            entered_at=event.entered_at, comment=WITHHELD, changes=changes, details=details, idempotency_key=None,
            hash=None, came_from=came_from,
        )


def _withheld(value: Any) -> Any:
    """Text becomes empty, in nested values too; numbers, true/false and null (a cleared field) stay."""
    if isinstance(value, str):
        return WITHHELD
    if isinstance(value, dict):
        return {key: _withheld(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_withheld(item) for item in value]
    return value


def case_attributes(event: LogEvent) -> list[Attribute]:
    """The attributes of the event's case (proposal), without its id."""
    found: list[Attribute] = []
    if event.title is not None:
        found.append((CASE_TITLE, STRING, event.title))
    found.append((CASE_WORKFLOW, STRING, event.workflow))
    found.append((CASE_WORKFLOW_VERSION, STRING, event.workflow_version))
    if event.came_from is not None:
        found.append((CASE_FROM, STRING, event.came_from))
    return found


def event_attributes(event: LogEvent) -> list[Attribute]:
    """The event's own attributes, standard ones first; absent values are left out."""
    found: list[Attribute] = [
        (ACTIVITY, STRING, event.activity),
        (TIMESTAMP, DATE, timestamp_text(event.at)),
        (RESOURCE, STRING, event.resource),
        (ROLE, STRING, event.role),
        (LIFECYCLE, STRING, COMPLETE),
        (SEQ, INT, str(event.seq)),
        (KIND, STRING, event.kind),
    ]
    if event.trigger is not None:
        found.append((TRIGGER, STRING, event.trigger))
    if event.from_state is not None:
        found.append((FROM_STATE, STRING, event.from_state))
    found += [
        (ENTERED_AT, DATE, timestamp_text(event.entered_at)),
        (COMMENT, STRING, event.comment),
        (CHANGES, STRING, json_text(event.changes)),
        (DETAILS, STRING, json_text(event.details)),
    ]
    if event.idempotency_key is not None:
        found.append((IDEMPOTENCY_KEY, STRING, event.idempotency_key))
    if event.hash is not None:
        found.append((HASH, STRING, event.hash))
    if event.login is not None and event.recorded_at is not None:
        found += [(LOGIN, STRING, event.login), (RECORDED_AT, DATE, timestamp_text(event.recorded_at))]
    if event.personal is not None:
        found.append((ERASABLE, STRING, json_text(carried(event.personal))))
    return found


@dataclass(frozen=True)
class LogSource:
    """What a writer reads: ``events()`` starts a fresh pass over every event, in chain order
    (OCEL makes two); ``activities`` are the distinct activities, for formats that declare them."""

    events: Callable[[], Iterator[LogEvent]]
    activities: tuple[str, ...]
    pseudonymised: bool
    raw_cells: bool = False  # CSV: cells that begin as formulas are written as they are
