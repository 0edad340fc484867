"""Storage: SQLAlchemy 2 Core over SQLite (default) or PostgreSQL, migrated by Alembic."""

from flowengine.store.database import Database, default_database_path, resolve_url

__all__ = ["Database", "default_database_path", "resolve_url"]
