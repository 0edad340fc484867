"""Fresh databases for tests: a SQLite file by default, or, when ``$FLOWENGINE_TEST_PG`` names a
PostgreSQL server (``postgresql+psycopg://postgres@127.0.0.1:PORT``, e.g. from
``scripts/postgres url``), a fresh place on that server for each test, dropped afterwards.

On the server each test gets a schema of its own in one database of this test run, reached by
a URL whose connection options put that schema first on the search path. Measured on this
project's 2-core machine: a schema is made and dropped in about 5 ms, a database in 50 to
300 ms; the whole PostgreSQL run took 205 s with schemas, 530 s with a database for each test
(both while other test runs shared the machine). flowengine names no schema in its SQL, so it
works there as it would in ``public``. Each one starts empty, as a new SQLite file does, so the
first open creates the tables just as it would for a user. Fixtures that copy a prepared
database (:meth:`DatabaseTargets.copy`) get whole databases instead, copied with
``CREATE DATABASE … TEMPLATE``.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.engine import URL, make_url

from flowengine.store.database import Database, resolve_url

PG_ENV = "FLOWENGINE_TEST_PG"
SQLITE_ONLY_REASON = "about SQLite files; the PostgreSQL run covers the rest"
POSTGRESQL_ONLY_REASON = f"needs a PostgreSQL server: set {PG_ENV} (see scripts/postgres)"
_STATEMENT_WAIT = "10s"  # the admin's lock_timeout: a test that leaves a transaction open fails, never hangs


def server_url() -> str | None:
    """The PostgreSQL server the suite runs against, or None for SQLite files."""
    return os.environ.get(PG_ENV, "").strip() or None


ON_POSTGRESQL = server_url() is not None


def login() -> str:
    """The login the test databases see acting: the server's user, or this process's OS login."""
    server = server_url()
    if server is None:
        from flowengine.store.basics import os_login

        return os_login()
    return make_url(server).username or "postgres"


def with_options(target: str, *options: str) -> str:
    """``target`` with more libpq connection options (``-cname=value``, spaces escaped as ``\\ ``),
    e.g. a setting an administrator might have chosen for the database."""
    url = make_url(target)
    given = url.query.get("options", "")
    joined = " ".join([*([given] if isinstance(given, str) and given else []), *options])
    return url.update_query_dict({"options": joined}).render_as_string(hide_password=False)


class DatabaseTargets:
    """Hands out databases as ``--db``/:meth:`FlowEngine.open` take them, and drops them again."""

    def __init__(self, server: str | None) -> None:
        self.server: URL | None = make_url(server) if server else None
        self._admin: Any = None  # psycopg connections in autocommit, opened on first need:
        self._schemas_admin: Any = None  # to the server's own database, and to the run's database
        self._numbers = itertools.count(1)
        self._prefix = f"flowengine_test_{os.getpid()}"
        self._template = f"{self._prefix}_template"  # empty, for whole databases
        self._schemas_db = f"{self._prefix}_schemas"  # holds the schemas
        self._databases: set[str] = set()
        self._schemas: set[str] = set()

    def new(self, folder: Path, name: str = "flowengine.db", *, copyable: bool = False) -> str:
        """A database nobody has used: ``folder/name`` for SQLite; on the server a new schema, or
        with ``copyable`` a whole database (which :meth:`copy` can copy)."""
        if self.server is None:
            return str(folder / name)
        if copyable:
            return self._create_database(self._template_database())
        schema = f"{self._prefix}_{next(self._numbers)}"
        self._schemas_connection().execute(f'CREATE SCHEMA "{schema}"')
        self._schemas.add(schema)
        url = self.server.set(database=self._schemas_db).update_query_dict({"application_name": schema})
        return with_options(url.render_as_string(hide_password=False), f"-csearch_path={schema}")

    def copy(self, source: str, folder: Path, name: str = "flowengine.db") -> str:
        """A new database holding what ``source`` holds: a copy of the file, or on the server a
        database made with ``source`` (from ``new(copyable=True)``) as its template."""
        if self.server is None:
            target = folder / name
            for suffix in ("", "-wal"):  # the write-ahead log is merged on close; copied should one remain
                if Path(f"{source}{suffix}").exists():
                    shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")
            return str(target)
        template = make_url(source).database
        assert template in self._databases, f"{source} was not made with new(copyable=True)"
        self._server_connection().execute(  # a template must have no connections: end any left over
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (template,))
        return self._create_database(template)

    def drop(self, target: str) -> None:
        """Remove what :meth:`new` or :meth:`copy` made on the server (a SQLite file goes with its
        tmp_path); connections a test left open are ended first."""
        if self.server is None:
            return
        url = make_url(target)
        schema = url.query.get("application_name")
        if isinstance(schema, str) and schema in self._schemas:
            self._schemas.discard(schema)
            self._end_connections("application_name", schema)
            self._schemas_connection().execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        elif url.database in self._databases:
            self._databases.discard(url.database)
            self._server_connection().execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')

    def close(self) -> None:
        """Drop everything this run made on the server."""
        if self._schemas_admin is not None:
            self._schemas_admin.close()
            self._schemas_admin = None
        if self._admin is None:
            return
        for database in sorted(self._databases | {self._schemas_db, self._template}):
            self._admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        self._databases.clear()
        self._schemas.clear()
        self._admin.close()
        self._admin = None

    def _create_database(self, template: str) -> str:
        assert self.server is not None
        database = f"{self._prefix}_{next(self._numbers)}"
        self._server_connection().execute(f'CREATE DATABASE "{database}" TEMPLATE "{template}" STRATEGY FILE_COPY')
        self._databases.add(database)
        return self.server.set(database=database).render_as_string(hide_password=False)

    def _template_database(self) -> str:
        admin = self._server_connection()
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self._template,)).fetchone():
            admin.execute(f"CREATE DATABASE \"{self._template}\" TEMPLATE template0 ENCODING 'UTF8'")
        return self._template

    def _end_connections(self, column: str, value: str) -> None:
        self._server_connection().execute(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE {column} = %s AND pid <> pg_backend_pid()",
            (value,))

    def _server_connection(self) -> Any:
        if self._admin is None:
            assert self.server is not None
            self._admin = self._connect(self.server.database or "postgres")
        return self._admin

    def _schemas_connection(self) -> Any:
        if self._schemas_admin is None:
            admin = self._server_connection()
            admin.execute(f'DROP DATABASE IF EXISTS "{self._schemas_db}" WITH (FORCE)')
            admin.execute(f"CREATE DATABASE \"{self._schemas_db}\" TEMPLATE template0 ENCODING 'UTF8'")
            self._schemas_admin = self._connect(self._schemas_db)
        return self._schemas_admin

    def _connect(self, dbname: str) -> Any:
        import psycopg

        assert self.server is not None
        server = self.server
        admin = psycopg.connect(host=server.host or "127.0.0.1", port=server.port or 5432,
                                user=server.username or "postgres", password=server.password,
                                dbname=dbname, autocommit=True)
        admin.execute(f"SET lock_timeout = '{_STATEMENT_WAIT}'")
        return admin


@cache
def targets() -> DatabaseTargets:
    """The one set of test databases of this process (closed by the session fixture)."""
    return DatabaseTargets(server_url())


def reset(target: str) -> None:
    """Empty a migrated database for the next Hypothesis example, keeping its schema: cheaper
    than a new database on a server. The append-only guards fire on UPDATE and DELETE, not on
    TRUNCATE, which only the owner of the tables may run."""
    with Database(resolve_url(target)) as database, database.write() as conn:
        conn.execute(text("TRUNCATE erasable, events, proposals, definitions RESTART IDENTITY"))


def untouched(target: str) -> bool:
    """Nothing was ever written there: no SQLite file, or no table in the server schema."""
    if server_url() is None:
        return not Path(target).exists()
    with Database(resolve_url(target)) as database, database.read() as conn:
        return not conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()")).scalar()


# What someone with write access to the database removes first to rewrite history.
_APPEND_ONLY_GUARDS = {"sqlite": ("DROP TRIGGER events_no_update", "DROP TRIGGER events_no_delete",
                                  "DROP TRIGGER erasable_no_update"),
                       "postgresql": ("DROP TRIGGER events_append_only ON events",)}


@contextmanager
def tampering(target: str) -> Iterator[Connection]:
    """A connection of someone writing behind flowengine's back, who first removes the
    append-only guards; what they do is committed at the end."""
    with Database(resolve_url(target)) as database, database.engine.begin() as conn:
        for statement in _APPEND_ONLY_GUARDS[database.dialect]:
            conn.execute(text(statement))
        yield conn


@contextmanager
def raw_connection(target: str) -> Iterator[Connection]:
    """A plain connection in one transaction (committed at the end), as any SQL client has."""
    with Database(resolve_url(target)) as database, database.engine.begin() as conn:
        yield conn


def stored_bytes(target: str) -> object:
    """Everything stored, to compare before and after something that must write nothing: the
    file's bytes, or every row of every table on the server."""
    if server_url() is None:
        return Path(target).read_bytes()
    with Database(resolve_url(target)) as database, database.read() as conn:
        tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                                   "ORDER BY tablename")).scalars().all()
        return {table: sorted(map(repr, conn.execute(text(f'SELECT * FROM "{table}"')).all())) for table in tables}


def count_events(target: str) -> int:
    """How many events are stored, read as any other client would (not through flowengine)."""
    with Database(resolve_url(target)) as database, database.read() as conn:
        return int(conn.execute(text("SELECT count(*) FROM events")).scalar_one())
