"""Where the database is, opening it the right way, and turning driver errors into StoreErrors.

SQLite (the default) is opened in WAL mode with a busy timeout and foreign keys on; write
transactions start with ``BEGIN IMMEDIATE`` so that two writers queue for the lock instead of
one failing half-way with "database is locked". PostgreSQL is reached by URL and runs at the
server's isolation level (READ COMMITTED unless its administrator chose otherwise); the rows
are guarded by the optimistic version check and unique keys, not by the isolation level.

Either database may roll a write back because of concurrent writers (a serialization failure
or a deadlock on PostgreSQL, a lock SQLite would not wait for): :meth:`Database.run_write`
runs the whole transaction again, a bounded number of times.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, exc, text
from sqlalchemy.engine import URL, make_url

from flowengine.errors import Remedy, StoreError
from flowengine.i18n import t, tn
from flowengine.store.basics import BUSY_TIMEOUT_SECONDS as BUSY_TIMEOUT_SECONDS
from flowengine.store.basics import ENV_DB as ENV_DB
from flowengine.store.basics import SESSION_OPTIONS
from flowengine.store.basics import default_database_path as default_database_path
from flowengine.store.driver import BEGIN_OWED, PREPARED, owes_begin

WRITE_ATTEMPTS = 5  # a write rolled back by concurrent writers is run again, at most this often in all
_RETRY_PAUSE_SECONDS = 0.02  # before the second attempt; doubled before each further one, with jitter
_WAL_RETRY_SECONDS = 0.01
_WRITE = "flowengine_write"
WRITE_OPTION = _WRITE  # the execution option that makes a transaction a write (BEGIN IMMEDIATE on SQLite)
# PostgreSQL's answers that mean "nothing was written; the same transaction may well succeed now".
_TRANSIENT_SQLSTATES = {"40001": "serialization failure", "40P01": "deadlock"}

T = TypeVar("T")


# Which unique key a duplicate insert ran into, by the names each backend puts in its message.
_UNIQUE_KEYS = (
    ("proposal_number", ("uq_proposals_prefix_number", "proposals.prefix, proposals.number", "proposals.number")),
    ("definition", ("definitions_pkey", "definitions.content_hash")),
    ("idempotency_key", ("events_idempotency_key_key", "events.idempotency_key")),
    ("proposal_id", ("proposals_id_key", "proposals.id")),
    # an event of format 3 writes its erasable values first, keyed by the event: its number is taken there
    ("event_seq", ("uq_events_proposal_seq", "events.proposal_pk, events.seq", "erasable_pkey",
                   "erasable.proposal_pk, erasable.seq")),
)


class KeyTaken(StoreError):
    """A write ran into a unique key that a concurrent writer took first; nothing was written.
    ``key`` says which: ``proposal_number``, ``definition``, ``idempotency_key``, ``proposal_id``,
    ``event_seq`` or ``other``."""

    def __init__(self, database: str, key: str, detail: str) -> None:
        self.key = key
        self.detail = detail
        super().__init__(t("a concurrent write to {database} collided with this one ({detail}); nothing was "
                           "written — try again", database=database, detail=detail))


def taken_key(message: str) -> str:
    """The unique key a driver's duplicate-key message names (see :class:`KeyTaken`)."""
    return next((key for key, names in _UNIQUE_KEYS if any(name in message for name in names)), "other")


class Contention(StoreError):
    """A write the database rolled back because of concurrent writers: safe to run again whole."""

    def __init__(self, database: str, reason: str) -> None:
        self.reason = reason
        super().__init__(t("a write to {database} was rolled back by concurrent writers ({reason}); nothing was "
                           "written — try again", database=database, reason=reason))


