"""Statements of the hot path run on the driver's own connection, converted as SQLAlchemy converts.

SQLAlchemy's per-execution bookkeeping (execution context, parameter processing, result
metadata, events) costs several times what SQLite itself spends on a step's small statements,
and on PostgreSQL it was more than half of a step's client time. A :class:`DriverStatement` is
a Core statement rendered once per dialect by SQLAlchemy, its values converted by SQLAlchemy's
own type processors (written directly for the two SQLite binds several times a step), and run on
the DBAPI connection inside the SQLAlchemy connection's transaction. Tests compare what both
paths store and read.

On PostgreSQL (psycopg 3) a statement is also prepared on the server once per connection, so
later runs send only its values. The write connection runs in autocommit there and flowengine
sends ``BEGIN`` itself (see :func:`flowengine.store.database.Database.write`): a transaction's
first statement run here goes out with the ``BEGIN`` it is owed in one simple query (``BEGIN;
EXECUTE name(values)``, the statement prepared by name once per connection), and
:meth:`DriverStatement.last` sends a transaction's last statement with its ``COMMIT`` in one
pipeline — one round trip each, so a step that reads and then writes is two.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import namedtuple
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Select
from sqlalchemy.types import TypeEngine

from flowengine.store.basics import sqlite_text
from flowengine.store.schema import UTCDateTime

# In a connection's ``info``: the write transaction began (Database.write) but its ``BEGIN`` was
# not sent yet; the first statement sends it, along with itself where it can.
BEGIN_OWED = "flowengine_begin_owed"
# In a connection's ``info``: the names of the statements prepared on it by flowengine's own
# ``PREPARE`` (forgotten at any rollback: psycopg then deallocates every prepared statement)
PREPARED = "flowengine_prepared"
_PLACEHOLDER = re.compile(r"%\(([^)]+)\)s")  # a named parameter as psycopg's SQLAlchemy dialect writes it
_DUPLICATE_PREPARED_STATEMENT = "42P05"
_UNKNOWN_PREPARED_STATEMENT = "26000"


def owes_begin(conn: Connection) -> bool:
    """Whether the connection's transaction still owes the server its ``BEGIN``; it is then
    taken as paid, by the statement about to be sent."""
    info = conn.info
    return bool(info.pop(BEGIN_OWED, False)) if info else False


class DriverStatement:
    """One Core statement rendered for one dialect, run on the DBAPI cursor."""

    def __init__(self, statement: ClauseElement, dialect: Dialect, column_keys: list[str] | None = None) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        assert isinstance(compiled, SQLCompiler)
        self.sql = compiled.string
        names = list(compiled.positiontup or ()) if dialect.positional else list(compiled.binds)
        self.positional = dialect.positional
        self.binds = [(name, bind_processor(compiled.binds[name].type, dialect)) for name in names]
        # values the statement itself carries (a constant it compares with), for a caller that omits them
        self.defaults = {name: compiled.binds[name].value for name in names
                         if not compiled.binds[name].required}
        self.results: list[Callable[[Any], Any] | None] = []
        self.record: Callable[[list[Any]], Any] = tuple
        if isinstance(statement, Select):
            self.results = [result_processor(column.type, dialect) for column in statement.selected_columns]
            # rows named as SQLAlchemy names them, so one converter serves both paths
            keys = [str(column.key) for column in statement.selected_columns]
            self.record = namedtuple("Row", keys)._make  # type: ignore[attr-defined]
        self.error = dialect.loaded_dbapi.Error
        self.server_prepared = dialect.name == "postgresql"
        if self.server_prepared:
            # For a transaction's first statement: prepared once per connection by name, then run as
            # ``BEGIN; EXECUTE name(values)`` in one simple query — one round trip, and no pipeline
            # (whose machinery costs the client more than the round trip it saves on loopback).
            from psycopg import ClientCursor

            self.client_cursor = ClientCursor
            order: list[str] = []

            def numbered(match: re.Match[str]) -> str:
                if match.group(1) not in order:
                    order.append(match.group(1))
                return f"${order.index(match.group(1)) + 1}"

            text = _PLACEHOLDER.sub(numbered, self.sql).replace("%%", "%")
            self.order = order
            self.name = "flowengine_" + hashlib.sha256(text.encode()).hexdigest()[:16]
            self.prepare_sql = f"PREPARE {self.name} AS {text}"
            self.begin_sql = f"BEGIN; EXECUTE {self.name}({', '.join(['%s'] * len(order))})"

    def _bound(self, params: dict[str, Any]) -> Any:
        if self.defaults:
            params = self.defaults | params
        if self.positional:
            return [process(params[name]) if process else params[name] for name, process in self.binds]
        return {name: process(params[name]) if process else params[name] for name, process in self.binds}

    def run(self, conn: Connection, params: dict[str, Any]) -> Any:
        """Execute in the connection's transaction (begun as SQLAlchemy would begin it); driver
        errors become SQLAlchemy's, as every caller expects."""
        bound = self._bound(params)
        if not conn.in_transaction():
            conn.begin()
        if not self.server_prepared:
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            _announce(conn, cursor, self.sql, bound)
            try:
                return cursor.execute(self.sql, bound)
            except self.error as error:
                raise DBAPIError.instance(self.sql, bound, error, self.error, dialect=conn.dialect) from error
        owed = owes_begin(conn)  # before the announcement: a listener must not send it on its own
        driver: Any = conn.connection.driver_connection
        try:
            if not owed:
                cursor = driver.cursor()
                _announce(conn, cursor, self.sql, bound)
                return cursor.execute(self.sql, bound, prepare=True)
            # The transaction's BEGIN and this statement in one round trip: the connection is in
            # autocommit, so psycopg sends no BEGIN of its own, and a simple query may hold both.
            self._prepare(conn, driver)
            cursor = self.client_cursor(driver)
            _announce(conn, cursor, self.sql, bound)
            values = [bound[name] for name in self.order]
            try:
                cursor.execute(self.begin_sql, values)
            except self.error as error:
                if getattr(error, "sqlstate", None) != _UNKNOWN_PREPARED_STATEMENT:
                    raise
                # Deallocated behind flowengine's back (psycopg deallocates everything when a
                # statement on the connection drops or alters something): nothing was done in the
                # transaction yet, so it is begun again with the statement prepared afresh.
                driver.rollback()
                conn.info.pop(PREPARED, None)
                self._prepare(conn, driver)
                cursor.execute(self.begin_sql, values)
            cursor.nextset()  # past the BEGIN's answer, to the statement's rows
            return cursor
        except self.error as error:
            raise DBAPIError.instance(self.sql, bound, error, self.error, dialect=conn.dialect) from error

    def _prepare(self, conn: Connection, driver: Any) -> None:
        """The statement prepared on the connection under its name, once (outside any
        transaction: the connection is in autocommit and its BEGIN not sent yet)."""
        prepared = conn.info.setdefault(PREPARED, set())
        if self.name in prepared:
            return
        try:
            driver.execute(self.prepare_sql)
        except self.error as error:
            # prepared before on this server session, and forgotten here (a rollback): the same text
            if getattr(error, "sqlstate", None) != _DUPLICATE_PREPARED_STATEMENT:
                raise
        prepared.add(self.name)

    def first(self, conn: Connection, params: dict[str, Any]) -> Any:
        """The first row the statement returns (raw; see :meth:`row`), or None; as a
        transaction's first statement on PostgreSQL, sent with its ``BEGIN`` in one round trip."""
        return self.run(conn, params).fetchone()

    def last(self, conn: Connection, params: dict[str, Any]) -> Any:
        """The first row the statement returns, or None, with the transaction committed in the same
        round trip on PostgreSQL (elsewhere the caller's transaction commits as usual). For the
        last statement of a transaction only: nothing may be written after it."""
        if not self.server_prepared:
            return self.run(conn, params).fetchone()
        # psycopg's pipeline: what is queued in it (the statement, the COMMIT) goes out with one
        # sync when the block ends, and the results come back together. Nothing is fetched inside
        # the block: a fetch there would flush, a round trip of its own.
        bound = self._bound(params)
        if not conn.in_transaction():
            conn.begin()
        owed = owes_begin(conn)
        driver: Any = conn.connection.driver_connection
        cursor = driver.cursor()
        _announce(conn, cursor, self.sql, bound)
        try:
            with driver.pipeline():
                if owed:  # a transaction whose only statement this is: BEGIN, it, COMMIT at once
                    driver.execute("BEGIN")
                cursor.execute(self.sql, bound, prepare=True)
                driver.execute("COMMIT")  # as a statement, not commit(): that would sync at once
            found = cursor.fetchone()
        except self.error as error:
            raise DBAPIError.instance(self.sql, bound, error, self.error, dialect=conn.dialect) from error
        # Committed. Whatever the caller still sends in this transaction (the reads of a conflict's
        # message) runs in a transaction of its own again, begun as the first one was.
        conn.info[BEGIN_OWED] = True
        return found

    def row(self, raw: Any) -> Any:
        """A fetched row converted as SQLAlchemy converts it, its columns named as in SQLAlchemy's Row."""
        return self.record([process(value) if process else value
                            for process, value in zip(self.results, raw, strict=True)])


