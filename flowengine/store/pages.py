"""Proposals a page at a time: filters in SQL, keyset pagination, each row with its newest event.

A list over a national database (a million proposals) must cost the same for the first page as
for the last, and must never hold every row: each page is one indexed query that starts right
after the previous page's last row (its sort key, not an offset), joined to that row's newest
event (the row's version is the event's seq). Filters that the rows answer (workflow, state,
states per definition, a text in the title) are conditions of that query; whatever needs the
definition's meaning the service checks on the rows it gets and asks for more.

The statements are SQL text, made here once for both paths that run them: the SQLAlchemy store
(:mod:`flowengine.store.listing`) and the driver's own reads (:mod:`flowengine.store.direct`),
which a short ``proposal list`` takes so as not to import SQLAlchemy. No SQLAlchemy here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import count
from typing import Any, NamedTuple

from flowengine.history.records import ERASED_STEP, PROGRESS, Event, Proposal
from flowengine.store import basics, rows, titles
from flowengine.store.rows import Reads

SORTS = ("id", "waiting", "updated", "state")


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
    (:mod:`titles`); ``titled``: the keys of the readable proposals whose title may hold it
    (PostgreSQL: does), as :func:`titles.titled` found them (None: not asked, too many to name,
    or no index);
    ``groups``: only proposals in one of these (None: any; empty: none); ``not_groups``: none
    in any of these."""

    workflow: str | None = None
    state: str | None = None
    title: str | None = None
    groups: Sequence[Group] | None = None
    not_groups: Sequence[Group] = ()
    titled: Sequence[int] | None = None


@dataclass(frozen=True)
class Key:
    """Where a row sorts: enough to start the next page right after it."""

    prefix: str
    number: int
    updated_at: datetime
    state_entered_at: datetime
    workflow: str
    state: str


class Listed(NamedTuple):
    """A proposal of a page: its sort key, its row, its last step (an erasure step is none) and
    its newest erasure step, if it had one."""

    key: Key
    proposal: Proposal
    last: Event
    erasure: Event | None


@dataclass
class _Params:
    """The parameters of one statement as it is written, each named once."""

    reads: Reads
    given: dict[str, Any] = field(default_factory=dict)
    _numbers: Any = field(default_factory=count)

    def __call__(self, value: Any) -> str:
        name = f"v{next(self._numbers)}"
        self.given[name] = rows.bound(self.reads, value) if isinstance(value, datetime) else value
        return f":{name}"

    def each(self, values: Sequence[Any]) -> str:
        return ", ".join(self(value) for value in values)


def _in(group: Group, param: _Params) -> str:
    # A group's states are a column SQLite must not search an index by (``+column``, its idiom):
    # with migration 0013's index SQLite read every overdue proposal by (state, state_entered_at)
    # and sorted them, where walking the page's own order stops after a page (25 ms → 905 ms at
    # 100,000 proposals); the waiting list asks for each state by a condition of its own.
    state = "+proposals.state" if param.reads.dialect == rows.SQLITE else "proposals.state"
    found = (f"proposals.definition_hash IN ({param.each(group.definitions)}) "
             f"AND {state} IN ({param.each(group.states)})")
    if group.entered_before is None:
        return found
    found += f" AND proposals.state_entered_at < {param(group.entered_before)}"
    if not group.progress_restarts:
        return found
    # any progress since then is in this stay (it began before) and restarted the clock: the
    # proposal cannot be overdue yet. An index search per row (ix_events_progress), never a scan:
    # PostgreSQL would otherwise hash every progress record since then once per group (under
    # row-level security the subquery is no join it can pull up) — `OFFSET 0` keeps it a probe.
    fence = " OFFSET 0" if param.reads.dialect == rows.POSTGRESQL else ""
    return (found + " AND NOT (EXISTS (SELECT * FROM events AS progress WHERE progress.kind = "
            f"{param(PROGRESS)} AND progress.proposal_pk = proposals.pk AND progress.at >= "
            f"{param(group.entered_before)}{fence}))")


