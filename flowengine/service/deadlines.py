"""The deadline clock, and the reminders and escalations it makes due, from the stored history alone.

A state's deadline clock starts when a proposal enters the state; in a state of stage
implementation, recorded progress restarts it (:func:`flowengine.history.chain.restarts_deadline`).
Deadlines, reminders and escalations all run on that clock. Nothing here keeps time in a
running process: ``flowengine tick`` (from cron, any number of times) asks :func:`next_due`
what a proposal's history makes due at a moment and records that as events, so a restart, a
missed night or two ticks racing change nothing. Pure Python: no database here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flowengine.clock import as_utc, iso_utc
from flowengine.definition.model import State, Workflow
from flowengine.errors import InvalidInput
from flowengine.history import chain
from flowengine.history.records import PROGRESS, REMINDED, Event, Proposal

IMPLEMENTATION = "implementation"  # the stage in which progress is recorded and restarts the clock
ESCALATE = "escalate"
REMIND = "remind"
MAX_STEPS = 50  # events one tick writes for one proposal at most; a loop of short escalations goes on next tick
_PERCENT = re.compile(r"\s*([0-9]{1,3})\s*%?\s*")
_DAY = 86400.0


PARTLY = ("partly", "in part", "part")  # progress whose share is not known: "delvis gjennomført"


def parse_percent(given: str | int | None) -> int | None:
    """``40``, ``"40"`` or ``"40%"`` → 40; None or ``"partly"`` → None (done in part, no share
    known); InvalidInput for anything else."""
    if given is None or (isinstance(given, str) and given.strip().lower() in PARTLY):
        return None
    if isinstance(given, int) and not isinstance(given, bool):
        value = given
    else:
        match = _PERCENT.fullmatch(str(given)) if isinstance(given, str) else None
        if not match:
            raise InvalidInput(f"progress '{given}' is not a percentage; give a whole number from 0 to 100, "
                               "e.g. 40, or 'partly' when only part of it is known to be done")
        value = int(match[1])
    if not 0 <= value <= 100:
        raise InvalidInput(f"progress {value} is out of range; give a whole number from 0 to 100, e.g. 40")
    return value


@dataclass(frozen=True)
class Progress:
    """An implementation's progress as one event recorded it."""

    percent: int | None  # None: done in part, no share known
    note: str
    milestone: str | None
    milestone_date: str | None  # YYYY-MM-DD
    at: datetime
    actor: str
    role: str

    @classmethod
    def of(cls, event: Event) -> Progress:
        details = event.details
        percent = details.get("percent")
        return cls(int(percent) if isinstance(percent, int | float) else None, str(details.get("note") or ""),
                   details.get("milestone"),
                   details.get("milestone_date"), as_utc(event.at), event.actor, event.role)

    @property
    def share(self) -> str:
        """How far it has come, for people: "40 %", or "in part" where no share is known."""
        return "in part" if self.percent is None else f"{self.percent} %"

    def as_dict(self) -> dict[str, Any]:
        return {"percent": self.percent, "note": self.note, "milestone": self.milestone,
                "milestone_date": self.milestone_date, "at": iso_utc(self.at), "actor": self.actor,
                "role": self.role}


@dataclass(frozen=True)
class DeadlineClock:
    """The deadline clock of a proposal's current stay."""

    started_at: datetime  # when it last started: entering the state, or the latest progress in implementation
    started_by: int  # the seq of the event that started it
    progress: Progress | None  # the latest progress recorded in this stay
    reminded: bool  # a reminder has been handed out since the clock last started


def deadline_clock(events: Sequence[Event], workflow: Workflow) -> DeadlineClock:
    """The clock as the events (oldest first, at least the creation) leave it."""
    start = events[0]
    progress: Progress | None = None
    reminded = False
    # Only the current stay's events decide; they share its stage, read from the state's current
    # name (a migration may have renamed the stay after progress was recorded under the old name).
    current = workflow.states.get(events[-1].to_state)
    stage = current.stage if current else None
    for event in events:
        if chain.enters_state(event):
            progress = None
        if chain.restarts_deadline(event, stage):
            start, reminded = event, False
        if event.kind == PROGRESS:
            progress = Progress.of(event)
        elif event.kind == REMINDED:
            reminded = True
    return DeadlineClock(as_utc(start.at), start.seq, progress, reminded)


def quick_clock(proposal: Proposal, last: Event) -> DeadlineClock | None:
    """The clock from the newest event alone, when that settles it (it entered the state, or
    recorded progress); None when the history has to be read."""
    if chain.enters_state(last):
        return DeadlineClock(as_utc(proposal.state_entered_at), last.seq, None, False)
    if last.kind == PROGRESS:
        return DeadlineClock(as_utc(last.at), last.seq, Progress.of(last), False)
    return None


