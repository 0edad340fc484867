"""Where ideas stall: figures for one workflow, from the stored histories, as of one moment.

One pass over each proposal's events turns them into *stays* (a proposal in a state from
the step that entered it to the step that left it) and *steps*; everything else is counting
and sorting those. The figures are measured against the workflow as *declared*, so a
declared transition nobody took, or a jump nobody declared, shows up rather than vanishing.

Definitions, chosen to agree with process mining on the same log:

- time in a state: from the event that entered it to the event that left it, in days;
  "passed" counts finished stays, "waiting" the current ones up to the as-of moment;
- days before a transition: the time in its source state before it was taken;
- sent back (a loop): a step to an open state earlier in the chain — an earlier stage, or
  within one stage a state declared before the one left;
- the funnel: a proposal reached every stage up to the furthest one it ever entered; it is
  lost at that furthest stage unless it ended implemented (fully or in part);
- the feedback loop: from creation to the first step that answers the panel with a comment;
- a migration (``workflow migrate``) renames the current stay without ending it: the whole
  stay, its entry included, counts under the new name; stages, the funnel and the feedback
  loop move on advances only;
- over its limit: longer in its state than the state's deadline (in an implementation stage:
  longer than the deadline since the last recorded progress), or, where no deadline is
  declared, longer than the p90 of finished stays there (when at least
  :data:`MIN_HISTORY` stays have finished);
- stalled: over its limit and heard of within it (its newest record of any kind is no older
  than the limit), so the owner is known to be waiting; gone quiet: over its limit with no
  record for longer than that — a gap in the records, not proof that anyone failed to act;
- the funnel counts an idea handed on to another process or project (a "transferred"
  outcome) as carried on, not lost, and an implementation with progress recorded in its
  current stay as under way.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flowengine.analysis.figures import (
    CARRIED_ON,
    WAITING,
    Analysis,
    Feedback,
    Funnel,
    FunnelStage,
    LoopFigures,
    Spread,
    StageFigures,
    Stall,
    StateFigures,
    TransitionFigures,
    severity,
)
from flowengine.clock import as_utc
from flowengine.definition.model import STAGES, State, Workflow
from flowengine.history.records import ADVANCED, MIGRATED, PROGRESS, SYSTEM, Step, Trail, id_order

MIN_HISTORY = 5  # finished stays needed before the p90 of a state without deadline judges a stall
SUCCESS = ("implemented", "partially_implemented")
FUNNEL_STAGES = tuple(stage for stage in STAGES if stage != "closed")
_DAY = 86400.0


@dataclass
class _Open:
    """A proposal's current stay at the as-of moment."""

    trail: Trail
    state: str
    clock: datetime  # when its deadline clock last started (progress restarts it in implementation)
    last: Step  # its newest record of any kind: who acted last, and when it was last heard of
    progressed: bool  # progress recorded in this stay (in an implementation stage)


@dataclass
class _Tally:
    """The days and counts gathered per state, stage, transition and loop while walking the trails."""

    passed: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    waiting: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    stage_passed: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    stage_waiting: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    entered: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    left: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    before: dict[tuple[str, str, str], list[float]] = field(default_factory=lambda: defaultdict(list))
    loops: Counter[tuple[str, str]] = field(default_factory=Counter)
    looped: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    ended: Counter[str] = field(default_factory=Counter)  # final states: proposals that ended there
    open: list[_Open] = field(default_factory=list)
    furthest: list[tuple[int, str | None]] = field(default_factory=list)  # (stage index, outcome or None)
    evaluated: int = 0
    in_progress: int = 0
    answered: list[float] = field(default_factory=list)
    unanswered: list[float] = field(default_factory=list)
    order: dict[str, tuple[int, int]] = field(default_factory=dict)  # a step to a lower one goes back
    p90: dict[str, float | None] = field(default_factory=dict)  # of finished stays, where enough finished


