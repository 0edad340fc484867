"""Every SQL statement flowengine runs, as small functions over one open connection.

The caller owns the transaction; nothing here commits. Rows become :mod:`flowengine.records`
at this boundary, so no other module sees SQLAlchemy rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from flowengine.model import content_hash
from flowengine.records import Event, Proposal, Step, Trail
from flowengine.store.schema import definitions, events, proposals


def definition_text(conn: Connection, content_hash: str) -> tuple[str, str] | None:
    """(YAML text, source name) of a stored definition."""
    row = conn.execute(select(definitions.c.text, definitions.c.source)
                       .where(definitions.c.content_hash == content_hash)).first()
    return (row.text, row.source) if row else None


def has_definition(conn: Connection, content_hash: str) -> bool:
    return conn.execute(select(definitions.c.content_hash)
                        .where(definitions.c.content_hash == content_hash)).first() is not None


def insert_definition(conn: Connection, *, content_hash: str, workflow: str, version: str, source: str,
                      text: str, at: datetime) -> None:
    conn.execute(insert(definitions).values(content_hash=content_hash, workflow=workflow, version=version,
                                            source=source, text=text, stored_at=at))


def next_number(conn: Connection, prefix: str) -> int:
    highest = conn.execute(select(func.max(proposals.c.number)).where(proposals.c.prefix == prefix)).scalar()
    return int(highest or 0) + 1


def insert_proposal(conn: Connection, proposal: Proposal, *, prefix: str, number: int) -> int:
    """Store a new proposal row; its workflow version lives with its definition, not here."""
    result = conn.execute(insert(proposals).values(
        id=proposal.id, prefix=prefix, number=number, workflow=proposal.workflow,
        definition_hash=proposal.definition_hash, title=proposal.title, description=proposal.description,
        origin=proposal.origin, state=proposal.state, fields=proposal.fields, created_at=proposal.created_at,
        created_by=proposal.created_by, updated_at=proposal.updated_at, state_entered_at=proposal.state_entered_at,
        version=proposal.version, head_hash=proposal.head_hash,
    ).returning(proposals.c.pk))
    return int(result.scalar_one())


_PROPOSAL_COLUMNS = (
    proposals.c.pk, proposals.c.id, proposals.c.workflow, definitions.c.version.label("workflow_version"),
    proposals.c.definition_hash, proposals.c.title, proposals.c.description, proposals.c.origin,
    proposals.c.state, proposals.c.fields, proposals.c.created_at, proposals.c.updated_at,
    proposals.c.state_entered_at, proposals.c.version, proposals.c.head_hash, proposals.c.created_by,
)
_PROPOSALS = select(*_PROPOSAL_COLUMNS).join_from(
    proposals, definitions, proposals.c.definition_hash == definitions.c.content_hash)


def _proposal(row: Any) -> Proposal:  # a Row of _PROPOSAL_COLUMNS
    return Proposal(
        id=row.id, workflow=row.workflow, workflow_version=row.workflow_version,
        definition_hash=row.definition_hash, title=row.title, description=row.description, origin=row.origin,
        state=row.state, fields=dict(row.fields), created_at=row.created_at, updated_at=row.updated_at,
        state_entered_at=row.state_entered_at, version=row.version, head_hash=row.head_hash,
        created_by=row.created_by,
    )


_PROPOSAL_BY_ID = _PROPOSALS.where(proposals.c.id == bindparam("proposal_id"))


def load_proposal(conn: Connection, proposal_id: str) -> tuple[int, Proposal] | None:
    row = conn.execute(_PROPOSAL_BY_ID, {"proposal_id": proposal_id}).first()
    return (row.pk, _proposal(row)) if row else None


def load_proposals(conn: Connection, *, workflow: str | None = None, state: str | None = None) -> list[Proposal]:
    query = _PROPOSALS.order_by(proposals.c.prefix, proposals.c.number)
    if workflow:
        query = query.where(proposals.c.workflow == workflow)
    if state:
        query = query.where(proposals.c.state == state)
    return [_proposal(row) for row in conn.execute(query)]


def proposal_ids(conn: Connection) -> list[str]:
    return list(conn.execute(select(proposals.c.id).order_by(proposals.c.prefix, proposals.c.number)).scalars())


_STEP_COLUMNS = ("state", "fields", "updated_at", "state_entered_at", "head_hash")
# Built once with bound parameters: building a statement with literal values per call costs
# more than executing it (the compiled form is cached, the per-call construction is not).
_UPDATE_STEP = (
    update(proposals)
    .where(proposals.c.pk == bindparam("b_pk"), proposals.c.version == bindparam("b_version"))
    .values(version=bindparam("b_new_version"), **{name: bindparam(name) for name in _STEP_COLUMNS})
)
_INSERT_EVENT = insert(events)


def update_proposal(conn: Connection, pk: int, expected_version: int, values: dict[str, Any]) -> bool:
    """Optimistic lock: the row changes only if nobody moved it past ``expected_version``.
    ``values`` gives every one of state, fields, updated_at, state_entered_at and head_hash."""
    params = {name: values[name] for name in _STEP_COLUMNS}
    result = conn.execute(_UPDATE_STEP, {"b_pk": pk, "b_version": expected_version,
                                         "b_new_version": expected_version + 1, **params})
    return result.rowcount == 1


def insert_event(conn: Connection, proposal_pk: int, event: Event) -> None:
    conn.execute(_INSERT_EVENT, {
        "proposal_pk": proposal_pk, "seq": event.seq, "kind": event.kind, "trigger": event.trigger,
        "from_state": event.from_state, "to_state": event.to_state, "actor": event.actor, "role": event.role,
        "at": event.at, "entered_at": event.entered_at, "comment": event.comment, "changes": event.changes,
        "details": event.details, "idempotency_key": event.idempotency_key, "prev_hash": event.prev_hash,
        "hash": event.hash,
    })


_EVENT_COLUMNS = (
    proposals.c.id.label("proposal"), events.c.seq, events.c.kind, events.c.trigger, events.c.from_state,
    events.c.to_state, events.c.actor, events.c.role, events.c.at, events.c.entered_at, events.c.comment,
    events.c.changes, events.c.details, events.c.idempotency_key, events.c.prev_hash, events.c.hash,
)
_EVENTS = select(*_EVENT_COLUMNS).join_from(events, proposals, events.c.proposal_pk == proposals.c.pk)


def _event(row: Any) -> Event:  # a Row of _EVENT_COLUMNS
    return Event(
        proposal=row.proposal, seq=row.seq, kind=row.kind, trigger=row.trigger, from_state=row.from_state,
        to_state=row.to_state, actor=row.actor, role=row.role, at=row.at, entered_at=row.entered_at,
        comment=row.comment, changes=dict(row.changes), details=dict(row.details),
        idempotency_key=row.idempotency_key, prev_hash=row.prev_hash, hash=row.hash,
    )


def events_of(conn: Connection, proposal_pk: int, *, until: datetime | None = None) -> list[Event]:
    query = _EVENTS.where(events.c.proposal_pk == proposal_pk).order_by(events.c.seq)
    if until is not None:
        query = query.where(events.c.at <= until)
    return [_event(row) for row in conn.execute(query)]


def last_event(conn: Connection, proposal_pk: int) -> Event | None:
    row = conn.execute(_EVENTS.where(events.c.proposal_pk == proposal_pk)
                       .order_by(events.c.seq.desc()).limit(1)).first()
    return _event(row) if row else None


def event_by_key(conn: Connection, idempotency_key: str) -> Event | None:
    row = conn.execute(_EVENTS.where(events.c.idempotency_key == idempotency_key)).first()
    return _event(row) if row else None


def histories(conn: Connection, *, until: datetime | None = None,
              workflow: str | None = None) -> Iterator[tuple[Proposal, list[Event]]]:
    """Every proposal with its events in order, streamed proposal by proposal (for audits and
    as-of views); events are fetched in the physical order the chain must have, by seq."""
    query = _EVENTS.order_by(proposals.c.prefix, proposals.c.number, events.c.seq)
    if until is not None:
        query = query.where(events.c.at <= until)
    if workflow:
        query = query.where(proposals.c.workflow == workflow)
    by_id = {p.id: p for p in load_proposals(conn, workflow=workflow)}
    current: list[Event] = []
    for row in conn.execute(query):
        event = _event(row)
        if current and current[0].proposal != event.proposal:
            yield by_id.pop(current[0].proposal), current
            current = []
        current.append(event)
    if current:
        yield by_id.pop(current[0].proposal), current
    if until is None:
        for proposal in by_id.values():  # proposals whose events are all gone
            yield proposal, []


def last_events(conn: Connection, *, workflow: str | None = None) -> dict[str, Event]:
    """Each proposal's newest event, in one query (the row's version is its last seq)."""
    query = _EVENTS.where(events.c.seq == proposals.c.version)
    if workflow:
        query = query.where(proposals.c.workflow == workflow)
    return {row.proposal: _event(row) for row in conn.execute(query)}


def altered_definitions(conn: Connection) -> Iterator[str]:
    """Stored definitions whose text no longer matches the hash they are filed under."""
    for row in conn.execute(select(definitions.c.content_hash, definitions.c.text, definitions.c.workflow)):
        if content_hash(row.text) != row.content_hash:
            yield f"{row.workflow} {row.content_hash[:12]}"


_TRAIL_COLUMNS = (
    proposals.c.id, proposals.c.title, proposals.c.workflow, proposals.c.definition_hash, events.c.kind,
    events.c.trigger, events.c.from_state, events.c.to_state, events.c.actor, events.c.role, events.c.at,
    (events.c.comment != "").label("commented"),
)


def trails(conn: Connection, *, until: datetime | None = None, workflow: str | None = None) -> Iterator[Trail]:
    """Each proposal's history as the stall analysis needs it, streamed: no payload columns, so
    the scan stays cheap on large logs. Proposals with no event by ``until`` are left out."""
    query = (select(*_TRAIL_COLUMNS).join_from(events, proposals, events.c.proposal_pk == proposals.c.pk)
             .order_by(proposals.c.prefix, proposals.c.number, events.c.seq))
    if until is not None:
        query = query.where(events.c.at <= until)
    if workflow:
        query = query.where(proposals.c.workflow == workflow)
    current: list[Step] = []
    head: Any = None
    for row in conn.execute(query):
        if head is not None and row.id != head.id:
            yield Trail(head.id, head.title, head.workflow, tuple(current), head.definition_hash)
            current = []
        head = head if current else row
        current.append(Step(row.kind, row.trigger, row.from_state, row.to_state, row.actor, row.role, row.at,
                            bool(row.commented)))
    if head is not None:
        yield Trail(head.id, head.title, head.workflow, tuple(current), head.definition_hash)


def workflows_in_use(conn: Connection) -> list[str]:
    """Workflow ids that have proposals, in name order."""
    return list(conn.execute(select(proposals.c.workflow).distinct().order_by(proposals.c.workflow)).scalars())


def newest_definition(conn: Connection, workflow: str) -> tuple[str, str, str] | None:
    """The most recently stored definition of a workflow id: (hash, text, source)."""
    row = conn.execute(select(definitions.c.content_hash, definitions.c.text, definitions.c.source)
                       .where(definitions.c.workflow == workflow)
                       .order_by(definitions.c.stored_at.desc(), definitions.c.content_hash).limit(1)).first()
    return (row.content_hash, row.text, row.source) if row else None
