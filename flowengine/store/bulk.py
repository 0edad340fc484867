"""Writing many finished histories at once: proposal rows and their events, batch by batch,
through the driver's ``executemany``.

The service writes one step at a time under an optimistic lock; an import writes histories
that are complete before they reach the database, inside one transaction that the caller owns
(so a failed import leaves nothing behind). On SQLite the rows go to the driver as plain tuples
in the storage format SQLAlchemy's types would produce (naive UTC times as
``YYYY-MM-DD HH:MM:SS.ffffff``, JSON as ``json.dumps`` writes it), and proposals get their
primary keys from the batch itself, which is safe under the write lock every write takes. On
PostgreSQL the same rows go through SQLAlchemy Core, whose types convert them, and the keys
come back with ``RETURNING``. The personal values of events of format 3 go into ``erasable``
before their events (:func:`flowengine.store.erasable.split` says how an event is stored).

Into a SQLite database that holds no events yet (a new one: the usual first import), the
secondary indexes of proposals and events are dropped when the writer starts and built once,
from the stored rows, at the end (:meth:`BulkWriter.finish`), as a restore does
(:mod:`flowengine.store.bulkload`): one sort per index instead of a B-tree insertion per row and
index. It is all in the import's one transaction, so a failed import rolls the drop back with
everything else, and other connections never see the tables without their indexes (they read
the last committed state). The indexes of the unique keys stay (SQLite's own, which cannot be
dropped): every row is checked against them as it comes, as in any other write.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from json.encoder import c_make_encoder, encode_basestring, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

from sqlalchemy import Connection, func, insert, select, text

from flowengine.history.erasure import ACTOR, Committed
from flowengine.history.provenance import DETAILS_KEY
from flowengine.history.records import FROM_KEY
from flowengine.history.steps import EventRow
from flowengine.store.erasable import split
from flowengine.store.schema import erasable, events, proposals

# One proposal: id, prefix, number, workflow, definition_hash, title, description, origin, state,
# fields, created_at, created_by, updated_at, state_entered_at, version, head_hash. Its row's
# mirrors of the creation event (came_from, provenance) are read from the creation's details.
ProposalRow = tuple[str, str, int, str, str, str, str, str, str, dict[str, Any], datetime, str, datetime,
                    datetime, int, str]

_PROPOSAL_NAMES = ("id", "prefix", "number", "workflow", "definition_hash", "title", "description", "origin",
                   "state", "fields", "created_at", "created_by", "updated_at", "state_entered_at", "version",
                   "head_hash", "came_from", "provenance")
_EVENT_NAMES = ("proposal_pk", "seq", "kind", "trigger", "from_state", "to_state", "actor", "role", "at",
                "entered_at", "comment", "changes", "details", "idempotency_key", "prev_hash", "hash", "login",
                "recorded_at", "personal")
SQLITE_PROPOSALS = (f"INSERT INTO proposals (pk, {', '.join(_PROPOSAL_NAMES)}) "
                     f"VALUES ({', '.join('?' * (len(_PROPOSAL_NAMES) + 1))})")
SQLITE_EVENTS = f"INSERT INTO events ({', '.join(_EVENT_NAMES)}) VALUES ({', '.join('?' * len(_EVENT_NAMES))})"


SQLITE_ERASABLE = "INSERT INTO erasable (proposal_pk, seq, item, value, salt) VALUES (?, ?, ?, ?, ?)"


def _sqlite_time(iso: str) -> str:
    """``2024-03-01T09:00:00.000000Z`` → ``2024-03-01 09:00:00.000000``, as SQLAlchemy stores it."""
    return f"{iso[:10]} {iso[11:26]}"


def mirrored(history: Sequence[EventRow]) -> tuple[str | None, str | None]:
    """What the row mirrors of the creation event: the proposal it came from, its provenance's kind."""
    details = history[0].details if history else {}
    came_from = details.get(FROM_KEY)
    recorded = details.get(DETAILS_KEY)
    kind = recorded.get("kind") if isinstance(recorded, dict) else None
    return (came_from if isinstance(came_from, str) else None), (kind if isinstance(kind, str) else None)