def analyse(workflow: Workflow, trails: Iterable[Trail], as_of: datetime) -> Analysis:
    """The figures of one workflow's proposals as of ``as_of``; ``trails`` hold events up to then."""
    moment = as_utc(as_of)
    tally = _Tally(order=chain_order(workflow))
    count = 0
    for trail in trails:
        if trail.steps:
            count += 1
            _walk(workflow, trail, moment, tally)
    stalls, quiet = _stalls(workflow, tally, moment)
    passed = {sid: Spread.of(days) for sid, days in tally.passed.items()}
    states = state_figures(
        workflow, stalls, quiet=quiet, passed=passed,
        waiting={sid: Spread.of(days) for sid, days in tally.waiting.items()},
        stays={sid: Spread.of(tally.passed.get(sid, []) + tally.waiting.get(sid, []))
               for sid in set(tally.passed) | set(tally.waiting)},
        now=Counter(o.state for o in tally.open), ended=tally.ended, entered=tally.entered, left=tally.left)
    return Analysis(
        workflow=workflow, as_of=moment, proposals=count, states=states,
        stages=stage_figures(workflow, states, {stage: Spread.of(days) for stage, days in tally.stage_passed.items()},
                             {stage: Spread.of(days) for stage, days in tally.stage_waiting.items()}),
        transitions=_transition_figures(workflow, tally), loops=_loop_figures(tally),
        funnel=funnel(workflow, Counter(tally.furthest), count, tally.evaluated, tally.in_progress),
        feedback=Feedback(count, Spread.of(tally.answered), len(tally.unanswered), Spread.of(tally.unanswered)),
        stalls=stalls, quiet=quiet,
    )


def _days(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds() / _DAY)


def _month(moment: datetime) -> str:
    utc = as_utc(moment)
    return f"{utc.year:04d}-{utc.month:02d}"


def _walk(workflow: Workflow, trail: Trail, moment: datetime, tally: _Tally) -> None:
    """Turn one history into stays, steps, loops and its place in the funnel and feedback loop."""
    states = workflow.states
    first = trail.steps[0]
    created = first.at
    state, since, clock = first.target, first.at, first.at
    stage = _stage(states.get(state))
    stage_since = first.at
    tally.entered[state][_month(first.at)] += 1
    furthest = _stage_index(stage)
    evaluated = stage == "evaluation"
    answer: float | None = None
    progressed = False
    for step in trail.steps[1:]:
        if step.kind == PROGRESS and stage == "implementation":
            clock = step.at
            progressed = True
        if step.kind == MIGRATED:  # the stay goes on under its new name; its stage stay is left as it is
            _rename(tally, state, step.target, since)
            state = step.target
            continue
        if step.kind != ADVANCED:
            continue
        source, target = step.source or state, step.target
        stay = _days(since, step.at)
        tally.passed[source].append(stay)
        tally.left[source][_month(step.at)] += 1
        tally.before[(source, step.trigger or "", target)].append(stay)
        tally.entered[target][_month(step.at)] += 1
        if source in tally.order and target in tally.order and tally.order[target] < tally.order[source]:
            tally.loops[(source, target)] += 1
            tally.looped[(source, target)].add(trail.proposal)
        # tick's escalations (role SYSTEM) carry an automatic comment, which is no reasoned answer
        if (answer is None and step.commented and step.role != SYSTEM
                and answers_panel(workflow, source, step.trigger, target)):
            answer = _days(created, step.at)
        target_stage = _stage(states.get(target))
        if target_stage != stage:
            if stage is not None:
                tally.stage_passed[stage].append(_days(stage_since, step.at))
            stage, stage_since = target_stage, step.at
        furthest = max(furthest, _stage_index(target_stage))
        evaluated = evaluated or target_stage == "evaluation"
        state, since, clock, progressed = target, step.at, step.at, False
    declared = states.get(state)
    outcome = declared.outcome if declared and declared.final else None
    if declared is not None and declared.final:
        tally.ended[state] += 1
    else:
        tally.waiting[state].append(_days(since, moment))
        if stage is not None:
            tally.stage_waiting[stage].append(_days(stage_since, moment))
        tally.open.append(_Open(trail, state, clock, trail.steps[-1], progressed))
        tally.in_progress += progressed and stage == "implementation"
    tally.furthest.append((furthest, outcome))
    tally.evaluated += evaluated
    if answer is None:
        tally.unanswered.append(_days(created, moment))
    else:
        tally.answered.append(answer)


