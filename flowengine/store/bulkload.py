"""Loading a new, empty database in one go, by the fastest path each backend has.

An import (:mod:`flowengine.store.bulk`) adds histories to a database that may be in use, under
the same rules as every other writer. A load fills a database nobody uses yet — a restore, the
national benchmark's ten million events — and may do what a database administrator does for a
restore: everything in one transaction, so a failed load leaves the database as it was, and
inside it

- on SQLite: a rollback journal instead of the write-ahead log for the duration (a new file's
  journal holds almost nothing, while the log would hold every page twice), no syncing and no
  foreign-key checks per row, a large page cache, the rows through ``executemany`` in
  SQLite's own storage format (the bulk writer's), and the secondary indexes dropped first and
  built once at the end, as is migration 0014's trigram table of the titles (its triggers set
  aside during the load, the table filled once from the rows);
- on PostgreSQL: the rows through ``COPY … FROM STDIN`` (psycopg's copy API); the tables'
  secondary indexes and their primary-key, unique and foreign-key constraints dropped first and
  added back at the end, as ``pg_restore`` orders a restore (data, then constraints and
  indexes, then foreign keys, which check every row once); the load runs as the tables' owner
  (``SET ROLE flowengine_owner``, which the administrator running ``db upgrade`` may do, as
  the owner is not subject to row-level security) with the user triggers off
  (``pg_restore --disable-triggers``): the trigger of migration 0007 checks that each new
  step was recorded by the login inserting it, which a restore of other people's steps never
  is. Everything it changed is back before the transaction commits, so no other session ever
  sees the tables without their indexes, constraints or triggers.

Either way, the loader refuses a database that already holds proposals, and keys are given by
the loader itself (safe under the table locks it takes); sequences are moved past them. The
rows of a batch are made by :func:`prepare`, a pure function, so a caller may prepare batches
in other processes while the loading one writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from flowengine.errors import StoreError
from flowengine.history.steps import EventRow
from flowengine.i18n import t
from flowengine.store.bulk import (
    DEFERRABLE,
    SQLITE_EVENTS,
    SQLITE_PROPOSALS,
    ProposalRow,
    build_indexes,
    drop_indexes,
    mirrored,
    secondary_indexes,
    sqlite_rows,
)
from flowengine.store.database import WRITE_OPTION, Database, translate_errors
from flowengine.store.titles import FTS_REBUILD, FTS_TRIGGERS

OWNER = "flowengine_owner"  # migration 0007's owner of the tables
_CACHE_KIB = 262_144  # SQLite's page cache during a load: 256 MiB
_MAINTENANCE = "512MB"  # PostgreSQL's memory for building each index at the end
_PG_PROPOSALS = ("pk", "id", "prefix", "number", "workflow", "definition_hash", "title", "description", "origin",
                 "state", "fields", "created_at", "created_by", "updated_at", "state_entered_at", "version",
                 "head_hash", "came_from", "provenance")
_PG_EVENTS = ("proposal_pk", "seq", "kind", "trigger", "from_state", "to_state", "actor", "role", "at",
              "entered_at", "comment", "changes", "details", "idempotency_key", "prev_hash", "hash", "login",
              "recorded_at")
_COPY_PROPOSALS = f"COPY proposals ({', '.join(_PG_PROPOSALS)}) FROM STDIN"
_COPY_EVENTS = f"COPY events ({', '.join(_PG_EVENTS)}) FROM STDIN"
Batch = Sequence[tuple[ProposalRow, Sequence[EventRow]]]


@dataclass(frozen=True)
class Prepared:
    """A batch's rows as the backend's fastest path takes them: tuples for SQLite's
    ``executemany``, COPY text for PostgreSQL. Plain data, so other processes may prepare
    batches while the loading one writes."""

    proposals: int
    events: int
    proposal_rows: list[tuple[Any, ...]] | bytes
    event_rows: list[tuple[Any, ...]] | bytes


def prepare(dialect: str, batch: Batch, iso: Sequence[tuple[str, str, str]], first_pk: int) -> Prepared:
    """The rows of ``batch`` for a load into a ``dialect`` database, its proposals keyed from
    ``first_pk`` on. ``iso``: per proposal, the ``iso_utc`` texts of its created_at, updated_at
    and state_entered_at."""
    events = sum(len(history) for _, history in batch)
    if dialect == "sqlite":
        return Prepared(len(batch), events, *sqlite_rows(batch, iso, first_pk))
    return Prepared(len(batch), events, *_copy_text(batch, iso, first_pk))


_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _text(value: Any) -> str:
    """One field of COPY's text format: NULL as ``\\N``, backslash and the separators escaped."""
    if value is None:
        return "\\N"
    if type(value) is str:
        return value.translate(_ESCAPES)
    return str(value)


