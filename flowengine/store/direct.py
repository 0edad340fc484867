"""A few reads through the database driver alone — the standard library's ``sqlite3``, or
psycopg on PostgreSQL — for a command that must start fast: importing SQLAlchemy costs about as
much as ``python -c "import sqlalchemy"`` (264 ms on a quiet machine), far more than reading the
rows of one small workflow.

Only the straight case is read here: a database flowengine can name by a plain path or a
``sqlite:///`` or ``postgresql+psycopg://`` URL, at the schema revision this flowengine reads
(:data:`~flowengine.store.basics.SCHEMA_HEAD`). Anything else — a missing file, an older or a
newer schema, a URL with options of SQLAlchemy's — is the regular store's to open, migrate or
refuse with its message: :func:`connect` answers None, and so do the reads on any driver error.

On PostgreSQL the session is the login's own, so row-level security applies as to every read;
the transaction is read only, at REPEATABLE READ (one snapshot for every statement). The
statements read what the regular store's queries read (tests hold them equal); times compare
and read as :mod:`flowengine.store.basics` says.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
from collections import namedtuple
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flowengine.definition.versions import StoredDefinition
from flowengine.history.erasure import ACTOR
from flowengine.history.records import ERASED_STEP, Event, Proposal, Step, Trail
from flowengine.store import basics
from flowengine.store.basics import read_moment, read_time
from flowengine.store.rows import Values, event_from_row, proposal_from_row

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
_SQLITE_URL = re.compile(r"^sqlite(?:\+pysqlite)?:///(?P<path>[^?#]+)$")
_NAMED = re.compile(r":(\w+)")


def target(value: str | None, environ: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """``(SQLITE, file)`` or ``(POSTGRESQL, libpq URI)`` for ``--db`` or ``$FLOWENGINE_DB`` (a file
    path or a URL; neither: the default file) when it is plain enough to read here; None otherwise."""
    env = os.environ if environ is None else environ
    given = (value or env.get(basics.ENV_DB, "")).strip()
    if not given:
        return SQLITE, str(basics.default_database_path(env))
    if "://" not in given:
        return SQLITE, str(Path(given).expanduser())
    plain = _SQLITE_URL.match(given)
    if plain is not None:
        name = plain.group("path")
        return (SQLITE, str(Path(name).expanduser())) if name not in ("", ":memory:") else None
    if given.startswith("postgresql+psycopg://"):
        return POSTGRESQL, "postgresql://" + given.removeprefix("postgresql+psycopg://")
    return None


@dataclass
class Direct:
    """One read-only transaction on the driver's connection."""

    dialect: str
    connection: Any  # sqlite3.Connection or psycopg.Connection

    def rows(self, sql: str, **params: Any) -> list[Any]:
        """All rows of ``sql``, its parameters named ``:name`` (as SQLite writes them)."""
        if self.dialect == POSTGRESQL:
            sql = _NAMED.sub(r"%(\1)s", sql)
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql, params)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def close(self) -> None:
        """End the snapshot and the connection; a connection already lost has nothing to end, and
        a read that failed has been answered already (the engine takes over), so nothing is raised."""
        try:
            with contextlib.suppress(*self.errors()):
                self.connection.rollback()  # nothing was written: end the snapshot
        finally:
            with contextlib.suppress(*self.errors()):
                self.connection.close()

    def __enter__(self) -> Direct:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def errors(self) -> tuple[type[Exception], ...]:
        """What the driver raises when a read fails."""
        if self.dialect == POSTGRESQL:
            import psycopg

            return (psycopg.Error, sqlite3.Error)
        return (sqlite3.Error,)

    # -- what a command checks first ---------------------------------------------------------

    def revision(self) -> str | None:
        """The stored schema revision (None: no flowengine schema)."""
        found = self.rows("SELECT version_num FROM alembic_version")
        return str(found[0][0]) if found else None

    def setting(self, name: str) -> str | None:
        found = self.rows("SELECT value FROM settings WHERE name = :name", name=name)
        return str(found[0][0]) if found else None

    def login(self) -> str:
        """As :func:`flowengine.store.access.session_login`: the session's authenticated login
        on PostgreSQL, the process's OS login on SQLite."""
        if self.dialect == POSTGRESQL:
            return str(self.rows("SELECT session_user")[0][0])
        return basics.os_login()

    def grants(self, login: str) -> list[tuple[str, str]]:
        """The login's grants as (workflow, role)."""
        return [(str(w), str(r)) for w, r in self.rows("SELECT workflow, role FROM grants WHERE login = :login",
                                                       login=login)]

    # -- one workflow ------------------------------------------------------------------------

    def definitions(self, workflow: str) -> list[StoredDefinition]:
        """As :func:`flowengine.store.queries.definitions_of`: newest first."""
        rows = self.rows("SELECT content_hash, workflow, version, source, text, stored_at FROM definitions "
                         "WHERE workflow = :workflow ORDER BY stored_at DESC, content_hash", workflow=workflow)
        return [StoredDefinition(h, w, v, s, t, read_moment(at)) for h, w, v, s, t, at in rows]

    def size(self, workflow: str) -> tuple[int, int, datetime | None]:
        """The workflow's proposals, their events (each row's version is its last sequence
        number: at most that many events, erasure steps included) and the newest step's time
        (as :func:`flowengine.store.queries.newest_step`)."""
        count, events, newest = self.rows("SELECT count(*), coalesce(sum(version), 0), max(updated_at) "
                                          "FROM proposals WHERE workflow = :workflow", workflow=workflow)[0]
        return int(count), int(events), None if newest is None else read_moment(newest)

    def trails(self, workflow: str, until: datetime) -> Iterator[Trail]:
        """As :func:`flowengine.store.queries.trails` of one workflow up to ``until``."""
        rows = self.rows(_TRAILS, actor=ACTOR, erased=ERASED_STEP, workflow=workflow, until=self._bound(until))
        for _, group in groupby(rows, lambda row: row[0]):
            got = list(group)
            head = got[0]
            yield Trail(head[0], head[1], head[2], tuple(
                Step(kind, trigger, source, state, basics.kept_actor(actor, kept), role, read_moment(at),
                     bool(commented))
                for _, _, _, _, kind, trigger, source, state, actor, role, at, commented, kept in got), head[3])

    # -- one proposal (as flowengine.store.queries reads it) -----------------------------------

    def proposal(self, proposal_id: str) -> tuple[int, Proposal] | None:
        """As :func:`flowengine.store.queries.load_proposal`: the proposal (and its row's key)."""
        found = self._proposals(_PROPOSALS + "WHERE p.id = :proposal_id", proposal_id=proposal_id)
        return found[0] if found else None

    def events_of(self, proposal_pk: int, *, until: datetime | None = None) -> list[Event]:
        """As :func:`flowengine.store.queries.events_of`: the proposal's events in order, up to ``until``."""
        if until is None:
            rows = self.rows(_EVENTS + "WHERE e.proposal_pk = :pk ORDER BY e.seq", pk=proposal_pk)
        else:
            rows = self.rows(_EVENTS + "WHERE e.proposal_pk = :pk AND e.at <= :until ORDER BY e.seq",
                             pk=proposal_pk, until=self._bound(until))
        return self.events(rows)

    def derived_from(self, source: str, *, until: datetime | None = None) -> list[Proposal]:
        """As :func:`flowengine.store.queries.derived_from` of one source: the proposals registered
        as coming from it (by ``until``), in id order."""
        where = "WHERE p.came_from IS NOT NULL AND p.came_from = :source "
        order = "ORDER BY origin.prefix, origin.number, p.prefix, p.number"
        if until is None:
            found = self._proposals(_PROPOSALS + _ORIGIN + where + order, source=source)
        else:
            found = self._proposals(_PROPOSALS + _ORIGIN + where + "AND p.created_at <= :until " + order,
                                    source=source, until=self._bound(until))
        return [proposal for _, proposal in found]

    def definition_text(self, content_hash: str) -> tuple[str, str] | None:
        """As :func:`flowengine.store.queries.definition_text`: (YAML text, source name)."""
        found = self.rows("SELECT text, source FROM definitions WHERE content_hash = :content_hash",
                          content_hash=content_hash)
        return (str(found[0][0]), str(found[0][1])) if found else None

    def kept_values(self, proposal_pks: Iterable[int]) -> Values:
        """As :func:`flowengine.store.erasable.values_of`: every erasable value of these proposals' events."""
        wanted = sorted(set(proposal_pks))
        found: Values = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            names = {f"pk{index}": pk for index, pk in enumerate(chunk)}
            for pk, seq, item, value, salt in self.rows(
                    "SELECT proposal_pk, seq, item, value, salt FROM erasable WHERE proposal_pk IN ("
                    + ", ".join(f":{name}" for name in names) + ")", **names):
                found.setdefault((int(pk), int(seq)), {})[item] = (value, salt)
        return found

    def events(self, rows: Sequence[Any]) -> list[Event]:
        """Rows of :data:`_EVENTS`' columns as :func:`flowengine.store.queries.events_from_rows` makes them."""
        made = [self._record(_EventRow, row, _EVENT_JSON) for row in rows]
        apart = {int(row.proposal_pk) for row in made if row.personal is not None}
        kept = self.kept_values(apart) if apart else None
        return [event_from_row(row, kept) for row in made]

    def _proposals(self, sql: str, **params: Any) -> list[tuple[int, Proposal]]:
        made = [self._record(_ProposalRow, row, _PROPOSAL_JSON) for row in self.rows(sql, **params)]
        return [(int(row.pk), proposal_from_row(row)) for row in made]

    def _record(self, kind: Any, row: Sequence[Any], json_columns: frozenset[int]) -> Any:
        """A row with its values as the store's column types give them: times aware UTC, JSON
        parsed (SQLite hands over its text; psycopg parses JSON itself)."""
        parse = self.dialect == SQLITE
        return kind._make(
            read_time(value) if index in _TIME_COLUMNS[kind] else
            (json.loads(value) if parse and value is not None else value) if index in json_columns else value
            for index, value in enumerate(row))

    def _bound(self, moment: datetime) -> Any:
        return basics.sqlite_text(moment) if self.dialect == SQLITE else moment


