"""What the stall analysis hands out: plain frozen figures, ready for tables, JSON and diagrams.

Durations are in days (floats, at full precision in ``as_dict`` too: JSON carries every
digit, and only the tables people read round them). Spreads use the median and the 90th percentile by linear
interpolation between closest ranks (numpy's and PM4Py's default), so figures agree with a
process-mining tool run on the same log. Nothing here imports a third-party package.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flowengine.clock import iso_utc
from flowengine.definition.model import Workflow

WAITING = "waiting"  # how a proposal is "lost" at a stage when it has not ended: it still waits there
CARRIED_ON = ("transferred",)  # outcomes that carry an idea on elsewhere: not lost, not implemented here
LONG_PAST = timedelta(days=30)  # a history whose newest event is older than this, as of today, is a finished log


def long_past(newest: datetime, as_of: datetime) -> bool:
    """Whether figures as of ``as_of`` would count every open case of a history whose newest event
    is ``newest`` as waiting since then — an imported log from years ago, read as of today."""
    return as_of - newest > LONG_PAST


def quantile(ordered: Sequence[float], q: float) -> float:
    """The q-quantile of ascending values, linear between closest ranks (numpy's default)."""
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def quarter(value: float, slowest: float) -> int:
    """1..4: the quarter of ``slowest`` that ``value`` falls in (1 when ``slowest`` is 0) — the
    grades of the stall diagram's states and of the comparison's cells."""
    if slowest <= 0:
        return 1
    return max(1, min(4, math.ceil(4 * value / slowest - 1e-9)))


def severity(typical: Spread, slowest: float) -> int:
    """:attr:`StateFigures.severity`: 1..4 by the typical stay's median relative to the slowest
    open state's (:func:`quarter`); 0 when nobody stayed."""
    if not typical.count or typical.median is None:
        return 0
    return quarter(typical.median, slowest)


@dataclass(frozen=True)
class Spread:
    """How long a set of stays lasted, in days."""

    count: int = 0
    median: float | None = None
    p90: float | None = None
    max: float | None = None

    @classmethod
    def of(cls, days: Sequence[float]) -> Spread:
        if not days:
            return cls()
        ordered = sorted(days)
        return cls(len(ordered), quantile(ordered, 0.5), quantile(ordered, 0.9), ordered[-1])

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "median_days": self.median, "p90_days": self.p90,
                "max_days": self.max}


@dataclass(frozen=True)
class StateFigures:
    """One state of the declared workflow (or one the history uses but the workflow does not declare)."""

    state: str
    stage: str | None
    owner: str | None
    declared: bool
    final: bool
    deadline_days: float | None
    now: int  # proposals in it at the as-of moment
    stalled_now: int  # of those, stalled: over their limit, and heard of within it (see Stall.gone_quiet)
    over_deadline_now: int  # of those stalled, over the declared deadline
    passed: Spread  # finished stays: entered and left by the as-of moment
    waiting: Spread  # current stays, counted up to the as-of moment
    stays: Spread  # both together
    entered_by_month: tuple[tuple[str, int], ...] = ()  # ("2017-03", 4), months in UTC
    left_by_month: tuple[tuple[str, int], ...] = ()
    severity: int = 0  # 0..4, by the median of :attr:`typical` relative to the slowest open state
    quiet_now: int = 0  # proposals in it over their limit with no record for longer than it: gaps, not stalls

    @property
    def typical(self) -> Spread:
        """What the diagram colours by: the dwell of finished stays — what a process-mining tool
        ranks by — or, where nobody has left yet, the current waits (a state everyone is stuck in)."""
        return self.passed if self.passed.count else self.waiting

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state, "stage": self.stage, "owner": self.owner, "declared": self.declared,
                "final": self.final, "deadline_days": self.deadline_days, "now": self.now,
                "stalled_now": self.stalled_now, "over_deadline_now": self.over_deadline_now,
                "passed": self.passed.as_dict(), "waiting": self.waiting.as_dict(), "stays": self.stays.as_dict(),
                "entered_by_month": dict(self.entered_by_month), "left_by_month": dict(self.left_by_month),
                "severity": self.severity, "quiet_now": self.quiet_now}


@dataclass(frozen=True)
class StageFigures:
    """A stage of the shared stage model: consecutive states of one stage count as one stay."""

    stage: str
    now: int
    stalled_now: int
    over_deadline_now: int
    passed: Spread
    waiting: Spread
    quiet_now: int = 0

    @property
    def typical(self) -> Spread:
        """As :attr:`StateFigures.typical`: finished stays, else current waits."""
        return self.passed if self.passed.count else self.waiting

    def as_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "now": self.now, "stalled_now": self.stalled_now,
                "over_deadline_now": self.over_deadline_now, "quiet_now": self.quiet_now,
                "passed": self.passed.as_dict(), "waiting": self.waiting.as_dict()}


