"""Replay of a proposal's events, and the checks an auditor relies on.

Each event's hash is sealed by :func:`flowengine.history.seal.seal` over the previous hash and
everything the event says, so editing, deleting, reordering or inserting a row breaks the chain
at that row. Pure Python: no database here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flowengine.clock import as_utc, iso_utc
from flowengine.history.erasure import ACTOR, COMMENT, FIELD, commit, digests
from flowengine.history.provenance import DETAILS_KEY
from flowengine.history.records import (
    CREATED,
    ERASED_STEP,
    EVENT_KINDS,
    FROM_KEY,
    MIGRATED,
    PROGRESS,
    STATE_ENTERING,
    Event,
    Proposal,
)
from flowengine.history.seal import GENESIS, seal
from flowengine.i18n import N_, marked, t
from flowengine.timewindow import EARLIEST_TEXT, LATEST_TEXT, OutOfWindow

__all__ = ["GENESIS", "ChainBreak", "Replayed", "apply_changes", "commitment_problem", "enters_state", "first_break",
           "former_hashes", "last_activity", "personal_value", "recompute", "replay", "restarts_deadline"]


def recompute(event: Event) -> str:
    """What the event's hash must be, by the one sealing function."""
    return _sealed(event, event.prev_hash, None if event.personal is None else digests(event.personal))


def former_hashes(event: Event, prev_hash: str) -> tuple[str, ...]:
    """What ``event`` hashed as before its history was converted to the erasable form, after the
    former ``prev_hash``: sealed with its personal values in (formats 1 and 2) — possible only
    while every value is kept — or, had it been of format 3 already, with its commitments. The
    one sealing function, so an auditor can see that a conversion changed nothing but the encoding."""
    found = []
    if event.personal is None or not any(committed.erased for committed in event.personal.values()):
        found.append(_sealed(event, prev_hash, None))
    if event.personal is not None:
        found.append(_sealed(event, prev_hash, digests(event.personal)))
    return tuple(found)


def _sealed(event: Event, prev_hash: str, commitments: dict[str, str] | None) -> str:
    """The event's hash after ``prev_hash``, its personal values sealed in (``commitments`` None)
    or as these commitments."""
    return seal(prev_hash, event.proposal, event.seq, event.kind, event.trigger, event.from_state, event.to_state,
                event.actor, event.role, iso_utc(event.at), iso_utc(event.entered_at), event.comment, event.changes,
                event.details, event.idempotency_key, event.login,
                iso_utc(event.recorded_at) if event.recorded_at is not None else None, commitments)


def personal_value(event: Event, item: str) -> Any:
    """The value an event shows for one of its personal items (``erasure.ERASED`` once erased)."""
    if item == ACTOR:
        return event.actor
    if item == COMMENT:
        return event.comment
    return event.changes.get(item.removeprefix(FIELD))


def commitment_problem(event: Event) -> str | None:
    """A personal value present but not the one sealed (an erased one has nothing to hold)."""
    for item, committed in sorted((event.personal or {}).items()):
        if committed.salt is None:
            continue
        if commit(item, committed.salt, personal_value(event, item)) != committed.digest:
            return t("its {item} does not match the commitment sealed for it (the value was changed)",
                     item=_named(item))
    return None


def _named(item: str) -> str:
    if item == ACTOR:
        return t("actor's name")
    if item == COMMENT:
        return t("comment")
    return t("field '{field}'", field=item.removeprefix(FIELD))
    return None


@dataclass(frozen=True)
class Replayed:
    """A proposal's standing computed from its events alone."""

    state: str
    fields: dict[str, Any]
    state_entered_at: datetime
    version: int
    head_hash: str
    updated_at: datetime
    definition: str = ""  # the definition the events leave it on: the creation's, or the newest migration's
    workflow_version: str = ""


def enters_state(event: Event) -> bool:
    """Creation and every step (a step back into the same state too) start the clock of a state;
    setting fields does not, nor does a migration (it renames the stay, the clock keeps running)."""
    return event.kind in STATE_ENTERING


def restarts_deadline(event: Event, stage: str | None) -> bool:
    """Whether an event restarts the deadline clock of the state it leaves the proposal in.
    In an implementation stage, recorded progress does: an implementation is stalled only when
    nothing has moved for longer than its deadline."""
    return enters_state(event) or (event.kind == PROGRESS and stage == "implementation")


