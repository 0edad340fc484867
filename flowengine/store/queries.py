"""Every SQL statement flowengine runs, as small functions over one open connection.

The caller owns the transaction; nothing here commits. Rows become :mod:`flowengine.history.records`
at this boundary, so no other module sees SQLAlchemy rows.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from itertools import groupby
from operator import attrgetter
from typing import Any

from sqlalchemy import Connection, Dialect, and_, bindparam, func, insert, select, text, update

from flowengine.clock import as_utc
from flowengine.definition.model import content_hash
from flowengine.definition.versions import StoredDefinition
from flowengine.history.erasure import ACTOR
from flowengine.history.records import ERASED_STEP, Event, Proposal, Step, Trail
from flowengine.store import erasable
from flowengine.store.driver import DriverStatement as _DriverStatement
from flowengine.store.erasable import kept_actor
from flowengine.store.rows import event_from_row as event_from_row
from flowengine.store.rows import proposal_from_row as proposal_from_row
from flowengine.store.schema import definitions, events, proposals
from flowengine.store.schema import erasable as erasable_table

# -- the hot path: one step is a read, an update and an insert ---------------------------------
#
# SQLAlchemy's per-execution bookkeeping costs several times what SQLite itself spends on these
# small statements, and a step runs three of them: on SQLite they run on the driver's cursor
# (:mod:`flowengine.store.driver`). PostgreSQL takes a step in two statements of its own
# (:mod:`flowengine.store.stepping`, on the same driver path) and keeps the ordinary path here.
# Both store and read the very same values (tests/test_hot_path.py compares the stored bytes).

_DRIVER_PATH_DIALECTS = frozenset({"sqlite"})


_DRIVER_STATEMENTS: weakref.WeakKeyDictionary[Dialect, dict[str, _DriverStatement]] = weakref.WeakKeyDictionary()


def _driver_statement(conn: Connection, name: str, build: Callable[[Dialect], _DriverStatement]) -> \
        _DriverStatement | None:
    """The statement for the connection's dialect, or None where the ordinary path is used."""
    dialect = conn.dialect
    if dialect.name not in _DRIVER_PATH_DIALECTS:
        return None
    known = _DRIVER_STATEMENTS.setdefault(dialect, {})
    found = known.get(name)
    if found is None:
        found = known[name] = build(dialect)
    return found


_DEFINITION_TEXT = select(definitions.c.text, definitions.c.source).where(
    definitions.c.content_hash == bindparam("content_hash"))


def definition_text(conn: Connection, content_hash: str) -> tuple[str, str] | None:
    """(YAML text, source name) of a stored definition."""
    driver = _driver_statement(conn, "definition_text", lambda d: _DriverStatement(_DEFINITION_TEXT, d))
    if driver is not None:
        raw = driver.run(conn, {"content_hash": content_hash}).fetchone()
        return (str(raw[0]), str(raw[1])) if raw else None
    row = conn.execute(_DEFINITION_TEXT, {"content_hash": content_hash}).first()
    return (row.text, row.source) if row else None


def has_definition(conn: Connection, content_hash: str) -> bool:
    return conn.execute(select(definitions.c.content_hash)
                        .where(definitions.c.content_hash == content_hash)).first() is not None


def insert_definition(conn: Connection, *, content_hash: str, workflow: str, version: str, source: str,
                      text: str, at: datetime) -> None:
    conn.execute(insert(definitions).values(content_hash=content_hash, workflow=workflow, version=version,
                                            source=source, text=text, stored_at=at))


def next_number(conn: Connection, prefix: str) -> int:
    """The next free number of ``prefix``, counting the rows the login cannot see too (PostgreSQL's
    row-level security hides other workflows' proposals; migration 0007's function sees them)."""
    if conn.dialect.name == "postgresql":
        return int(conn.execute(text("SELECT flowengine_next_number(:prefix)"), {"prefix": prefix}).scalar_one())
    highest = conn.execute(select(func.max(proposals.c.number)).where(proposals.c.prefix == prefix)).scalar()
    return int(highest or 0) + 1


def insert_proposal(conn: Connection, proposal: Proposal, *, prefix: str, number: int) -> int:
    """Store a new proposal row; its workflow version lives with its definition, not here."""
    result = conn.execute(insert(proposals).values(
        id=proposal.id, prefix=prefix, number=number, workflow=proposal.workflow,
        definition_hash=proposal.definition_hash, title=proposal.title, description=proposal.description,
        origin=proposal.origin, state=proposal.state, fields=proposal.fields, created_at=proposal.created_at,
        created_by=proposal.created_by, updated_at=proposal.updated_at, state_entered_at=proposal.state_entered_at,
        version=proposal.version, head_hash=proposal.head_hash, came_from=proposal.came_from,
        provenance=proposal.provenance,
    ).returning(proposals.c.pk))
    return int(result.scalar_one())


