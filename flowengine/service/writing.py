"""Writing one event of a stored proposal: built by the one step builder, written with the row
it leaves behind under the optimistic lock on the row's version. Shared by the steps, ``tick``
and ``migrate``."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from flowengine import engine as engines
from flowengine.access.grants import Permissions
from flowengine.clock import as_utc, local_text
from flowengine.definition.model import Workflow
from flowengine.errors import ConflictError, InvalidInput, Remedy
from flowengine.history import chain
from flowengine.history.records import ERASED_STEP, Actor, Event, Proposal, Stamp
from flowengine.history.steps import ChainBuilder
from flowengine.i18n import t
from flowengine.service.context import Engine
from flowengine.service.lookup import load
from flowengine.store import Connection, erasable, queries, stepping


@dataclass(frozen=True)
class Opened:
    """A stored proposal a step starts from, with what the login may do and the step's stamp
    (read when first asked, as :meth:`Engine.stamp` reads it, unless the first read had it).
    ``newest_at``: when its newest event took effect, which a step may not precede — the row's
    ``updated_at`` unless an erasure step came after the last real step (erasing is no activity)."""

    pk: int
    proposal: Proposal
    permissions: Permissions
    stamp: Callable[[], Stamp]
    newest_at: datetime
    erasable: bool | None = None  # personal data kept apart (format 3), when the first read had it


def open_step(engine: Engine, conn: Connection, proposal_id: str, key: str | None) -> Opened | Event:
    """The proposal a step changes, or the event of an earlier request with the same ``key``
    (the caller answers with its result). On PostgreSQL one statement reads it all (see
    :mod:`flowengine.store.stepping`); elsewhere, or when the proposal is not in sight (its
    message needs more reads anyway), the reads run one by one."""
    if stepping.stepping(conn):
        wanted = proposal_id.strip().upper()
        read = stepping.read_step(conn, wanted, key=key, with_definition=not engines.any_cached())
        if read is not None:
            if key and read.key_used and (done := queries.event_by_key(conn, key)):
                return done
            if read.definition is not None:
                engines.compiled(read.proposal.definition_hash, *read.definition)
            now = read.now  # the transaction's time, which the event trigger holds the recording to

            def stamp() -> Stamp:
                return engine.stamp(conn) if engine.recording_clock is not None else Stamp.of(engine.login, now)

            return Opened(read.pk, read.proposal, Permissions.of(engine.login, read.grants), stamp,
                          read.newest_at, read.erasable)
    if key and (done := queries.event_by_key(conn, key)):
        return done
    perms = engine.permissions(conn)
    pk, proposal = load(conn, proposal_id)
    return Opened(pk, proposal, perms, lambda: engine.stamp(conn), queries.newest_at(conn, pk, proposal))



def personal_fields(conn: Connection, workflow: Workflow, known: bool | None = None) -> frozenset[str] | None:
    """The fields a workflow marks as personal data, to be sealed as commitments (event format
    3) — in a database that records personal data erasably; None: it does not (format 2).
    ``known``: the setting as a step's first read found it (no further round trip)."""
    if not (erasable.kept_apart(conn) if known is None else known):
        return None
    return frozenset(name for name, spec in workflow.fields.items() if spec.personal)


def next_event(proposal: Proposal, kind: str, actor: Actor, at: datetime, *, stamp: Stamp,
               trigger: str | None = None, to_state: str | None = None, comment: str = "",
               changes: dict[str, Any] | None = None, details: dict[str, Any] | None = None,
               key: str | None = None, personal: Collection[str] | None = None) -> Event:
    """The event after the proposal's newest: out of its state (into ``to_state``, else staying),
    taking effect ``at`` and recorded as ``stamp`` says. ``personal`` given (see
    :func:`personal_fields`): of event format 3, its name, comment and those fields erasable."""
    return ChainBuilder.after(proposal, stamp, personal).step(kind, actor.name, actor.role, at, trigger=trigger,
                                                              to_state=to_state, comment=comment, changes=changes,
                                                              details=details, key=key).event()


def proposal_after(proposal: Proposal, event: Event) -> Proposal:
    """The proposal as one more event leaves it. An erasure step is no activity of the proposal:
    its ``updated_at`` stays what the last real step set."""
    entered = event.at if chain.enters_state(event) else proposal.state_entered_at
    updated = proposal.updated_at if event.kind == ERASED_STEP else event.at
    return replace(proposal, state=event.to_state, fields=chain.apply_changes(proposal.fields, event.changes),
                   updated_at=updated, state_entered_at=entered, head_hash=event.hash, version=event.seq)


def commit_step(conn: Connection, pk: int, proposal: Proposal, event: Event, *, last: bool = False) -> Proposal:
    """Write the row as the event leaves it, and the event, under the optimistic lock. ``last``:
    the transaction ends with it (nothing is written after it), so the store may commit it along."""
    after = proposal_after(proposal, event)
    values = {"state": after.state, "fields": after.fields, "updated_at": after.updated_at,
              "state_entered_at": after.state_entered_at, "head_hash": after.head_hash}
    if stepping.stepping(conn):  # one statement: the update under the lock, the insert (and the erasable values)
        if not stepping.write_step(conn, pk, proposal.version, values, event, last=last):
            raise conflict(conn, pk, proposal)
        return after
    if not queries.update_proposal(conn, pk, proposal.version, values):
        raise conflict(conn, pk, proposal)
    queries.insert_event(conn, pk, event)
    return after


def conflict(conn: Connection, pk: int, proposal: Proposal) -> ConflictError:
    """Someone moved the proposal first: who, when, and where it is now."""
    # Everything from the newest event: under PostgreSQL's READ COMMITTED the row read a
    # moment ago may already be older than it, and the message must not mix the two.
    last = queries.last_event(conn, pk)
    if last is None:
        error = ConflictError(proposal.id, "?", "?", "?", proposal.state)
    else:
        error = ConflictError(proposal.id, last.actor, last.role, local_text(last.at), last.to_state)
    return error.fixed_by(Remedy("show_proposal", proposal.id))


def effective(stamp: Stamp, at: datetime | None, opened: Opened | None = None) -> datetime:
    """When a step took effect: when it is recorded, unless ``at`` says earlier (a decision
    taken at last Tuesday's meeting) — never later than its recording, and never before the
    newest event of the proposal ``opened``, so its history stays in order. (A database made for
    tests or demos, whose clock is simulated, may script steps ahead of its clock.)"""
    if at is None:
        # a recording clock behind another writer's: keep order
        return max(stamp.recorded_at, opened.newest_at) if opened is not None else stamp.recorded_at
    moment = as_utc(at)
    if moment > stamp.recorded_at and not stamp.simulated:
        raise InvalidInput(t("{moment} is in the future: a step takes effect when it is recorded ({now}) or "
                             "before", moment=local_text(moment), now=local_text(stamp.recorded_at)))
    if opened is not None and moment < opened.newest_at:
        refusal = t("{moment} is before the last step of {id} ({newest}): a history is kept in the order it "
                    "happened; give a moment at or after {newest}, or none (now)", moment=local_text(moment),
                    id=opened.proposal.id, newest=local_text(opened.newest_at))
        raise InvalidInput(refusal).fixed_by(Remedy("show_proposal", opened.proposal.id))
    return moment