def resolve_url(target: str | None = None, environ: Mapping[str, str] | None = None, *, create: bool = True) -> str:
    """``--db`` or ``$FLOWENGINE_DB`` (a file path or a database URL), else the default file.
    ``create`` off (the caller only reads): a SQLite file that is not there is refused, and
    neither it nor its folder is made."""
    env = os.environ if environ is None else environ
    value = (target or env.get(ENV_DB, "")).strip()
    if not value:
        path = default_database_path(env)
        if not create:
            _existing(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    if "://" in value:
        named = None if create else sqlite_file(value)
        if named is not None:
            _existing(named)
        return value
    path = Path(value).expanduser()
    if path.is_dir():
        raise StoreError(t("{path} is a folder; give a file name for the database, e.g. {example}", path=value,
                           example=path / "flowengine.db"))
    if not create:
        _existing(path)
    if not path.parent.is_dir():
        raise StoreError(t("cannot create the database {database}: the folder {folder} does not exist (create it, "
                           "or choose another place)", database=value, folder=path.parent))
    return f"sqlite:///{path}"


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names; None for another database or an in-memory one."""
    try:
        parsed = make_url(url)
    except exc.ArgumentError:
        return None
    name = parsed.database
    if not parsed.drivername.startswith("sqlite") or not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name).expanduser()


def _existing(path: Path) -> None:
    """A database a reader names must be there: opening a missing SQLite file would create it."""
    if not path.is_file():
        raise StoreError(t("there is no database at {path}; a command that only reads creates none",
                           path=str(path))).fixed_by(Remedy("create_database", str(path)), Remedy("database"))


class _Kept:
    """A thread's kept write connection. Only that thread's local storage holds it, so when the
    thread ends it goes, and its finalizer hands the connection back to the pool (a server
    starting a thread per request would otherwise run the pool dry, one thread at a time)."""

    __slots__ = ("__weakref__", "close", "conn")

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.close = weakref.finalize(self, _close_quietly, conn)


def _close_quietly(conn: Connection) -> None:
    with contextlib.suppress(exc.SQLAlchemyError, sqlite3.Error):  # a failure that led here is the one to report
        conn.close()


class Database:
    """One database: an engine plus the two kinds of transaction flowengine needs."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _create_engine(url)
        self.dialect = self.engine.dialect.name
        # each thread keeps its write connection between transactions (see write())
        self._writer = threading.local()
        self._kept: weakref.WeakSet[_Kept] = weakref.WeakSet()  # every thread's, for dispose()
        self._kept_lock = threading.Lock()

    @property
    def display_name(self) -> str:
        parsed = make_url(self.url)
        if parsed.get_backend_name() == "sqlite":
            return parsed.database or ":memory:"
        return parsed.render_as_string(hide_password=True)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction, taken at once (``BEGIN IMMEDIATE`` on SQLite); commits on success.

        The connection stays with the thread for its next write: checking one out of the pool
        and back costs more than a whole step's statements on SQLite, and on PostgreSQL a third
        of a step's client time (and the statements it prepared on the server stay with it).
        Between transactions it holds no lock; after any failure, and when the thread ends, it
        goes back to the pool.

        On PostgreSQL that connection runs in autocommit, and flowengine sends ``BEGIN`` itself,
        with the transaction's first statement: a step's read goes with it in one round trip
        (:mod:`flowengine.store.driver`), any other statement after it (see
        :func:`_pay_owed_begin`). It commits or rolls back as any other: psycopg sends
        ``COMMIT`` or ``ROLLBACK`` whenever the server says a transaction is open.
        """
        with translate_errors(self, writing=True):
            kept = self._kept_writer()
            owned = self.dialect == "postgresql"
            try:
                if owned:  # owed from the start: a listener of SQLAlchemy's begin may pay it
                    kept.conn.info[BEGIN_OWED] = True
                with kept.conn.begin():
                    yield kept.conn
            except BaseException:
                if owned:  # rolled back: psycopg has deallocated every statement prepared
                    kept.conn.info.pop(BEGIN_OWED, None)
                    kept.conn.info.pop(PREPARED, None)
                self._writer.kept = None
                kept.close()
                raise
            if owned:  # a transaction that sent nothing sent no BEGIN either
                kept.conn.info.pop(BEGIN_OWED, None)

    def _kept_writer(self) -> _Kept:
        kept: _Kept | None = getattr(self._writer, "kept", None)
        if kept is None or kept.conn.closed or kept.conn.invalidated:
            conn = self.engine.connect()
            if self.dialect == "postgresql":
                # SQLAlchemy sets the driver's autocommit, and sets it back when the connection
                # returns to the pool, so a reader never gets it so
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            kept = self._writer.kept = _Kept(conn.execution_options(**{_WRITE: True}))
            with self._kept_lock:
                self._kept.add(kept)
        return kept

    def run_write(self, work: Callable[[Connection], T], *, operation: str = "write",
                  attempts: int = WRITE_ATTEMPTS) -> T:
        """``work`` in one write transaction; run again from scratch when concurrent writers made
        the database roll it back, so ``work`` must start afresh each time (read, then write).

        Gives up after ``attempts`` tries, or once the busy timeout has run out (SQLite has then
        already waited that long for its lock), with one StoreError naming ``operation``.
        """
        began = time.monotonic()
        tries = 0
        while True:
            tries += 1
            try:
                with self.write() as conn:
                    return work(conn)
            except Contention as contention:
                spent = time.monotonic() - began
                if tries >= attempts or spent >= BUSY_TIMEOUT_SECONDS:
                    raise StoreError(tn(
                        "the {operation} in {database} gave up after {n} attempt in {seconds} s, rolled back because "
                        "of concurrent writers ({reason}); nothing was written — try again",
                        "the {operation} in {database} gave up after {n} attempts in {seconds} s, each rolled back "
                        "because of concurrent writers ({reason}); nothing was written — try again", tries,
                        operation=operation, database=self.display_name, seconds=f"{spent:.1f}",
                        reason=contention.reason)) from contention
            time.sleep(_RETRY_PAUSE_SECONDS * 2 ** (tries - 1) * random.uniform(0.5, 1.5))

    def truncate_log(self) -> bool:
        """SQLite: copy the write-ahead log into the file and truncate it to nothing, so what was
        erased leaves no copy in it; False when a reader still holds an older snapshot (the log
        then keeps frames until the next checkpoint). Other databases: nothing to do (True)."""
        if self.dialect != "sqlite":
            return True
        with translate_errors(self), self.engine.connect() as conn:
            busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
            return busy is None or int(busy[0]) == 0

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only snapshot (one transaction, so every query sees the same moment)."""
        with translate_errors(self), self.engine.connect() as conn, conn.begin():
            yield conn

    def exists(self) -> bool:
        """False for a SQLite file not created yet (asking a server is left to the first query)."""
        parsed = make_url(self.url)
        if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
            return True
        return Path(parsed.database).exists()

    def schema_revision(self) -> str | None:
        """The stored schema revision; None for an empty database (a missing file stays missing)."""
        if not self.exists():
            return None
        with translate_errors(self), self.engine.connect() as conn:
            if not self.engine.dialect.has_table(conn, "alembic_version"):
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()

    def dispose(self) -> None:
        with self._kept_lock:
            held = list(self._kept)
        for kept in held:
            kept.close()
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.dispose()


def _create_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except exc.ArgumentError as error:
        raise StoreError(t("'{url}' is not a database URL; give a file path or e.g. "
                           "postgresql+psycopg://user@host/flowengine", url=url)) from error
    backend = parsed.get_backend_name()
    unknown_driver = t("flowengine cannot use the {backend} driver '{driver}'; give a file path, or a "
                       "postgresql+psycopg://… URL", backend=backend, driver=parsed.get_driver_name())
    if backend == "sqlite":
        try:
            engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_SECONDS})
        except (exc.NoSuchModuleError, ModuleNotFoundError) as error:  # sqlite+typo://, or a driver not installed
            raise StoreError(unknown_driver) from error
        _configure_sqlite(engine)
        return engine
    if backend == "postgresql":
        try:
            engine = create_engine(url, pool_pre_ping=False, connect_args={"options": _session_options(parsed)})
        except exc.NoSuchModuleError as error:  # postgresql+psycopg3:// and other typos of the driver
            raise StoreError(unknown_driver) from error
        except ModuleNotFoundError as error:
            raise StoreError(t("PostgreSQL needs the psycopg driver: pip install 'flowengine[postgresql]'")) from error
        _pay_owed_begin(engine)
        return engine
    raise StoreError(t("flowengine stores in SQLite or PostgreSQL, not '{backend}'; give a file path or a "
                       "postgresql+psycopg://… URL", backend=backend))




