"""The event table read as an event log: every event with its case's attributes, streamed.

An export may cover millions of events, so rows are fetched in batches and never gathered:
a server-side cursor on PostgreSQL (``yield_per``), ``fetchmany`` on SQLite (whose cursor
steps through the result as it goes). Order is the chain's own: proposal by proposal (prefix,
then number, so INN-2 comes before INN-10), each by seq. The caller owns the transaction; a
read transaction makes every pass of one export see the same moment.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Connection, Select, func, select

from flowengine.history.records import Event
from flowengine.store.queries import EVENT_COLUMNS, event_from_row, personal_values
from flowengine.store.schema import definitions, events, proposals

BATCH_ROWS = 1000


@dataclass(frozen=True)
class Selection:
    """Which events go out: those of some workflows (all when empty), of some kinds (all when empty)."""

    workflows: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()


class LoggedEvent(NamedTuple):
    """One event with the attributes of its case, as an event log carries them."""

    event: Event
    title: str
    workflow: str
    workflow_version: str
    definition_hash: str


_COLUMNS = (*EVENT_COLUMNS, proposals.c.title, proposals.c.workflow, definitions.c.version.label("workflow_version"),
            proposals.c.definition_hash)
_JOINED = events.join(proposals, events.c.proposal_pk == proposals.c.pk).join(
    definitions, proposals.c.definition_hash == definitions.c.content_hash)


def _selected(query: Select[Any], selection: Selection) -> Select[Any]:
    if selection.workflows:
        query = query.where(proposals.c.workflow.in_(selection.workflows))
    if selection.kinds:
        query = query.where(events.c.kind.in_(selection.kinds))
    return query


def logged_events(conn: Connection, selection: Selection = Selection(), *,
                  batch: int | None = None) -> Iterator[LoggedEvent]:
    """Every selected event in chain order, ``batch`` rows (default :data:`BATCH_ROWS`) in memory at a time."""
    size = batch or BATCH_ROWS
    query = _selected(select(*_COLUMNS).select_from(_JOINED), selection).order_by(
        proposals.c.prefix, proposals.c.number, events.c.seq)
    if conn.dialect.name == "postgresql":
        query = query.execution_options(yield_per=size)  # a named (server-side) cursor
    result = conn.execute(query)
    try:
        while True:
            rows = result.fetchmany(size)
            if not rows:
                return
            kept = personal_values(conn, rows)
            for row in rows:
                yield LoggedEvent(event_from_row(row, kept), row.title, row.workflow, row.workflow_version,
                                  row.definition_hash)
            del rows  # let the batch go before the next is fetched: one batch in memory, not two
    finally:
        result.close()


def count_events(conn: Connection, selection: Selection = Selection()) -> int:
    """How many events an export of ``selection`` writes (for a progress bar's total)."""
    query = _selected(select(func.count()).select_from(
        events.join(proposals, events.c.proposal_pk == proposals.c.pk)), selection)
    return int(conn.execute(query).scalar_one())


def activities(conn: Connection, selection: Selection = Selection()) -> list[str]:
    """The distinct states the selected events leave their proposals in, in name order."""
    query = _selected(select(events.c.to_state).distinct().select_from(
        events.join(proposals, events.c.proposal_pk == proposals.c.pk)), selection)
    return sorted(conn.execute(query).scalars())


def stored_definitions(conn: Connection, hashes: Sequence[str] | None = None) -> Iterator[tuple[str, str, str]]:
    """(content hash, YAML text, source) of stored definitions, all of them when ``hashes`` is None."""
    query = select(definitions.c.content_hash, definitions.c.text, definitions.c.source).order_by(
        definitions.c.content_hash)
    if hashes is not None:
        query = query.where(definitions.c.content_hash.in_(hashes))
    for row in conn.execute(query):
        yield row.content_hash, row.text, row.source
