"""Statements of the hot path run on the driver's own connection, converted as SQLAlchemy converts.

SQLAlchemy's per-execution bookkeeping (execution context, parameter processing, result
metadata, events) costs several times what SQLite itself spends on a step's small statements,
and on PostgreSQL it was more than half of a step's client time. A :class:`DriverStatement` is
a Core statement rendered once per dialect by SQLAlchemy, its values converted by SQLAlchemy's
own type processors (written directly for the two SQLite binds several times a step), and run on
the DBAPI connection inside the SQLAlchemy connection's transaction. Tests compare what both
paths store and read.

On PostgreSQL (psycopg 3) a statement is also prepared on the server once per connection
(``PREPARE name AS …``, along with the statements that follow it in a step), so later runs send
only its name and values. The write connection runs in autocommit there and flowengine sends
``BEGIN`` itself (see :func:`flowengine.store.database.Database.write`): a transaction's first
statement run here (:meth:`DriverStatement.first`) goes out with the ``BEGIN`` it is owed, and
its last (:meth:`DriverStatement.last`) with its ``COMMIT``, each in one round trip of libpq's
pipeline mode — so a step that reads and then writes is two.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import namedtuple
from collections.abc import Callable, Generator
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
# In a connection's ``info``: psycopg's converter of values for the statements run by name there
# (it keeps what it learnt of converting each type of value; a new one would learn it again)
_TRANSFORMER = "flowengine_transformer"
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
        # statements prepared along with this one, outside the transaction (see _prepare)
        self.companions: tuple[DriverStatement, ...] = ()
        if self.server_prepared:
            # Prepared once per connection by name (``PREPARE``), then run by that name with
            # libpq's own calls (see _exchange).
            from psycopg import errors, pq
            from psycopg.adapt import PyFormat, Transformer
            from psycopg.waiting import Ready, Wait

            self._transformer = Transformer
            self._fatal, self._error_of = pq.ExecStatus.FATAL_ERROR, errors.error_from_result
            self._signals = (Wait.R, Wait.RW, Ready.R, pq.ExecStatus.PIPELINE_SYNC)
            order: list[str] = []

            def numbered(match: re.Match[str]) -> str:
                if match.group(1) not in order:
                    order.append(match.group(1))
                return f"${order.index(match.group(1)) + 1}"

            text = _PLACEHOLDER.sub(numbered, self.sql).replace("%%", "%")
            self.order = order
            self.name = "flowengine_" + hashlib.sha256(text.encode()).hexdigest()[:16]
            self.prepare_sql = f"PREPARE {self.name} AS {text}"
            self.name_bytes = self.name.encode()
            # every value sent as text, to the type the PREPARE gave its parameter
            self.formats = [PyFormat.TEXT] * len(order)

    def _bound(self, params: dict[str, Any]) -> Any:
        if self.defaults:
            params = self.defaults | params
        if self.positional:
            return [process(params[name]) if process else params[name] for name, process in self.binds]
        return {name: process(params[name]) if process else params[name] for name, process in self.binds}

    def run(self, conn: Connection, params: dict[str, Any]) -> Any:
        """Execute in the connection's transaction (begun as SQLAlchemy would begin it) and hand
        back the driver's cursor; driver errors become SQLAlchemy's, as every caller expects."""
        bound = self._bound(params)
        if not conn.in_transaction():
            conn.begin()
        driver: Any = conn.connection.driver_connection
        if not self.server_prepared:
            cursor = driver.cursor()
            _announce(conn, cursor, self.sql, bound)
            try:
                return cursor.execute(self.sql, bound)
            except self.error as error:
                raise DBAPIError.instance(self.sql, bound, error, self.error, dialect=conn.dialect) from error
        owed = owes_begin(conn)  # before the announcement: a listener must not send it on its own
        cursor = driver.cursor()
        _announce(conn, cursor, self.sql, bound)
        try:
            if owed:  # a round trip of its own here; first() sends it along with the statement
                driver.execute("BEGIN")
            return cursor.execute(self.sql, bound, prepare=True)
        except self.error as error:
            raise DBAPIError.instance(self.sql, bound, error, self.error, dialect=conn.dialect) from error

    def first(self, conn: Connection, params: dict[str, Any]) -> Any:
        """The first row the statement returns (raw; see :meth:`row`), or None; as a
        transaction's first statement on PostgreSQL, sent with its ``BEGIN`` in one round trip."""
        if not self.server_prepared or not (conn.info and conn.info.get(BEGIN_OWED)):
            return self.run(conn, params).fetchone()
        bound = self._bound(params)
        if not conn.in_transaction():
            conn.begin()
        owes_begin(conn)  # paid by this round trip
        driver: Any = conn.connection.driver_connection
        _announce(conn, None, self.sql, bound)
        try:
            # the connection is in autocommit (psycopg sends no BEGIN of its own), and nothing
            # was sent in the transaction yet: the statements can be prepared now if need be
            self._prepare(conn, driver)
            try:
                return self._exchange(conn, driver, bound, begin=True, commit=False)
            except self.error as error:
                if getattr(error, "sqlstate", None) != _UNKNOWN_PREPARED_STATEMENT:
                    raise
                # Deallocated behind flowengine's back (psycopg deallocates everything when a
                # statement on the connection drops or alters something): nothing was done in the
                # transaction yet, so it is begun again with the statements prepared afresh.
                driver.rollback()
                conn.info.pop(PREPARED, None)
                self._prepare(conn, driver)
                return self._exchange(conn, driver, bound, begin=True, commit=False)
        except self.error as error:
            raise DBAPIError.instance(self.sql, bound, error, self.error, dialect=conn.dialect) from error

    def last(self, conn: Connection, params: dict[str, Any]) -> Any:
        """The first row the statement returns, or None, with the transaction committed in the same
        round trip on PostgreSQL (elsewhere the caller's transaction commits as usual). For the
        last statement of a transaction only: nothing may be written after it."""
        if not self.server_prepared:
            return self.run(conn, params).fetchone()
        bound = self._bound(params)
        if not conn.in_transaction():
            conn.begin()
        owed = owes_begin(conn)
        driver: Any = conn.connection.driver_connection
        _announce(conn, None, self.sql, bound)
        try:
            if owed:  # a transaction whose only statement this is: BEGIN, it, COMMIT at once
                self._prepare(conn, driver)
            else:
                self._prepare_within(conn, driver)
            # Should the statement fail, the server skips the COMMIT, and the transaction is
            # rolled back as after any error.
            found = self._exchange(conn, driver, bound, begin=owed, commit=True)
        except self.error as error:
            raise DBAPIError.instance(self.sql, bound, error, self.error, dialect=conn.dialect) from error
        # Committed. Whatever the caller still sends in this transaction (the reads of a conflict's
        # message) runs in a transaction of its own again, begun as the first one was.
        conn.info[BEGIN_OWED] = True
        return found

    def _exchange(self, conn: Connection, driver: Any, bound: Any, *, begin: bool, commit: bool) -> Any:
        """``BEGIN`` (``begin``), the statement by its prepared name, ``COMMIT`` (``commit``), in
        one round trip: libpq's pipeline mode, driven by psycopg's own compiled calls — the values
        converted by psycopg's adapters (a transformer kept per connection), the answers read as
        psycopg reads them — without its cursor and pipeline objects, whose Python bookkeeping
        cost the client more than the server spent on the statement. The statement's first row
        (raw, as a cursor would fetch it), or None; the first error the server answered is raised
        as psycopg raises it."""
        info = conn.info
        converter = info.get(_TRANSFORMER)
        if converter is None or converter.connection is not driver:
            converter = info[_TRANSFORMER] = self._transformer(driver)
        values = converter.dump_sequence([bound[name] for name in self.order], self.formats)
        pgconn = driver.pgconn
        with driver.lock:
            pgconn.enter_pipeline_mode()
            try:
                if begin:
                    pgconn.send_query_params(b"BEGIN", None)
                pgconn.send_query_prepared(self.name_bytes, values)
                if commit:
                    pgconn.send_query_params(b"COMMIT", None)
                pgconn.pipeline_sync()
                answers: list[Any] = driver.wait(_answers(pgconn, *self._signals))
            finally:
                _leave_pipeline(driver)
        for answer in answers:
            if answer.status == self._fatal:
                raise self._error_of(answer, encoding=driver.info.encoding)
        result = answers[1 if begin else 0]
        if result.ntuples == 0:
            return None
        converter.set_pgresult(result)
        return converter.load_row(0, tuple)

    def _prepare(self, conn: Connection, driver: Any) -> None:
        """The statement and its companions prepared on the connection under their names, once
        (outside any transaction: the connection is in autocommit and its BEGIN not sent yet), in
        one round trip unless one of them is there already."""
        prepared = conn.info.setdefault(PREPARED, set())
        wanted = [one for one in (self, *self.companions) if one.name not in prepared]
        if not wanted:
            return
        try:
            driver.execute("; ".join(one.prepare_sql for one in wanted))
        except self.error as error:
            # prepared before on this server session, and forgotten here (a rollback): the same
            # text under the same name. Nothing of that query was done; the ones the server does
            # not hold are prepared now.
            if getattr(error, "sqlstate", None) != _DUPLICATE_PREPARED_STATEMENT:
                raise
            held = {name for name, in driver.execute("SELECT name FROM pg_prepared_statements WHERE name = ANY(%s)",
                                                     ([one.name for one in wanted],))}
            missing = [one.prepare_sql for one in wanted if one.name not in held]
            if missing:
                driver.execute("; ".join(missing))
        prepared.update(one.name for one in wanted)

    def _prepare_within(self, conn: Connection, driver: Any) -> None:
        """The statement prepared under its name inside an open transaction, where a failed
        ``PREPARE`` would end it: asked first whether the server holds it (rare: a statement
        usually comes prepared along with the step's read, see :attr:`companions`)."""
        prepared = conn.info.setdefault(PREPARED, set())
        if self.name in prepared:
            return
        held = driver.execute("SELECT 1 FROM pg_prepared_statements WHERE name = %s", (self.name,)).fetchone()
        if held is None:
            driver.execute(self.prepare_sql)
        prepared.add(self.name)

    def row(self, raw: Any) -> Any:
        """A fetched row converted as SQLAlchemy converts it, its columns named as in SQLAlchemy's Row."""
        return self.record([process(value) if process else value
                            for process, value in zip(self.results, raw, strict=True)])