def _session_options(url: URL) -> str:
    """The URL's own libpq ``options`` (a search path, say), then flowengine's."""
    given = url.query.get("options", "")
    return " ".join([*([given] if isinstance(given, str) and given else []), SESSION_OPTIONS])


def _pay_owed_begin(engine: Engine) -> None:
    """Any statement SQLAlchemy runs on a write connection whose transaction has not sent its
    ``BEGIN`` yet sends it first (see :meth:`Database.write`): no statement of a transaction ever
    runs outside it. On the driver, where the statement goes: SQLAlchemy's dialect events, which
    cost nothing to connections owing nothing and leave its connection events to whoever listens.
    A driver error of the ``BEGIN`` reaches the caller as the statement's would."""

    def pay(context: Any) -> bool:
        if context.execution_options.get(_WRITE):  # a write connection (no other ever owes one)
            conn = context.root_connection
            if owes_begin(conn):
                conn.connection.driver_connection.execute("BEGIN")
        return False  # the statement itself is SQLAlchemy's to run

    event.listen(engine, "do_execute", lambda _cursor, _statement, _parameters, context: pay(context))
    event.listen(engine, "do_executemany", lambda _cursor, _statement, _parameters, context: pay(context))
    event.listen(engine, "do_execute_no_params", lambda _cursor, _statement, context: pay(context))


