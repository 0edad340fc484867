"""Proposals a page at a time through the SQLAlchemy store: the statements of
:mod:`flowengine.store.pages` (SQL text, shared with the driver's own reads) run on a store
connection. See there for what a page is and how it is read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from flowengine.store import pages
from flowengine.store.pages import SORTS, Filter, Group, Key, Listed

__all__ = ["SORTS", "Filter", "Group", "Key", "Listed", "definitions_in_use", "key_of", "page", "reads"]


@dataclass(frozen=True)
class _Reads:
    """A store connection as :class:`flowengine.store.rows.Reads`: the text run as it is
    (``text()`` hands the driver's values through, which :mod:`flowengine.store.rows` converts)."""

    conn: Connection

    @property
    def dialect(self) -> str:
        return str(self.conn.dialect.name)

    def rows(self, sql: str, **params: Any) -> list[Any]:
        return list(self.conn.execute(text(sql), params).all())


def reads(conn: Connection) -> _Reads:
    return _Reads(conn)


def page(conn: Connection, wanted: Filter, *, sort: str, after: Key | None, limit: int) -> list[Listed]:
    """:func:`flowengine.store.pages.page` on a store connection."""
    return pages.page(_Reads(conn), wanted, sort=sort, after=after, limit=limit)


def key_of(conn: Connection, proposal_id: str) -> tuple[Key, str] | None:
    """:func:`flowengine.store.pages.key_of` on a store connection."""
    return pages.key_of(_Reads(conn), proposal_id)


def definitions_in_use(conn: Connection, workflow: str | None = None) -> list[str]:
    """:func:`flowengine.store.pages.definitions_in_use` on a store connection."""
    return pages.definitions_in_use(_Reads(conn), workflow)
