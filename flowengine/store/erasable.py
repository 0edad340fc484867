"""The personal values of events of format 3, kept apart from the sealed rows so they can be
erased (:mod:`flowengine.history.erasure` says what is sealed instead). Writing splits an event
into its stored columns and its erasable rows; reading puts them back together, an erased value
as ``ERASED``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from flowengine.history.erasure import ACTOR, COMMENT, FIELD, Committed, canonical_text
from flowengine.store.access import put_setting, setting
from flowengine.store.basics import kept_actor as kept_actor
from flowengine.store.rows import Values as Values
from flowengine.store.rows import restore as restore
from flowengine.store.schema import erasable, events, proposals

__all__ = ["ERASABLE", "PERSONAL", "Stored", "Values", "erase", "keep_apart", "kept_actor", "kept_apart", "lock",
           "naming", "restore", "secure_delete", "split", "update_erased", "values_of", "write"]


class Stored(NamedTuple):
    """What the events table holds of an event's personal parts, and its erasable rows
    (item, value as canonical JSON, salt)."""

    actor: str
    comment: str
    changes: dict[str, Any]
    personal: dict[str, str] | None
    rows: list[tuple[str, str, str]]


value_text = canonical_text  # a personal value as its erasable row stores it: what its commitment hashes

def split(actor: str, comment: str, changes: dict[str, Any], personal: Mapping[str, Committed] | None) -> Stored:
    """An event's columns as stored: for format 3 the name left empty, the comment replaced by
    its commitment and each personal field's value in the changes by ``{"erasable": commitment}``
    (as the seal holds it, in its place, so the changes read back in the order they were made),
    each value an erasable row (in the order of the items' names)."""
    if personal is None:
        return Stored(actor, comment, changes, None, [])
    kept_actor, kept_comment = personal.get(ACTOR), personal.get(COMMENT)
    digests = {item: committed.digest for item, committed in personal.items()}
    if len(personal) == (kept_actor is not None) + (kept_comment is not None):
        # the name and the comment only (an import's step: nearly every event), written out
        rows = []
        if kept_actor is not None and kept_actor.salt is not None:
            rows.append((ACTOR, value_text(actor), kept_actor.salt))
        if kept_comment is not None and kept_comment.salt is not None:
            rows.append((COMMENT, value_text(comment), kept_comment.salt))
        return Stored(actor if kept_actor is None else "", comment if kept_comment is None else kept_comment.digest,
                      changes, digests, rows)
    rows = []
    for item, committed in sorted(personal.items()):
        if committed.salt is None:
            continue
        value = actor if item == ACTOR else comment if item == COMMENT else changes[item.removeprefix(FIELD)]
        rows.append((item, value_text(value), committed.salt))
    fields = {item.removeprefix(FIELD): committed.digest for item, committed in personal.items()
              if item.startswith(FIELD)}
    return Stored("" if ACTOR in personal else actor, personal[COMMENT].digest if COMMENT in personal else comment,
                  {name: {"erasable": fields[name]} if name in fields else value for name, value in changes.items()}
                  if fields else changes, digests, rows)


def write(conn: Connection, proposal_pk: int, seq: int, rows: Sequence[tuple[str, str, str]]) -> None:
    """An event's erasable rows, written before the event itself (PostgreSQL's check reads the name there)."""
    if rows:
        conn.execute(insert(erasable), [{"proposal_pk": proposal_pk, "seq": seq, "item": item, "value": value,
                                         "salt": salt} for item, value, salt in rows])


# Built once: an export asks for each batch's values, and a statement built per call costs (and
# keeps) more than running it.
_VALUES = select(erasable.c.proposal_pk, erasable.c.seq, erasable.c.item, erasable.c.value, erasable.c.salt
                 ).where(erasable.c.proposal_pk.in_(bindparam("pks", expanding=True)))


def values_of(conn: Connection, proposal_pks: Iterable[int]) -> Values:
    """Every erasable value of these proposals' events."""
    wanted = sorted(set(proposal_pks))
    found: Values = {}
    for start in range(0, len(wanted), 500):
        for pk, seq, item, value, salt in conn.execute(_VALUES, {"pks": wanted[start:start + 500]}):
            found.setdefault((int(pk), int(seq)), {})[item] = (value, salt)
    return found


def erase(conn: Connection, proposal_pk: int, items: Sequence[tuple[int, str]]) -> int:
    """Delete the values and salts of these (seq, item) of one proposal; how many were there."""
    gone = 0
    for seq, item in items:
        gone += int(conn.execute(delete(erasable).where(erasable.c.proposal_pk == proposal_pk, erasable.c.seq == seq,
                                                        erasable.c.item == item)).rowcount)
    return gone


def naming(conn: Connection, name: str) -> list[str]:
    """The ids of the proposals whose history names ``name`` as who acted, kept apart or sealed in."""
    kept = select(erasable.c.proposal_pk).where(erasable.c.item == ACTOR, erasable.c.value == value_text(name))
    sealed = select(events.c.proposal_pk).where(events.c.actor == name)
    query = select(proposals.c.id).where(proposals.c.pk.in_(kept.union(sealed).scalar_subquery()))
    return sorted(conn.execute(query).scalars())


def update_erased(conn: Connection, pk: int, version: int, *, fields: dict[str, Any], created_by: str) -> bool:
    """The proposal row showing what its history now replays, erased values and all; False when
    another writer moved the proposal past ``version`` meanwhile."""
    result = conn.execute(update(proposals).where(proposals.c.pk == pk, proposals.c.version == version)
                          .values(fields=fields, created_by=created_by))
    return int(result.rowcount) == 1


def lock(conn: Connection, pk: int) -> None:
    """Hold the proposal's row until the transaction ends: a step racing an erasure waits for it
    and then finds the proposal moved (PostgreSQL; SQLite's writers take turns anyway)."""
    if conn.dialect.name != "sqlite":
        conn.execute(select(proposals.c.pk).where(proposals.c.pk == pk).with_for_update())


PERSONAL = "personal"  # the setting: how a database records personal data from now on (migration 0011 sets it)
ERASABLE = "erasable"  # kept apart from the seal (event format 3), so it can be erased


def kept_apart(conn: Connection) -> bool:
    """Whether new events record personal data erasably (event format 3)."""
    return setting(conn, PERSONAL) == ERASABLE


def keep_apart(conn: Connection) -> bool:
    """From now on, new events record personal data erasably; False when they already did."""
    if kept_apart(conn):
        return False
    put_setting(conn, PERSONAL, ERASABLE)
    return True


def secure_delete(conn: Connection) -> None:
    """SQLite overwrites what this connection deletes or replaces from now on with zeros, so an
    erased value does not linger in a free page of the file."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA secure_delete = ON")