def _announce(conn: Connection, cursor: Any, sql: str, bound: Any) -> None:
    """SQLAlchemy's ``before_cursor_execute`` event, as its own execution fires it, for whoever
    listens (statement logging, tracing, tests that step in between): a statement run here is
    announced like any other. Nothing is done when nobody listens."""
    if conn._has_events or conn.engine._has_events:
        conn.dispatch.before_cursor_execute(conn, cursor, sql, bound, None, False)


def _sqlite_utc_text(value: datetime | None) -> str | None:
    """What UTCDateTime and SQLAlchemy's SQLite DATETIME make of a time (:func:`basics.sqlite_text`)."""
    return None if value is None else sqlite_text(value)


def _json_or_null(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def bind_processor(kind: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """SQLAlchemy's conversion of a bound value; for times and JSON on SQLite (four and three
    of them a step), the same conversion written directly: SQLAlchemy's takes several layers."""
    if dialect.name == "sqlite":
        if isinstance(kind, UTCDateTime):
            return _sqlite_utc_text
        if isinstance(kind, JSON) and getattr(dialect, "_json_serializer", None) is None:
            # SQLAlchemy's default serializer, called as it calls it; None as SQL NULL where the
            # column says so (an event's ``personal``), as SQLAlchemy writes it
            return _json_or_null if kind.none_as_null else json.dumps
    return kind.dialect_impl(dialect).bind_processor(dialect)


def result_processor(kind: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """SQLAlchemy's conversion of a value read (a time's is the schema's ``read_time`` already)."""
    return kind.dialect_impl(dialect).result_processor(dialect, None)
