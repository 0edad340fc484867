"""Reading proposals: where one stands, which match a filter, a history — now or as of any
past moment, by replaying the event chain (the truth the row is checked against)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from flowengine.clock import as_utc, local_text
from flowengine.errors import AccessDenied, InvalidInput, NotFound, Remedy
from flowengine.history import chain
from flowengine.history.records import Event, Proposal, id_order
from flowengine.i18n import t
from flowengine.service import standings
from flowengine.service.context import Engine
from flowengine.service.lookup import compiled_of, load
from flowengine.service.results import Lineage, Standing
from flowengine.service.standings import as_of_events, last_erasure
from flowengine.store import Connection, queries

SORTS = ("id", "waiting", "updated", "state")


def readable_workflows(engine: Engine, workflows: Sequence[str] = ()) -> tuple[str, ...]:
    """The workflows a read may cover: those named, each of which the login must be allowed to
    read; when none is named, every workflow (``()``) for a login that reads them all, else those
    it holds a role in. A login that may read nothing is refused."""
    with engine.database.read() as conn:
        perms = engine.permissions(conn)
    for workflow in workflows:
        perms.check_read(workflow)
    if workflows or perms.reads_every_workflow:
        return tuple(workflows)
    mine = tuple(sorted({w for w, _ in perms.held if perms.may_read(w)}))
    if not mine:
        raise AccessDenied(t("{login} may not read any workflow here; an administrator can grant a role or the "
                             "reader capability", login=perms.login))
    return mine


def readable(engine: Engine, conn: Connection, proposal_id: str) -> tuple[int, Proposal]:
    """The proposal, if the login may read its workflow; else as if it were not there."""
    pk, proposal = load(conn, proposal_id)
    if not engine.permissions(conn).may_read(proposal.workflow):
        raise NotFound("proposal", proposal.id, []).fixed_by(Remedy("list_proposals"))
    return pk, proposal


def standing(engine: Engine, proposal_id: str, *, as_of: datetime | None = None, language: str = "en") -> Standing:
    with engine.database.read() as conn:
        pk, proposal = readable(engine, conn, proposal_id)
        events = queries.events_of(conn, pk, until=as_of)
        if not events:
            raise not_yet(proposal, as_of or engine.clock())
        return _standing(engine, conn, as_of_events(proposal, events) if as_of else proposal,
                         chain.last_activity(events), as_of, language, events, last_erasure(events))


def proposals(engine: Engine, *, workflow: str | None = None, state: str | None = None, stage: str | None = None,
              owner: str | None = None, overdue: bool = False, as_of: datetime | None = None, sort: str = "id",
              title: str | None = None, language: str = "en") -> list[Standing]:
    """Every matching proposal, sorted, each history replayed up to ``as_of`` (now when None: the
    reference that :mod:`paging`'s lists of the rows are held to)."""
    if sort not in SORTS:
        raise InvalidInput(f"cannot sort by '{sort}'; choose one of: {', '.join(SORTS)}")
    found = []
    with engine.database.read() as conn:
        perms = engine.permissions(conn)
        if workflow:
            perms.check_read(workflow)
        for current, events in queries.histories(conn, until=as_of, workflow=workflow):
            if not perms.may_read(current.workflow):
                continue
            past = as_of_events(current, events) if events else None
            # a title holds the text in any case, letter by letter as the databases compare
            # (lower(), not casefold(): "ß" is not "ss"; store.titles)
            if past is not None and (not state or past.state == state) and \
                    (not title or title.lower() in past.title.lower()):
                found.append(_standing(engine, conn, past, chain.last_activity(events), as_of, language, events,
                                       last_erasure(events)))
    found = [s for s in found if (not stage or s.stage == stage) and (not owner or s.owner == owner)
             and (not overdue or s.overdue)]
    keys: dict[str, Callable[[Standing], Any]] = {
        "id": lambda s: id_order(s.proposal.id),
        "waiting": lambda s: (s.final, -s.waiting_days, id_order(s.proposal.id)),
        "updated": lambda s: (s.proposal.updated_at, id_order(s.proposal.id)),  # newest first: reversed
        "state": lambda s: (s.proposal.workflow, s.proposal.state, id_order(s.proposal.id)),
    }
    return sorted(found, key=keys[sort], reverse=sort == "updated")


def history(engine: Engine, proposal_id: str, *, as_of: datetime | None = None) -> tuple[Proposal, list[Event]]:
    with engine.database.read() as conn:
        pk, proposal = readable(engine, conn, proposal_id)
        events = queries.events_of(conn, pk, until=as_of)
    if as_of is None:
        return proposal, events
    if not events:
        raise not_yet(proposal, as_of)
    return as_of_events(proposal, events), events


def histories(engine: Engine, *, workflow: str | None = None,
              as_of: datetime | None = None) -> Iterator[tuple[Proposal, list[Event]]]:
    """Every proposal (of ``workflow``) with its events up to ``as_of``, as it stood then, streamed
    in id order; a proposal created later is left out."""
    with engine.database.read() as conn:
        perms = engine.permissions(conn)
        if workflow:
            perms.check_read(workflow)
        for proposal, events in queries.histories(conn, until=as_of, workflow=workflow):
            if events and perms.may_read(proposal.workflow):
                yield (as_of_events(proposal, events) if as_of else proposal), events


def not_yet(proposal: Proposal, moment: datetime) -> InvalidInput:
    return InvalidInput(f"{proposal.id} did not exist yet at {local_text(moment)} "
                        f"(created {local_text(proposal.created_at)})").fixed_by(
        Remedy("later_moment"))


def _standing(engine: Engine, conn: Connection, proposal: Proposal, last: Event, as_of: datetime | None,
              language: str, events: Sequence[Event] | None = None, erasure: Event | None = None) -> Standing:
    """``last``: the last step (an erasure step is none: it leaves the deadline clock as it was)."""
    compiled = compiled_of(conn, proposal)
    moment = min(as_utc(as_of), engine.clock()) if as_of else engine.clock()  # a naive as_of is UTC, as everywhere
    clock = standings.deadline_clock(compiled.workflow, proposal, last, events,
                                     lambda: queries.events_of(conn, load(conn, proposal.id)[0]))
    return standings.standing(compiled, proposal, last, clock, moment, language, erasure)


# -- where proposals came from --------------------------------------------------------------

def led_to(engine: Engine, proposal_id: str, *, as_of: datetime | None = None) -> list[Proposal]:
    """The proposals registered as coming from this one, in id order; with ``as_of``, those
    registered by then."""
    with engine.database.read() as conn:
        source = readable(engine, conn, proposal_id)[1].id
        perms = engine.permissions(conn)
        return [p for p in queries.derived_from(conn, [source], until=as_of).get(source, [])
                if perms.may_read(p.workflow)]


def links(engine: Engine, workflows: Sequence[str] = (), *, as_of: datetime | None = None) -> dict[str, list[Proposal]]:
    """Every proposal that led to others (among ``workflows``' proposals, or all), mapped to those
    it led to, as registered by ``as_of``."""
    with engine.database.read() as conn:
        perms = engine.permissions(conn)
        for workflow in workflows:
            perms.check_read(workflow)
        found = queries.derived_from(conn, None, until=as_of, workflows=workflows)
    visible = {pid: [p for p in derived if perms.may_read(p.workflow)] for pid, derived in found.items()}
    return {pid: derived for pid, derived in visible.items() if derived and _may_read_id(engine, pid)}


def _may_read_id(engine: Engine, proposal_id: str) -> bool:
    with engine.database.read() as conn:
        found = queries.load_proposal(conn, proposal_id)
        return found is not None and engine.permissions(conn).may_read(found[1].workflow)


def lineage(engine: Engine, workflows: Sequence[str] = (), *, as_of: datetime | None = None,
            language: str = "en") -> list[Lineage]:
    """Each proposal that others came from, with where it and each of them stood at ``as_of``
    (now by default); sources in id order."""
    found = links(engine, workflows, as_of=as_of)
    return [Lineage(standing(engine, source, as_of=as_of, language=language),
                    tuple(standing(engine, p.id, as_of=as_of, language=language) for p in derived))
            for source, derived in sorted(found.items(), key=lambda item: id_order(item[0]))]