def apply_changes(fields: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """Fields after an event's changes: a value sets a field, None clears it."""
    result = dict(fields)
    for name, value in changes.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = value
    return result


def replay(events: Sequence[Event]) -> Replayed:
    """Fold the events in order; the store's current row must always equal this."""
    if not events:
        raise ValueError(t("a proposal has at least its creation event"))
    fields: dict[str, Any] = {}
    state = events[0].to_state
    entered = events[0].at
    definition, version = _definition(events[0], "definition", "workflow_version")
    for event in events:
        if enters_state(event):
            entered = event.at
        if event.kind == MIGRATED:
            definition, version = _definition(event, "to_definition", "to_version")
        state = event.to_state
        fields = apply_changes(fields, event.changes)
    last = events[-1]
    return Replayed(state, fields, entered, last.seq, last.hash, last_activity(events).at, definition, version)


def last_activity(events: Sequence[Event]) -> Event:
    """The newest event that is activity of the proposal: an erasure step records what was
    erased, not a step of the proposal (the creation never is one)."""
    return next(event for event in reversed(events) if event.kind != ERASED_STEP)


def _definition(event: Event, hash_key: str, version_key: str) -> tuple[str, str]:
    return str(event.details.get(hash_key) or ""), str(event.details.get(version_key) or "")


@dataclass(frozen=True)
class ChainBreak:
    """The first broken link of one proposal's history."""

    proposal: str
    seq: int | None
    problem: str

    def as_dict(self) -> dict[str, Any]:
        return {"proposal": self.proposal, "seq": self.seq, "problem": self.problem}


def first_break(proposal: Proposal, events: Sequence[Event]) -> ChainBreak | None:
    """Walk one chain; None when every link holds and the proposal row equals the replay."""
    pid = proposal.id
    if not events:
        return ChainBreak(pid, None, t("the proposal has no events at all (its history was deleted)"))
    prev_hash = GENESIS
    previous: Event | None = None
    entered: datetime | None = None
    definition = ""
    for position, event in enumerate(events, start=1):
        problem = _link_problem(event, position, prev_hash, previous, entered) or _migration_problem(event, definition)
        if problem:
            return ChainBreak(pid, event.seq, problem)
        if enters_state(event):
            entered = event.at
        if position == 1:
            definition = str(event.details.get("definition") or "")
        elif event.kind == MIGRATED:
            definition = str(event.details.get("to_definition") or "")
        prev_hash = event.hash
        previous = event
    created = events[0]
    if proposal.definition_hash != definition:
        problem = (t("the proposal row runs under definition {row} but its creation event records {recorded} "
                     "(the row was changed)", row=proposal.definition_hash[:12], recorded=definition[:12])
                   if definition == created.details.get("definition") else
                   t("the proposal row runs under definition {row} but its newest migration records {recorded} "
                     "(the row was changed)", row=proposal.definition_hash[:12], recorded=definition[:12]))
        return ChainBreak(pid, created.seq, problem)
    described = [
        name for name, stored, recorded in (
            (N_("title"), proposal.title, created.details.get("title")),
            (N_("description"), proposal.description, created.details.get("description")),
            (N_("origin"), proposal.origin, created.details.get("origin")),
            (N_("created by"), proposal.created_by, created.actor),
            (N_("created at"), as_utc(proposal.created_at), as_utc(created.at)),
            (N_("came from"), proposal.came_from, created.details.get(FROM_KEY)),
            (N_("provenance"), proposal.provenance, _recorded_kind(created)),
        ) if stored != recorded
    ]
    if described:  # the names are marked, translated only when something differs (audit reads every history)
        return ChainBreak(pid, created.seq, t("the proposal row's {what} differ from its creation event (the row "
                                              "was changed)", what=", ".join(marked(name) for name in described)))
    replayed = replay(events)
    mismatches = [
        name for name, stored, derived in (
            (N_("state"), proposal.state, replayed.state),
            (N_("version"), proposal.version, replayed.version),
            (N_("fields"), proposal.fields, replayed.fields),
            (N_("head hash"), proposal.head_hash, replayed.head_hash),
            (N_("time the state was entered"), as_utc(proposal.state_entered_at), as_utc(replayed.state_entered_at)),
        ) if stored != derived
    ]
    if mismatches:
        # Where the two first differ: a row ahead of its events points at the first missing one.
        seq = min(proposal.version, replayed.version) + 1 if proposal.version != replayed.version else replayed.version
        return ChainBreak(pid, seq,
                          t("the proposal row does not match the replay of its events ({what}): the row or the "
                            "newest events were changed or deleted",
                            what=", ".join(marked(name) for name in mismatches)))
    return None


def _recorded_kind(created: Event) -> str | None:
    """The kind of provenance a creation event records, as the row mirrors it."""
    found = created.details.get(DETAILS_KEY)
    kind = found.get("kind") if isinstance(found, dict) else None
    return kind if isinstance(kind, str) else None


def _migration_problem(event: Event, definition: str) -> str | None:
    """A migration names the definition it moved from (the one the history was on) and the one it moved to."""
    if event.kind != MIGRATED:
        return None
    if event.details.get("from_definition") != definition:
        return t("migrates from definition {moved} but the proposal was on {definition}",
                 moved=str(event.details.get("from_definition"))[:12], definition=definition[:12])
    if not isinstance(event.details.get("to_definition"), str) or not event.details["to_definition"]:
        return t("a migration that names no definition to move to")
    return None


def _link_problem(event: Event, position: int, prev_hash: str, previous: Event | None,
                  entered: datetime | None) -> str | None:
    if event.seq != position:
        return t("sequence number {seq} where {position} was expected (an event was deleted, inserted or moved)",
                 seq=event.seq, position=position)
    if event.prev_hash != prev_hash:
        return t("does not link to the event before it (an event before it was changed, deleted or inserted)")
    outside = next((m for m in (event.at, event.entered_at) if isinstance(m, OutOfWindow)), None)
    if outside is not None:
        return t("its time '{stored}' lies outside the range flowengine accepts ({earliest} to {latest}, UTC); "
                 "it was written before that range was enforced, so its seal cannot be checked",
                 stored=outside.stored, earliest=EARLIEST_TEXT, latest=LATEST_TEXT)
    if recompute(event) != event.hash:
        return t("its content does not match its hash (the event was edited)")
    if event.personal is not None and (problem := commitment_problem(event)):
        return problem
    if event.kind not in EVENT_KINDS:
        return t("unknown kind '{kind}'", kind=event.kind)
    if previous is None:
        if event.kind != CREATED:
            return t("the history does not start with the proposal's creation")
        return None
    if event.kind == CREATED:
        return t("a second creation event")
    if event.from_state != previous.to_state:
        return t("leaves '{left}' but the proposal was in '{state}'", left=event.from_state, state=previous.to_state)
    if as_utc(event.at) < as_utc(previous.at):
        return t("is dated before the event it follows")
    if entered is not None and as_utc(event.entered_at) != as_utc(entered):
        return t("its 'entered at' time is not when the proposal entered that state")
    return None
