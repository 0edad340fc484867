"""The stall analysis with the database server doing the walking: exactly the
:class:`~flowengine.analysis.figures.Analysis` of :func:`flowengine.analysis.reference.analyse`,
from the figures PostgreSQL aggregates itself (:func:`flowengine.store.spreads.figures`: spreads,
counts, the open proposals that may be over their limit) instead of every event sent to the
client. On a national database the server sorts ten million events faster than the client can
receive them; what comes back is a few rows per state and month.

The definitions are handed to the statement as a :class:`~flowengine.store.spreads.Shape`; the
rows it returns are put together here with the reference's own pieces (``state_figures``,
``stage_figures``, ``funnel``, ``transition_keys``, ``split_quiet``), and the limits of the
proposals that may be stalled are checked as the reference checks them. Who acted last on the
stalled ones is read in one statement for all workflows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from flowengine.analysis.figures import (
    Analysis,
    Feedback,
    LoopFigures,
    Spread,
    Stall,
    TransitionFigures,
)
from flowengine.analysis.reference import (
    FUNNEL_STAGES,
    MIN_HISTORY,
    answers_panel,
    chain_order,
    funnel,
    split_quiet,
    stage_figures,
    state_figures,
    transition_keys,
)
from flowengine.clock import as_utc
from flowengine.definition.model import STAGES, Workflow
from flowengine.store import Connection, aggregates, spreads
from flowengine.store.spreads import Group, Shape, StateShape, Stats

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_US_PER_DAY = 86_400_000_000
_RANK_SPAN = 1_000_000  # a chain rank is (stage index + 1) * this + the state's place in the file


def shape(workflows: Sequence[Workflow]) -> Shape:
    """What the server's statement must know of the definitions (see :class:`Shape`)."""
    states: list[StateShape] = []
    answering: list[tuple[str, str, str, str]] = []
    for workflow in workflows:
        order = chain_order(workflow)
        for sid, state in workflow.states.items():
            staged = state.stage is not None and not state.final
            deadline = state.deadline
            least = (deadline.months * 28 * _US_PER_DAY + deadline.delta // _US) if deadline is not None else None
            rank = order.get(sid)
            states.append(StateShape(
                workflow.id, sid,
                stage=(STAGES.index(state.stage) if state.stage in STAGES else len(STAGES)) if staged else -1,
                funnel=FUNNEL_STAGES.index(state.stage) if staged and state.stage in FUNNEL_STAGES else -1,
                final=state.final, rank=(rank[0] + 1) * _RANK_SPAN + rank[1] if rank is not None else None,
                answers=state.answers_panel, least_us=least))
        seen: set[tuple[str, str, str]] = set()
        for transition in workflow.transitions:
            if not transition.answers_panel:
                continue
            for source in transition.sources:
                key = (source, transition.trigger, transition.target)
                if key not in seen and answers_panel(workflow, *key):
                    seen.add(key)
                    answering.append((workflow.id, *key))
    return Shape(states, answering, STAGES.index("implementation"), STAGES.index("evaluation"))


def analyse_all(conn: Connection, workflows: Sequence[Workflow], as_of: datetime) -> dict[str, Analysis]:
    """The analysis of each workflow's proposals as of ``as_of`` (PostgreSQL), by workflow id.
    Missing are those whose histories the walk does not follow — a migration (a renamed stay),
    a step recorded earlier than the one before it, a state the definition does not declare, a
    step from another state than the one it left —, which the column-wise analysis takes."""
    moment = as_utc(as_of)
    migrated = spreads.migrated(conn, moment, [w.id for w in workflows])
    walked = [w for w in workflows if w.id not in migrated]
    if not walked:
        return {}
    found = spreads.figures(conn, moment, (moment - EPOCH) // _US, [w.id for w in walked], shape(walked))
    parts = {w.id: _Parts(w) for w in walked}
    for group in found.groups:
        parts[group.workflow].add(group)
    for (workflow, cat, state), months in found.monthly.items():
        parts[workflow].months[cat][state] = months
    for loop in found.loops:
        parts[loop.workflow].loops.append(LoopFigures(loop.source, loop.target, loop.times, loop.proposals))
    del found
    kept = [part for part in parts.values() if not part.unfollowed]
    over = {part.workflow.id: part.over_limit(moment) for part in kept}
    who = aggregates.current(conn, [pk for rows in over.values() for pk, *_ in rows], moment)
    return {part.workflow.id: part.analysis(moment, over[part.workflow.id], who) for part in kept}


def _spread(stats: Stats) -> Spread:
    count, median, p90, longest = stats
    return Spread(count, median, p90, longest) if count else Spread()


class _Parts:
    """One workflow's rows from the server, sorted into the reference's tally."""

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self.passed: dict[str, Spread] = {}
        self.waiting: dict[str, Spread] = {}
        self.stays: dict[str, Spread] = {}
        self.before: dict[tuple[str, str, str], Spread] = {}
        self.stage_passed: dict[str, Spread] = {}
        self.stage_waiting: dict[str, Spread] = {}
        self.answered, self.unanswered = Spread(), Spread()
        self.ends: list[tuple[int, str, str, int]] = []  # furthest funnel code, state, flags, proposals
        self.open: list[tuple[int, str, int]] = []  # pk, state, clock (µs)
        self.months: dict[str, dict[str, dict[str, int]]] = {spreads.ENTERED: {}, spreads.LEFT: {}}
        self.loops: list[LoopFigures] = []
        self.unfollowed = False  # a history the walk does not follow: the client analyses the workflow

    def add(self, g: Group) -> None:
        if g.cat == spreads.STATE and not g.detail and g.k1 is not None:
            self.passed[g.k1], self.waiting[g.k1], self.stays[g.k1] = (
                _spread(g.done), _spread(g.waiting), _spread(g.both))
        elif g.cat == spreads.STATE and g.detail and g.k1 is not None and g.k3 is not None:
            self.before[(g.k1, g.k2 or "", g.k3)] = _spread(g.done)
        elif g.cat == spreads.STAGE and not g.detail and g.k1 is not None and int(g.k1) < len(STAGES):
            stage = STAGES[int(g.k1)]
            self.stage_passed[stage], self.stage_waiting[stage] = _spread(g.done), _spread(g.waiting)
        elif g.cat == spreads.ANSWER and not g.detail:
            self.answered, self.unanswered = _spread(g.done), _spread(g.waiting)
        elif g.cat == spreads.END and g.detail:
            self.ends.append((int(g.k1 or -1), g.k2 or "", g.k3 or "", g.rows))
        elif g.cat == spreads.OPEN and g.detail:
            self.open.append((int(g.k2 or 0), g.k1 or "", int(g.k3 or 0)))
        elif g.cat == spreads.UNFOLLOWED:
            self.unfollowed = True

    def over_limit(self, moment: datetime) -> list[tuple[int, str, datetime, float, str]]:
        """The open proposals over their limit (as the reference's ``_limit``): each with its
        state, clock, the limit in days and the rule."""
        states = self.workflow.states
        found = []
        for pk, state, clock_us in self.open:
            clock = EPOCH + timedelta(microseconds=clock_us)
            declared = states.get(state)
            if declared is not None and declared.deadline is not None:
                due = declared.deadline.add_to(clock)
                limit = (due, max(0.0, (due - clock).total_seconds() / 86400),
                         "no progress" if declared.stage == "implementation" else "deadline")
            else:
                history = self.passed.get(state)
                if history is None or history.count < MIN_HISTORY or history.p90 is None:
                    continue
                limit = (clock + timedelta(days=history.p90), history.p90, "p90")
            if moment > limit[0]:
                found.append((pk, state, clock, limit[1], limit[2]))
        return found

    def analysis(self, moment: datetime, over: list[tuple[int, str, datetime, float, str]],
                 who: dict[int, aggregates.Current]) -> Analysis:
        workflow = self.workflow
        stalls, quiet = split_quiet(self._stall(state, clock, limit_days, rule, who[pk], moment)
                                    for pk, state, clock, limit_days, rule in over)
        count = sum(n for *_, n in self.ends)
        now: Counter[str] = Counter()
        ended: Counter[str] = Counter()
        ends: Counter[tuple[int, str | None]] = Counter()
        for furthest, state, _, n in self.ends:
            declared = workflow.states.get(state)
            final = declared is not None and declared.final
            (ended if final else now)[state] += n
            ends[(furthest, declared.outcome if declared is not None and final else None)] += n
        states = state_figures(workflow, stalls, quiet=quiet, passed=self.passed, waiting=self.waiting,
                               stays=self.stays, now=now, ended=ended, entered=self.months[spreads.ENTERED],
                               left=self.months[spreads.LEFT])
        transitions = tuple(TransitionFigures(key[0], key[1], key[2], declared, self.before.get(key, Spread()).count,
                                              self.before.get(key, Spread()))
                            for key, declared in transition_keys(workflow, self.before))
        evaluated = sum(n for _, _, flags, n in self.ends if spreads.EVALUATED in flags)
        in_progress = sum(n for _, _, flags, n in self.ends if spreads.IN_PROGRESS in flags)
        return Analysis(
            workflow=workflow, as_of=moment, proposals=count, states=states,
            stages=stage_figures(workflow, states, self.stage_passed, self.stage_waiting),
            transitions=transitions,
            loops=tuple(sorted(self.loops, key=lambda loop: (-loop.times, loop.source, loop.target))),
            funnel=funnel(workflow, ends, count, evaluated, in_progress),
            feedback=Feedback(count, self.answered, self.unanswered.count, self.unanswered),
            stalls=stalls, quiet=quiet,
        )

    def _stall(self, state: str, clock: datetime, limit_days: float, rule: str, current: aggregates.Current,
               moment: datetime) -> Stall:
        declared = self.workflow.states.get(state)
        last_heard = as_utc(current.last_at)
        return Stall(
            proposal=current.id, title=current.title, workflow=current.workflow, state=state,
            stage=declared.stage if declared else None, owner=declared.owner if declared else None,
            since=clock, days=max(0.0, (moment - clock).total_seconds() / 86400), limit_days=limit_days, rule=rule,
            last_actor=current.last_actor, last_role=current.last_role, last_heard=last_heard,
            heard_days=max(0.0, (moment - last_heard).total_seconds() / 86400))