def _rename(tally: _Tally, old: str, new: str, since: datetime) -> None:
    """A migration renamed the current stay: its entry counts under the new name, as its time will."""
    if old == new:
        return
    month = _month(since)
    tally.entered[old][month] -= 1
    if not tally.entered[old][month]:
        del tally.entered[old][month]
    if not tally.entered[old]:
        del tally.entered[old]
    tally.entered[new][month] += 1


def chain_order(workflow: Workflow) -> dict[str, tuple[int, int]]:
    """Where each open state sits in the chain: by stage, then by the file's order."""
    return {sid: (STAGES.index(state.stage) if state.stage in STAGES else -1, index)
            for index, (sid, state) in enumerate(workflow.states.items()) if not state.final}


def _stage(state: State | None) -> str | None:
    if state is None or state.final:
        return None
    return state.stage


def _stage_index(stage: str | None) -> int:
    return FUNNEL_STAGES.index(stage) if stage in FUNNEL_STAGES else -1


def answers_panel(workflow: Workflow, source: str, trigger: str | None, target: str) -> bool:
    """Whether a step from ``source`` by ``trigger`` to ``target`` answers the panel (when commented)."""
    declared = workflow.states.get(target)
    if declared is not None and declared.answers_panel:
        return True
    if trigger is None or source not in workflow.states:
        return False
    declared_step = workflow.leaving(source, trigger)  # a look-up: from "*" is not searched state by state
    return declared_step is not None and declared_step.answers_panel and declared_step.target == target


def answering(workflows: Sequence[Workflow]) -> Callable[[str, str | None, str], bool]:
    """Whether a step from source by trigger to target answers the panel in any of the workflows."""
    def answers(source: str, trigger: str | None, target: str) -> bool:
        return any(answers_panel(workflow, source, trigger, target) for workflow in workflows)
    return answers


def deadline_days(state: State | None) -> float | None:
    return state.deadline.approx_days if state is not None and state.deadline is not None else None


def _limit(workflow: Workflow, tally: _Tally, current: _Open) -> tuple[datetime, float, str] | None:
    """When the proposal's clock runs out, how long that is, and by which rule; None: no rule applies."""
    declared = workflow.states.get(current.state)
    if declared is not None and declared.deadline is not None:
        due = declared.deadline.add_to(current.clock)
        rule = "no progress" if declared.stage == "implementation" else "deadline"
        return due, _days(current.clock, due), rule
    if current.state not in tally.p90:  # once per state, not once per waiting proposal
        history = tally.passed.get(current.state, [])
        tally.p90[current.state] = Spread.of(history).p90 if len(history) >= MIN_HISTORY else None
    p90 = tally.p90[current.state]
    if p90 is None:
        return None
    return current.clock + timedelta(days=p90), p90, "p90"


def state_figures(workflow: Workflow, stalls: Sequence[Stall], *, quiet: Sequence[Stall] = (),
                  passed: Mapping[str, Spread],
                  waiting: Mapping[str, Spread], stays: Mapping[str, Spread], now: Mapping[str, int],
                  ended: Mapping[str, int], entered: Mapping[str, Mapping[str, int]],
                  left: Mapping[str, Mapping[str, int]]) -> tuple[StateFigures, ...]:
    """Each declared state in file order, then the undeclared ones the history uses, sorted.
    The mappings are keyed by state id (missing: nobody): the spreads of finished stays, current
    waits and both; open proposals now, proposals that ended in each final state; entered and
    left per month. Shared by this reference and :mod:`flowengine.analysis.columnar`."""
    stalled = Counter(stall.state for stall in stalls)
    over = Counter(stall.state for stall in stalls if stall.rule != "p90")  # the other rules are the deadline
    silent = Counter(stall.state for stall in quiet)
    seen = set(entered) | set(passed) | set(now)
    ids = list(workflow.states) + sorted(seen - set(workflow.states))
    passed_of = {sid: passed.get(sid, Spread()) for sid in ids}
    waiting_of = {sid: waiting.get(sid, Spread()) for sid in ids}
    typical = {sid: passed_of[sid] if passed_of[sid].count else waiting_of[sid] for sid in ids}
    slowest = max((typical[sid].median or 0.0 for sid in ids
                   if not (sid in workflow.states and workflow.states[sid].final)), default=0.0)
    figures = []
    for sid in ids:
        declared = workflow.states.get(sid)
        final = bool(declared and declared.final)
        figures.append(StateFigures(
            state=sid, stage=declared.stage if declared else None, owner=declared.owner if declared else None,
            declared=declared is not None, final=final, deadline_days=deadline_days(declared),
            now=ended.get(sid, 0) if final else now.get(sid, 0), stalled_now=stalled[sid],
            over_deadline_now=over[sid], passed=passed_of[sid], waiting=waiting_of[sid],
            stays=stays.get(sid, Spread()),
            entered_by_month=tuple(sorted(entered.get(sid, {}).items())),
            left_by_month=tuple(sorted(left.get(sid, {}).items())),
            severity=0 if final else severity(typical[sid], slowest), quiet_now=silent[sid],
        ))
    return tuple(figures)