def _announce(conn: Connection, cursor: Any, sql: str, bound: Any) -> None:
    """SQLAlchemy's ``before_cursor_execute`` event, as its own execution fires it, for whoever
    listens (statement logging, tracing, tests that step in between): a statement run here is
    announced like any other, with a cursor of the connection when it runs on none. Nothing is
    done when nobody listens."""
    if conn._has_events or conn.engine._has_events:
        if cursor is None:
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        conn.dispatch.before_cursor_execute(conn, cursor, sql, bound, None, False)


def _answers(pgconn: Any, wait_r: Any, wait_rw: Any, ready_r: Any, sync: Any) -> Generator[Any, Any, list[Any]]:
    """What was sent in pipeline mode flushed, then every answer up to the pipeline's ``sync``,
    as a generator for psycopg's ``wait`` (which gets ``wait_r``: to read, or ``wait_rw``, and
    sends back what is ready): one wait for a round trip's answers, which psycopg's own
    generators would take one statement at a time."""
    while pgconn.flush():  # what the socket did not take at once
        while not (ready := (yield wait_rw)):
            continue
        if ready & ready_r:
            pgconn.consume_input()
    answers: list[Any] = []
    while True:
        while pgconn.is_busy():
            while not (yield wait_r):
                continue
            pgconn.consume_input()
        answer = pgconn.get_result()
        if answer is None:  # between one statement's answers and the next's
            continue
        if answer.status == sync:
            return answers
        answers.append(answer)


def _leave_pipeline(driver: Any) -> None:
    """Out of libpq's pipeline mode, as psycopg expects its connection; one that cannot leave it
    (an answer not read: the wait was interrupted) is closed, so that nothing uses it half-way
    and the pool replaces it."""
    pgconn = driver.pgconn
    if not pgconn.pipeline_status:  # PipelineStatus.OFF
        return
    from psycopg import OperationalError

    try:
        pgconn.exit_pipeline_mode()
    except OperationalError:
        driver.close()


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
