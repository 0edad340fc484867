"""Stored rows become records: a proposal row, an event row, and an event's personal values kept
apart (event format 3) put back.

Shared by the SQLAlchemy store (:mod:`flowengine.store.queries`) and the driver's own reads
(:mod:`flowengine.store.direct`), so a proposal or an event reads the same whichever path read it.
A row is anything with the columns as attributes, its values as SQLAlchemy's types give them:
JSON parsed, times aware UTC (:func:`flowengine.store.basics.read_time`). No SQLAlchemy here.
"""

from __future__ import annotations

import json
from collections import namedtuple
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from flowengine.history.erasure import ACTOR, COMMENT, ERASED, FIELD, Committed
from flowengine.history.records import Event, Proposal
from flowengine.store import basics

Values = dict[tuple[int, int], dict[str, tuple[str, str]]]  # (proposal_pk, seq) → item → (value JSON, salt)


def proposal_from_row(row: Any) -> Proposal:
    """The Proposal of a row holding :data:`flowengine.store.queries.PROPOSAL_COLUMNS` by their names."""
    return Proposal(
        id=row.id, workflow=row.workflow, workflow_version=row.workflow_version,
        definition_hash=row.definition_hash, title=row.title, description=row.description, origin=row.origin,
        state=row.state, fields=dict(row.fields), created_at=row.created_at, updated_at=row.updated_at,
        state_entered_at=row.state_entered_at, version=row.version, head_hash=row.head_hash,
        created_by=row.created_by, came_from=row.came_from, provenance=row.provenance,
    )


def event_from_row(row: Any, kept: Values | None = None) -> Event:
    """The Event of a row that starts with :data:`flowengine.store.queries.EVENT_COLUMNS` (the event
    log's rows add more); ``kept``: the erasable values of its proposal, for an event of format 3."""
    actor, comment, changes = row.actor, row.comment, dict(row.changes)
    personal = None
    if row.personal is not None:
        actor, comment, changes, personal = restore(
            row.personal, (kept or {}).get((int(row.proposal_pk), int(row.seq)), {}), actor, comment, changes)
    return Event(
        proposal=row.proposal, seq=row.seq, kind=row.kind, trigger=row.trigger, from_state=row.from_state,
        to_state=row.to_state, actor=actor, role=row.role, at=row.at, entered_at=row.entered_at,
        comment=comment, changes=changes, details=dict(row.details),
        idempotency_key=row.idempotency_key, prev_hash=row.prev_hash, hash=row.hash, login=row.login,
        recorded_at=row.recorded_at, personal=personal,
    )


def restore(personal: Mapping[str, str], kept: Mapping[str, tuple[str, str]], actor: str, comment: str,
            changes: dict[str, Any]) -> tuple[str, str, dict[str, Any], dict[str, Committed]]:
    """An event's actor, comment and changes with its personal values put back (``ERASED``
    where they were erased), and the commitments with the salts still kept."""
    committed: dict[str, Committed] = {}
    restored_changes = dict(changes)
    for item, digest in personal.items():
        found = kept.get(item)
        value: Any = ERASED if found is None else json.loads(found[0])
        salt = None if found is None else found[1]
        column = actor if item == ACTOR else comment if item == COMMENT else changes.get(item.removeprefix(FIELD))
        # a field's place holds its commitment (a field left out: as the first steps of format 3 stored it)
        if column != ("" if item == ACTOR else digest if item == COMMENT else None) and not (
                item.startswith(FIELD) and column == {"erasable": digest}):
            # the events row itself was edited where a value kept apart belongs: show what it
            # says, held to the commitment (which it cannot match), erased or not
            value, salt = column, salt or ""
        committed[item] = Committed(digest, salt)
        if item == ACTOR:
            actor = value
        elif item == COMMENT:
            comment = value
        else:
            restored_changes[item.removeprefix(FIELD)] = value
    return actor, comment, restored_changes, committed


# -- rows as the database driver hands them ---------------------------------------------------
#
# The SQL text below is run as it is by both paths: the SQLAlchemy store (as ``text()``, which
# hands the driver's values through unconverted) and the driver's own reads. Both then convert
# the values here, as the store's column types would: times to aware UTC, JSON parsed.

SQLITE = "sqlite"  # the dialects' names, as SQLAlchemy names them
POSTGRESQL = "postgresql"


class Reads(Protocol):
    """A read transaction that runs SQL text (parameters named ``:name``) and hands back the
    driver's rows."""

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        ...

    def rows(self, sql: str, **params: Any) -> list[Any]:
        """All rows of ``sql``."""
        ...


def bound(reads: Reads, moment: datetime) -> Any:
    """A time as a parameter: SQLite compares the text it stores, PostgreSQL a timestamptz."""
    return basics.sqlite_text(moment) if reads.dialect == SQLITE else moment


