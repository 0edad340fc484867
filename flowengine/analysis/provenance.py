"""Which figures of a rebuilt history rest on which kind of step: stated, inferred, illustrative.

A history rebuilt from a source records with each step where it comes from
(:mod:`flowengine.history.provenance`). A figure is only as good as the weakest step it counts:
a stall whose stay began with an invented step is itself partly invented, and so is a median
one of whose stays ends in one. This walks the histories the way the reference analysis does
and, for every row the stall report shows, keeps the weakest provenance among the steps it
rests on. Histories that record no provenance give no marks at all.

Pure Python over full events (it needs their details): meant for histories the size of a
project's, read only when some step records where it comes from.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from flowengine.analysis.reference import answers_panel, chain_order
from flowengine.clock import as_utc
from flowengine.definition.model import State, Workflow
from flowengine.history.provenance import KINDS, Provenance, weakest
from flowengine.history.records import ADVANCED, MIGRATED, SYSTEM, Event, Proposal

Kind = str | None  # a provenance kind, or None where a step records none
K = TypeVar("K")


def kind_of(event: Event) -> Kind:
    found = Provenance.of(event.details)
    return found.kind if found else None


@dataclass
class Marks:
    """For one workflow, the weakest provenance each row of the stall report rests on (absent:
    it rests on no step that records one). ``steps`` counts the workflow's steps by kind."""

    workflow: str
    steps: Counter[str] = field(default_factory=Counter)
    stalls: dict[str, str] = field(default_factory=dict)  # proposal → its current stay's weakest step
    states: dict[str, str] = field(default_factory=dict)
    stages: dict[str, str] = field(default_factory=dict)
    transitions: dict[tuple[str, str, str], str] = field(default_factory=dict)
    loops: dict[tuple[str, str], str] = field(default_factory=dict)
    funnel: dict[str, str] = field(default_factory=dict)  # stage, or an outcome, → weakest step reaching it
    feedback: str | None = None  # the answers (or, unanswered, the registrations) it counts
    flow: dict[tuple[str, str], str] = field(default_factory=dict)  # (state, month) → weakest step in or out

    @property
    def any(self) -> bool:
        return bool(self.steps)

    def overall(self) -> str | None:
        """The weakest step of the whole workflow."""
        return weakest(list(self.steps))


def _add(into: dict[K, str], key: K | None, kind: Kind) -> None:
    if key is None:
        return
    merged = weakest([into.get(key), kind])
    if merged is not None:
        into[key] = merged


def marks(workflow: Workflow, histories: Iterable[tuple[Proposal, Sequence[Event]]], as_of: datetime) -> Marks:
    """The marks of one workflow's histories, counting events up to ``as_of``."""
    moment = as_utc(as_of)
    found = Marks(workflow.id)
    order = chain_order(workflow)
    for _, events in histories:
        kept = [event for event in events if as_utc(event.at) <= moment]
        if kept:
            _walk(workflow, order, kept, found)
    return found


def _walk(workflow: Workflow, order: dict[str, tuple[int, int]], events: Sequence[Event], found: Marks) -> None:
    states, stages, funnel = found.states, found.stages, found.funnel
    first = events[0]
    for event in events:
        kind = kind_of(event)
        if kind is not None:
            found.steps[kind] += 1
    state = first.to_state
    stay: list[Kind] = [kind_of(first)]
    _add(funnel, _stage(workflow.states.get(state)) or state, stay[0])
    _add(found.flow, (state, _month(first.at)), stay[0])
    answer: Kind | str = "none"
    for event in events[1:]:
        kind = kind_of(event)
        if event.kind == MIGRATED:
            state = event.to_state
            stay.append(kind)
            continue
        if event.kind != ADVANCED:
            stay.append(kind)
            continue
        source, target = event.from_state or state, event.to_state
        rests = weakest([*stay, kind])
        _add(states, source, rests)
        _add(stages, _stage(workflow.states.get(source)), rests)
        _add(found.transitions, (source, event.trigger or "", target), kind)
        _add(found.flow, (source, _month(event.at)), kind)
        _add(found.flow, (target, _month(event.at)), kind)
        if source in order and target in order and order[target] < order[source]:
            _add(found.loops, (source, target), kind)
        if (answer == "none" and event.comment and event.role != SYSTEM
                and answers_panel(workflow, source, event.trigger, target)):
            answer = kind
        declared = workflow.states.get(target)
        _add(funnel, _stage(declared) or (declared.outcome if declared and declared.outcome else target), kind)
        state, stay = target, [kind]
    declared = workflow.states.get(state)
    if declared is None or not declared.final:
        rests = weakest(stay)
        _add(states, state, rests)
        _add(stages, _stage(declared), rests)
        if rests is not None:
            found.stalls[events[0].proposal] = rests
    counted = answer if answer != "none" else kind_of(first)
    found.feedback = weakest([found.feedback, counted])


def _stage(state: State | None) -> str | None:
    return state.stage if state is not None and not state.final else None


def _month(moment: datetime) -> str:
    utc = as_utc(moment)
    return f"{utc.year:04d}-{utc.month:02d}"


def counts(marks_of: Iterable[Marks]) -> dict[str, int]:
    """Steps by kind across workflows, every kind named (zero where none)."""
    total: Counter[str] = Counter()
    for found in marks_of:
        total.update(found.steps)
    return {kind: total[kind] for kind in KINDS}
