"""SQLite's side of :mod:`flowengine.store.aggregates`: the same groups and columns, read by one
index seek per group instead of one grouped scan.

A ``GROUP BY`` over ``ix_events_flow`` compares the four group columns of every entry to find
where a group ends; a seek per group — the distinct groups are found first by skipping through
the index, a few dozen seeks — reads each group's entries with no comparison at all. The
answering steps are read the same way, a seek per (source, trigger, target) in
``ix_events_commented``, where one statement with an ``OR`` of them all fetched every commented
step's row from the table. When no event lies after ``until`` (a report as of now, or of a log's
end) the time bound is left out: it holds for every entry, and a text comparison per event is
what it would cost.

Statements are plain text with ``?`` parameters run through the driver (``exec_driver_sql``):
their rows need no conversion, and the time bound is bound as the text SQLAlchemy's own
``DateTime`` binding gives it, so every comparison is the one a Core statement makes. Groups
come back in the order a ``GROUP BY`` gives them (SQLite's ``BINARY`` collation, NULL first),
empty ones left out. The caller owns the transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from flowengine.history.erasure import ACTOR
from flowengine.history.records import ADVANCED, ERASED_STEP, SYSTEM
from flowengine.store.basics import sqlite_text

SEQ_BITS = 24  # an event's key: proposal_pk * 2**24 + seq (aggregates.SEQ_BITS)
_KEY = f"proposal_pk * {1 << SEQ_BITS} + seq"
# As blobs: the driver hands bytes over as they are, where text is decoded to Python's and the
# parser would encode it again.
_COLUMNS = f"count(*), CAST(group_concat({_KEY}) AS BLOB), CAST(group_concat(at) AS BLOB)"
_AFTER = "+at <= ?"  # the unary plus keeps the planner on the covering index, not ix_events_at

GroupKey = tuple[str, str | None, str | None, str]  # kind, source, trigger, target
AnswerKey = tuple[str, str | None, str]  # source, trigger, target


def stored_time(conn: Connection, moment: datetime) -> str:
    """``moment`` as a statement binds it to ``events.at``: the text SQLite compares."""
    return sqlite_text(moment)


def time_bound(conn: Connection, until: datetime | None) -> str | None:
    """The bound to compare event times with (:func:`stored_time`), or None where none is
    needed: no ``until``, or no event after it (one seek in ``ix_events_at``)."""
    if until is None:
        return None
    bound = stored_time(conn, until)
    later = conn.exec_driver_sql("SELECT 1 FROM events WHERE at > ? LIMIT 1", (bound,)).first()
    return bound if later is not None else None


def _order(key: Sequence[str | None]) -> tuple[tuple[bool, str], ...]:
    """SQLite's order of group keys: NULL first, then text by code point (its BINARY collation
    compares UTF-8 bytes, which order as code points do)."""
    return tuple((value is not None, value or "") for value in key)


def flow_groups(conn: Connection, keys: Iterable[GroupKey],
                bound: str | None) -> list[tuple[GroupKey, int, bytes, bytes]]:
    """Each group's count, keys and times (comma-separated ASCII), in ``GROUP BY`` order: one
    covering seek of ``ix_events_flow`` per group."""
    sql = (f"SELECT {_COLUMNS} FROM events WHERE kind = ? AND from_state IS ? AND trigger IS ? AND to_state = ?"
           + (f" AND {_AFTER}" if bound is not None else ""))
    found = []
    for key in sorted(set(keys), key=_order):
        params: tuple[Any, ...] = key if bound is None else (*key, bound)
        count, key_text, time_text = conn.exec_driver_sql(sql, params).one()
        if count:
            found.append((key, int(count), key_text, time_text))
    return found


def commented_groups(conn: Connection, keys: Iterable[AnswerKey],
                     bound: str | None) -> list[tuple[AnswerKey, int, bytes, bytes]]:
    """As :func:`flow_groups` for the steps of each (source, trigger, target) with a comment, by
    anyone but the system: one seek of the partial index ``ix_events_commented`` each (its
    ``comment <> ''`` written as the index's own WHERE, so the planner matches it)."""
    sql = (f"SELECT {_COLUMNS} FROM events WHERE kind = ? AND comment <> '' AND from_state = ? AND trigger IS ?"
           " AND to_state = ? AND role != ?" + (f" AND {_AFTER}" if bound is not None else ""))
    found = []
    for key in sorted(set(keys), key=_order):
        params: tuple[Any, ...] = (ADVANCED, *key, SYSTEM) + (() if bound is None else (bound,))
        count, key_text, time_text = conn.exec_driver_sql(sql, params).one()
        if count:
            found.append((key, int(count), key_text, time_text))
    return found


def last_heard(conn: Connection, pks: Iterable[int],
               until: datetime | None) -> list[tuple[int, str, str, str, str, str, str, str | None]]:
    """For each of the given proposals: pk, id, title, workflow, and of its newest step up to
    ``until`` that is no erasure, the actor column, role, time (stored text) and erasable actor
    value. Per proposal one backward seek along ``(proposal_pk, seq)`` that stops at the first
    step that qualifies, the newest as a rule (the ids bound as one JSON parameter)."""
    wanted = json.dumps(sorted({int(pk) for pk in pks}))
    within = " AND earlier.at <= ?" if until is not None else ""
    sql = ("SELECT p.pk, p.id, p.title, p.workflow, e.actor, e.role, e.at, x.value "
           "FROM json_each(?) AS j JOIN proposals AS p ON p.pk = j.value "
           "JOIN events AS e ON e.pk = (SELECT earlier.pk FROM events AS earlier "
           f"WHERE earlier.proposal_pk = p.pk AND earlier.kind != ?{within} ORDER BY earlier.seq DESC LIMIT 1) "
           "LEFT OUTER JOIN erasable AS x ON x.proposal_pk = e.proposal_pk AND x.seq = e.seq AND x.item = ?")
    params: tuple[Any, ...] = (wanted, ERASED_STEP, *(() if until is None else (stored_time(conn, until),)), ACTOR)
    return [(int(pk), id_, title, workflow, actor, role, at, kept)
            for pk, id_, title, workflow, actor, role, at, kept in conn.exec_driver_sql(sql, params)]
