"""Listing proposals at any size: every match after a given proposal, in a chosen order, a batch
at a time — whichever path reads the rows (the SQLAlchemy store for the façade, the driver's own
reads for a short ``proposal list``): both hand a :class:`flowengine.store.rows.Reads` to
:func:`matching`, which runs the statements of :mod:`flowengine.store.pages`.

The rows come a batch at a time in the order asked for, filtered in SQL by what the rows answer
(workflow, state, a text in the title, and the states of each stored definition that can match a
stage, an owner, a passed deadline). What needs a state's meaning in general is checked here on
each row, with the very rules ``proposal show`` uses (:mod:`flowengine.service.standings`), so a
page and a standing never disagree. Memory holds one batch, never the list. No SQLAlchemy here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from flowengine import engine as engines
from flowengine.access.grants import Permissions
from flowengine.definition import statefacts
from flowengine.definition.statefacts import StateFacts
from flowengine.history.records import Event, Proposal
from flowengine.service import standings
from flowengine.service.deadlines import IMPLEMENTATION
from flowengine.service.results import Standing
from flowengine.store import pages, rows
from flowengine.store.rows import Reads

SORTS = pages.SORTS
FIRST_BATCH = 64
LARGEST_BATCH = 4096


class NoSuchStart(LookupError):
    """The proposal a page was to start after is not there: the caller says so."""

    def __init__(self, proposal_id: str) -> None:
        super().__init__(proposal_id)
        self.proposal_id = proposal_id


def matching(reads: Reads, permissions: Permissions, clock: Callable[[], datetime], *, workflow: str | None,
             state: str | None, stage: str | None, owner: str | None, overdue: bool, title: str | None, sort: str,
             after: str | None, language: str, first_batch: int) -> Iterator[Standing]:
    """Every proposal the login may read that matches, after proposal ``after`` in ``sort``'s
    order, each standing as of ``clock()``; raises :class:`NoSuchStart` for an ``after`` not there."""
    facts = _Facts(reads, workflow)
    start: pages.Key | None = None
    finals: list[bool | None] = [False, True] if sort == "waiting" else [None]  # open ones first
    if after is not None:
        wanted_id = after.strip().upper()
        found = pages.key_of(reads, wanted_id)
        if found is None:
            raise NoSuchStart(wanted_id)
        start, digest = found
        if sort == "waiting" and facts.of(digest).get(start.state, _UNKNOWN).final:
            finals = [True]
    moment = clock()
    for phase in finals:
        wanted = _filter(facts, moment, workflow=workflow, state=state, title=title, stage=stage, owner=owner,
                         overdue=overdue, final=phase)
        cursor, size = start, first_batch
        start = None  # a later phase starts at its beginning
        while True:
            batch = pages.page(reads, wanted, sort=sort, after=cursor, limit=size)
            for _, proposal, last, erasure in batch:
                if not permissions.may_read(proposal.workflow):
                    continue
                found_standing = standing_of(reads, proposal, last, clock(), language, erasure)
                if (phase is None or found_standing.final == phase) and (not stage or found_standing.stage == stage) \
                        and (not owner or found_standing.owner == owner) and (not overdue or found_standing.overdue):
                    yield found_standing
            if len(batch) < size:
                break
            cursor, size = batch[-1].key, min(size * 2, LARGEST_BATCH)


def standing_of(reads: Reads, proposal: Proposal, last: Event, moment: datetime, language: str,
                erasure: Event | None) -> Standing:
    """Where a proposal read with its last step (and newest erasure step) stands at ``moment``:
    a listing's row, its history read only where the deadline clock needs it."""
    compiled = standings.definition_of(proposal, lambda digest: rows.definition_text(reads, digest))
    clock = standings.deadline_clock(compiled.workflow, proposal, last, None,
                                     lambda: rows.events_of(reads, proposal.id))
    return standings.standing(compiled, proposal, last, clock, moment, language, erasure)


_UNKNOWN = StateFacts(None, None, False, None)  # a state its definition does not declare


class _Facts:
    """The state facts of the stored definitions (of one workflow), read once a listing needs
    them: from the file of facts kept on disk, a definition not in it built once and added."""

    def __init__(self, reads: Reads, workflow: str | None) -> None:
        self.reads = reads
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
                stored = rows.definition_text(self.reads, digest)
                if stored is None:  # missing from the database: no state is known
                    return {}
                compiled = engines.compiled(digest, *stored)
            index.add(digest, statefacts.facts_of(compiled.workflow))
        return index.known[digest]

    def all(self) -> dict[str, dict[str, StateFacts]]:
        """Every stored definition's (of the workflow), by hash."""
        if self._all is None:
            self._all = {digest: self.of(digest) for digest in pages.definitions_in_use(self.reads, self.workflow)}
            self._known().save()
        return self._all


def _filter(facts: _Facts, moment: datetime, *, workflow: str | None, state: str | None, title: str | None,
            stage: str | None, owner: str | None, overdue: bool, final: bool | None) -> pages.Filter:
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
    return pages.Filter(workflow=workflow, state=state, title=title, groups=groups, not_groups=not_groups)


def _grouped(by_hash: dict[str, dict[str, StateFacts]], wanted: Callable[[StateFacts], bool],
             moment: datetime | None) -> list[pages.Group]:
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
    return [pages.Group(tuple(digests), names,
                        None if moment is None or floor is None else moment - timedelta(seconds=floor), restarts)
            for (names, floor, restarts), digests in sorted(together.items(),
                                                            key=lambda item: (item[0][0], item[0][1] or 0, item[0][2]))]
