"""The one step builder: every event any write path records is built and sealed here.

The façade's steps (new, advance, set, progress), ``tick``, ``migrate``, the demo (through the
façade) and the event-log import all chain events through :class:`ChainBuilder`, so each rule
about events lives in one place: what a creation records, that an event follows its chain's
head and leaves the state the proposal is in, which kinds start a state's clock, how it is
sealed. It builds plain rows (:class:`EventRow`), cheap enough for an import of a million
events; :meth:`EventRow.event` gives the :class:`Event` the API hands out.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any, NamedTuple

from flowengine.clock import as_utc, iso_utc
from flowengine.history.erasure import (
    ACTOR,
    COMMENT,
    Committed,
    commit,
    digests,
    field_item,
    new_salt,
    repeatable_salt,
)
from flowengine.history.provenance import Provenance, with_provenance
from flowengine.history.records import (
    ADVANCED,
    CREATED,
    FROM_KEY,
    STATE_ENTERING,
    SYSTEM,
    Event,
    Proposal,
    Stamp,
)
from flowengine.history.seal import GENESIS, seal

_NOTHING: dict[str, Any] = {}  # shared empty changes/details: never mutated


class EventRow(NamedTuple):
    """One built event, with its times also in ``clock.iso_utc`` form (what the seal and a bulk
    write read); a plain tuple, so a million of them stay cheap."""

    proposal: str
    seq: int
    kind: str
    trigger: str | None
    from_state: str | None
    to_state: str
    actor: str
    role: str
    at: datetime
    at_iso: str
    entered_at: datetime
    entered_iso: str
    comment: str
    changes: dict[str, Any]
    details: dict[str, Any]
    idempotency_key: str | None
    prev_hash: str
    hash: str
    login: str | None
    recorded_at: datetime | None
    recorded_iso: str | None
    personal: dict[str, Committed] | None = None  # event format 3: the personal values' commitments

    def event(self) -> Event:
        return Event(self.proposal, self.seq, self.kind, self.trigger, self.from_state, self.to_state, self.actor,
                     self.role, self.at, self.entered_at, self.comment, self.changes, self.details,
                     self.idempotency_key, self.prev_hash, self.hash, self.login, self.recorded_at, self.personal)


def creation_details(*, title: str, description: str, origin: str, workflow: str, workflow_version: str,
                     definition: str, came_from: str | None = None,
                     provenance: Provenance | None = None) -> dict[str, Any]:
    """What a creation event records of its proposal: the row is checked against it by ``audit
    verify``. ``came_from``: the proposal it came from (an audit whose finding it is);
    ``provenance``: where its registration comes from, in a history rebuilt from a source."""
    details = {"title": title, "description": description, "origin": origin, "workflow": workflow,
               "workflow_version": workflow_version, "definition": definition}
    if came_from:
        details[FROM_KEY] = came_from
    return with_provenance(details, provenance)


class ChainBuilder:
    """Builds one proposal's events in order: each event follows the one built before it (or the
    stored head it was started from), leaves the state the proposal is in, and is sealed.

    ``stamp``: the authenticated login recording the events and the database's time of the
    recording, sealed into each (event format 2); None only where a test builds format 1.
    ``erasable``: the fields the workflow marks personal — given (with a stamp), the events are
    of format 3: the actor's name, the comment and those fields are sealed as salted commitments
    (:mod:`flowengine.history.erasure`), so they can be erased later. ``salts``: where their
    salts come from (:func:`~flowengine.history.erasure.new_salt`; an import passes a
    :func:`~flowengine.history.erasure.salt_pool`); a database made for tests or demos derives
    them instead (:func:`~flowengine.history.erasure.repeatable_salt`)."""

    __slots__ = ("carried", "carrying", "entered_at", "entered_iso", "erasable", "head", "login", "proposal",
                 "recorded_at", "recorded_iso", "salts", "seq", "simulated", "state")

    def __init__(self, proposal: str, stamp: Stamp | None = None, erasable: Collection[str] | None = None,
                 salts: Callable[[], str] = new_salt) -> None:
        """A new chain: its first event must be the creation (:meth:`create`)."""
        self.proposal = proposal
        self.erasable = frozenset(erasable) if erasable is not None and stamp is not None else None
        self.salts = salts
        self.simulated = stamp.simulated if stamp else False
        self.login = stamp.login if stamp else None
        self.recorded_at = stamp.recorded_at if stamp else None
        self.recorded_iso = stamp.recorded_iso if stamp else None
        self.seq = 0
        self.state = ""
        self.head = GENESIS
        self.entered_at: datetime | None = None
        self.entered_iso = ""
        self.carrying = False
        self.carried: dict[str, Committed] | None = None

    def restamp(self, stamp: Stamp | None) -> None:
        """Seal the events built from now on with ``stamp`` (None: event format 1): an import of
        flowengine's own export rebuilds each event as it was recorded."""
        self.login = stamp.login if stamp else None
        self.recorded_at = stamp.recorded_at if stamp else None
        self.recorded_iso = stamp.recorded_iso if stamp else None

    def carry(self, personal: dict[str, Committed] | None) -> None:
        """Seal the events built from now on with exactly these commitments (None: of format 1 or
        2), whatever the values: an import of flowengine's own export rebuilds each event as it
        was recorded, its salts (and erased values) as they travelled in the log."""
        self.carrying = True
        self.carried = personal

    @classmethod
    def after(cls, proposal: Proposal, stamp: Stamp | None = None, erasable: Collection[str] | None = None,
              salts: Callable[[], str] = new_salt) -> ChainBuilder:
        """The chain of a stored proposal, continued from its head."""
        chain = cls(proposal.id, stamp, erasable, salts)
        chain.seq = proposal.version
        chain.state = proposal.state
        chain.head = proposal.head_hash
        chain.entered_at = as_utc(proposal.state_entered_at)
        chain.entered_iso = iso_utc(chain.entered_at)
        return chain

    def create(self, state: str, actor: str, role: str, at: datetime, *, details: dict[str, Any],
               fields: dict[str, Any] | None = None, comment: str = "", key: str | None = None,
               at_iso: str | None = None) -> EventRow:
        """The creation: the proposal enters ``state`` with ``fields``; ``details`` from :func:`creation_details`."""
        if self.seq:
            raise ValueError(f"{self.proposal} already has {self.seq} event(s); a chain is created once")
        if at_iso is None:
            at = as_utc(at)
            at_iso = iso_utc(at)
        self.entered_at, self.entered_iso = at, at_iso
        return self._sealed(CREATED, None, None, state, actor, role, at, at_iso, comment, fields or _NOTHING,
                            details, key)

    def step(self, kind: str, actor: str, role: str, at: datetime, *, trigger: str | None = None,
             to_state: str | None = None, comment: str = "", changes: dict[str, Any] | None = None,
             details: dict[str, Any] | None = None, key: str | None = None, at_iso: str | None = None) -> EventRow:
        """The next event: out of the current state into ``to_state`` (else staying in it)."""
        if not self.seq:
            raise ValueError(f"{self.proposal} has no creation event yet; create it first")
        if at_iso is None:
            at = as_utc(at)
            at_iso = iso_utc(at)
        row = self._sealed(kind, trigger, self.state, to_state or self.state, actor, role, at, at_iso, comment,
                           changes or _NOTHING, details or _NOTHING, key)
        if kind in STATE_ENTERING:
            self.entered_at, self.entered_iso = at, at_iso
        return row

    def advance(self, actor: str, role: str, at: datetime, at_iso: str, trigger: str | None, to_state: str,
                comment: str) -> EventRow:
        """:meth:`step` of an :data:`ADVANCED` event with no changes, details or key, its time given in
        both forms: the step of a bulk import, once per event, so the building and the sealing are
        written out here rather than reached through three more calls. In event format 3 its personal
        values are the name and the comment only (a step without changes sets no field), committed
        as :meth:`_committed` commits them. A test holds it equal to :meth:`step` in every format."""
        if not self.seq:
            raise ValueError(f"{self.proposal} has no creation event yet; create it first")
        if self.carrying:  # an exact rebuild: its commitments as they travelled
            return self.step(ADVANCED, actor, role, at, trigger=trigger, to_state=to_state, comment=comment,
                             at_iso=at_iso)
        head, seq, source, entered_iso, login = self.head, self.seq + 1, self.state, self.entered_iso, self.login
        if self.erasable is None:
            personal = sealed = None
        else:  # event format 3
            personal, sealed = {}, {}
            if actor != SYSTEM:
                salt = self._salt(seq, ACTOR) if self.simulated else self.salts()
                sealed[ACTOR] = digest = commit(ACTOR, salt, actor)
                personal[ACTOR] = _new_committed(Committed, (digest, salt))
            if comment:
                salt = self._salt(seq, COMMENT) if self.simulated else self.salts()
                sealed[COMMENT] = digest = commit(COMMENT, salt, comment)
                personal[COMMENT] = _new_committed(Committed, (digest, salt))
        digest = seal(head, self.proposal, seq, ADVANCED, trigger, source, to_state, actor, role, at_iso, entered_iso,
                      comment, _NOTHING, _NOTHING, None, login, self.recorded_iso, sealed)
        row = _new_row(EventRow, (self.proposal, seq, ADVANCED, trigger, source, to_state, actor, role, at, at_iso,
                                  self.entered_at, entered_iso, comment, _NOTHING, _NOTHING, None, head, digest, login,
                                  self.recorded_at, self.recorded_iso, personal))
        self.seq, self.state, self.head, self.entered_at, self.entered_iso = seq, to_state, digest, at, at_iso
        return row

    def resealed(self, event: Event, personal_fields: Collection[str]) -> EventRow:
        """A stored ``event`` sealed again after this chain's head, saying all it said — kind,
        trigger, states, actor, role, times, login, comment, changes, details, key — in event
        format 3: an event of format 1 or 2 has its personal values (the name, the comment, the
        ``personal_fields`` it sets) committed afresh; one of format 3 keeps its commitments.
        Converting an old history's personal data into the erasable form goes through here, so the
        re-sealed chain is built and sealed as every other."""
        stamp = None if event.login is None or event.recorded_at is None else Stamp.of(
            event.login, event.recorded_at, simulated=self.simulated)
        self.restamp(stamp)
        self.erasable = frozenset(personal_fields)
        at = as_utc(event.at)
        if event.seq == 1:
            if self.seq:
                raise ValueError(f"{self.proposal} already has {self.seq} event(s); a chain is created once")
            self.entered_at, self.entered_iso = at, iso_utc(at)
        elif not self.seq:
            raise ValueError(f"{self.proposal} has no creation event yet; create it first")
        self.carrying = event.personal is not None  # of format 3 already: its commitments stay
        self.carried = None if event.personal is None else dict(event.personal)
        row = self._sealed(event.kind, event.trigger, self.state if self.seq else None, event.to_state,
                           event.actor, event.role, at, iso_utc(at), event.comment, dict(event.changes),
                           dict(event.details), event.idempotency_key)
        if event.kind in STATE_ENTERING:
            self.entered_at, self.entered_iso = at, iso_utc(at)
        return row

    def _sealed(self, kind: str, trigger: str | None, source: str | None, target: str, actor: str, role: str,
                at: datetime, iso: str, comment: str, changes: dict[str, Any], details: dict[str, Any],
                key: str | None) -> EventRow:
        """The event after the head, sealed; the chain's head moves to it."""
        head, seq, entered_iso = self.head, self.seq + 1, self.entered_iso
        login = self.login
        if self.carrying:
            personal = self.carried
            sealed = None if personal is None else digests(personal)
        elif self.erasable is None:
            personal = sealed = None
        else:
            personal, sealed = self._committed(seq, actor, comment, changes)
        digest = seal(head, self.proposal, seq, kind, trigger, source, target, actor, role, iso, entered_iso, comment,
                      changes, details, key, login, self.recorded_iso, sealed)
        self.seq, self.state, self.head = seq, target, digest
        # tuple.__new__ directly: the named tuple's own __new__ would add a call per event of an import
        return _new_row(EventRow, (self.proposal, seq, kind, trigger, source, target, actor, role, at, iso,
                                   self.entered_at, entered_iso, comment, changes, details, key, head, digest,
                                   login, self.recorded_at, self.recorded_iso, personal))

    def _salt(self, seq: int, item: str) -> str:
        return (repeatable_salt(self.proposal, seq, item, self.recorded_iso or "") if self.simulated
                else self.salts())

    def _committed(self, seq: int, actor: str, comment: str, changes: dict[str, Any]
                   ) -> tuple[dict[str, Committed], dict[str, str]]:
        """The commitments of an event's personal values — the actor's name (not the engine's own),
        a comment, each personal field set (a field cleared holds nothing) — with their salts, and
        item → commitment (what the seal holds)."""
        values: dict[str, Any] = {}
        if actor != SYSTEM:
            values[ACTOR] = actor
        if comment:
            values[COMMENT] = comment
        for name, value in changes.items():
            if value is not None and self.erasable is not None and name in self.erasable:
                values[field_item(name)] = value
        found: dict[str, Committed] = {}
        sealed: dict[str, str] = {}
        for item, value in values.items():
            salt = self._salt(seq, item)
            sealed[item] = digest = commit(item, salt, value)
            found[item] = Committed(digest, salt)
        return found, sealed


_new_row = tuple.__new__
_new_committed = tuple.__new__