def stage_figures(workflow: Workflow, states: Sequence[StateFigures], passed: Mapping[str, Spread],
                  waiting: Mapping[str, Spread]) -> tuple[StageFigures, ...]:
    """The stages the workflow's open states use, in the shared order: their states' counts summed,
    and the spreads of stage stays (keyed by stage; missing: nobody)."""
    used = {s.stage for s in workflow.states.values() if s.stage and not s.final}
    result = []
    for stage in STAGES:
        if stage not in used:
            continue
        members = [s for s in states if s.stage == stage and not s.final]
        result.append(StageFigures(
            stage=stage, now=sum(s.now for s in members), stalled_now=sum(s.stalled_now for s in members),
            over_deadline_now=sum(s.over_deadline_now for s in members),
            passed=passed.get(stage, Spread()), waiting=waiting.get(stage, Spread()),
            quiet_now=sum(s.quiet_now for s in members),
        ))
    return tuple(result)


ANY_SOURCE = "*"  # the source of a transition declared from any open state, in its figures


def transition_keys(workflow: Workflow, taken: Iterable[tuple[str, str, str]]) \
        -> list[tuple[tuple[str, str, str], bool]]:
    """The rows of the transition figures, each (key, declared): every declared transition once,
    in the file's order, then the steps no transition declares, sorted. A transition from any open
    state is one row per state it was actually taken from, and one row with source ``"*"`` while
    some state has not used it: never one row per state (2,000 states would make four million).
    Linear in the transitions as written and in the keys ``taken``."""
    taken_keys = list(dict.fromkeys(taken))
    explicit: dict[tuple[str, str, str], None] = {}
    anywhere: dict[tuple[str, str], tuple[str, ...]] = {}  # (trigger, target) → the states it leaves
    rows: list[tuple[str, ...]] = []  # explicit keys and (trigger, target) of those from any state
    for transition in workflow.transitions:
        if transition.from_any:
            pair = (transition.trigger, transition.target)
            if pair not in anywhere:
                anywhere[pair] = transition.sources
                rows.append(pair)
            continue
        for source in transition.sources:
            key = (source, transition.trigger, transition.target)
            if key not in explicit:
                explicit[key] = None
                rows.append(key)
    shared: dict[int, frozenset[str]] = {}  # every "from: *" leaves the same tuple of states: one set
    open_sets = {pair: shared.get(id(sources)) or shared.setdefault(id(sources), frozenset(sources))
                 for pair, sources in anywhere.items()}
    used: dict[tuple[str, str], list[str]] = {}
    jumps = []
    for key in taken_keys:
        if key in explicit:
            continue
        pair = (key[1], key[2])
        if pair in open_sets and key[0] in open_sets[pair]:
            used.setdefault(pair, []).append(key[0])
        else:
            jumps.append(key)
    order = {sid: index for index, sid in enumerate(workflow.states)}
    result: list[tuple[tuple[str, str, str], bool]] = []
    for row in rows:
        if len(row) == 3:
            result.append(((row[0], row[1], row[2]), True))
            continue
        trigger, target = row[0], row[1]
        sources = sorted(set(used.get((trigger, target), ())), key=order.__getitem__)
        result += [((source, trigger, target), True) for source in sources]
        if len(sources) < len(anywhere[(trigger, target)]):
            result.append(((ANY_SOURCE, trigger, target), True))
    result += [(key, False) for key in sorted(jumps)]
    return result


