"""Listing proposals at any size: a page after a given proposal, or every match streamed.

The rows come from the store a batch at a time in the order asked for, filtered there by what
the rows answer (workflow, state, a text in the title, and — under one workflow, whose few
definitions are quick to read — the states of a stage or an owner). What needs a state's
meaning in general (its stage, owner, whether it is final, a deadline passed) is checked here
on each row, with the very rules ``proposal show`` uses, so a page and a standing never
disagree. Memory holds one batch, never the list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from itertools import islice

from flowengine import engine as engines
from flowengine.definition import statefacts
from flowengine.definition.statefacts import StateFacts
from flowengine.errors import InvalidInput, NotFound, Remedy
from flowengine.i18n import t
from flowengine.service.context import Engine
from flowengine.service.deadlines import IMPLEMENTATION
from flowengine.service.results import ProposalPage, Standing
from flowengine.store import Connection, listing, queries

SORTS = listing.SORTS
DEFAULT_LIMIT = 50
_FIRST_BATCH = 64
_LARGEST_BATCH = 4096


def page(engine: Engine, *, workflow: str | None = None, state: str | None = None, stage: str | None = None,
         owner: str | None = None, overdue: bool = False, title: str | None = None, sort: str = "id",
         after: str | None = None, limit: int = DEFAULT_LIMIT, language: str = "en") -> ProposalPage:
    """Up to ``limit`` matching proposals after ``after`` (a proposal id) in ``sort``'s order, and
    the id to continue after when more follow."""
    if limit < 1:
        raise InvalidInput(t("a page holds at least one proposal, not {limit}", limit=limit))
    found = list(islice(stream(engine, workflow=workflow, state=state, stage=stage, owner=owner, overdue=overdue,
                               title=title, sort=sort, after=after, language=language, first_batch=limit + 1),
                        limit + 1))
    shown = tuple(found[:limit])
    return ProposalPage(shown, shown[-1].proposal.id if len(found) > limit else None)


def stream(engine: Engine, *, workflow: str | None = None, state: str | None = None, stage: str | None = None,
           owner: str | None = None, overdue: bool = False, title: str | None = None, sort: str = "id",
           after: str | None = None, language: str = "en", first_batch: int = _FIRST_BATCH) -> Iterator[Standing]:
    """Every matching proposal after ``after`` in ``sort``'s order, one batch in memory at a time.
    Keeps one read transaction (one snapshot) open while iterated."""
    from flowengine.service.reading import standing_of

    if sort not in SORTS:
        raise InvalidInput(f"cannot sort by '{sort}'; choose one of: {', '.join(SORTS)}")
    with engine.database.read() as conn:
        perms = engine.permissions(conn)  # a workflow the login holds nothing in stays out of sight
        if workflow:
            perms.check_read(workflow)
        facts = _Facts(conn, workflow)
        start: listing.Key | None = None
        finals: list[bool | None] = [False, True] if sort == "waiting" else [None]  # open ones first
        if after is not None:
            start, digest = _start(conn, after)
            if sort == "waiting" and facts.of(digest).get(start.state, _UNKNOWN).final:
                finals = [True]
        moment = engine.clock()
        for phase in finals:
            wanted = _filter(facts, moment, workflow=workflow, state=state, title=title, stage=stage, owner=owner,
                             overdue=overdue, final=phase)
            cursor, size = start, first_batch
            start = None  # a later phase starts at its beginning
            while True:
                rows = listing.page(conn, wanted, sort=sort, after=cursor, limit=size)
                for _, proposal, last, erasure in rows:
                    if not perms.may_read(proposal.workflow):
                        continue
                    found = standing_of(engine, conn, proposal, last, language, erasure)
                    if (phase is None or found.final == phase) and (not stage or found.stage == stage) \
                            and (not owner or found.owner == owner) and (not overdue or found.overdue):
                        yield found
                if len(rows) < size:
                    break
                cursor, size = rows[-1].key, min(size * 2, _LARGEST_BATCH)


_UNKNOWN = StateFacts(None, None, False, None)  # a state its definition does not declare


class _Facts:
    """The state facts of the stored definitions (of one workflow), read once a listing needs
    them: from the file of facts kept on disk, a definition not in it built once and added."""

    def __init__(self, conn: Connection, workflow: str | None) -> None:
        self.conn = conn
        self.workflow = workflow
        self._index: statefacts.Index | None = None
        self._all: dict[str, dict[str, StateFacts]] | None = None

    def _known(self) -> statefacts.Index:
        if self._index is None:
            self._index = statefacts.Index()
        return self._index

    def of(self, digest: str) -> dict[str, StateFacts]:
        index = self._known()
        if digest not in index.known:
            compiled = engines.cached(digest)
            if compiled is None:
                stored = queries.definition_text(self.conn, digest)
                if stored is None:  # missing from the database: no state is known
                    return {}
                compiled = engines.compiled(digest, *stored)
            index.add(digest, statefacts.facts_of(compiled.workflow))
        return index.known[digest]

    def all(self) -> dict[str, dict[str, StateFacts]]:
        """Every stored definition's (of the workflow), by hash."""
        if self._all is None:
            self._all = {digest: self.of(digest) for digest in listing.definitions_in_use(self.conn, self.workflow)}
            self._known().save()
        return self._all


