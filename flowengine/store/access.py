"""The store's side of who acts: the session's authenticated login, the database's clock, the
grants, the access log and the database's settings. The rules about them are in
:mod:`flowengine.access`; here only reading and writing rows."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, delete, insert, select, text

from flowengine.clock import ENV_FOR_TESTS, Clock, as_utc, iso_utc, system_clock
from flowengine.history.seal import GENESIS, seal_entry
from flowengine.store import basics
from flowengine.store.basics import CLOCK as CLOCK
from flowengine.store.basics import INJECTED_CLOCK as INJECTED_CLOCK
from flowengine.store.basics import SYSTEM_CLOCK as SYSTEM_CLOCK
from flowengine.store.schema import access_log, grants, settings

GRANT = "grant"
REVOKE = "revoke"
CONVERT = "convert"  # old histories' personal data re-sealed erasably: the entry's role is the record's root
ADMIN = "admin"  # the capability of administrators (see flowengine.access.grants)
EVERY = "*"  # every workflow; every role


def session_login(conn: Connection) -> str:
    """Who the database says is connected: PostgreSQL's ``session_user`` (the login the server
    authenticated, which ``SET ROLE`` does not change); on SQLite, the process's OS login."""
    if conn.dialect.name == "postgresql":
        return str(conn.execute(text("SELECT session_user")).scalar_one())
    return basics.os_login()


def database_now(conn: Connection) -> datetime:
    """The database's clock: PostgreSQL's transaction time (``now()``: the same for every
    statement of the transaction), or the system clock for SQLite (which has no server)."""
    if conn.dialect.name == "postgresql":
        return as_utc(conn.execute(text("SELECT now()")).scalar_one())
    return system_clock()


class GrantRow(NamedTuple):
    login: str
    workflow: str
    role: str
    granted_by: str
    granted_at: datetime


class LogRow(NamedTuple):
    seq: int
    action: str
    login: str
    workflow: str
    role: str
    by_login: str
    at: datetime
    prev_hash: str
    hash: str


def grants_of(conn: Connection, login: str | None = None) -> list[GrantRow]:
    """Every grant (of one login), sorted."""
    query = select(grants.c.login, grants.c.workflow, grants.c.role, grants.c.granted_by, grants.c.granted_at)
    if login is not None:
        query = query.where(grants.c.login == login)
    rows = conn.execute(query.order_by(grants.c.login, grants.c.workflow, grants.c.role))
    return [GrantRow(r.login, r.workflow, r.role, r.granted_by, as_utc(r.granted_at)) for r in rows]


def add_grant(conn: Connection, row: GrantRow) -> None:
    conn.execute(insert(grants).values(**row._asdict()))


def remove_grants(conn: Connection, login: str, workflow: str, roles: Sequence[str]) -> int:
    result = conn.execute(delete(grants).where(grants.c.login == login, grants.c.workflow == workflow,
                                               grants.c.role.in_(list(roles))))
    return int(result.rowcount)


def log_entries(conn: Connection) -> list[LogRow]:
    rows = conn.execute(select(*access_log.c).order_by(access_log.c.seq))
    return [LogRow(r.seq, r.action, r.login, r.workflow, r.role, r.by_login, as_utc(r.at), r.prev_hash, r.hash)
            for r in rows]


def log_head(conn: Connection) -> tuple[int, str] | None:
    """The newest entry's (seq, hash), or None for an empty log."""
    row = conn.execute(select(access_log.c.seq, access_log.c.hash).order_by(access_log.c.seq.desc()).limit(1)).first()
    return (int(row.seq), str(row.hash)) if row else None


def append_log(conn: Connection, row: LogRow) -> None:
    conn.execute(insert(access_log).values(**row._asdict()))


def entry_hash(prev_hash: str, seq: int, action: str, login: str, workflow: str, role: str, by: str,
               at: datetime) -> str:
    """The seal of an access log entry (over the previous entry's)."""
    return seal_entry(prev_hash, {"seq": seq, "action": action, "login": login, "workflow": workflow, "role": role,
                                  "by": by, "at": iso_utc(at)})


def append_entry(conn: Connection, action: str, login: str, workflow: str, role: str, by: str,
                 at: datetime) -> LogRow:
    """Write the next access log entry after the log's head, sealed."""
    head = log_head(conn)
    seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
    row = LogRow(seq, action, login, workflow, role, by, as_utc(at), prev,
                 entry_hash(prev, seq, action, login, workflow, role, by, at))
    append_log(conn, row)
    return row


def first_grants(conn: Connection, before: str | None, clock: Clock | None = None) -> bool:
    """In the transaction that created (or upgraded) the schema, on a database whose access log
    is empty: its creator holds admin and every role of every workflow (solo mode), and its clock
    is set — one that may be fixed only in a database created for tests or demos (with a fixed
    ``clock``, or while ``$FLOWENGINE_FOR_TESTS`` is set). True if it did."""
    if log_head(conn) is not None:
        return False
    for_tests = before is None and (clock is not None or bool(os.environ.get(ENV_FOR_TESTS, "").strip()))
    if setting(conn, CLOCK) is None:
        put_setting(conn, CLOCK, INJECTED_CLOCK if for_tests else SYSTEM_CLOCK)
    login = session_login(conn)
    at = clock() if for_tests and clock is not None else database_now(conn)
    for role in (ADMIN, EVERY):
        add_grant(conn, GrantRow(login, EVERY, role, login, as_utc(at)))
        append_entry(conn, GRANT, login, EVERY, role, login, at)
    return True


def setting(conn: Connection, name: str) -> str | None:
    return conn.execute(select(settings.c.value).where(settings.c.name == name)).scalar()


def put_setting(conn: Connection, name: str, value: str) -> None:
    conn.execute(insert(settings).values(name=name, value=value))
