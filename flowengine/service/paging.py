"""Listing proposals at any size: a page after a given proposal, or every match streamed.

The rows come from the store a batch at a time in the order asked for, filtered there by what
the rows answer (workflow, state, a text in the title, and — under one workflow, whose few
definitions are quick to read — the states of a stage or an owner). What needs a state's
meaning in general (its stage, owner, whether it is final, a deadline passed) is checked here
on each row, with the very rules ``proposal show`` uses, so a page and a standing never
disagree. Memory holds one batch, never the list.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

from flowengine import engine as engines
from flowengine.errors import InvalidInput, NotFound, Remedy
from flowengine.i18n import t
from flowengine.service.context import Engine
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
        start: listing.Key | None = None
        finals = [False, True] if sort == "waiting" else [None]  # open proposals first, then the final ones
        if after is not None:
            start, final = _start(conn, after)
            if sort == "waiting":
                finals = [True] if final else [False, True]
        wanted = listing.Filter(workflow=workflow, state=state, title=title,
                                states=_states(conn, workflow, stage, owner))
        for phase in finals:
            cursor, size = start, first_batch
            start = None  # a later phase starts at its beginning
            while True:
                rows = listing.page(conn, wanted, sort=sort, after=cursor, limit=size)
                for _, proposal, last in rows:
                    found = standing_of(engine, conn, proposal, last, language)
                    if (phase is None or found.final == phase) and (not stage or found.stage == stage) \
                            and (not owner or found.owner == owner) and (not overdue or found.overdue):
                        yield found
                if len(rows) < size:
                    break
                cursor, size = rows[-1][0], min(size * 2, _LARGEST_BATCH)


def _start(conn: Connection, after: str) -> tuple[listing.Key, bool]:
    """Where the page after proposal ``after`` starts, and whether that proposal is final."""
    wanted = after.strip().upper()
    found = listing.key_of(conn, wanted)
    if found is None:
        raise NotFound("proposal", wanted, queries.ids_near(conn, wanted)).fixed_by(Remedy("list_proposals"))
    key, digest = found
    compiled = engines.cached(digest)
    if compiled is None:
        stored = queries.definition_text(conn, digest)
        if stored is None:
            return key, False
        compiled = engines.compiled(digest, *stored)
    state = compiled.workflow.states.get(key.state)
    return key, bool(state and state.final)


def _states(conn: Connection, workflow: str | None, stage: str | None,
            owner: str | None) -> dict[str, list[str]] | None:
    """Under one workflow, the states per definition that have ``stage`` and ``owner``, for the
    store to filter by; None (filter afterwards) without a workflow, whose definitions may be many."""
    if not workflow or not (stage or owner):
        return None
    wanted: dict[str, list[str]] = {}
    for digest, text, source in listing.definitions_in_use(conn, workflow):
        compiled = engines.cached(digest) or engines.compiled(digest, text, source)
        wanted[digest] = [name for name, state in compiled.workflow.states.items()
                          if (not stage or state.stage == stage) and (not owner or state.owner == owner)]
    return wanted


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