def _conditions(wanted: Filter, param: _Params) -> list[str]:
    found: list[str] = []
    if wanted.workflow:
        found.append(f"proposals.workflow = {param(wanted.workflow)}")
    if wanted.state:
        found.append(f"proposals.state = {param(wanted.state)}")
    if wanted.title:
        found.append(titles.contains(param.reads.dialect, wanted.title, wanted.titled, param))
    if wanted.groups is not None:
        found.append("(" + " OR ".join(_in(group, param) for group in wanted.groups) + ")" if wanted.groups
                     else "1 = 0")
    if wanted.not_groups:
        found.append("NOT (" + " OR ".join(_in(group, param) for group in wanted.not_groups) + ")")
    return found


def _after(sort: str, key: Key, param: _Params) -> str:
    """Rows strictly after ``key`` in ``sort``'s order (ties broken by id), as the index of that
    order reads them (migration 0005)."""
    if sort == "id":
        return f"(proposals.prefix, proposals.number) > ({param.each([key.prefix, key.number])})"
    if sort == "updated":  # newest first, and so the highest id first among equal times
        return (f"(proposals.updated_at, proposals.prefix, proposals.number) < "
                f"({param.each([key.updated_at, key.prefix, key.number])})")
    if sort == "waiting":  # longest in its state first
        return (f"(proposals.state_entered_at, proposals.prefix, proposals.number) > "
                f"({param.each([key.state_entered_at, key.prefix, key.number])})")
    return (f"(proposals.workflow, proposals.state, proposals.prefix, proposals.number) > "
            f"({param.each([key.workflow, key.state, key.prefix, key.number])})")


_ORDER = {
    "id": "proposals.prefix, proposals.number",
    "updated": "proposals.updated_at DESC, proposals.prefix DESC, proposals.number DESC",
    "waiting": "proposals.state_entered_at, proposals.prefix, proposals.number",
    "state": "proposals.workflow, proposals.state, proposals.prefix, proposals.number",
}
# A page's row: the proposal (with its sort key's columns), its newest event, and the seq of its
# newest erasure step (an index search: ix_events_progress leads with the kind).
_PAGE_NAMES = ("prefix", "number", "erased_seq")


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


def _where(conditions: list[str]) -> str:
    return "WHERE " + " AND ".join(conditions) + " " if conditions else ""


def statement(reads: Reads, wanted: Filter, *, sort: str, after: Key | None, limit: int) -> tuple[str, dict[str, Any]]:
    """The query of one page and its parameters (tests read its plan).

    A filter on a few states in the ``waiting`` order (a stage's, an owner's) reads each state's
    proposals apart, longest waiting first, by the index on (state, state_entered_at, prefix,
    number) of migration 0013, at most a page from each: the page is the first of those. Walking
    the order as a whole passed every proposal waiting longer than the page's, in any state —
    the finished ones first, so more the larger the database."""
    param = _Params(reads)
    erased = param(ERASED_STEP)
    states = _states(wanted, sort)
    if not states:
        conditions = _conditions(wanted, param)
        if after is not None:
            conditions.append(_after(sort, after, param))
    else:
        each = []
        for number, state in enumerate(states):
            inner = [*_conditions(_in_state(wanted, state), param), f"proposals.state = {param(state)}"]
            if after is not None:
                inner.append(_after(sort, after, param))
            each.append(f"SELECT in_state_{number}.pk AS pk FROM (SELECT proposals.pk AS pk FROM proposals "
                        f"{_where(inner)}ORDER BY {_ORDER[sort]} LIMIT {param(limit)}) AS in_state_{number}")
        conditions = [f"proposals.pk IN (SELECT picked.pk FROM ({' UNION ALL '.join(each)}) AS picked)"]
    sql = (f"SELECT {rows.PROPOSAL_COLUMNS}, proposals.id, {rows.EVENT_COLUMNS}, proposals.prefix, proposals.number, "
           f"(SELECT max(erased.seq) FROM events AS erased WHERE erased.kind = {erased} "
           "AND erased.proposal_pk = proposals.pk) AS erased_seq "
           "FROM proposals JOIN definitions ON proposals.definition_hash = definitions.content_hash "
           "JOIN events ON events.proposal_pk = proposals.pk AND events.seq = proposals.version "
           + _where(conditions) + f"ORDER BY {_ORDER[sort]} LIMIT {param(limit)}")
    return sql, param.given


