"""Writing one event of a stored proposal: built by the one step builder, written with the row
it leaves behind under the optimistic lock on the row's version. Shared by the steps, ``tick``
and ``migrate``."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from flowengine.clock import local_text
from flowengine.errors import ConflictError, Remedy
from flowengine.history import chain
from flowengine.history.records import Actor, Event, Proposal
from flowengine.history.steps import ChainBuilder
from flowengine.store import Connection, queries


def next_event(proposal: Proposal, kind: str, actor: Actor, at: datetime, *, trigger: str | None = None,
               to_state: str | None = None, comment: str = "", changes: dict[str, Any] | None = None,
               details: dict[str, Any] | None = None, key: str | None = None) -> Event:
    """The event after the proposal's newest: out of its state (into ``to_state``, else staying)."""
    return ChainBuilder.after(proposal).step(kind, actor.name, actor.role, at, trigger=trigger, to_state=to_state,
                                             comment=comment, changes=changes, details=details, key=key).event()


def proposal_after(proposal: Proposal, event: Event) -> Proposal:
    """The proposal as one more event leaves it."""
    entered = event.at if chain.enters_state(event) else proposal.state_entered_at
    return replace(proposal, state=event.to_state, fields=chain.apply_changes(proposal.fields, event.changes),
                   updated_at=event.at, state_entered_at=entered, head_hash=event.hash, version=event.seq)


def commit_step(conn: Connection, pk: int, proposal: Proposal, event: Event) -> Proposal:
    """Write the row as the event leaves it, and the event, under the optimistic lock."""
    after = proposal_after(proposal, event)
    if not queries.update_proposal(conn, pk, proposal.version, {
            "state": after.state, "fields": after.fields, "updated_at": after.updated_at,
            "state_entered_at": after.state_entered_at, "head_hash": after.head_hash}):
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
