"""Old events sealed again in the erasable form (event format 3): the one update the events table
allows (migration 0009 holds it to that), written in the conversion's transaction."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, text, update

from flowengine.history.records import Event
from flowengine.store import erasable
from flowengine.store.erasable import lock  # the row held until the conversion commits, as an erasure holds it
from flowengine.store.schema import events, proposals

__all__ = ["lock", "move_head", "reseal"]


def move_head(conn: Connection, pk: int, version: int, old_head: str, new_head: str) -> bool:
    """The proposal row's head from ``old_head`` to ``new_head``; False when another writer moved
    the proposal meanwhile (its version or head is not what was read)."""
    result = conn.execute(update(proposals).where(proposals.c.pk == pk, proposals.c.version == version,
                                                  proposals.c.head_hash == old_head).values(head_hash=new_head))
    return int(result.rowcount) == 1


def reseal(conn: Connection, pk: int, old: Event, new: Event) -> bool:
    """Event ``old`` replaced by ``new`` (the same step, sealed again): a format 1 or 2 event's
    personal values go into ``erasable`` and its columns hold the commitments; one of format 3
    only takes its new links. False when the stored event is not ``old`` any more."""
    values: dict[str, Any] = {"prev_hash": new.prev_hash, "hash": new.hash}
    if old.personal is None:
        stored = erasable.split(new.actor, new.comment, dict(new.changes), new.personal)
        erasable.write(conn, pk, new.seq, stored.rows)
        values |= {"actor": stored.actor, "comment": stored.comment, "changes": stored.changes,
                   "personal": stored.personal}
    if conn.dialect.name == "postgresql":  # nobody holds UPDATE on events there: an administrator's function
        return bool(conn.execute(_RESEAL, {
            "pk": pk, "seq": old.seq, "old": old.hash, "actor": values.get("actor"), "comment": values.get("comment"),
            "changes": _json(values.get("changes")), "prev": new.prev_hash, "hash": new.hash,
            "personal": _json(values.get("personal"))}).scalar_one())
    result = conn.execute(update(events).where(events.c.proposal_pk == pk, events.c.seq == old.seq,
                                               events.c.hash == old.hash).values(**values))
    return int(result.rowcount) == 1


_RESEAL = text("SELECT flowengine_reseal(:pk, :seq, :old, :actor, :comment, :changes, :prev, :hash, :personal)")


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