PROPOSAL_COLUMNS = (
    proposals.c.pk, proposals.c.id, proposals.c.workflow, definitions.c.version.label("workflow_version"),
    proposals.c.definition_hash, proposals.c.title, proposals.c.description, proposals.c.origin,
    proposals.c.state, proposals.c.fields, proposals.c.created_at, proposals.c.updated_at,
    proposals.c.state_entered_at, proposals.c.version, proposals.c.head_hash, proposals.c.created_by,
    proposals.c.came_from, proposals.c.provenance,
)
_PROPOSALS = select(*PROPOSAL_COLUMNS).join_from(
    proposals, definitions, proposals.c.definition_hash == definitions.c.content_hash)


_PROPOSAL_BY_ID = _PROPOSALS.where(proposals.c.id == bindparam("proposal_id"))


def load_proposal(conn: Connection, proposal_id: str) -> tuple[int, Proposal] | None:
    driver = _driver_statement(conn, "load_proposal", lambda d: _DriverStatement(_PROPOSAL_BY_ID, d))
    if driver is not None:
        raw = driver.run(conn, {"proposal_id": proposal_id}).fetchone()
        if raw is None:
            return None
        found = driver.row(raw)
        return found.pk, proposal_from_row(found)
    row = conn.execute(_PROPOSAL_BY_ID, {"proposal_id": proposal_id}).first()
    return (row.pk, proposal_from_row(row)) if row else None


def load_proposals(conn: Connection, *, workflow: str | None = None, state: str | None = None) -> list[Proposal]:
    query = _PROPOSALS.order_by(proposals.c.prefix, proposals.c.number)
    if workflow:
        query = query.where(proposals.c.workflow == workflow)
    if state:
        query = query.where(proposals.c.state == state)
    return [proposal_from_row(row) for row in conn.execute(query)]


def derived_from(conn: Connection, sources: Sequence[str] | None, *, until: datetime | None = None,
                 workflows: Sequence[str] = ()) -> dict[str, list[Proposal]]:
    """The proposals whose creation names another as the one they came from, keyed by that one's
    id (each list in id order): of the given ``sources`` (None: any), created by ``until``, and
    where ``workflows`` are given, those whose source or own workflow is among them.

    The link is recorded in the creation event (inside the hash chain) and mirrored on the row,
    indexed (migration 0004): this reads the rows."""
    origin = proposals.alias("origin")
    query = (_PROPOSALS.join(origin, origin.c.id == proposals.c.came_from)
             .where(proposals.c.came_from.is_not(None))
             .order_by(origin.c.prefix, origin.c.number, proposals.c.prefix, proposals.c.number))
    if sources is not None:
        query = query.where(proposals.c.came_from.in_(list(sources)))
    if until is not None:
        query = query.where(proposals.c.created_at <= until)
    if workflows:
        query = query.where(proposals.c.workflow.in_(list(workflows)) | origin.c.workflow.in_(list(workflows)))
    found: dict[str, list[Proposal]] = {}
    for row in conn.execute(query):
        found.setdefault(str(row.came_from), []).append(proposal_from_row(row))
    return found


def workflows_with_provenance(conn: Connection, workflows: Sequence[str]) -> list[str]:
    """Those of ``workflows`` with a proposal whose registration records where it comes from (a
    history rebuilt from a source records it from its creation on): the rows mirror it, indexed."""
    query = (select(proposals.c.workflow).distinct()
             .where(proposals.c.provenance.is_not(None), proposals.c.workflow.in_(list(workflows)))
             .order_by(proposals.c.workflow))
    return list(conn.execute(query).scalars())


def ids_near(conn: Connection, wanted: str, *, around: int = 25) -> list[str]:
    """Ids worth suggesting for a mistyped ``wanted``, read through the (prefix, number) key in a
    bounded number of rows however many proposals there are: the neighbours of its number under
    its prefix, else the first id under each prefix."""
    prefix, _, tail = wanted.rpartition("-")
    digits = tail[:len(tail) - len(tail.lstrip("0123456789"))] or None
    if prefix and digits:
        number = int(digits)
        near = list(conn.execute(
            select(proposals.c.id).where(proposals.c.prefix == prefix,
                                         proposals.c.number.between(number - around, number + around))
            .order_by(proposals.c.number)).scalars())
        if near:
            return near
    firsts = select(proposals.c.prefix, func.min(proposals.c.number).label("n")).group_by(proposals.c.prefix)
    return [f"{row.prefix}-{row.n}" for row in conn.execute(firsts.order_by(proposals.c.prefix).limit(1000))]


