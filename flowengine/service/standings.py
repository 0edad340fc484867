"""Where a proposal stands, made from what was read of it — the rules ``proposal show`` and every
list share, whichever path read the rows (the SQLAlchemy store, or the driver's own reads of
:mod:`flowengine.service.quick_reads`). No database access here: the callers pass how to read a
stored definition's text and, where needed, the proposal's history."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from flowengine import engine as engines
from flowengine.clock import as_utc
from flowengine.definition.model import Workflow
from flowengine.engine import CompiledWorkflow
from flowengine.errors import StoreError
from flowengine.history import chain
from flowengine.history.records import ERASED_STEP, Event, Proposal
from flowengine.service.results import Standing

if TYPE_CHECKING:
    from flowengine.service.deadlines import DeadlineClock


def as_of_events(proposal: Proposal, events: Sequence[Event]) -> Proposal:
    """The proposal as its events up to a moment leave it, on the definition it ran under then
    (a later migration moved it to another)."""
    replayed = chain.replay(events)
    return replace(proposal, state=replayed.state, fields=replayed.fields, version=replayed.version,
                   updated_at=replayed.updated_at, state_entered_at=replayed.state_entered_at,
                   head_hash=replayed.head_hash, definition_hash=replayed.definition or proposal.definition_hash,
                   workflow_version=replayed.workflow_version or proposal.workflow_version)


def last_erasure(events: Sequence[Event]) -> Event | None:
    """The newest erasure step of a history."""
    return next((event for event in reversed(events) if event.kind == ERASED_STEP), None)


def definition_of(proposal: Proposal, text_of: Callable[[str], tuple[str, str] | None]) -> CompiledWorkflow:
    """The definition a proposal runs under (not the file as it reads today): built before, or
    built from its stored text (``text_of``: (YAML text, source name) of a stored definition)."""
    cached = engines.cached(proposal.definition_hash)
    if cached is not None:
        return cached
    stored = text_of(proposal.definition_hash)
    if stored is None:
        raise StoreError(f"the definition {proposal.definition_hash[:12]} of {proposal.id} is missing "
                         "from the database; restore it from a backup")
    return engines.compiled(proposal.definition_hash, *stored)


def deadline_clock(workflow: Workflow, proposal: Proposal, last: Event, events: Sequence[Event] | None,
                   history: Callable[[], Sequence[Event]]) -> DeadlineClock:
    """The current stay's deadline clock; the history (``history()`` when ``events`` were not
    read) is read only for an implementation whose newest event does not settle it (progress
    followed by a correction or a reminder)."""
    from flowengine.service import deadlines  # not for a step, which reaches this module for definition_of

    if events is not None:
        return deadlines.deadline_clock(events, workflow)
    quick = deadlines.quick_clock(proposal, last)
    if quick is not None:
        return quick
    state = workflow.states.get(proposal.state)
    if state is not None and state.stage == deadlines.IMPLEMENTATION:
        return deadlines.deadline_clock(history(), workflow)
    return deadlines.DeadlineClock(as_utc(proposal.state_entered_at), 0, None, False)


def standing(compiled: CompiledWorkflow, proposal: Proposal, last: Event, clock: DeadlineClock,
             moment: datetime, language: str, erasure: Event | None = None) -> Standing:
    """Where ``proposal`` stands at ``moment``: ``last`` its last step (an erasure step is none: it
    leaves the deadline clock as it was), ``erasure`` its newest erasure step."""
    state = compiled.workflow.states.get(proposal.state)
    due = state.deadline.add_to(clock.started_at) if state and state.deadline else None
    return Standing(
        proposal=proposal, moment=moment,
        state_label=state.label(language) if state else proposal.state,
        stage=state.stage if state else None, owner=state.owner if state else None,
        final=bool(state and state.final), outcome=state.outcome if state else None,
        deadline=state.deadline_text if state else None, due_at=due,
        next_steps=tuple(compiled.next_steps(proposal.state, proposal.fields, language)),
        last_event=last, progress=clock.progress, clock_started_at=clock.started_at, last_erasure=erasure,
    )
