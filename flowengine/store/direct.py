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
import os
import re
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flowengine.definition.versions import StoredDefinition
from flowengine.history.erasure import ACTOR
from flowengine.history.records import ERASED_STEP, Event, Proposal, Step, Trail, id_order
from flowengine.store import basics, rows
from flowengine.store.basics import read_moment
from flowengine.store.rows import POSTGRESQL as POSTGRESQL
from flowengine.store.rows import SQLITE as SQLITE

_SQLITE_URL = re.compile(r"^sqlite(?:\+pysqlite)?:///(?P<path>[^?#]+)$")
_NAMED = re.compile(r":(\w+)")
CAME_FROM_INDEX = "ix_proposals_came_from"  # migration 0004


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
            sql = _NAMED.sub(r"%(\1)s", sql.replace("%", "%%"))
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
        found = rows.proposals_from(self, self.rows(rows.PROPOSALS + "WHERE proposals.id = :proposal_id",
                                                    proposal_id=proposal_id))
        return found[0] if found else None

    def events_of(self, proposal_pk: int, *, until: datetime | None = None) -> list[Event]:
        """As :func:`flowengine.store.queries.events_of`: the proposal's events in order, up to ``until``."""
        if until is None:
            raw = self.rows(rows.EVENTS + "WHERE events.proposal_pk = :pk ORDER BY events.seq", pk=proposal_pk)
        else:
            raw = self.rows(rows.EVENTS + "WHERE events.proposal_pk = :pk AND events.at <= :until ORDER BY events.seq",
                            pk=proposal_pk, until=self._bound(until))
        return rows.events_from(self, raw)

    def derived_from(self, source: str, *, until: datetime | None = None) -> list[Proposal]:
        """As :func:`flowengine.store.queries.derived_from` of one source (read before, so it is
        there): the proposals registered as coming from it (by ``until``), in id order — put in
        order here, so that the statement is a search of ``ix_proposals_came_from`` (ordered by
        id in SQL, SQLite's planner would rather walk every proposal in id order)."""
        sql = rows.PROPOSALS + "WHERE proposals.came_from = :source"
        if self.dialect == SQLITE:  # its statistics count the NULLs (nearly every row) as one value
            sql = sql.replace("FROM proposals ", f"FROM proposals INDEXED BY {CAME_FROM_INDEX} ", 1)
        params: dict[str, Any] = {"source": source}
        if until is not None:
            sql += " AND proposals.created_at <= :until"
            params["until"] = self._bound(until)
        found = [proposal for _, proposal in rows.proposals_from(self, self.rows(sql, **params))]
        return sorted(found, key=lambda proposal: id_order(proposal.id))

    def definition_text(self, content_hash: str) -> tuple[str, str] | None:
        """As :func:`flowengine.store.queries.definition_text`: (YAML text, source name)."""
        return rows.definition_text(self, content_hash)

    def _bound(self, moment: datetime) -> Any:
        return rows.bound(self, moment)


_TRAILS = """
SELECT p.id, p.title, p.workflow, p.definition_hash, e.kind, e."trigger", e.from_state, e.to_state, e.actor, e.role,
       e.at, e.comment != '' AS commented, x.value
FROM events e JOIN proposals p ON e.proposal_pk = p.pk
LEFT OUTER JOIN erasable x ON x.proposal_pk = e.proposal_pk AND x.seq = e.seq AND x.item = :actor
WHERE e.kind != :erased AND e.at <= :until AND p.workflow = :workflow
ORDER BY p.prefix, p.number, e.seq
"""

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
