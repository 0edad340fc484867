"""Storage: SQLAlchemy 2 Core over SQLite (default) or PostgreSQL, migrated by Alembic.

Nothing above this package imports SQLAlchemy: the service handles connections only as the
opaque :data:`Connection` it gets from :class:`Database` and passes back to the queries here.

The names below are loaded on first use, so that the modules of this package that need no
SQLAlchemy (:mod:`flowengine.store.basics`, :mod:`flowengine.store.direct`) can be imported
without it: a command that reads a few rows through the driver never pays for SQLAlchemy."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from flowengine.store.database import Database, KeyTaken, default_database_path, resolve_url

__all__ = ["Connection", "Database", "KeyTaken", "default_database_path", "resolve_url"]

_WHERE = {"Connection": "sqlalchemy", "Database": "flowengine.store.database", "KeyTaken": "flowengine.store.database",
          "default_database_path": "flowengine.store.database", "resolve_url": "flowengine.store.database"}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value