def proposal_ids(conn: Connection) -> list[str]:
    return list(conn.execute(select(proposals.c.id).order_by(proposals.c.prefix, proposals.c.number)).scalars())


STEP_COLUMNS = ("state", "fields", "updated_at", "state_entered_at", "head_hash")
# Built once with bound parameters: building a statement with literal values per call costs
# more than executing it (the compiled form is cached, the per-call construction is not).
_UPDATE_STEP = (
    update(proposals)
    .where(proposals.c.pk == bindparam("b_pk"), proposals.c.version == bindparam("b_version"))
    .values(version=bindparam("b_new_version"), **{name: bindparam(name) for name in STEP_COLUMNS})
)
_INSERT_EVENT = insert(events)
EVENT_KEYS = ["proposal_pk", "seq", "kind", "trigger", "from_state", "to_state", "actor", "role", "at", "entered_at",
               "comment", "changes", "details", "idempotency_key", "prev_hash", "hash", "login", "recorded_at",
               "personal"]


def update_proposal(conn: Connection, pk: int, expected_version: int, values: dict[str, Any]) -> bool:
    """Optimistic lock: the row changes only if nobody moved it past ``expected_version``.
    ``values`` gives every one of state, fields, updated_at, state_entered_at and head_hash."""
    params = {name: values[name] for name in STEP_COLUMNS}
    params.update(b_pk=pk, b_version=expected_version, b_new_version=expected_version + 1)
    driver = _driver_statement(conn, "update_proposal", lambda d: _DriverStatement(_UPDATE_STEP, d))
    if driver is not None:
        return int(driver.run(conn, params).rowcount) == 1
    return conn.execute(_UPDATE_STEP, params).rowcount == 1


def insert_event(conn: Connection, proposal_pk: int, event: Event) -> None:
    """Write one event (of format 3: its personal values first, into ``erasable``)."""
    stored = erasable.split(event.actor, event.comment, event.changes, event.personal)
    erasable.write(conn, proposal_pk, event.seq, stored.rows)
    params = {
        "proposal_pk": proposal_pk, "seq": event.seq, "kind": event.kind, "trigger": event.trigger,
        "from_state": event.from_state, "to_state": event.to_state, "actor": stored.actor, "role": event.role,
        "at": event.at, "entered_at": event.entered_at, "comment": stored.comment, "changes": stored.changes,
        "details": event.details, "idempotency_key": event.idempotency_key, "prev_hash": event.prev_hash,
        "hash": event.hash, "login": event.login, "recorded_at": event.recorded_at, "personal": stored.personal,
    }
    driver = _driver_statement(conn, "insert_event", lambda d: _DriverStatement(_INSERT_EVENT, d, EVENT_KEYS))
    if driver is not None:
        driver.run(conn, params)
    else:
        conn.execute(_INSERT_EVENT, params)


EVENT_COLUMNS = (
    proposals.c.id.label("proposal"), events.c.seq, events.c.kind, events.c.trigger, events.c.from_state,
    events.c.to_state, events.c.actor, events.c.role, events.c.at, events.c.entered_at, events.c.comment,
    events.c.changes, events.c.details, events.c.idempotency_key, events.c.prev_hash, events.c.hash,
    events.c.login, events.c.recorded_at, events.c.proposal_pk, events.c.personal,
)
_EVENTS = select(*EVENT_COLUMNS).join_from(events, proposals, events.c.proposal_pk == proposals.c.pk)


def personal_values(conn: Connection, rows: Sequence[Any]) -> erasable.Values | None:
    """The erasable values the rows of events of format 3 among ``rows`` need (None: none is)."""
    pks = {int(row.proposal_pk) for row in rows if row.personal is not None}
    return erasable.values_of(conn, pks) if pks else None


def events_from_rows(conn: Connection, rows: Sequence[Any]) -> list[Event]:
    kept = personal_values(conn, rows)
    return [event_from_row(row, kept) for row in rows]


def events_of(conn: Connection, proposal_pk: int, *, until: datetime | None = None) -> list[Event]:
    query = _EVENTS.where(events.c.proposal_pk == proposal_pk).order_by(events.c.seq)
    if until is not None:
        query = query.where(events.c.at <= until)
    return events_from_rows(conn, conn.execute(query).all())