def _copy_text(batch: Batch, iso: Sequence[tuple[str, str, str]], first: int) -> tuple[bytes, bytes]:
    lines = []
    for pk, ((row, history), (created, updated, entered)) in enumerate(zip(batch, iso, strict=True), start=first):
        (pid, prefix, number, workflow, definition, title, description, origin, state, fields, _c, created_by, _u,
         _s, version, head) = row
        lines.append("\t".join(map(_text, (
            pk, pid, prefix, number, workflow, definition, title, description, origin, state,
            json.dumps(fields) if fields else "{}", created, created_by, updated, entered, version, head,
            *mirrored(history)))))
    events = [
        "\t".join(map(_text, (pk, seq, kind, trigger, source, target, actor, role, at, entered, comment,
                               json.dumps(changes) if changes else "{}", json.dumps(details) if details else "{}",
                               key, prev, digest, login, recorded)))
        for pk, (_, history) in enumerate(batch, start=first)
        for (_p, seq, kind, trigger, source, target, actor, role, _a, at, _e, entered, comment, changes, details,
             key, prev, digest, login, _r, recorded, _personal) in history]
    return "".join(f"{line}\n" for line in lines).encode(), "".join(f"{line}\n" for line in events).encode()


class Loader:
    """Appends batches of new proposals with their histories to the load's one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.dialect = conn.dialect.name
        self.proposals = 0
        self.events = 0

    @property
    def next_pk(self) -> int:
        """The key the next batch's first proposal gets."""
        return self.proposals + 1

    def write(self, batch: Batch, *, iso: Sequence[tuple[str, str, str]]) -> None:
        """Store each proposal and its events (see :func:`prepare`)."""
        self.write_prepared(prepare(self.dialect, batch, iso, self.next_pk))

    def write_prepared(self, prepared: Prepared) -> None:
        """Store a batch :func:`prepare` made for this load's next key."""
        if self.dialect == "sqlite":
            self.conn.exec_driver_sql(SQLITE_PROPOSALS, prepared.proposal_rows)
            self.conn.exec_driver_sql(SQLITE_EVENTS, prepared.event_rows)
        else:
            cursor = self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            for statement, data in ((_COPY_PROPOSALS, prepared.proposal_rows), (_COPY_EVENTS, prepared.event_rows)):
                with cursor.copy(statement) as copy:
                    copy.write(data)
        self.proposals += prepared.proposals
        self.events += prepared.events


@contextmanager
def loading(database: Database) -> Iterator[Loader]:
    """One transaction loading a new database whose schema is current: the secondary indexes
    (and on PostgreSQL the keys, constraints and user triggers) set aside first and restored at
    the end, then ``ANALYZE``. Refused (StoreError) when the database holds proposals already."""
    with translate_errors(database, writing=True), (
            _sqlite_load if database.dialect == "sqlite" else _postgresql_load)(database) as loader:
        yield loader


def _refuse_unless_empty(conn: Connection, database: Database) -> None:
    if conn.execute(text("SELECT 1 FROM proposals LIMIT 1")).first() is not None:
        raise StoreError(t("{database} already holds proposals; a load fills a new database only (an import adds "
                           "to one in use)", database=database.display_name))