def _json_text() -> Callable[[Any], str]:
    """``json.dumps`` with its defaults (what SQLAlchemy's JSON type stores), its C encoder built
    once instead of on every call (an import stores a few JSON objects per event in format 3).
    Without the circularity check, which values read from a log or built by the step builder
    never need; without the C accelerator, ``json.dumps`` itself."""
    if c_make_encoder is None:  # pragma: no cover - CPython always has it
        return json.dumps
    encode = c_make_encoder(None, json.JSONEncoder().default, encode_basestring_ascii, None, ": ", ", ", False, False,
                            True)
    return lambda value: "".join(encode(value, 0))


_dumps = _json_text()
_text: Callable[[str], str] = encode_basestring  # erasure.canonical_text of a text, without its type check


def _sqlite_json(value: dict[str, Any]) -> str:
    return _dumps(value) if value else "{}"


def sqlite_rows(batch: Sequence[tuple[ProposalRow, Sequence[EventRow]]], iso: Sequence[tuple[str, str, str]],
                first: int, kept: list[tuple[Any, ...]] | None = None
                ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The rows of proposals (primary keys from ``first`` on) and of their events, in SQLite's
    storage format, ready for ``executemany`` of :data:`SQLITE_PROPOSALS` and :data:`SQLITE_EVENTS`; a pure
    function, so another process may prepare them (a bulk load does). ``kept``: given, the
    erasable rows of events of format 3 are added to it, for :data:`SQLITE_ERASABLE` (each event
    split once)."""
    rows = []
    for offset, ((proposal, history), (created, updated, entered)) in enumerate(zip(batch, iso, strict=True)):
        (pid, prefix, number, workflow, definition, title, description, origin, state, fields, _c, created_by,
         _u, _s, version, head) = proposal
        rows.append((first + offset, pid, prefix, number, workflow, definition, title, description, origin, state,
                     _sqlite_json(fields), _sqlite_time(created), created_by, _sqlite_time(updated),
                     _sqlite_time(entered), version, head, *mirrored(history)))
    return rows, _sqlite_event_rows(batch, first, kept)


def _sqlite_event_rows(batch: Sequence[tuple[ProposalRow, Sequence[EventRow]]], first: int,
                       kept: list[tuple[Any, ...]] | None) -> list[tuple[Any, ...]]:
    """The events rows of :func:`sqlite_rows`: one loop, once per event of an import. Each time
    is cut to SQLite's storage form once (an event's ``entered_at`` is an earlier event's
    ``at``, and every event of an import has the same ``recorded_at``). An event of format 3
    whose one personal value is its actor's name (an import's every step without a comment) is
    written out here, as :func:`_sqlite_kept_apart` writes it; any other goes through it."""
    found: list[tuple[Any, ...]] = []
    add = found.append
    cut: dict[str | None, str | None] = {}
    for offset, (_, history) in enumerate(batch):
        pk = first + offset
        for (_p, seq, kind, trigger, source, target, actor, role, _a, at, _e, entered, comment, changes, details,
             key, prev, digest, login, _r, recorded, personal) in history:
            at_text = cut.get(at)
            if at_text is None:
                at_text = cut[at] = f"{at[:10]} {at[11:26]}"  # as _sqlite_time cuts it
            entered_text = cut.get(entered)
            if entered_text is None:
                entered_text = cut[entered] = _sqlite_time(entered)
            recorded_text = cut.get(recorded, _UNCUT)
            if recorded_text is _UNCUT:
                recorded_text = cut[recorded] = None if recorded is None else _sqlite_time(recorded)
            if personal is None:
                add((pk, seq, kind, trigger, source, target, actor, role, at_text, entered_text, comment,
                     _dumps(changes) if changes else "{}", _dumps(details) if details else "{}", key, prev, digest,
                     login, recorded_text, None))
            elif len(personal) == 1 and (named := personal.get(ACTOR)) is not None:
                if kept is not None and named.salt is not None:
                    kept.append((pk, seq, ACTOR, _text(actor), named.salt))  # a name: text, as value_text has it
                add((pk, seq, kind, trigger, source, target, "", role, at_text, entered_text, comment,
                     _dumps(changes) if changes else "{}", _dumps(details) if details else "{}", key, prev, digest,
                     login, recorded_text, f'{{"actor": {encode_basestring_ascii(named.digest)}}}'))
            else:
                add(_sqlite_kept_apart(pk, seq, kind, trigger, source, target, actor, role, at_text, entered_text,
                                       comment, changes, details, key, prev, digest, login, recorded_text, personal,
                                       kept))
    return found


_UNCUT = ""  # no time is empty text: what a time not cut yet reads as


DEFERRABLE = ("proposals", "events")  # the tables whose secondary indexes a load or a first import builds last


def secondary_indexes(conn: Connection) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the secondary indexes of proposals and events on SQLite, by
    name; the unique keys' own indexes (which have no statement) are not among them."""
    return [(name, sql) for name, sql in conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        f"AND tbl_name IN ({', '.join(repr(table) for table in DEFERRABLE)}) ORDER BY name")]