@dataclass(frozen=True)
class TransitionFigures:
    """A step between two states: declared (perhaps never taken) or a jump the workflow does not declare."""

    source: str
    trigger: str
    target: str
    declared: bool
    taken: int
    days_before: Spread  # time in ``source`` before this step was taken

    def as_dict(self) -> dict[str, Any]:
        return {"from": self.source, "trigger": self.trigger, "to": self.target, "declared": self.declared,
                "taken": self.taken, "days_before": self.days_before.as_dict()}


@dataclass(frozen=True)
class LoopFigures:
    """Proposals sent back: steps to an open state earlier in the chain."""

    source: str
    target: str
    times: int
    proposals: int

    def as_dict(self) -> dict[str, Any]:
        return {"from": self.source, "to": self.target, "times": self.times, "proposals": self.proposals}


@dataclass(frozen=True)
class FunnelStage:
    """Proposals that got at least this far, and those whose furthest stage this is without success."""

    stage: str
    reached: int
    lost: tuple[tuple[str, int], ...]  # (outcome, count), and (WAITING, count) for those still in it
    carried_on: int = 0  # ended here handed on to another process or project (CARRIED_ON): not lost

    @property
    def lost_total(self) -> int:
        return sum(n for _, n in self.lost)

    @property
    def share_lost(self) -> float | None:
        return self.lost_total / self.reached if self.reached else None

    def as_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "reached": self.reached, "lost": dict(self.lost), "lost_total": self.lost_total,
                "share_lost": self.share_lost, "carried_on": self.carried_on}


@dataclass(frozen=True)
class Funnel:
    """How many proposals reached each stage, and how many were implemented, evaluated or carried on."""

    proposals: int
    stages: tuple[FunnelStage, ...]
    implemented: int  # ended with outcome "implemented"
    partially_implemented: int
    evaluated: int  # reached an evaluation stage
    in_progress: int = 0  # still in an implementation stage, with progress recorded since entering it
    carried_on: int = 0  # ended handed on to another process or project (CARRIED_ON)

    def as_dict(self) -> dict[str, Any]:
        return {"proposals": self.proposals, "stages": [s.as_dict() for s in self.stages],
                "implemented": self.implemented, "partially_implemented": self.partially_implemented,
                "evaluated": self.evaluated, "in_progress": self.in_progress, "carried_on": self.carried_on}


@dataclass(frozen=True)
class Feedback:
    """The feedback loop: how long until the panel got a reasoned answer (a step that answers the
    panel, with its comment), and how many are still without one."""

    proposals: int
    answered: Spread  # days from creation to the first reasoned answer
    unanswered: int
    unanswered_waiting: Spread  # days since creation of those still without an answer

    @property
    def unanswered_share(self) -> float | None:
        return self.unanswered / self.proposals if self.proposals else None

    def as_dict(self) -> dict[str, Any]:
        return {"proposals": self.proposals, "answered": self.answered.as_dict(), "unanswered": self.unanswered,
                "unanswered_share": self.unanswered_share,
                "unanswered_waiting": self.unanswered_waiting.as_dict()}


@dataclass(frozen=True)
class Stall:
    """One proposal over its limit at the as-of moment, and whose move it is.

    Over its limit is not stalled by itself. A proposal heard of within its limit (any record:
    a step, a note, progress, a reminder) is known to be waiting: a stall. One with no record for
    longer than its limit has *gone quiet*: the records stop, and they cannot tell a body that
    failed to act from a step nobody recorded — a gap, shown with its "last heard of" age.
    """

    proposal: str
    title: str
    workflow: str
    state: str
    stage: str | None
    owner: str | None  # the role that must act
    since: datetime  # when the clock started: entering the state, or the last recorded progress
    days: float
    limit_days: float  # the deadline, or the p90 of history where no deadline is declared
    rule: str  # "deadline", "p90" or "no progress"
    last_actor: str
    last_role: str
    last_heard: datetime  # the newest record of the proposal up to the as-of moment, of any kind
    heard_days: float  # days from it to the as-of moment

    @property
    def ratio(self) -> float:
        return self.days / self.limit_days if self.limit_days else math.inf

    @property
    def gone_quiet(self) -> bool:
        """No record for longer than its limit: a gap in the records, not a stall."""
        return self.heard_days > self.limit_days

    def as_dict(self) -> dict[str, Any]:
        # Field by field in declaration order, as ``dataclasses.asdict`` gave it, without its deep
        # copy of every value (a tenth of a national report's writing).
        return {"proposal": self.proposal, "title": self.title, "workflow": self.workflow, "state": self.state,
                "stage": self.stage, "owner": self.owner, "since": iso_utc(self.since), "days": self.days,
                "limit_days": self.limit_days, "rule": self.rule, "last_actor": self.last_actor,
                "last_role": self.last_role, "last_heard": iso_utc(self.last_heard), "heard_days": self.heard_days,
                "gone_quiet": self.gone_quiet}