def _transition_figures(workflow: Workflow, tally: _Tally) -> tuple[TransitionFigures, ...]:
    return tuple(
        TransitionFigures(source, trigger, target, declared, len(tally.before.get(key, [])),
                          Spread.of(tally.before.get(key, [])))
        for key, declared in transition_keys(workflow, tally.before)
        for source, trigger, target in [key]
    )


def _loop_figures(tally: _Tally) -> tuple[LoopFigures, ...]:
    loops = [LoopFigures(source, target, times, len(tally.looped[(source, target)]))
             for (source, target), times in tally.loops.items()]
    return tuple(sorted(loops, key=lambda loop: (-loop.times, loop.source, loop.target)))


def funnel(workflow: Workflow, ends: Mapping[tuple[int, str | None], int], count: int, evaluated: int,
           in_progress: int = 0) -> Funnel:
    """The funnel from how many proposals ended each way: ``ends`` counts (index in
    :data:`FUNNEL_STAGES` of the furthest stage reached, outcome or None while open). An
    outcome that carries the idea on elsewhere (:data:`CARRIED_ON`) is no loss."""
    used = [stage for stage in FUNNEL_STAGES
            if any(s.stage == stage and not s.final for s in workflow.states.values())]
    rows = []
    for stage in used:
        index = FUNNEL_STAGES.index(stage)
        reached = sum(n for (furthest, _), n in ends.items() if furthest >= index)
        lost: Counter[str] = Counter()
        carried = 0
        for (furthest, outcome), n in ends.items():
            if furthest == index and outcome in CARRIED_ON:
                carried += n
            elif furthest == index and outcome not in SUCCESS:
                lost[outcome or WAITING] += n
        rows.append(FunnelStage(stage, reached, tuple(sorted(lost.items(), key=lambda kv: (kv[0] == WAITING, kv[0]))),
                                carried))
    outcomes: Counter[str | None] = Counter()
    for (_, outcome), n in ends.items():
        outcomes[outcome] += n
    return Funnel(count, tuple(rows), outcomes["implemented"], outcomes["partially_implemented"], evaluated,
                  in_progress, sum(outcomes[outcome] for outcome in CARRIED_ON))


def _stalls(workflow: Workflow, tally: _Tally, moment: datetime) -> tuple[tuple[Stall, ...], tuple[Stall, ...]]:
    """The proposals over their limit: (stalled, worst first; gone quiet, longest silent first)."""
    found = []
    for current in tally.open:
        limit = _limit(workflow, tally, current)
        if limit is None or moment <= limit[0]:
            continue
        _, limit_days, rule = limit
        declared = workflow.states.get(current.state)
        found.append(Stall(
            proposal=current.trail.proposal, title=current.trail.title, workflow=current.trail.workflow,
            state=current.state, stage=declared.stage if declared else None,
            owner=declared.owner if declared else None, since=current.clock, days=_days(current.clock, moment),
            limit_days=limit_days, rule=rule, last_actor=current.last.actor, last_role=current.last.role,
            last_heard=current.last.at, heard_days=_days(current.last.at, moment),
        ))
    return split_quiet(found)


def split_quiet(over: Iterable[Stall]) -> tuple[tuple[Stall, ...], tuple[Stall, ...]]:
    """Proposals over their limit as (stalls, worst first; gone quiet, longest silent first)."""
    found = list(over)
    return (worst_first(s for s in found if not s.gone_quiet),
            tuple(sorted((s for s in found if s.gone_quiet), key=lambda s: (-s.heard_days, id_order(s.proposal)))))


def worst_first(stalls: Iterable[Stall]) -> tuple[Stall, ...]:
    """Longest over its limit (relatively) first; then longest waiting; then by id, numbers as numbers."""
    return tuple(sorted(stalls, key=lambda s: (-s.ratio, -s.days, id_order(s.proposal))))