def last_event(conn: Connection, proposal_pk: int) -> Event | None:
    row = conn.execute(_EVENTS.where(events.c.proposal_pk == proposal_pk)
                       .order_by(events.c.seq.desc()).limit(1)).first()
    return events_from_rows(conn, [row])[0] if row else None


# When a proposal's newest event took effect (the row's version is its seq): a later step may not
# precede it. The row's ``updated_at`` is the last real step's, which an erasure step after it does
# not move. A scalar subquery of the proposal row, for a step's own read to carry.
NEWEST_AT = (select(events.c.at).where(events.c.proposal_pk == proposals.c.pk, events.c.seq == proposals.c.version)
             .scalar_subquery())


def newest_at(conn: Connection, proposal_pk: int, proposal: Proposal) -> datetime:
    """:data:`NEWEST_AT` of one proposal."""
    found = conn.execute(select(NEWEST_AT).where(proposals.c.pk == proposal_pk)).scalar()
    return as_utc(found) if found is not None else as_utc(proposal.updated_at)


def last_step(conn: Connection, proposal_pk: int) -> Event | None:
    """The proposal's newest event that is activity of it: an erasure step is none."""
    return last_steps(conn, [proposal_pk]).get(proposal_pk)


def last_steps(conn: Connection, proposal_pks: Sequence[int]) -> dict[int, Event]:
    """Each proposal's newest event that is activity of it (an erasure step is none), by its key."""
    if not proposal_pks:
        return {}
    stepped = events.alias("stepped")
    newest = (select(func.max(stepped.c.seq))
              .where(stepped.c.proposal_pk == events.c.proposal_pk, stepped.c.kind != ERASED_STEP).scalar_subquery())
    rows = conn.execute(_EVENTS.where(events.c.proposal_pk.in_(sorted(set(proposal_pks))),
                                      events.c.seq == newest)).all()
    return {int(row.proposal_pk): event for row, event in zip(rows, events_from_rows(conn, rows), strict=True)}


def newest_erasures(conn: Connection, proposal_pks: Sequence[int]) -> dict[int, Event]:
    """Each proposal's newest erasure step, of those given that have one, by its key: one
    statement, an index search per proposal (``ix_events_progress`` leads with the kind)."""
    if not proposal_pks:
        return {}
    rows = conn.execute(_EVENTS.where(events.c.kind == ERASED_STEP, events.c.proposal_pk.in_(sorted(set(proposal_pks))))
                        .order_by(events.c.proposal_pk, events.c.seq)).all()
    return {int(row.proposal_pk): event for row, event in zip(rows, events_from_rows(conn, rows), strict=True)}


def event_by_key(conn: Connection, idempotency_key: str) -> Event | None:
    row = conn.execute(_EVENTS.where(events.c.idempotency_key == idempotency_key)).first()
    return events_from_rows(conn, [row])[0] if row else None


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
    pending: list[tuple[str, list[Any]]] = []
    waiting = 0
    for pid, rows in groupby(conn.execute(query), attrgetter("proposal")):
        pending.append((pid, list(rows)))
        waiting += len(pending[-1][1])
        if waiting >= _RESTORED_TOGETHER:  # the erasable values of a batch of histories in one query
            yield from _restored(conn, pending, by_id)
            pending, waiting = [], 0
    yield from _restored(conn, pending, by_id)
    if until is None:
        for proposal in by_id.values():  # proposals whose events are all gone
            yield proposal, []


_RESTORED_TOGETHER = 2000


def _restored(conn: Connection, pending: list[tuple[str, list[Any]]],
              by_id: dict[str, Proposal]) -> Iterator[tuple[Proposal, list[Event]]]:
    kept = personal_values(conn, [row for _pid, rows in pending for row in rows])
    for pid, rows in pending:
        yield by_id.pop(pid), [event_from_row(row, kept) for row in rows]


def last_events(conn: Connection, *, workflow: str | None = None) -> dict[str, Event]:
    """Each proposal's newest event, in one query (the row's version is its last seq)."""
    query = _EVENTS.where(events.c.seq == proposals.c.version)
    if workflow:
        query = query.where(proposals.c.workflow == workflow)
    return {event.proposal: event for event in events_from_rows(conn, conn.execute(query).all())}


def altered_definitions(conn: Connection) -> Iterator[str]:
    """Stored definitions whose text no longer matches the hash they are filed under."""
    for row in conn.execute(select(definitions.c.content_hash, definitions.c.text, definitions.c.workflow)):
        if content_hash(row.text) != row.content_hash:
            yield f"{row.workflow} {row.content_hash[:12]}"


