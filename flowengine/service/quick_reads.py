"""``proposal show``, ``history`` and ``proposal list`` (a page) read through the database driver alone
(:mod:`flowengine.store.direct`): a command that reads one proposal or one page costs, as a whole
process, about what starting Python and importing what it reads with costs; importing SQLAlchemy
(and on PostgreSQL its dialect beside psycopg) would cost more than the reading.

Each function gives what the façade's call gives — :meth:`FlowEngine.standing
<flowengine.service.facade.FlowEngine.standing>`, :meth:`~flowengine.service.facade.FlowEngine.history`
with :meth:`~flowengine.service.facade.FlowEngine.led_to`, and
:meth:`~flowengine.service.facade.FlowEngine.proposal_page` — the same records, made by the same
functions (:mod:`flowengine.service.standings`, :mod:`flowengine.store.rows`), so the command
line formats one kind of result. Everything the façade checks is checked the same way: the
schema revision, a fixed clock refused by a database made for real use, the as-of moment within
the window, the login's right to read the proposal's workflow (on PostgreSQL the rows are the
login's own under row-level security). Anything off the straight path — a proposal not found or
not readable (the façade says so, with its suggestions), a moment before the proposal existed,
another schema, a driver error — answers None, and the caller takes the façade, which does it
or refuses it with its own message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from flowengine.clock import as_utc, clock_from_environment, system_clock, windowed
from flowengine.store import basics, direct

if TYPE_CHECKING:
    from flowengine.access.grants import Permissions
    from flowengine.history.records import Event, Proposal
    from flowengine.service.results import ProposalPage, Standing

T = TypeVar("T")


@dataclass(frozen=True)
class Reader:
    """One read-only snapshot, who reads it, and the clock's now."""

    link: direct.Direct
    permissions: Permissions
    now: Callable[[], datetime]

    def readable(self, proposal_id: str) -> tuple[int, Proposal] | None:
        """The proposal (ids are capitals: "inn-7" is INN-7) when the login may read it; None
        otherwise (the façade says it is not there, with suggestions)."""
        found = self.link.proposal(proposal_id.strip().upper())
        return found if found is not None and self.permissions.may_read(found[1].workflow) else None


def read(database: str | None, replica: str | None, as_of: datetime | None,
         work: Callable[[Reader], T | None]) -> T | None:
    """``work`` on a driver's snapshot of ``database`` (``replica``: read there instead, as
    ``FlowEngine.open_read_only`` does), when the façade would read it the same way; None when
    the façade must do it (see the module's docstring)."""
    from flowengine.timewindow import in_window

    where = direct.target(replica or database)
    clock = clock_from_environment()  # a malformed FLOWENGINE_NOW is refused here as by the façade
    if where is None or (as_of is not None and not in_window(as_utc(as_of))):
        return None
    link = direct.connect(where)
    if link is None:
        return None
    with link:
        try:
            fixed = clock is not system_clock and not replica
            if fixed and (link.setting(basics.CLOCK) or basics.SYSTEM_CLOCK) != basics.INJECTED_CLOCK:
                return None  # the façade refuses a fixed clock here
            from flowengine.access.grants import Permissions

            login = link.login()
            return work(Reader(link, Permissions.of(login, link.grants(login)), windowed(clock)))
        except link.errors():
            return None


def standing(database: str | None, proposal_id: str, *, as_of: datetime | None = None, language: str = "en",
             replica: str | None = None) -> Standing | None:
    """As ``FlowEngine.standing``; None when the façade must do it."""
    moment = as_utc(as_of) if as_of is not None else None

    def work(reader: Reader) -> Standing | None:
        from flowengine.history import chain
        from flowengine.service import standings

        found = reader.readable(proposal_id)
        if found is None:
            return None
        pk, proposal = found
        events = reader.link.events_of(pk, until=moment)
        if not events:
            return None  # not yet registered then: the façade says so
        if moment is not None:
            proposal = standings.as_of_events(proposal, events)
        compiled = standings.definition_of(proposal, reader.link.definition_text)
        last = chain.last_activity(events)
        clock = standings.deadline_clock(compiled.workflow, proposal, last, events, lambda: events)
        now = reader.now()
        return standings.standing(compiled, proposal, last, clock, min(moment, now) if moment else now, language,
                                  standings.last_erasure(events))

    return read(database, replica, moment, work)


def history(database: str | None, proposal_id: str, *, as_of: datetime | None = None, replica: str | None = None
            ) -> tuple[Proposal, list[Event], list[Proposal]] | None:
    """As ``FlowEngine.history`` and then ``FlowEngine.led_to`` of the proposal (in one snapshot);
    None when the façade must do it."""
    moment = as_utc(as_of) if as_of is not None else None

    def work(reader: Reader) -> tuple[Proposal, list[Event], list[Proposal]] | None:
        from flowengine.service.standings import as_of_events

        found = reader.readable(proposal_id)
        if found is None:
            return None
        pk, proposal = found
        events = reader.link.events_of(pk, until=moment)
        led_to = [p for p in reader.link.derived_from(proposal.id, until=moment)
                  if reader.permissions.may_read(p.workflow)]
        if moment is None:
            return proposal, events, led_to
        if not events:
            return None  # not yet registered then: the façade says so
        return as_of_events(proposal, events), events, led_to

    return read(database, replica, moment, work)


def page(database: str | None, *, workflow: str | None = None, state: str | None = None, stage: str | None = None,
         owner: str | None = None, overdue: bool = False, title: str | None = None, sort: str = "id",
         after: str | None = None, limit: int = 50, language: str = "en", replica: str | None = None
         ) -> ProposalPage | None:
    """As ``FlowEngine.proposal_page`` now (no as-of moment: a past moment's list is replayed by
    the façade); None when the façade must do it (an ``after`` that is not there, among others)."""
    from flowengine.service import listings

    if sort not in listings.SORTS or limit < 1:
        return None  # the façade refuses it, and says why

    def work(reader: Reader) -> ProposalPage | None:
        from itertools import islice

        from flowengine.service.results import ProposalPage

        if workflow:
            reader.permissions.check_read(workflow)  # refused as by the façade
        try:
            found = list(islice(listings.matching(
                reader.link, reader.permissions, reader.now, workflow=workflow, state=state, stage=stage, owner=owner,
                overdue=overdue, title=title, sort=sort, after=after, language=language, first_batch=limit + 1),
                limit + 1))
        except listings.NoSuchStart:
            return None  # the façade says so, with the ids near it
        shown = tuple(found[:limit])
        return ProposalPage(shown, shown[-1].proposal.id if len(found) > limit else None)

    return read(database, replica, None, work)
