"""Listing proposals at any size through the façade: a page after a given proposal, or every
match streamed — :func:`flowengine.service.listings.matching` on a store connection (where the
rows come from and how they are filtered is said there). Memory holds one batch, never the list.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

from flowengine.errors import InvalidInput, NotFound, Remedy
from flowengine.i18n import t
from flowengine.service import listings
from flowengine.service.context import Engine
from flowengine.service.results import ProposalPage, Standing
from flowengine.store import listing, queries

SORTS = listing.SORTS
DEFAULT_LIMIT = 50
_FIRST_BATCH = listings.FIRST_BATCH


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
    if sort not in SORTS:
        raise InvalidInput(f"cannot sort by '{sort}'; choose one of: {', '.join(SORTS)}")
    with engine.database.read() as conn:
        perms = engine.permissions(conn)  # a workflow the login holds nothing in stays out of sight
        if workflow:
            perms.check_read(workflow)
        try:
            yield from listings.matching(listing.reads(conn), perms, engine.clock, workflow=workflow, state=state,
                                         stage=stage, owner=owner, overdue=overdue, title=title, sort=sort,
                                         after=after, language=language, first_batch=first_batch)
        except listings.NoSuchStart as missing:
            wanted = missing.proposal_id
            raise NotFound("proposal", wanted, queries.ids_near(conn, wanted)).fixed_by(
                Remedy("list_proposals")) from None


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