def page(reads: Reads, wanted: Filter, *, sort: str, after: Key | None, limit: int) -> list[Listed]:
    """Up to ``limit`` proposals matching ``wanted`` after ``after`` in ``sort``'s order, each with
    its sort key, its last step and its newest erasure step. The newest event comes with the row,
    and the number of its newest erasure step; the erasure steps before the newest event take one
    more statement, and where the newest event is one, the last step before it another."""
    if wanted.title and wanted.titled is None:  # by the index: one statement (SQLite: two)
        wanted = replace(wanted, titled=titles.titled(reads, wanted.title))
    sql, params = statement(reads, wanted, sort=sort, after=after, limit=limit)
    raw = reads.rows(sql, **params)
    width = len(rows.PROPOSAL_NAMES)
    proposals = rows.proposals_from(reads, [row[:width] for row in raw])
    newest = rows.events_from(reads, [row[width:width + len(rows.EVENT_NAMES)] for row in raw])
    found = []
    for row, (pk, proposal), event in zip(raw, proposals, newest, strict=True):
        prefix, number, erased = row[-3:]
        key = Key(prefix, number, proposal.updated_at, proposal.state_entered_at, proposal.workflow, proposal.state)
        found.append((pk, erased, key, proposal, event))
    erasures = newest_erasures(reads, [pk for pk, erased, _, _, event in found
                                       if erased is not None and erased != event.seq])
    stepped = last_steps(reads, [pk for pk, erased, _, _, event in found if erased == event.seq])
    return [Listed(key, proposal, stepped.get(pk, event),
                   event if erased == event.seq else erasures.get(pk) if erased is not None else None)
            for pk, erased, key, proposal, event in found]


def newest_erasures(reads: Reads, proposal_pks: Sequence[int]) -> dict[int, Event]:
    """Each proposal's newest erasure step, of those given that have one, by its key: one
    statement, an index search per proposal (``ix_events_progress`` leads with the kind)."""
    if not proposal_pks:
        return {}
    listed, params = rows.names("pk", sorted(set(proposal_pks)))
    raw = reads.rows(rows.EVENTS + f"WHERE events.kind = :erased AND events.proposal_pk IN ({listed}) "
                     "ORDER BY events.proposal_pk, events.seq", erased=ERASED_STEP, **params)
    return {int(row[-2]): event for row, event in zip(raw, rows.events_from(reads, raw), strict=True)}


def last_steps(reads: Reads, proposal_pks: Sequence[int]) -> dict[int, Event]:
    """Each proposal's newest event that is activity of it (an erasure step is none), by its key."""
    if not proposal_pks:
        return {}
    listed, params = rows.names("pk", sorted(set(proposal_pks)))
    raw = reads.rows(rows.EVENTS + f"WHERE events.proposal_pk IN ({listed}) AND events.seq = "
                     "(SELECT max(stepped.seq) FROM events AS stepped WHERE stepped.proposal_pk = events.proposal_pk "
                     "AND stepped.kind != :erased)", erased=ERASED_STEP, **params)
    return {int(row[-2]): event for row, event in zip(raw, rows.events_from(reads, raw), strict=True)}


def key_of(reads: Reads, proposal_id: str) -> tuple[Key, str] | None:
    """The sort key of one proposal and the definition it runs under, looked up by its id."""
    found = reads.rows("SELECT prefix, number, updated_at, state_entered_at, workflow, state, definition_hash "
                       "FROM proposals WHERE id = :id", id=proposal_id)
    if not found:
        return None
    prefix, number, updated_at, entered_at, workflow, state, digest = found[0]
    return Key(prefix, number, basics.read_moment(updated_at), basics.read_moment(entered_at), workflow,
               state), digest


def definitions_in_use(reads: Reads, workflow: str | None = None) -> list[str]:
    """The hash of every stored definition (of ``workflow``): the ones the filters on a state's
    meaning (stage, owner, deadline) are resolved against."""
    if workflow:
        found = reads.rows("SELECT content_hash FROM definitions WHERE workflow = :workflow ORDER BY content_hash",
                           workflow=workflow)
    else:
        found = reads.rows("SELECT content_hash FROM definitions ORDER BY content_hash")
    return [str(row[0]) for row in found]
