"""Storage: SQLAlchemy 2 Core over SQLite (default) or PostgreSQL, migrated by Alembic.

Nothing above this package imports SQLAlchemy: the service handles connections only as the
opaque :data:`Connection` it gets from :class:`Database` and passes back to the queries here."""

from sqlalchemy import Connection

from flowengine.store.database import Database, KeyTaken, default_database_path, resolve_url

__all__ = ["Connection", "Database", "KeyTaken", "default_database_path", "resolve_url"]