def drop_indexes(conn: Connection, indexes: Sequence[tuple[str, str]]) -> None:
    for name, _ in indexes:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')


def build_indexes(conn: Connection, indexes: Sequence[tuple[str, str]]) -> None:
    for _, sql in indexes:
        conn.exec_driver_sql(sql)


def _sqlite_kept_apart(pk: int, seq: int, kind: str, trigger: str | None, source: str | None, target: str,
                       actor: str, role: str, at: str, entered: str, comment: str, changes: dict[str, Any],
                       details: dict[str, Any], key: str | None, prev: str, digest: str, login: str | None,
                       recorded: str | None, personal: Mapping[str, Committed],
                       kept: list[tuple[Any, ...]] | None) -> tuple[Any, ...]:
    """The events row of an event of format 3, its personal values left out as
    :func:`~flowengine.store.erasable.split` says; its erasable rows added to ``kept`` when given."""
    stored = split(actor, comment, changes, personal)
    if kept is not None:
        kept.extend((pk, seq, item, value, salt) for item, value, salt in stored.rows)
    return (pk, seq, kind, trigger, source, target, stored.actor, role, at, entered, stored.comment,
            _dumps(stored.changes) if stored.changes else "{}", _dumps(details) if details else "{}", key,
            prev, digest, login, recorded, _dumps(stored.personal))


def erasable_rows(batch: Sequence[tuple[ProposalRow, Sequence[EventRow]]], pks: Sequence[int]
                  ) -> list[dict[str, Any]]:
    """The ``erasable`` rows of the batch's events of format 3 (their personal values and salts),
    each proposal keyed by its entry in ``pks``."""
    return [{"proposal_pk": pk, "seq": row.seq, "item": item, "value": value, "salt": salt}
            for pk, (_, history) in zip(pks, batch, strict=True) for row in history if row.personal is not None
            for item, value, salt in split(row.actor, row.comment, row.changes, row.personal).rows]


