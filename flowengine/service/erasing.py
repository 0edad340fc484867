"""Erasure that keeps the proof: a person's name, a proposal's comments or a personal field
erased on request, the history still verifying.

Only the values of events of format 3 can be erased: their seals hold salted commitments, and
the values with their salts live apart (:mod:`flowengine.store.erasable`). Erasing deletes them,
puts ``[erased]`` into the proposal's row where it showed them (its creator's name, a field),
and records an erasure step in each proposal's history saying who erased which kind of data,
when, and on whose request — never the value. It takes the admin capability. On SQLite the
erasing transaction runs with ``secure_delete`` and the write-ahead log is checkpointed and
truncated after it, so the bytes are gone from the file too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flowengine.errors import ConflictError, InvalidInput
from flowengine.history import chain
from flowengine.history.erasure import ACTOR, COMMENT, field_item
from flowengine.history.records import ERASED_STEP, Actor, Event, Proposal
from flowengine.i18n import t
from flowengine.service.context import Engine
from flowengine.service.lookup import load
from flowengine.service.writing import commit_step, conflict, next_event
from flowengine.store import Connection, erasable, queries

__all__ = ["ErasureRequest", "ErasureResult", "erase", "keep_apart"]

_ATTEMPTS = 5  # a proposal moved by another writer meanwhile: read it again and erase again


@dataclass(frozen=True)
class ErasureRequest:
    """What to erase: every step's display name ``actor`` (in every proposal), or in one
    ``proposal`` its ``field`` values, its ``comments``, or (neither given) all its personal values."""

    actor: str | None = None
    proposal: str | None = None
    field: str | None = None
    comments: bool = False
    request: str | None = None  # on whose request (a case number, a letter's reference)

    def kinds(self) -> list[str]:
        if self.actor is not None:
            return [ACTOR]
        found = ([field_item(self.field)] if self.field else []) + ([COMMENT] if self.comments else [])
        return found or ["all"]

    def wants(self, item: str, value: Any) -> bool:
        if self.actor is not None:
            return item == ACTOR and value == self.actor
        if not self.field and not self.comments:
            return True
        return (self.field is not None and item == field_item(self.field)) or (self.comments and item == COMMENT)


@dataclass(frozen=True)
class ErasureResult:
    """What was erased: values per proposal, and the steps of formats 1 and 2 that still hold
    matching values sealed in (they need converting first)."""

    erased: dict[str, int]
    sealed_in: dict[str, int]

    @property
    def values(self) -> int:
        return sum(self.erased.values())

    def as_dict(self) -> dict[str, Any]:
        return {"erased": self.erased, "values": self.values, "sealed_in": self.sealed_in}


def erase(engine: Engine, wanted: ErasureRequest, *, by: Actor) -> ErasureResult:
    """Erase what ``wanted`` names, as ``by`` (who must hold the admin capability)."""
    if (wanted.actor is None) == (wanted.proposal is None):
        raise InvalidInput(t("say what to erase: a display name, or a proposal"))
    if wanted.request is not None and len(wanted.request) > 200:
        raise InvalidInput(t("a request reference is at most 200 characters"))
    for attempt in range(_ATTEMPTS):
        try:
            result = engine.transaction(lambda conn: _erase(engine, conn, wanted, by), operation="erase")
        except ConflictError:
            if attempt + 1 == _ATTEMPTS:
                raise
            continue
        engine.database.truncate_log()
        return result
    raise AssertionError("unreachable")


def keep_apart(engine: Engine) -> bool:
    """From now on, record personal data erasably (event format 3) in this database (admin only);
    False when it already did. Histories recorded before keep their format."""

    def write(conn: Connection) -> bool:
        engine.permissions(conn).check_admin(t("record personal data erasably"))
        return erasable.keep_apart(conn)

    return engine.transaction(write, operation="erasable personal data")


def _erase(engine: Engine, conn: Connection, wanted: ErasureRequest, by: Actor) -> ErasureResult:
    engine.permissions(conn).check_admin(t("erase personal data"))
    erasable.secure_delete(conn)
    ids = [wanted.proposal] if wanted.proposal is not None else erasable.naming(conn, wanted.actor or "")
    targets = []
    for pid in ids:
        pk, _ = load(conn, pid)
        erasable.lock(conn, pk)
        targets.append(load(conn, pid))  # as it stands now that nobody else can move it
    erased: dict[str, int] = {}
    sealed_in: dict[str, int] = {}
    for pk, proposal in targets:
        events = queries.events_of(conn, pk)
        # the erasure steps themselves record who erased: a proposal's erasure leaves them
        items = [(event.seq, item) for event in events if event.personal is not None
                 and (event.kind != ERASED_STEP or wanted.actor is not None)
                 for item, committed in sorted(event.personal.items())
                 if not committed.erased and wanted.wants(item, chain.personal_value(event, item))]
        stuck = sum(1 for event in events if event.personal is None and _holds(wanted, event))
        if stuck:
            sealed_in[proposal.id] = stuck
        if not items:
            continue
        erased[proposal.id] = erasable.erase(conn, pk, items)
        _record(engine, conn, pk, proposal, wanted, by, len(items))
    return ErasureResult(erased, sealed_in)


def _holds(wanted: ErasureRequest, event: Event) -> bool:
    """Whether an event of format 1 or 2 holds, sealed in, a value the request names."""
    if wanted.actor is not None:
        return event.actor == wanted.actor
    if wanted.field:
        return event.changes.get(wanted.field) is not None
    return bool(event.comment) if wanted.comments else True


def _record(engine: Engine, conn: Connection, pk: int, proposal: Proposal, wanted: ErasureRequest, by: Actor,
            count: int) -> None:
    """The row as the history now replays (names and fields erased), and the erasure step."""
    events = queries.events_of(conn, pk)
    replayed = chain.replay(events)
    if not erasable.update_erased(conn, pk, proposal.version, fields=replayed.fields, created_by=events[0].actor):
        raise conflict(conn, pk, proposal)
    now = queries.load_proposal(conn, proposal.id)
    assert now is not None
    current = now[1]
    stamp = engine.stamp(conn)
    details: dict[str, Any] = {"erased": wanted.kinds(), "values": count}
    if wanted.request:
        details["request"] = wanted.request
    # dated when it was erased, after the newest event (the row's updated_at stays the last real step's)
    event = next_event(current, ERASED_STEP, by, max(stamp.recorded_at, events[-1].at), stamp=stamp,
                       details=details, personal=frozenset())
    commit_step(conn, pk, current, event)


