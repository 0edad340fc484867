"""What the store hands out: proposals, their events, and who acted. Plain frozen data.

Field values are JSON values (text, number); times are aware UTC datetimes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flowengine.clock import iso_utc
from flowengine.errors import InvalidInput, Remedy
from flowengine.history.erasure import Committed, carried

# An event's kind: how the proposal changed.
CREATED = "created"
ADVANCED = "advanced"
FIELDS_SET = "fields_set"
# An implementation's progress: details {"percent", "note", "milestone", "milestone_date"}; the
# percent is None where only "in part" is known (the source gives no share).
PROGRESS = "progress"
REMINDED = "reminded"  # a due reminder was handed out by `flowengine tick`: details {"after", "due"}
# Moved to another definition of its workflow by `flowengine workflow migrate`: details
# {"from_definition", "to_definition", "from_version", "to_version", "map"}. It renames the
# current stay (from_state → to_state) without ending it: the state's clock keeps running.
MIGRATED = "migrated"
# A note in the history: something heard of the proposal that moves nothing ("still waiting for
# the committee"). It changes no state, field or deadline clock, but it is a record: the stall
# analysis counts a proposal over its limit as known to be waiting only when something was
# recorded within its limit.
NOTED = "noted"
# Personal values of earlier steps were erased (``flowengine erase``): details {"erased": the kinds
# erased — "actor", "comments", "field:NAME" —, "values": how many, "request": on whose request}.
# Never the values themselves. It changes no state, field or deadline clock.
ERASED_STEP = "erased"
EVENT_KINDS = (CREATED, ADVANCED, FIELDS_SET, PROGRESS, REMINDED, MIGRATED, NOTED, ERASED_STEP)
STATE_ENTERING = (CREATED, ADVANCED)  # kinds that start the clock of the state they lead to
# The creation's details name the proposal this one came from (``flowengine proposal new …
# --from BSB-1``): an audit's finding that became a proposal in a municipal chain.
FROM_KEY = "from"

# The engine's own name and role: the steps a workflow declares to happen by themselves
# (escalations) and the reminders `tick` hands out are recorded by this actor.
SYSTEM = "system"

# What a name or role may be: 1 to 64 characters, none of them a control character.
ACTOR_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,64}$")
ACTOR_NAME_RULE = "1 to 64 printable characters"


def actor_problem(what: str, value: str) -> str | None:
    """Why ``value`` cannot be an actor's ``what`` ("name" or "role"); None when it can."""
    if not isinstance(value, str) or not value.strip() or not ACTOR_NAME.match(value):
        return f"actor {what} {str(value)[:70]!r} is not usable: give {ACTOR_NAME_RULE} (a pseudonym is enough)"
    return None


def id_order(proposal_id: str) -> tuple[str, int]:
    """How proposal ids sort for people: by prefix, then by number as a number (INN-2 before INN-10)."""
    prefix, _, number = proposal_id.rpartition("-")
    return (prefix, int(number)) if number.isdigit() else (proposal_id, 0)


@dataclass(frozen=True)
class Actor:
    """Who acts, in which role. ``name`` may be a pseudonym: no real name is ever required."""

    name: str
    role: str

    def __post_init__(self) -> None:
        for what, value in (("name", self.name), ("role", self.role)):
            problem = actor_problem(what, value)
            if problem is not None:
                raise InvalidInput(problem).fixed_by(Remedy("actor"))


SYSTEM_ACTOR = Actor(SYSTEM, SYSTEM)


@dataclass(frozen=True)
class Event:
    """One step in a proposal's history. ``entered_at`` is when ``from_state`` was entered, so
    time in that state is ``at - entered_at`` without looking at any other row."""

    proposal: str
    seq: int
    kind: str
    trigger: str | None
    from_state: str | None
    to_state: str
    actor: str
    role: str
    at: datetime
    entered_at: datetime
    comment: str
    changes: dict[str, Any]
    details: dict[str, Any]
    idempotency_key: str | None
    prev_hash: str
    hash: str
    # Event format 2 (migration 0006): the authenticated login that recorded the step, and when it
    # was recorded by the database's clock, both sealed. ``at`` is when the step took effect.
    # None in the events of format 1, written before: they verify as they were sealed.
    login: str | None = None
    recorded_at: datetime | None = None
    # Event format 3 (migration 0008): the personal values (item "actor", "comment" or
    # "field:NAME") sealed as salted commitments, their values kept apart and erasable; an erased
    # value reads as ``erasure.ERASED`` in ``actor``, ``comment`` or ``changes``. None: format 1 or 2.
    personal: Mapping[str, Committed] | None = None

    @property
    def format(self) -> int:
        return 3 if self.personal is not None else 2 if self.login is not None else 1

    def as_dict(self) -> dict[str, Any]:
        found = {
            "proposal": self.proposal, "seq": self.seq, "kind": self.kind, "trigger": self.trigger,
            "from": self.from_state, "to": self.to_state, "actor": self.actor, "role": self.role,
            "at": iso_utc(self.at), "entered_at": iso_utc(self.entered_at), "comment": self.comment,
            "changes": self.changes, "details": self.details, "idempotency_key": self.idempotency_key,
            "prev_hash": self.prev_hash, "hash": self.hash, "login": self.login,
            "recorded_at": iso_utc(self.recorded_at) if self.recorded_at is not None else None,
        }
        if self.personal is not None:
            found["format"] = 3
            found["erasable"] = carried(self.personal)
        return found


@dataclass(frozen=True)
class Stamp:
    """Who recorded a write, and when by the database's clock: sealed into every event it makes.
    ``login`` is the authenticated login (never a name the caller chose); ``recorded_at`` is the
    transaction's time, ``recorded_iso`` its ``clock.iso_utc`` text. ``simulated``: the time
    comes from a fixed clock of a database made for tests or demos."""

    login: str
    recorded_at: datetime
    recorded_iso: str
    simulated: bool = False

    @classmethod
    def of(cls, login: str, recorded_at: datetime, *, simulated: bool = False) -> Stamp:
        from flowengine.clock import as_utc

        moment = as_utc(recorded_at)
        return cls(login, moment, iso_utc(moment), simulated)


@dataclass(frozen=True)
class Proposal:
    """A proposal as stored: pinned to the definition (content hash) it runs under."""

    id: str
    workflow: str
    workflow_version: str
    definition_hash: str
    title: str
    description: str
    origin: str
    state: str
    fields: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    state_entered_at: datetime
    version: int
    head_hash: str
    created_by: str = ""
    came_from: str | None = None  # the proposal it came from, as its creation event names it
    provenance: str | None = None  # the kind of provenance its registration records (a rebuilt history)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "workflow": self.workflow, "workflow_version": self.workflow_version,
            "definition_hash": self.definition_hash, "title": self.title, "description": self.description,
            "origin": self.origin, "state": self.state, "fields": self.fields,
            "created_at": iso_utc(self.created_at), "updated_at": iso_utc(self.updated_at),
            "state_entered_at": iso_utc(self.state_entered_at), "version": self.version,
            "created_by": self.created_by, "from": self.came_from, "provenance": self.provenance,
        }


@dataclass(frozen=True, slots=True)
class Step:
    """An event as the analysis needs it: no payloads, so a million of them stay cheap."""

    kind: str
    trigger: str | None
    source: str | None
    target: str
    actor: str
    role: str
    at: datetime
    commented: bool


@dataclass(frozen=True)
class Trail:
    """One proposal's history up to the as-of moment, oldest step first."""

    proposal: str
    title: str
    workflow: str
    steps: tuple[Step, ...]
    definition: str = ""
