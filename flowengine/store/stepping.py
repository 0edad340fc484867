"""One step of a stored proposal on PostgreSQL in two statements: one read, one write.

Over a network every statement is a round trip, and a step used to send five (the login's
grants, the proposal row, the database's time, the row's update, the event's insert). Here:

- :func:`read_step` reads in one statement what a step needs before it can be built: the
  proposal row with its definition's version (the chain head is the row's ``head_hash`` and
  ``version``), when the newest event took effect (a step may not precede it; an erasure step
  leaves the row's ``updated_at`` as it was), the database's time (``now()``, the transaction's start, which the event
  trigger of migration 0007 holds the recorded time to), the grants of the session's login,
  whether the request's idempotency key was used, and — when asked — the definition's text;
- :func:`write_step` writes the row under its optimistic lock and inserts the sealed event in
  one data-modifying statement: ``WITH moved AS (UPDATE … WHERE pk = … AND version = …
  RETURNING pk), written AS (INSERT INTO events … SELECT … FROM moved) SELECT pk FROM moved``.
  When another writer moved the row first, the update matches nothing, so nothing is inserted
  and no row comes back. An event of format 3 adds its erasable values to the same statement
  (``kept AS (INSERT INTO erasable … SELECT … FROM moved, unnest(…))``); the event trigger
  checks the display name there once the statement's parts are done (it runs after the insert
  since migration 0011).

Row-level security and the event trigger apply to both exactly as to the separate statements:
the read sees only what the login may read, the update only rows it may write, and the insert
goes through the trigger that checks ``session_user``, the role and ``now()``.

Both run on the driver's connection (:mod:`.driver`), prepared on the server once per
connection: SQLAlchemy's execution bookkeeping was more than half of a step's client time. The
read goes with the transaction's ``BEGIN`` in one round trip; the write of a step that ends its
transaction (``last``) goes with its ``COMMIT``: a step is two round trips in all.

SQLite, in process and with no round trips, keeps its separate statements (:mod:`.queries`'
driver path), and so does any read that finds no row (a mistyped id, or one out of the
login's sight), whose message needs more reads anyway.
"""

from __future__ import annotations

import weakref
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ARRAY, JSON, Connection, Dialect, Integer, Text, bindparam, exists, func, insert, select, update
from sqlalchemy.sql.expression import Select

from flowengine.clock import as_utc
from flowengine.history.records import Event, Proposal
from flowengine.store.driver import DriverStatement
from flowengine.store.erasable import ERASABLE, PERSONAL, split
from flowengine.store.queries import EVENT_KEYS, NEWEST_AT, PROPOSAL_COLUMNS, STEP_COLUMNS, proposal_from_row
from flowengine.store.schema import definitions, erasable, events, grants, proposals, settings

STEPPING_DIALECTS = frozenset({"postgresql"})

# An event of format 1 or 2 leaves ``personal`` NULL; one of format 3 writes it too.
WRITTEN_KEYS = [name for name in EVENT_KEYS if name != "personal"]
_KEPT_KEYS = ("item", "value", "salt")  # an erasable row's own columns, each bound as an array


class StepRead(NamedTuple):
    """What :func:`read_step` found: the proposal and everything about the session a step needs."""

    pk: int
    proposal: Proposal
    now: datetime  # the database's time: the transaction's start on PostgreSQL
    grants: tuple[tuple[str, str], ...]  # the login's (workflow, role) pairs
    key_used: bool  # the request's idempotency key is on an event already
    definition: tuple[str, str] | None  # (text, source) of the proposal's definition, when asked
    erasable: bool  # the database records personal data erasably (event format 3)
    newest_at: datetime  # when the newest event took effect (an erasure step's time, too)


def _read_statement(with_definition: bool) -> Select[Any]:
    held = (select(func.json_agg(func.json_build_array(grants.c.workflow, grants.c.role), type_=JSON))
            .where(grants.c.login == func.session_user()).scalar_subquery())
    key_used = exists().where(events.c.idempotency_key == bindparam("key"))
    kept_apart = exists().where(settings.c.name == PERSONAL, settings.c.value == ERASABLE)
    extra = (definitions.c.text.label("definition_text"), definitions.c.source.label("definition_source")) \
        if with_definition else ()
    return (select(*PROPOSAL_COLUMNS, func.now().label("now"), held.label("held"), key_used.label("key_used"),
                   kept_apart.label("erasable"),
                   NEWEST_AT.label("newest_at"), *extra)
            .join_from(proposals, definitions, proposals.c.definition_hash == definitions.c.content_hash)
            .where(proposals.c.id == bindparam("proposal_id")))