@dataclass(frozen=True)
class Due:
    """What a proposal's history makes due at a moment: one escalation or one reminder."""

    kind: str  # ESCALATE or REMIND
    state: State
    after: str  # the duration as the workflow writes it
    due: datetime
    clock: DeadlineClock

    @property
    def trigger(self) -> str:
        return self.state.escalation.trigger if self.state.escalation else ""


def next_due(workflow: Workflow, proposal: Proposal, events: Sequence[Event], moment: datetime, *,
             escalate: bool = True) -> Due | None:
    """The escalation due at ``moment``, else the reminder due and not yet handed out, else None.
    An escalation goes first: a reminder for a state the proposal is about to leave is no use."""
    state = workflow.states.get(proposal.state)
    if state is None or state.final:
        return None
    clock = deadline_clock(events, workflow)
    escalation = state.escalation
    if escalate and escalation is not None and escalation.after is not None and escalation.trigger:
        due = escalation.after.add_to(clock.started_at)
        if due <= moment:
            return Due(ESCALATE, state, escalation.after_text or str(escalation.after), due, clock)
    if state.reminder is not None and not clock.reminded:
        due = state.reminder.add_to(clock.started_at)
        if due <= moment:
            return Due(REMIND, state, state.reminder_text or str(state.reminder), due, clock)
    return None


def escalation_comment(due: Due) -> str:
    """The automatic comment an escalation is recorded with."""
    state = due.state
    words = state.escalation.after.describe("en") if state.escalation and state.escalation.after else due.after
    lacking = "recorded progress" if state.stage == IMPLEMENTATION else "a decision"
    return f"Escalated automatically: {words} in '{state.id}' without {lacking}"


@dataclass(frozen=True)
class Escalated:
    """An escalation ``tick`` applied (or, in a dry run, would apply)."""

    proposal: str
    title: str
    workflow: str
    from_state: str
    to_state: str
    trigger: str
    after: str
    due: datetime
    at: datetime  # the step's time in the history: when it fell due, never before the step before it

    def as_dict(self) -> dict[str, Any]:
        return {"proposal": self.proposal, "title": self.title, "workflow": self.workflow, "from": self.from_state,
                "to": self.to_state, "trigger": self.trigger, "after": self.after, "due": iso_utc(self.due),
                "at": iso_utc(self.at)}


@dataclass(frozen=True)
class Reminder:
    """A reminder ``tick`` handed out (or, in a dry run, would hand out): who must act on what."""

    proposal: str
    title: str
    workflow: str
    state: str
    state_label: str
    owner: str | None
    after: str
    due: datetime
    since: datetime  # when the clock started: entering the state, or the last progress in implementation
    moment: datetime

    @property
    def waiting_days(self) -> float:
        return max(0.0, (self.moment - self.since).total_seconds() / _DAY)

    def as_dict(self) -> dict[str, Any]:
        return {"proposal": self.proposal, "title": self.title, "workflow": self.workflow, "state": self.state,
                "state_label": self.state_label, "owner": self.owner, "after": self.after,
                "due": iso_utc(self.due), "since": iso_utc(self.since), "waiting_days": round(self.waiting_days, 2)}


@dataclass(frozen=True)
class Blocked:
    """An escalation that is due but may not fire (a guard: valid workflows never get here)."""

    proposal: str
    state: str
    trigger: str
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"proposal": self.proposal, "state": self.state, "trigger": self.trigger,
                "reasons": list(self.reasons)}


@dataclass(frozen=True)
class TickReport:
    """What one ``tick`` did. ``left_alone``: proposals with a step after the as-of moment;
    ``unfinished``: proposals with more escalations due than one tick applies (the next goes on)."""

    as_of: datetime
    dry_run: bool
    checked: int
    escalations: tuple[Escalated, ...] = ()
    reminders: tuple[Reminder, ...] = ()
    blocked: tuple[Blocked, ...] = ()
    left_alone: tuple[str, ...] = ()
    unfinished: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.escalations or self.reminders)

    def as_dict(self) -> dict[str, Any]:
        return {"as_of": iso_utc(self.as_of), "dry_run": self.dry_run, "checked": self.checked,
                "escalations": [e.as_dict() for e in self.escalations],
                "reminders": [r.as_dict() for r in self.reminders],
                "blocked": [b.as_dict() for b in self.blocked], "left_alone": list(self.left_alone),
                "unfinished": list(self.unfinished)}



@dataclass
class TickLog:
    """What a tick finds, proposal by proposal, until it becomes the report."""

    escalations: list[Escalated] = field(default_factory=list)
    reminders: list[Reminder] = field(default_factory=list)
    blocked: list[Blocked] = field(default_factory=list)
    left_alone: list[str] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)

    def report(self, as_of: datetime, dry_run: bool, checked: int) -> TickReport:
        return TickReport(as_of, dry_run, checked, tuple(self.escalations), tuple(self.reminders),
                          tuple(self.blocked), tuple(self.left_alone), tuple(self.unfinished))