@contextmanager
def _sqlite_load(database: Database) -> Iterator[Loader]:
    database.dispose()  # the journal mode changes only while no other connection has the file open
    with database.engine.connect() as plain:
        raw = plain.connection.driver_connection
        assert raw is not None
        for pragma in ("journal_mode = DELETE", "synchronous = OFF", f"cache_size = -{_CACHE_KIB}",
                       "foreign_keys = OFF"):
            raw.execute(f"PRAGMA {pragma}")
        try:
            conn = plain.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                _refuse_unless_empty(conn, database)
                indexes = secondary_indexes(conn)
                drop_indexes(conn, indexes)
                triggers = _title_triggers(conn)
                loader = Loader(conn)
                yield loader
                build_indexes(conn, indexes)
                _rebuild_titles(conn, triggers)
                conn.exec_driver_sql("ANALYZE")
        finally:
            for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON"):
                raw.execute(f"PRAGMA {pragma}")
            plain.invalidate()  # its cache size and pragmas were the load's: not for the pool


def _title_triggers(conn: Connection) -> list[str]:
    """Migration 0014's triggers, dropped: their CREATE statements, to make again after the load
    (none where the table was not made)."""
    found = [str(sql) for (sql,) in conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'proposals' AND name IN "
        f"({', '.join(repr(name) for name in FTS_TRIGGERS)}) ORDER BY name")]
    for name in FTS_TRIGGERS:
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
    return found


def _rebuild_titles(conn: Connection, triggers: Sequence[str]) -> None:
    """The trigram table filled once from the loaded titles, and its triggers back."""
    if not triggers:
        return
    conn.exec_driver_sql(FTS_REBUILD)
    for sql in triggers:
        conn.exec_driver_sql(sql)


_PG_CONSTRAINTS = """
    SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid) FROM pg_constraint
    WHERE (conrelid IN ('proposals'::regclass, 'events'::regclass) AND contype IN ('p', 'u', 'f'))
       OR (confrelid IN ('proposals'::regclass, 'events'::regclass) AND contype = 'f')
    ORDER BY conrelid::regclass::text, conname"""
_PG_INDEXES = """
    SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index
    WHERE indrelid IN ('proposals'::regclass, 'events'::regclass)
      AND NOT EXISTS (SELECT FROM pg_constraint WHERE conindid = indexrelid)
    ORDER BY 1"""
_PG_ORDER = {"p": 0, "u": 1, "f": 2}  # keys first; foreign keys last, once what they point at is unique


@contextmanager
def _postgresql_load(database: Database) -> Iterator[Loader]:
    with database.engine.connect() as conn, conn.begin():
        conn.exec_driver_sql(f"SET LOCAL ROLE {OWNER}")
        conn.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{_MAINTENANCE}'")
        conn.exec_driver_sql("LOCK TABLE proposals, events IN ACCESS EXCLUSIVE MODE")
        _refuse_unless_empty(conn, database)
        constraints = sorted(conn.execute(text(_PG_CONSTRAINTS)).all(), key=lambda c: _PG_ORDER[c[2]])
        indexes = conn.execute(text(_PG_INDEXES)).all()
        for table, name, _, _ in reversed(constraints):
            conn.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            conn.exec_driver_sql(f"DROP INDEX {name}")
        for table in DEFERRABLE:
            conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        loader = Loader(conn)
        yield loader
        for table, name, kind, definition in constraints:
            if kind != "f":
                conn.exec_driver_sql(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for _, definition in indexes:
            conn.exec_driver_sql(definition)
        for table, name, kind, definition in constraints:
            if kind == "f":
                conn.exec_driver_sql(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for table in DEFERRABLE:
            conn.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")
            conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'pk'), "
                                 f"(SELECT coalesce(max(pk), 0) + 1 FROM {table}), false)")
        conn.exec_driver_sql("ANALYZE proposals, events")