_TRAIL_COLUMNS = (
    proposals.c.id, proposals.c.title, proposals.c.workflow, proposals.c.definition_hash, events.c.kind,
    events.c.trigger, events.c.from_state, events.c.to_state, events.c.actor, events.c.role, events.c.at,
    (events.c.comment != "").label("commented"), erasable_table.c.value.label("actor_kept"),
)


def trails(conn: Connection, *, until: datetime | None = None, workflow: str | None = None) -> Iterator[Trail]:
    """Each proposal's history as the stall analysis needs it, streamed: no payload columns, so
    the scan stays cheap on large logs. Proposals with no event by ``until`` are left out, and so
    are erasure steps: they record what was erased, not any activity of the proposal."""
    query = (select(*_TRAIL_COLUMNS).join_from(events, proposals, events.c.proposal_pk == proposals.c.pk)
             .outerjoin(erasable_table, and_(erasable_table.c.proposal_pk == events.c.proposal_pk,
                                             erasable_table.c.seq == events.c.seq, erasable_table.c.item == ACTOR))
             .where(events.c.kind != ERASED_STEP)
             .order_by(proposals.c.prefix, proposals.c.number, events.c.seq))
    if until is not None:
        query = query.where(events.c.at <= until)
    if workflow:
        query = query.where(proposals.c.workflow == workflow)
    for _, group in groupby(conn.execute(query), attrgetter("id")):
        rows = list(group)
        head = rows[0]
        yield Trail(head.id, head.title, head.workflow, tuple(
            Step(row.kind, row.trigger, row.from_state, row.to_state, kept_actor(row.actor, row.actor_kept), row.role,
                 row.at, bool(row.commented))
            for row in rows), head.definition_hash)


def workflows_in_use(conn: Connection) -> list[str]:
    """Workflow ids that have proposals, in name order."""
    return list(conn.execute(select(proposals.c.workflow).distinct().order_by(proposals.c.workflow)).scalars())


def newest_step(conn: Connection, workflows: Sequence[str] = ()) -> datetime | None:
    """When the newest event of the workflows' proposals (all when none is named) happened: each
    proposal row keeps its last step's time, so this reads proposals, not events."""
    query = select(func.max(proposals.c.updated_at))
    if workflows:
        query = query.where(proposals.c.workflow.in_(list(workflows)))
    newest = conn.execute(query).scalar()
    return as_utc(newest) if newest is not None else None


def definitions_of(conn: Connection, workflow: str) -> list[StoredDefinition]:
    """Every stored definition of a workflow id, newest first (by when it was first stored)."""
    return definitions_of_many(conn, [workflow]).get(workflow, [])


def definitions_of_many(conn: Connection, workflows: Sequence[str]) -> dict[str, list[StoredDefinition]]:
    """:func:`definitions_of` of each workflow id that has any, in one statement."""
    found: dict[str, list[StoredDefinition]] = {}
    for row in conn.execute(select(definitions).where(definitions.c.workflow.in_(sorted(set(workflows))))
                            .order_by(definitions.c.stored_at.desc(), definitions.c.content_hash)):
        found.setdefault(row.workflow, []).append(
            StoredDefinition(row.content_hash, row.workflow, row.version, row.source, row.text, row.stored_at))
    return found


def states_by_definition(conn: Connection, workflow: str) -> dict[str, dict[str, int]]:
    """How many proposals of a workflow are in each state, per definition they run on."""
    query = (select(proposals.c.definition_hash, proposals.c.state, func.count().label("n"))
             .where(proposals.c.workflow == workflow)
             .group_by(proposals.c.definition_hash, proposals.c.state))
    counts: dict[str, dict[str, int]] = {}
    for row in conn.execute(query):
        counts.setdefault(row.definition_hash, {})[row.state] = int(row.n)
    return counts


def move_proposal(conn: Connection, pk: int, expected_version: int, *, definition_hash: str, state: str,
                  updated_at: datetime, head_hash: str) -> bool:
    """A migration's row change, under the same optimistic lock as a step: the proposal moves to
    another definition (and perhaps another state name); its fields and stay are left as they are."""
    result = conn.execute(
        update(proposals)
        .where(proposals.c.pk == pk, proposals.c.version == expected_version)
        .values(version=expected_version + 1, definition_hash=definition_hash, state=state,
                updated_at=updated_at, head_hash=head_hash))
    return result.rowcount == 1