def _configure_sqlite(engine: Engine) -> None:
    """The SQLAlchemy recipe for real SQLite transactions: the driver's own BEGIN is switched off
    and flowengine emits BEGIN (reads) or BEGIN IMMEDIATE (writes) itself."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        _enter_wal(cursor)
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA synchronous = NORMAL")  # safe in WAL mode: a crash loses no committed step
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # On the driver's own connection: SQLAlchemy's execution bookkeeping would cost more than
        # the BEGIN itself, on every step. Its errors still reach callers as SQLAlchemy's.
        statement = "BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN"
        try:
            conn.connection.driver_connection.execute(statement)  # type: ignore[union-attr]
        except sqlite3.Error as error:
            raise exc.DBAPIError.instance(statement, (), error, sqlite3.Error, dialect=conn.dialect) from error


def _enter_wal(cursor: Any) -> None:
    """``PRAGMA journal_mode = WAL``, waiting for the lock like every other statement does.

    Switching a database into WAL mode needs an exclusive lock, and SQLite asks for it without
    calling the busy handler: two processes opening a new database at once would otherwise see
    "database is locked" at once, not after the busy timeout.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error).lower() or time.monotonic() >= deadline:
                raise
            time.sleep(_WAL_RETRY_SECONDS)


@contextmanager
def translate_errors(database: Database, *, writing: bool = False) -> Iterator[None]:
    """Driver errors become one clear StoreError; errors of our own pass through untouched.
    A write rolled back because of concurrent writers is a :class:`Contention`, for
    :meth:`Database.run_write` to run again."""
    try:
        yield
    except exc.IntegrityError as error:  # the service turns these into conflicts or repeated requests
        message = str(error.orig) if error.orig is not None else str(error)
        raise KeyTaken(database.display_name, taken_key(message), _first_line(error)) from error
    except exc.DBAPIError as error:
        sqlstate = getattr(error.orig, "sqlstate", None)
        if sqlstate in _TRANSIENT_SQLSTATES:
            raise Contention(database.display_name, f"{_TRANSIENT_SQLSTATES[sqlstate]}: {_first_line(error)}") \
                from error
        if not isinstance(error, exc.OperationalError):
            raise StoreError(t("database error in {database}: {detail}", database=database.display_name,
                               detail=_first_line(error))) from error
        message = str(error.orig).lower() if error.orig is not None else str(error).lower()
        if database.dialect == "sqlite" and ("locked" in message or "busy" in message):
            if writing:
                raise Contention(database.display_name, _first_line(error)) from error
            raise StoreError(t("the database {database} stayed busy for more than {seconds} s (another flowengine is "
                               "writing); nothing was written — try again", database=database.display_name,
                               seconds=f"{BUSY_TIMEOUT_SECONDS:.0f}")) from error
        if "unable to open" in message:
            raise StoreError(t("cannot open the database {database}: check the path and its permissions",
                               database=database.display_name)) from error
        raise StoreError(t("database error in {database}: {detail}", database=database.display_name,
                           detail=_first_line(error))) from error


def _first_line(error: exc.DBAPIError) -> str:
    return str(error.orig if error.orig is not None else error).strip().splitlines()[0]