_TRAILS = """
SELECT p.id, p.title, p.workflow, p.definition_hash, e.kind, e."trigger", e.from_state, e.to_state, e.actor, e.role,
       e.at, e.comment != '' AS commented, x.value
FROM events e JOIN proposals p ON e.proposal_pk = p.pk
LEFT OUTER JOIN erasable x ON x.proposal_pk = e.proposal_pk AND x.seq = e.seq AND x.item = :actor
WHERE e.kind != :erased AND e.at <= :until AND p.workflow = :workflow
ORDER BY p.prefix, p.number, e.seq
"""

# The store's reads of one proposal (flowengine.store.queries: PROPOSAL_COLUMNS, EVENT_COLUMNS),
# column for column; tests/test_quick_reads.py holds what they give equal to the store's.
_PROPOSAL_NAMES = ("pk", "id", "workflow", "workflow_version", "definition_hash", "title", "description", "origin",
                   "state", "fields", "created_at", "updated_at", "state_entered_at", "version", "head_hash",
                   "created_by", "came_from", "provenance")
_PROPOSALS = """
SELECT p.pk, p.id, p.workflow, d.version, p.definition_hash, p.title, p.description, p.origin, p.state, p.fields,
       p.created_at, p.updated_at, p.state_entered_at, p.version, p.head_hash, p.created_by, p.came_from, p.provenance
FROM proposals p JOIN definitions d ON p.definition_hash = d.content_hash
"""
_ORIGIN = "JOIN proposals origin ON origin.id = p.came_from "
_EVENT_NAMES = ("proposal", "seq", "kind", "trigger", "from_state", "to_state", "actor", "role", "at", "entered_at",
                "comment", "changes", "details", "idempotency_key", "prev_hash", "hash", "login", "recorded_at",
                "proposal_pk", "personal")