def _filter(facts: _Facts, moment: datetime, *, workflow: str | None, state: str | None, title: str | None,
            stage: str | None, owner: str | None, overdue: bool, final: bool | None) -> listing.Filter:
    """The store's part of the filters: the states of each definition that can match (a stage,
    an owner, a deadline that may have passed, final or not), grouped so that definitions with
    the same such states make one condition. The rows it gives are checked again one by one."""
    def wanted(fact: StateFacts) -> bool:
        return (not stage or fact.stage == stage) and (not owner or fact.owner == owner) \
            and (not overdue or (not fact.final and fact.deadline_floor is not None)) \
            and (final is not True or fact.final)  # the open ones: the final states left out below

    groups = None
    if stage or owner or overdue or final:
        groups = _grouped(facts.all(), wanted, moment if overdue else None)
    not_groups = _grouped(facts.all(), lambda fact: fact.final, None) if final is False else []
    return listing.Filter(workflow=workflow, state=state, title=title, groups=groups, not_groups=not_groups)


def _grouped(by_hash: dict[str, dict[str, StateFacts]], wanted: Callable[[StateFacts], bool],
             moment: datetime | None) -> list[listing.Group]:
    """Conditions for the states ``wanted`` keeps: one per set of states (and, with ``moment``,
    per deadline: in the state since before ``moment`` less the deadline's shortest length, and
    in an implementation no progress recorded since, as that restarts the clock)."""
    together: dict[tuple[tuple[str, ...], float | None, bool], list[str]] = {}
    for digest, states in by_hash.items():
        chosen: dict[tuple[float | None, bool], list[str]] = {}
        for name, fact in states.items():
            if wanted(fact):
                timed = moment is not None and fact.deadline_floor is not None
                clock = (fact.deadline_floor, fact.stage == IMPLEMENTATION) if timed else (None, False)
                chosen.setdefault(clock, []).append(name)
        for (floor, restarts), names in chosen.items():
            together.setdefault((tuple(sorted(names)), floor, restarts), []).append(digest)
    return [listing.Group(tuple(digests), names,
                          None if moment is None or floor is None else moment - timedelta(seconds=floor), restarts)
            for (names, floor, restarts), digests in sorted(together.items(),
                                                            key=lambda item: (item[0][0], item[0][1] or 0, item[0][2]))]


def _start(conn: Connection, after: str) -> tuple[listing.Key, str]:
    """Where the page after proposal ``after`` starts, and the definition it runs under."""
    wanted = after.strip().upper()
    found = listing.key_of(conn, wanted)
    if found is None:
        raise NotFound("proposal", wanted, queries.ids_near(conn, wanted)).fixed_by(Remedy("list_proposals"))
    return found


def slice_of(found: list[Standing], after: str | None, limit: int) -> ProposalPage:
    """A page of a list already made (a past moment's): those after proposal ``after``."""
    if limit < 1:
        raise InvalidInput(t("a page holds at least one proposal, not {limit}", limit=limit))
    start = 0
    if after is not None:
        wanted = after.strip().upper()
        ids = [s.proposal.id for s in found]
        if wanted not in ids:
            raise NotFound("proposal", wanted, ids).fixed_by(Remedy("list_proposals"))
        start = ids.index(wanted) + 1
    shown = tuple(found[start:start + limit])
    return ProposalPage(shown, shown[-1].proposal.id if start + limit < len(found) else None)
