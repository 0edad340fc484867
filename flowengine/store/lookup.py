"""Cheap look-ups for a shell completing a word: a few ids, read without creating, migrating or
waiting on anything."""

from __future__ import annotations

from sqlalchemy import text

from flowengine.store.database import Database

LIMIT = 200  # a shell shows no more than a screenful anyway


def proposal_ids(database: Database, prefix: str = "", limit: int = LIMIT) -> list[str]:
    """The ids of stored proposals starting with ``prefix`` (case as typed), in id order; none for
    a database not created yet."""
    if not database.exists():
        return []
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    with database.read() as conn:
        if not database.engine.dialect.has_table(conn, "proposals"):
            return []
        rows = conn.execute(text("SELECT id FROM proposals WHERE id LIKE :prefix ESCAPE '\\' ORDER BY pk "
                                 "LIMIT :limit"), {"prefix": f"{escaped}%", "limit": limit})
        return [str(row[0]) for row in rows]
