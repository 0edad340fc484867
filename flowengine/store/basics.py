"""What the store knows without SQLAlchemy: the schema revision this flowengine reads, the names
of the database's settings, the operating system's login, and how a stored time reads.

Shared by the SQLAlchemy store and :mod:`flowengine.store.direct` (the driver's own reads), so
both check the same revision, name the same login and read times alike."""

from __future__ import annotations

import json
import os
import pwd
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flowengine.clock import as_utc
from flowengine.history.erasure import ERASED
from flowengine.timewindow import from_stored, read_stored

ENV_DB = "FLOWENGINE_DB"
BUSY_TIMEOUT_SECONDS = 30.0  # how long a SQLite connection waits for another's lock
# Set for every PostgreSQL session as it connects (no round trip of its own): flowengine's
# statements read a page or a row through an index. Row-level security makes the planner charge a
# policy's hashed subquery to every index probe, and such inflated estimates start JIT compilation,
# which took 2.9 s of a 3.5 s `proposal list --overdue --sort updated` whose execution took 0.1 s.
SESSION_OPTIONS = "-c jit=off"

SCHEMA_HEAD = "0014_title_trigrams"  # the newest migration; checked on open without importing Alembic

CLOCK = "clock"  # the setting: how the database's steps are timed
SYSTEM_CLOCK = "system"  # by the database's own clock (every database made for real use)
INJECTED_CLOCK = "injected"  # by a clock the caller may fix: a database made for tests or demos


def default_database_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/flowengine/flowengine.db``, i.e. ``~/.local/share/flowengine/flowengine.db``."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "flowengine" / "flowengine.db"


def os_login() -> str:
    """The operating system's login of this process: its effective user id's name, which no
    environment variable can change (``$USER`` and ``$LOGNAME`` are the caller's to set)."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a user id with no name (a container's): the id is still who it is
        return f"uid{uid}"


def read_time(value: Any) -> datetime | None:
    """A time as SQLite (text) or PostgreSQL (a datetime) gives it, as aware UTC within the window."""
    if value is None:
        return None
    if type(value) is str:
        if len(value) == 26 and value[10] == " " and "1900" <= value[:4] < "2200":  # "2024-03-01 09:00:00.000000"
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        return read_stored(value)
    return from_stored(as_utc(value))


def read_moment(value: Any) -> datetime:
    """A stored time of a NOT NULL column, as :func:`read_time` reads it."""
    moment = read_time(value)
    assert moment is not None  # the column is NOT NULL
    return moment


def sqlite_text(value: datetime) -> str:
    """How a time is stored and compared in SQLite: naive UTC text with microseconds,
    "2024-03-01 09:00:00.000000" (what SQLAlchemy's SQLite DATETIME writes)."""
    return as_utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")


def kept_actor(actor: str, kept: str | None) -> str:
    """The display name of a stored step from its ``actor`` column and, outer-joined, its
    erasable ``actor`` value: a name kept apart (format 3), erased (the column empty and no
    value: no name is ever empty), or the column's own (formats 1 and 2, the engine's name)."""
    if kept is not None:
        return str(json.loads(kept))
    return ERASED if actor == "" else actor
