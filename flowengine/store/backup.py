"""Copies of a whole database, taken while others write, and put back into an empty place.

SQLite: the online backup API copies every page inside one read transaction, so the copy is the
database at one moment although other processes go on writing (in WAL mode a reader never holds
up a writer). PostgreSQL: ``pg_dump``'s custom format, taken in a snapshot that this module
exports from a transaction it holds open, so the caller can read (and audit) exactly what went
into the file; ``pg_restore`` puts it back in one transaction.

A backup is written beside its file name and moved there once complete, readable by its owner
only; an existing file is never overwritten. Restoring fills only an empty target.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import make_url

from flowengine.atomicfile import replacing
from flowengine.errors import StoreError
from flowengine.i18n import t, tn
from flowengine.store.database import Database
from flowengine.store.driver import owes_begin

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
_MAGIC = {b"SQLite format 3\x00": SQLITE, b"PGDMP": POSTGRESQL}
_OWNER_ONLY = 0o600  # a backup holds every history: names, comments, field values
_TOOL_TIMEOUT_SECONDS = 6 * 3600  # a bound, not an expectation: pg_dump of a large database takes minutes


@dataclass(frozen=True)
class Copy:
    """A backup file made, or restored from: its kind (``sqlite`` or ``postgresql``) and size."""

    path: Path
    kind: str
    size: int


def kind_of(path: Path) -> str:
    """What made the backup file at ``path``: ``sqlite`` or ``postgresql`` (pg_dump's custom format)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(16)
    except FileNotFoundError:
        raise StoreError(t("there is no backup file {path}", path=path)) from None
    except OSError as exc:
        raise StoreError(t("cannot read {path}: {reason}", path=path, reason=exc.strerror or exc)) from None
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            return kind
    raise StoreError(t("{path} is not a flowengine backup: neither a SQLite file nor pg_dump's custom format",
                       path=path))


def _new_file(path: Path) -> None:
    if path.exists() or path.is_symlink():
        raise StoreError(t("{path} exists already; backups are never overwritten: give a new file name", path=path))
    if not path.parent.is_dir():
        raise StoreError(t("cannot write {path}: the folder {folder} does not exist", path=path, folder=path.parent))


# -- SQLite ---------------------------------------------------------------------------------------


def _sqlite_path(database: Database) -> Path:
    name = make_url(database.url).database
    if not name or name == ":memory:":
        raise StoreError(t("an in-memory database has nothing to back up"))
    return Path(name)


@contextmanager
def _copied(source: sqlite3.Connection, destination: Path, what: str) -> Iterator[Database]:
    """``source`` copied at one moment into a file beside ``destination``, yielded as a database
    (to audit); when the block ends without error the copy takes ``destination``'s place."""
    with replacing(destination, t("cannot write {path}", path=destination), StoreError, mode=_OWNER_ONLY) as temporary:
        try:
            with closing(sqlite3.connect(temporary)) as copy:
                source.backup(copy)  # every page in one step: one read transaction, one moment
        except sqlite3.Error as exc:
            raise StoreError(t("{what} failed: {reason}", what=what, reason=exc)) from exc
        copied = Database(f"sqlite:///{temporary}")
        try:
            yield copied
        finally:
            copied.dispose()
            for suffix in ("-wal", "-shm"):
                Path(f"{temporary}{suffix}").unlink(missing_ok=True)


@contextmanager
def backing_up_sqlite(database: Database, path: Path) -> Iterator[Database]:
    """The SQLite ``database`` copied at one moment, others writing or not, into the new file
    ``path``; the block gets the copy to audit before it is moved there."""
    _new_file(path)
    raw = database.engine.raw_connection()
    try:
        source: sqlite3.Connection = raw.driver_connection  # type: ignore[assignment]
        with _copied(source, path, t("the backup of {database}", database=database.display_name)) as copied:
            yield copied
    finally:
        raw.close()


@contextmanager
def restoring_sqlite(path: Path, target: Database) -> Iterator[Database]:
    """The backup ``path`` copied beside the empty SQLite ``target``; the block gets the copy to
    audit before it takes the target's place."""
    destination = _sqlite_path(target)
    if destination.exists() and destination.stat().st_size > 0:
        raise StoreError(t("{path} exists and is not empty; restore into a new file", path=destination))
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as source:
        try:
            tables = {row[0] for row in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            raise StoreError(t("{path} cannot be read as a SQLite backup: {reason}", path=path, reason=exc)) from exc
        if not {"events", "proposals", "alembic_version"} <= tables:
            raise StoreError(t("{path} is a SQLite file but not a flowengine database", path=path))
        with _copied(source, destination, t("restoring {path}", path=path)) as copied:
            yield copied


# -- PostgreSQL -----------------------------------------------------------------------------------


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise StoreError(t("{tool} is not installed, and a PostgreSQL backup is {tool}'s work: install the PostgreSQL "
                           "client tools of the server's major version or newer (Debian: apt-get install "
                           "postgresql-client)", tool=name))
    return found


def _libpq(database: Database) -> tuple[str, dict[str, str]]:
    """The database as a libpq URI for pg_dump and pg_restore, and the environment carrying its
    password (kept off the command line, which every user of the machine can read)."""
    url = make_url(database.url)
    environment = dict(os.environ)
    if url.password:
        environment["PGPASSWORD"] = str(url.password)
    uri = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return uri, environment


def _run(command: list[str], environment: dict[str, str], what: str) -> None:
    try:
        done = subprocess.run(command, env=environment, capture_output=True, text=True,
                              timeout=_TOOL_TIMEOUT_SECONDS, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StoreError(t("{what} failed: {reason}", what=what, reason=exc)) from exc
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [t("exit code {code}", code=done.returncode)])[-1]
        raise StoreError(t("{what} failed: {reason}", what=what, reason=reason))


@contextmanager
def snapshot(database: Database) -> Iterator[tuple[str, Database]]:
    """A PostgreSQL snapshot held open: its id (for ``pg_dump --snapshot``) and a database whose
    every transaction sees exactly that snapshot, so what is read there is what was dumped."""
    with database.engine.connect() as holder:
        holder = holder.execution_options(isolation_level="REPEATABLE READ")
        with holder.begin():
            exported = str(holder.execute(text("SELECT pg_export_snapshot()")).scalar_one())
            frozen = Database(database.url)

            @event.listens_for(frozen.engine, "begin")
            def _same_snapshot(conn: Any) -> None:
                driver = conn.connection.driver_connection
                if owes_begin(conn):  # a write connection, in autocommit: the transaction begins here
                    driver.execute("BEGIN")
                driver.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                driver.execute(f"SET TRANSACTION SNAPSHOT '{exported}'")

            try:
                yield exported, frozen
            finally:
                frozen.dispose()


def backup_postgresql(database: Database, path: Path, snapshot_id: str) -> Copy:
    """``pg_dump`` of ``database`` as it is in the exported snapshot, custom format, into a new ``path``."""
    _new_file(path)
    pg_dump = _tool("pg_dump")
    uri, environment = _libpq(database)
    with replacing(path, t("cannot write the backup {path}", path=path), StoreError, mode=_OWNER_ONLY) as temporary:
        # -Fc: the custom format pg_restore reads; -w: never prompt for a password
        _run([pg_dump, "-Fc", "-w", f"--snapshot={snapshot_id}", "-f", str(temporary), "-d", uri], environment,
             t("pg_dump of {database}", database=database.display_name))
    return Copy(path, POSTGRESQL, path.stat().st_size)


def restore_postgresql(path: Path, target: Database) -> None:
    """``pg_restore`` the custom-format ``path`` into the empty PostgreSQL ``target``, in one transaction."""
    pg_restore = _tool("pg_restore")
    with target.read() as conn:
        tables = inspect(conn).get_table_names()
    if tables:
        raise StoreError(tn("{database} is not empty (it has {n} table); restore into a new, empty database",
                            "{database} is not empty (it has {n} tables); restore into a new, empty database",
                            len(tables), database=target.display_name))
    uri, environment = _libpq(target)
    # -O -x: the target's owner owns what is restored, and no grants are copied; -1 -e: one
    # transaction, ended at the first error; -w: never prompt for a password
    _run([pg_restore, "-O", "-x", "-1", "-e", "-w", "-d", uri, str(path)], environment,
         t("pg_restore into {database}", database=target.display_name))