def names(prefix: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """``:prefix0, :prefix1, …`` for an IN list, and the parameters they name."""
    given = {f"{prefix}{index}": value for index, value in enumerate(values)}
    return ", ".join(f":{name}" for name in given), given


PROPOSAL_NAMES = ("pk", "id", "workflow", "workflow_version", "definition_hash", "title", "description", "origin",
                  "state", "fields", "created_at", "updated_at", "state_entered_at", "version", "head_hash",
                  "created_by", "came_from", "provenance")
PROPOSAL_COLUMNS = (
    "proposals.pk, proposals.id, proposals.workflow, definitions.version, proposals.definition_hash, "
    "proposals.title, proposals.description, proposals.origin, proposals.state, proposals.fields, "
    "proposals.created_at, proposals.updated_at, proposals.state_entered_at, proposals.version, "
    "proposals.head_hash, proposals.created_by, proposals.came_from, proposals.provenance")
PROPOSALS = (f"SELECT {PROPOSAL_COLUMNS} FROM proposals "
             "JOIN definitions ON proposals.definition_hash = definitions.content_hash ")
EVENT_NAMES = ("proposal", "seq", "kind", "trigger", "from_state", "to_state", "actor", "role", "at", "entered_at",
               "comment", "changes", "details", "idempotency_key", "prev_hash", "hash", "login", "recorded_at",
               "proposal_pk", "personal")
EVENT_COLUMNS = (
    'events.seq, events.kind, events."trigger", events.from_state, events.to_state, events.actor, events.role, '
    "events.at, events.entered_at, events.comment, events.changes, events.details, events.idempotency_key, "
    "events.prev_hash, events.hash, events.login, events.recorded_at, events.proposal_pk, events.personal")
EVENTS = f"SELECT proposals.id, {EVENT_COLUMNS} FROM events JOIN proposals ON events.proposal_pk = proposals.pk "

ProposalRow = namedtuple("ProposalRow", PROPOSAL_NAMES)  # type: ignore[misc]
EventRow = namedtuple("EventRow", EVENT_NAMES)  # type: ignore[misc]
_JSON = {ProposalRow: frozenset({PROPOSAL_NAMES.index("fields")}),
         EventRow: frozenset(EVENT_NAMES.index(name) for name in ("changes", "details", "personal"))}
_TIMES = {ProposalRow: frozenset(PROPOSAL_NAMES.index(name) for name in ("created_at", "updated_at",
                                                                          "state_entered_at")),
          EventRow: frozenset(EVENT_NAMES.index(name) for name in ("at", "entered_at", "recorded_at"))}


def as_stored(kind: Any, row: Sequence[Any], dialect: str) -> Any:
    """A driver's row (of ``kind``'s columns) with its values as the store's column types give
    them: times aware UTC, JSON parsed (SQLite hands over its text; psycopg parses JSON itself)."""
    parse = dialect == SQLITE
    times, documents = _TIMES[kind], _JSON[kind]
    return kind._make(
        basics.read_time(value) if index in times else
        (json.loads(value) if parse and value is not None else value) if index in documents else value
        for index, value in enumerate(row))


def proposals_from(reads: Reads, raw: Sequence[Sequence[Any]]) -> list[tuple[int, Proposal]]:
    """Rows of :data:`PROPOSALS`' columns as (key, Proposal)."""
    made = [as_stored(ProposalRow, row, reads.dialect) for row in raw]
    return [(int(row.pk), proposal_from_row(row)) for row in made]


def events_from(reads: Reads, raw: Sequence[Sequence[Any]]) -> list[Event]:
    """Rows of :data:`EVENTS`' columns as Events, their personal values put back."""
    made = [as_stored(EventRow, row, reads.dialect) for row in raw]
    apart = {int(row.proposal_pk) for row in made if row.personal is not None}
    kept = kept_values(reads, apart) if apart else None
    return [event_from_row(row, kept) for row in made]


def kept_values(reads: Reads, proposal_pks: Iterable[int]) -> Values:
    """As :func:`flowengine.store.erasable.values_of`: every erasable value of these proposals' events."""
    wanted = sorted(set(proposal_pks))
    found: Values = {}
    for start in range(0, len(wanted), 500):
        listed, params = names("pk", wanted[start:start + 500])
        for pk, seq, item, value, salt in reads.rows(
                f"SELECT proposal_pk, seq, item, value, salt FROM erasable WHERE proposal_pk IN ({listed})", **params):
            found.setdefault((int(pk), int(seq)), {})[item] = (value, salt)
    return found


def events_of(reads: Reads, proposal_id: str) -> list[Event]:
    """A proposal's events in order, by its id."""
    return events_from(reads, reads.rows(EVENTS + "WHERE proposals.id = :id ORDER BY events.seq", id=proposal_id))


def definition_text(reads: Reads, content_hash: str) -> tuple[str, str] | None:
    """As :func:`flowengine.store.queries.definition_text`: (YAML text, source name)."""
    found = reads.rows("SELECT text, source FROM definitions WHERE content_hash = :content_hash",
                       content_hash=content_hash)
    return (str(found[0][0]), str(found[0][1])) if found else None
