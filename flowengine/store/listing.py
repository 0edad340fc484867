"""Proposals a page at a time: filters in SQL, keyset pagination, each row with its newest event.

A list over a national database (a million proposals) must cost the same for the first page as
for the last, and must never hold every row: each page is one indexed query that starts right
after the previous page's last row (its sort key, not an offset), joined to that row's newest
event (the row's version is the event's seq). Filters that the rows answer (workflow, state,
states per definition, a text in the title) are conditions of that query; whatever needs the
definition's meaning the service checks on the rows it gets and asks for more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Select, and_, exists, false, func, not_, or_, select, tuple_, union_all
from sqlalchemy.sql.elements import ColumnElement

from flowengine.history.records import ERASED_STEP, PROGRESS, Event, Proposal
from flowengine.store import erasable, titles
from flowengine.store.queries import EVENT_COLUMNS, last_steps, newest_erasures, proposal_from_row
from flowengine.store.schema import definitions, events, proposals

SORTS = ("id", "waiting", "updated", "state")

_COLUMNS = (
    proposals.c.pk, proposals.c.id, proposals.c.prefix, proposals.c.number, proposals.c.workflow,
    definitions.c.version.label("workflow_version"), proposals.c.definition_hash, proposals.c.title,
    proposals.c.description, proposals.c.origin, proposals.c.state, proposals.c.fields, proposals.c.created_at,
    proposals.c.updated_at, proposals.c.state_entered_at, proposals.c.version, proposals.c.head_hash,
    proposals.c.created_by, proposals.c.came_from, proposals.c.provenance,
    *(column.label(f"e_{column.key}") for column in EVENT_COLUMNS[1:]),
)
_ERASED = events.alias("erased")  # a row's newest erasure step: an index search (ix_events_progress)
_ERASED_SEQ = (select(func.max(_ERASED.c.seq))
               .where(_ERASED.c.kind == ERASED_STEP, _ERASED.c.proposal_pk == proposals.c.pk)
               .correlate(proposals).scalar_subquery().label("erased_seq"))


@dataclass(frozen=True)
class Group:
    """Proposals on any of ``definitions`` in any of ``states`` (and, with ``entered_before``, in
    that state since before that moment; with ``progress_restarts`` too, and no progress recorded
    since then: in an implementation, progress restarts the deadline clock)."""

    definitions: tuple[str, ...]
    states: tuple[str, ...]
    entered_before: datetime | None = None
    progress_restarts: bool = False


@dataclass(frozen=True)
class Filter:
    """What the rows themselves can answer. ``title``: a text the title contains, any case
    (:mod:`titles`); ``titled``: on PostgreSQL, the keys of the readable proposals whose title
    holds it, as :func:`titles.titled` found them (None: not asked, or too many to name);
    ``groups``: only proposals in one of these (None: any; empty: none); ``not_groups``: none
    in any of these."""

    workflow: str | None = None
    state: str | None = None
    title: str | None = None
    groups: Sequence[Group] | None = None
    not_groups: Sequence[Group] = ()
    titled: Sequence[int] | None = None


_PROGRESS = events.alias("progress")  # not the newest event each row is joined to


def _in(group: Group) -> ColumnElement[bool]:
    found = and_(proposals.c.definition_hash.in_(group.definitions), proposals.c.state.in_(group.states))
    if group.entered_before is None:
        return found
    found = and_(found, proposals.c.state_entered_at < group.entered_before)
    if not group.progress_restarts:
        return found
    # any progress since then is in this stay (it began before) and restarted the clock: the
    # proposal cannot be overdue yet. An index search per row (ix_events_progress), never a scan.
    progressed = exists().where(_PROGRESS.c.kind == PROGRESS, _PROGRESS.c.proposal_pk == proposals.c.pk,
                                _PROGRESS.c.at >= group.entered_before).correlate(proposals)
    return and_(found, not_(progressed))


@dataclass(frozen=True)
class Key:
    """Where a row sorts: enough to start the next page right after it."""

    prefix: str
    number: int
    updated_at: datetime
    state_entered_at: datetime
    workflow: str
    state: str


def _conditions(wanted: Filter) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if wanted.workflow:
        found.append(proposals.c.workflow == wanted.workflow)
    if wanted.state:
        found.append(proposals.c.state == wanted.state)
    if wanted.title:
        found.append(titles.TitleContains(wanted.title, wanted.titled))
    if wanted.groups is not None:
        found.append(or_(*map(_in, wanted.groups)) if wanted.groups else false())
    if wanted.not_groups:
        found.append(not_(or_(*map(_in, wanted.not_groups))))
    return found


def _after(sort: str, key: Key) -> ColumnElement[bool]:
    """Rows strictly after ``key`` in ``sort``'s order (ties broken by id), as the index of that
    order reads them (migration 0005)."""
    by_id = tuple_(proposals.c.prefix, proposals.c.number) > tuple_(key.prefix, key.number)
    if sort == "id":
        return by_id
    if sort == "updated":  # newest first, and so the highest id first among equal times
        return tuple_(proposals.c.updated_at, proposals.c.prefix, proposals.c.number) < \
            tuple_(key.updated_at, key.prefix, key.number)
    if sort == "waiting":  # longest in its state first
        return tuple_(proposals.c.state_entered_at, proposals.c.prefix, proposals.c.number) > \
            tuple_(key.state_entered_at, key.prefix, key.number)
    return tuple_(proposals.c.workflow, proposals.c.state, proposals.c.prefix, proposals.c.number) > \
        tuple_(key.workflow, key.state, key.prefix, key.number)


def _order(sort: str) -> list[Any]:
    by_id = [proposals.c.prefix, proposals.c.number]
    if sort == "updated":
        return [proposals.c.updated_at.desc(), proposals.c.prefix.desc(), proposals.c.number.desc()]
    if sort == "waiting":
        return [proposals.c.state_entered_at, *by_id]
    if sort == "state":
        return [proposals.c.workflow, proposals.c.state, *by_id]
    return by_id


_MOST_STATES = 16  # a filter on more states than this walks the whole order once instead


def _states(wanted: Filter, sort: str) -> list[str]:
    """The states whose own walks of the ``waiting`` order make the page (none: walk the order
    as a whole): those of the groups a stage, owner or deadline filter chose."""
    if sort != "waiting" or not wanted.groups:
        return []
    states = sorted({state for group in wanted.groups for state in group.states})
    if wanted.state:
        states = [state for state in states if state == wanted.state]
    return states if len(states) <= _MOST_STATES else []


def _in_state(wanted: Filter, state: str) -> Filter:
    """``wanted`` for the proposals in ``state``: each group kept only where it names the state."""
    def narrowed(groups: Sequence[Group]) -> list[Group]:
        return [replace(group, states=(state,)) for group in groups if state in group.states]

    return replace(wanted, state=None, groups=narrowed(wanted.groups or ()), not_groups=narrowed(wanted.not_groups))


def statement(wanted: Filter, *, sort: str, after: Key | None, limit: int) -> Select[Any]:
    """The query of one page (tests read its plan).

    A filter on a few states in the ``waiting`` order (a stage's, an owner's) reads each state's
    proposals apart, longest waiting first, by the index on (state, state_entered_at, prefix,
    number) of migration 0013, at most a page from each: the page is the first of those. Walking
    the order as a whole passed every proposal waiting longer than the page's, in any state —
    the finished ones first, so more the larger the database."""
    query = (select(*_COLUMNS, _ERASED_SEQ)
             .join_from(proposals, definitions, proposals.c.definition_hash == definitions.c.content_hash)
             .join(events, and_(events.c.proposal_pk == proposals.c.pk, events.c.seq == proposals.c.version))
             .order_by(*_order(sort)).limit(limit))
    states = _states(wanted, sort)
    if not states:
        return query.where(*_conditions(wanted), *([] if after is None else [_after(sort, after)]))
    each = [select(proposals.c.pk).where(*_conditions(_in_state(wanted, state)), proposals.c.state == state,
                                         *([] if after is None else [_after(sort, after)]))
            .order_by(*_order(sort)).limit(limit).subquery(f"in_state_{number}")
            for number, state in enumerate(states)]
    picked = union_all(*(select(one.c.pk) for one in each)).subquery("picked")
    return query.where(proposals.c.pk.in_(select(picked.c.pk)))


class Listed(NamedTuple):
    """A proposal of a page: its sort key, its row, its last step (an erasure step is none) and
    its newest erasure step, if it had one."""

    key: Key
    proposal: Proposal
    last: Event
    erasure: Event | None


def page(conn: Connection, wanted: Filter, *, sort: str, after: Key | None, limit: int) -> list[Listed]:
    """Up to ``limit`` proposals matching ``wanted`` after ``after`` in ``sort``'s order, each with
    its sort key, its last step and its newest erasure step. The newest event comes with the row,
    and the number of its newest erasure step; the erasure steps before the newest event take one
    more statement, and where the newest event is one, the
    last step before it another."""
    found = []
    if wanted.title and wanted.titled is None and conn.dialect.name == "postgresql":
        wanted = replace(wanted, titled=titles.titled(conn, wanted.title))  # one statement, by the index
    rows = conn.execute(statement(wanted, sort=sort, after=after, limit=limit)).all()
    apart = [int(row.pk) for row in rows if row.e_personal is not None]  # event format 3: values kept apart
    kept = erasable.values_of(conn, apart) if apart else {}
    for row in rows:
        key = Key(row.prefix, row.number, row.updated_at, row.state_entered_at, row.workflow, row.state)
        actor, comment, changes, personal = row.e_actor, row.e_comment, dict(row.e_changes), None
        if row.e_personal is not None:
            actor, comment, changes, personal = erasable.restore(
                row.e_personal, kept.get((int(row.pk), int(row.e_seq)), {}), actor, comment, changes)
        found.append((int(row.pk), row.erased_seq, key, proposal_from_row(row), Event(
            proposal=row.id, seq=row.e_seq, kind=row.e_kind, trigger=row.e_trigger, from_state=row.e_from_state,
            to_state=row.e_to_state, actor=actor, role=row.e_role, at=row.e_at, entered_at=row.e_entered_at,
            comment=comment, changes=changes, details=dict(row.e_details), idempotency_key=row.e_idempotency_key,
            prev_hash=row.e_prev_hash, hash=row.e_hash, login=row.e_login, recorded_at=row.e_recorded_at,
            personal=personal)))
    erasures = newest_erasures(conn, [pk for pk, erased, _, _, newest in found
                                      if erased is not None and erased != newest.seq])
    stepped = last_steps(conn, [pk for pk, erased, _, _, newest in found if erased == newest.seq])
    return [Listed(key, proposal, stepped.get(pk, newest),
                   newest if erased == newest.seq else erasures.get(pk) if erased is not None else None)
            for pk, erased, key, proposal, newest in found]


def key_of(conn: Connection, proposal_id: str) -> tuple[Key, str] | None:
    """The sort key of one proposal and the definition it runs under, looked up by its id."""
    row = conn.execute(select(proposals.c.prefix, proposals.c.number, proposals.c.updated_at,
                              proposals.c.state_entered_at, proposals.c.workflow, proposals.c.state,
                              proposals.c.definition_hash)
                       .where(proposals.c.id == proposal_id)).first()
    if row is None:
        return None
    return Key(row.prefix, row.number, row.updated_at, row.state_entered_at, row.workflow, row.state), \
        row.definition_hash


def definitions_in_use(conn: Connection, workflow: str | None = None) -> list[str]:
    """The hash of every stored definition (of ``workflow``): the ones the filters on a state's
    meaning (stage, owner, deadline) are resolved against."""
    query = select(definitions.c.content_hash).order_by(definitions.c.content_hash)
    if workflow:
        query = query.where(definitions.c.workflow == workflow)
    return list(conn.execute(query).scalars())