def _write_statement(kept_apart: bool) -> Select[Any]:
    moved = (update(proposals)
             .where(proposals.c.pk == bindparam("b_pk"), proposals.c.version == bindparam("b_version"))
             .values(version=bindparam("b_new_version"), **{name: bindparam(name) for name in STEP_COLUMNS})
             .returning(proposals.c.pk).cte("moved"))
    keys = EVENT_KEYS if kept_apart else WRITTEN_KEYS
    # each value typed as its column, so the driver sends it as such (JSON, times) and the
    # server need not guess the type of a parameter in a select list
    values = select(moved.c.pk, *(bindparam(f"e_{name}", type_=events.c[name].type) for name in keys[1:]))
    written = insert(events).from_select(keys, values).cte("written")
    # What says whether the row moved (and so the event went in, or the statement failed): the
    # updated row's key, selected from the CTE. The inserts return nothing: an INSERT … RETURNING
    # also checks every new row against its table's read policy, a second probe of the proposal
    # (and two more calls of the policies' helpers) per table and step, for rows the insert
    # policy has checked already.
    statement = select(moved.c.pk)
    if kept_apart:  # the erasable values first, as before: a taken event number is met there
        rows = select(moved.c.pk, bindparam("k_seq", type_=Integer),
                      *(func.unnest(bindparam(f"k_{name}", type_=ARRAY(Text))) for name in _KEPT_KEYS))
        statement = statement.add_cte(insert(erasable).from_select(["proposal_pk", "seq", *_KEPT_KEYS], rows)
                                      .cte("kept"))
    return statement.add_cte(written)


_STATEMENTS: weakref.WeakKeyDictionary[Dialect, dict[str, DriverStatement]] = weakref.WeakKeyDictionary()


def _statement(conn: Connection, name: str) -> DriverStatement:
    """Built and rendered once per dialect: composing these per call costs more than running them."""
    known = _STATEMENTS.setdefault(conn.dialect, {})
    if name not in known:
        if name.startswith("write"):
            known[name] = DriverStatement(_write_statement(name == "write+kept"), conn.dialect)
        else:
            read = DriverStatement(_read_statement(name == "read+definition"), conn.dialect)
            # the writes prepared on the server along with the read, before its transaction begins
            read.companions = (_statement(conn, "write"), _statement(conn, "write+kept"))
            known[name] = read
    return known[name]


def stepping(conn: Connection) -> bool:
    """Whether this connection's database takes a step in two statements."""
    return conn.dialect.name in STEPPING_DIALECTS


def read_step(conn: Connection, proposal_id: str, *, key: str | None, with_definition: bool) -> StepRead | None:
    """The proposal ``proposal_id`` (as stored: capitals) with the session's facts, in one
    statement; None when the login sees no such proposal."""
    statement = _statement(conn, "read+definition" if with_definition else "read")
    raw = statement.first(conn, {"proposal_id": proposal_id, "key": key})
    if raw is None:
        return None
    row = statement.row(raw)
    held = tuple((str(workflow), str(role)) for workflow, role in row.held or ())
    definition = (row.definition_text, row.definition_source) if with_definition else None
    return StepRead(row.pk, proposal_from_row(row), as_utc(row.now), held, bool(row.key_used), definition,
                    bool(row.erasable), as_utc(row.newest_at if row.newest_at is not None else row.updated_at))


def write_step(conn: Connection, pk: int, expected_version: int, values: dict[str, Any], event: Event, *,
               last: bool = False) -> bool:
    """The row as the event leaves it and the event, in one statement, under the optimistic
    lock; False (and nothing written) when the row is no longer at ``expected_version``.
    ``values`` gives every one of state, fields, updated_at, state_entered_at and head_hash.
    ``last``: the transaction writes nothing after it, and commits in the same round trip."""
    params: dict[str, Any] = {name: values[name] for name in STEP_COLUMNS}
    params.update(b_pk=pk, b_version=expected_version, b_new_version=expected_version + 1)
    params.update({f"e_{name}": getattr(event, name) for name in WRITTEN_KEYS[1:]})
    statement = _statement(conn, "write")
    if event.personal is not None:
        stored = split(event.actor, event.comment, event.changes, event.personal)
        params.update(e_actor=stored.actor, e_comment=stored.comment, e_changes=stored.changes,
                      e_personal=stored.personal, k_seq=event.seq)
        params.update({f"k_{name}": [row[i] for row in stored.rows] for i, name in enumerate(_KEPT_KEYS)})
        statement = _statement(conn, "write+kept")
    if last:
        return statement.last(conn, params) is not None
    return statement.run(conn, params).fetchone() is not None