class BulkWriter:
    """Appends batches of new proposals with their histories to one open write transaction;
    :meth:`finish` before it commits."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sqlite = conn.dialect.name == "sqlite"
        self._next_pk = 0
        self._deferred: list[tuple[str, str]] = []
        if self.sqlite:
            self._next_pk = int(conn.execute(select(func.max(proposals.c.pk))).scalar() or 0) + 1
            if conn.exec_driver_sql("SELECT 1 FROM events LIMIT 1").first() is None:
                self._deferred = secondary_indexes(conn)
                drop_indexes(conn, self._deferred)

    def finish(self) -> None:
        """Build the indexes set aside, once, from the stored rows: call it after the last write
        and before the transaction commits (a rollback needs nothing: it restores them)."""
        deferred, self._deferred = self._deferred, []
        build_indexes(self.conn, deferred)

    def write(self, batch: Sequence[tuple[ProposalRow, Sequence[EventRow]]], *, iso: Sequence[tuple[str, str, str]]
              ) -> None:
        """Store each proposal and its events. ``iso``: per proposal, the ``iso_utc`` texts of its
        created_at, updated_at and state_entered_at (what SQLite stores is derived from them)."""
        if not batch:
            return
        if self.sqlite:
            self._write_sqlite(batch, iso)
        else:
            self._write_core(batch)

    def _write_sqlite(self, batch: Sequence[tuple[ProposalRow, Sequence[EventRow]]],
                      iso: Sequence[tuple[str, str, str]]) -> None:
        kept: list[tuple[Any, ...]] = []
        rows, event_rows = sqlite_rows(batch, iso, self._next_pk, kept)
        self.conn.exec_driver_sql(SQLITE_PROPOSALS, rows)
        self._next_pk += len(rows)
        if kept:
            self.conn.exec_driver_sql(SQLITE_ERASABLE, kept)
        self.conn.exec_driver_sql(SQLITE_EVENTS, event_rows)

    def _write_core(self, batch: Sequence[tuple[ProposalRow, Sequence[EventRow]]]) -> None:
        statement = insert(proposals).returning(proposals.c.pk, sort_by_parameter_order=True)
        keys = self.conn.execute(statement, [dict(zip(_PROPOSAL_NAMES, (*row, *mirrored(history)), strict=True))
                                             for row, history in batch])
        pks = [int(pk) for pk in keys.scalars()]
        kept = erasable_rows(batch, pks)
        if kept:  # before the events: PostgreSQL's check of a step's display name reads it there
            self.conn.execute(insert(erasable), kept)
        self.conn.execute(insert(events), [
            {"proposal_pk": pk, "seq": seq, "kind": kind, "trigger": trigger, "from_state": source,
             "to_state": target, "actor": actor, "role": role, "at": at, "entered_at": entered, "comment": comment,
             "changes": changes, "details": details, "idempotency_key": key, "prev_hash": prev, "hash": digest,
             "login": login, "recorded_at": recorded, "personal": None} if personal is None else
            _core_kept_apart(pk, row)
            for pk, (_, history) in zip(pks, batch, strict=True)
            for row in history
            for (_p, seq, kind, trigger, source, target, actor, role, at, _ai, entered, _ei, comment, changes,
                 details, key, prev, digest, login, recorded, _ri, personal) in (row,)
        ])


def _core_kept_apart(pk: int, row: EventRow) -> dict[str, Any]:
    """The events row of an event of format 3 for SQLAlchemy Core, its personal values left out."""
    stored = split(row.actor, row.comment, row.changes, row.personal)
    return {"proposal_pk": pk, "seq": row.seq, "kind": row.kind, "trigger": row.trigger, "from_state": row.from_state,
            "to_state": row.to_state, "actor": stored.actor, "role": row.role, "at": row.at,
            "entered_at": row.entered_at, "comment": stored.comment, "changes": stored.changes,
            "details": row.details, "idempotency_key": row.idempotency_key, "prev_hash": row.prev_hash,
            "hash": row.hash, "login": row.login, "recorded_at": row.recorded_at, "personal": stored.personal}


def taken_ids(conn: Connection) -> set[str]:
    """Every proposal id in the database (ids are unique across workflows)."""
    return set(conn.execute(select(proposals.c.id)).scalars())


def origins(conn: Connection, workflow: str) -> dict[str, str]:
    """origin → proposal id, for the proposals of one workflow (an import records where each came from)."""
    return {origin: pid for pid, origin in conn.execute(
        select(proposals.c.id, proposals.c.origin).where(proposals.c.workflow == workflow)) if origin}


def highest_number(conn: Connection, prefix: str) -> int:
    if conn.dialect.name == "postgresql":  # the rows row-level security hides count too (migration 0007)
        return int(conn.execute(text("SELECT flowengine_next_number(:prefix)"), {"prefix": prefix}).scalar_one()) - 1
    return int(conn.execute(select(func.max(proposals.c.number)).where(proposals.c.prefix == prefix)).scalar() or 0)


def taken_keys(conn: Connection, keys: Iterable[str]) -> set[str]:
    """Those of ``keys`` some stored event already carries as its idempotency key."""
    wanted = list(keys)
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        found.update(conn.execute(select(events.c.idempotency_key)
                                  .where(events.c.idempotency_key.in_(chunk))).scalars())
    return found