_EVENTS = """
SELECT p.id, e.seq, e.kind, e."trigger", e.from_state, e.to_state, e.actor, e.role, e.at, e.entered_at, e.comment,
       e.changes, e.details, e.idempotency_key, e.prev_hash, e.hash, e.login, e.recorded_at, e.proposal_pk, e.personal
FROM events e JOIN proposals p ON e.proposal_pk = p.pk
"""
_ProposalRow = namedtuple("_ProposalRow", _PROPOSAL_NAMES)  # type: ignore[misc]
_EventRow = namedtuple("_EventRow", _EVENT_NAMES)  # type: ignore[misc]
_PROPOSAL_JSON = frozenset({_PROPOSAL_NAMES.index("fields")})
_EVENT_JSON = frozenset(_EVENT_NAMES.index(name) for name in ("changes", "details", "personal"))
_TIME_COLUMNS = {
    _ProposalRow: frozenset(_PROPOSAL_NAMES.index(name) for name in ("created_at", "updated_at", "state_entered_at")),
    _EventRow: frozenset(_EVENT_NAMES.index(name) for name in ("at", "entered_at", "recorded_at")),
}


def connect(where: tuple[str, str]) -> Direct | None:
    """A read-only transaction on the database ``where`` names (see :func:`target`), when it is
    there and holds the schema this flowengine reads; None otherwise (and on any driver error)."""
    dialect, name = where
    if dialect == SQLITE:
        try:
            direct = _sqlite(name)
        except (OSError, sqlite3.Error):
            return None
    else:
        try:
            import psycopg
        except ImportError:
            return None
        try:
            direct = _postgresql(name)
        except psycopg.Error:
            return None
    if direct is None:
        return None
    try:
        if direct.revision() == basics.SCHEMA_HEAD:
            return direct
    except direct.errors():
        pass
    direct.close()
    return None


def _sqlite(path: str) -> Direct | None:
    if not Path(path).is_file():
        return None  # the regular store says there is none (it never creates one for a reader)
    # mode=rw: never creates a file; the regular store's busy timeout; no transaction of the
    # driver's own (isolation_level None): one BEGIN, one snapshot for every read.
    connection = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=rw", uri=True,
                                 timeout=basics.BUSY_TIMEOUT_SECONDS,
                                 isolation_level=None)
    try:
        connection.execute("BEGIN")
    except sqlite3.Error:
        connection.close()
        raise
    return Direct(SQLITE, connection)


def _postgresql(uri: str) -> Direct:
    import psycopg

    given = parse_qs(urlsplit(uri).query).get("options", [])
    options = " ".join([*given[-1:], basics.SESSION_OPTIONS])
    connection = psycopg.connect(uri, options=options)
    connection.read_only = True
    connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    return Direct(POSTGRESQL, connection)