@dataclass(frozen=True)
class Analysis:
    """Where one workflow's proposals stall, as of one moment."""

    workflow: Workflow
    as_of: datetime
    proposals: int
    states: tuple[StateFigures, ...]  # declared states in file order, then undeclared ones the history uses
    stages: tuple[StageFigures, ...]  # in the shared stage order, those the workflow uses
    transitions: tuple[TransitionFigures, ...]  # declared in file order, then undeclared jumps
    loops: tuple[LoopFigures, ...]  # most frequent first
    funnel: Funnel
    feedback: Feedback
    stalls: tuple[Stall, ...]  # over the limit and heard of within it; worst first: longest over, relatively
    quiet: tuple[Stall, ...] = ()  # over the limit with no record for longer than it; longest silent first

    def state(self, state_id: str) -> StateFigures | None:
        return next((s for s in self.states if s.state == state_id), None)

    @property
    def unused(self) -> tuple[TransitionFigures, ...]:
        return tuple(t for t in self.transitions if t.declared and not t.taken)

    @property
    def jumps(self) -> tuple[TransitionFigures, ...]:
        return tuple(t for t in self.transitions if not t.declared)

    def as_dict(self) -> dict[str, Any]:
        return {"workflow": self.workflow.id, "as_of": iso_utc(self.as_of), "proposals": self.proposals,
                "stalls": [s.as_dict() for s in self.stalls], "gone_quiet": [s.as_dict() for s in self.quiet],
                "states": [s.as_dict() for s in self.states],
                "stages": [s.as_dict() for s in self.stages],
                "transitions": [t.as_dict() for t in self.transitions],
                "unused_transitions": [t.as_dict() for t in self.unused],
                "undeclared_jumps": [t.as_dict() for t in self.jumps],
                "loops": [loop.as_dict() for loop in self.loops], "funnel": self.funnel.as_dict(),
                "feedback": self.feedback.as_dict()}


SUPPRESSED = ":"  # a hidden count, as official statistics mark one kept back for confidentiality


@dataclass(frozen=True)
class Privacy:
    """For figures meant for publication: actors shown as their roles only, and counts below a
    threshold (with the spreads computed from them) suppressed.

    ``hidden`` is the decision of :func:`flowengine.analysis.disclosure.decide`: the named cells
    (:func:`flowengine.analysis.cells.cell`) to hide, small ones and their partners, so that no
    hidden count can be worked out from the rest; a count asked for by its cell name is then shown
    or hidden by it alone, and a count the decision does not know is hidden. Before a decision
    (``None``), a count below the threshold is shown as "<3".
    """

    roles_only: bool = False
    min_count: int = 0
    hidden: frozenset[str] | None = None

    @classmethod
    def publication(cls, min_count: int = 3) -> Privacy:
        return cls(roles_only=True, min_count=min_count)

    @property
    def decided(self) -> bool:
        """Whether counts are hidden by a decision over every published cell."""
        return self.hidden is not None and self.min_count > 1

    def count(self, n: int, cell: str | None = None) -> str:
        """A count as it may be shown."""
        if self.hidden is not None and self.min_count > 1:
            return SUPPRESSED if cell is None or cell in self.hidden else str(n)
        return f"<{self.min_count}" if 0 < n < self.min_count else str(n)

    def hides(self, n: int, cell: str | None = None) -> bool:
        return self.count(n, cell) != str(n)

    def shows(self, spread: Spread, cell: str | None = None) -> bool:
        """Whether a spread rests on enough stays to be shown (and, named by ``cell``, on a count
        that is shown)."""
        if self.hides(spread.count, cell) if cell is not None else False:
            return False
        return spread.count > 0 and spread.count >= self.min_count

    def actor(self, name: str, role: str) -> str:
        return role if self.roles_only else f"{name} ({role})"


NO_PRIVACY = Privacy()  # every count and spread shown, as for internal use
