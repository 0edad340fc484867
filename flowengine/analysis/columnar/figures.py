"""The stall analysis of large logs: exactly the :class:`~flowengine.analysis.figures.Analysis` of
:func:`flowengine.analysis.reference.analyse`, from a few index scans instead of a walk over every event.

:func:`flowengine.analysis.reference.analyse` stays the readable definition; this module computes the same
figures column-wise. :mod:`flowengine.store.aggregates` hands over every creation, step and
migration (its proposal and sequence number as one key, and its time) grouped by kind, source,
trigger and target, and the commented steps that may answer the panel, each column as one
string; numpy (imported by this module alone) parses them and sorts the events by proposal and
sequence once, and every figure is then a vectorised pass over those arrays:

- a step's time in its source state is its time minus that of the creation or step before it
  (migrations rename a stay, they do not end it);
- a stay is counted as entered under the name it ends with (a migration moves the entry);
- stage stays run between the steps that change the stage; the funnel takes each proposal's
  highest stage, the feedback loop its first commented answering step (by sequence);
- medians and 90th percentiles use :func:`flowengine.analysis.figures.quantile`'s formula on the same
  two order statistics, so they equal the reference's to the last bit;
- only proposals that may be stalled become Python objects: the latest progress is looked up
  only for open proposals in an implementation stage (it restarts their clock, and says
  whether they are under way), and only the ones over their limit get their id, title, last
  actor and when they were last heard of.

A workflow whose history the column-wise view cannot take (a history that does not start with
its creation, or a step that names no source state: neither is ever written by flowengine) is
analysed by the reference instead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from flowengine.analysis.columnar.arrays import (
    EPOCH,
    KIND_CODES,
    US_PER_DAY,
    EventColumns,
    Flags,
    Floats,
    Ints,
    View,
    add_duration,
    by_month,
    count_keys,
    days_of,
    distinct,
    is_member,
    month_codes,
    run_starts,
    spreads_by_key,
)
from flowengine.analysis.figures import (
    Analysis,
    Feedback,
    Funnel,
    LoopFigures,
    Spread,
    Stall,
    StateFigures,
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
from flowengine.definition.durations import Duration
from flowengine.definition.model import STAGES, Workflow
from flowengine.history.records import ADVANCED, MIGRATED
from flowengine.store import aggregates

_NONE = -1  # the code of "no stage" (a final or undeclared state, or one declared without a stage)
PROGRESS_TIMES = "progress"  # what an analysis asks for: see :class:`Need`
PROGRESS_SEQS = "progress with seqs"
LAST_HEARD = "last heard"


@dataclass(frozen=True)
class Need:
    """What :meth:`Figures.analysis` asks of the database part-way: for ``pks``, their latest
    progress (:func:`aggregates.latest_progress`, or with ``PROGRESS_SEQS``
    :func:`aggregates.latest_progress_seqs`: parsed :class:`EventColumns`), or who acted last
    (:func:`aggregates.current`: a dict by key). Asked as a generator's yield, so that many
    workflows' needs are met by one statement (see :mod:`flowengine.analysis.columnar.batches`)."""

    kind: str
    pks: Ints


Analysing = Generator[Need, Any, Analysis]


# -- the figures -----------------------------------------------------------------------------

class Figures:
    """One workflow's figures from its sorted events: the reference's tally, column-wise.
    ``answers``: its commented steps that may answer the panel, sorted by proposal and sequence
    (their ``group`` indexes ``answer_groups``)."""

    def __init__(self, workflow: Workflow, moment: datetime, groups: tuple[aggregates.StepGroup, ...], view: View,
                 answer_groups: Sequence[aggregates.StepGroup], answers: View) -> None:
        self.workflow, self.moment, self.view = workflow, moment, view
        self.now_us = (moment - EPOCH) // timedelta(microseconds=1)
        self.groups = groups
        self.names: list[str] = list(workflow.states)
        self.codes: dict[str, int] = {name: index for index, name in enumerate(self.names)}
        for g in groups:
            for name in (g.source, g.target):
                if name is not None and name not in self.codes:
                    self.codes[name] = len(self.names)
                    self.names.append(name)
        self.source = np.array([self.codes[g.source] if g.source is not None else _NONE for g in groups],
                               dtype=np.int64)
        self.target = np.array([self.codes[g.target] for g in groups], dtype=np.int64)
        self.kind = np.array([KIND_CODES[g.kind] for g in groups], dtype=np.int64)
        states = workflow.states
        stage_of = [_NONE] * len(self.names)
        funnel_of = [_NONE] * len(self.names)
        final = [False] * len(self.names)
        for name, code in self.codes.items():
            state = states.get(name)
            if state is not None and state.final:
                final[code] = True
            elif state is not None and state.stage is not None:
                stage_of[code] = STAGES.index(state.stage) if state.stage in STAGES else len(STAGES)
                funnel_of[code] = FUNNEL_STAGES.index(state.stage) if state.stage in FUNNEL_STAGES else _NONE
        self.stage_of = np.array(stage_of, dtype=np.int64)
        self.funnel_of = np.array(funnel_of, dtype=np.int64)
        self.final = np.array(final, dtype=bool)
        self.answer_groups, self.answers = answer_groups, answers

    def analysis(self) -> Analysing:
        """The analysis; a generator that yields a :class:`Need` where it must read more, and
        is sent what was read."""
        v = self.view
        kind, target = self.kind[v.group], self.target[v.group]
        first = run_starts(v.pk)
        entering = kind != KIND_CODES[MIGRATED]
        e = np.flatnonzero(entering)  # creations and steps: each starts a stay
        migrations = e.size != v.pk.size
        # Without migrations (as a rule) every row enters a stay: the columns are taken as they are.
        e_pk, e_at, e_kind = (v.pk[e], v.at[e], kind[e]) if migrations else (v.pk, v.at, kind)
        e_first = run_starts(e_pk)
        proposals = int(first.sum())
        # Steps: time in the source state since the creation or step before.
        stepped = np.flatnonzero(e_kind == KIND_CODES[ADVANCED])
        step_rows = e[stepped]
        step_group = v.group[step_rows]
        step_source = self.source[step_group]
        step_days = days_of(e_at[stepped] - e_at[stepped - 1])
        e_months = month_codes(e_at)
        step_months = e_months[stepped]
        # Stays are entered under the name they end with: a migration moves the entry.
        stay_last = np.append(e[1:] - 1, v.pk.size - 1)
        entered_name = target[stay_last]
        # Stages move on creations and steps only.
        e_target = target[e] if migrations else target
        stage = self.stage_of[e_target]
        changed = e_first.copy()
        changed[1:] |= stage[1:] != stage[:-1]
        changes = np.flatnonzero(changed)
        continued = ~e_first[changes[1:]]
        left_stage = stage[changes[:-1]][continued]
        stage_days = days_of((e_at[changes[1:]] - e_at[changes[:-1]])[continued])
        keep = left_stage != _NONE
        # Per proposal: its last change of stage, its last stay, where it is now.
        last_change = changes[np.append(~continued, True)]
        e_last = np.flatnonzero(np.append(e_first[1:], True))
        row_last = np.flatnonzero(np.append(first[1:], True))
        created = v.at[first]
        since = e_at[e_last]
        stage_now = stage[last_change]
        stage_since = e_at[last_change]
        name_now = target[row_last]
        final_now = self.final[name_now]
        e_starts = np.flatnonzero(e_first)
        furthest = np.maximum.reduceat(self.funnel_of[e_target], e_starts)
        evaluation = STAGES.index("evaluation")
        evaluated = np.maximum.reduceat((stage == evaluation).astype(np.int64), e_starts)
        open_ = ~final_now
        waiting_days = days_of(self.now_us - since[open_])
        tally = _Tally(
            passed=spreads_by_key(step_source, step_days),
            passed_values=(step_source, step_days),
            waiting_values=(name_now[open_], waiting_days),
            stage_passed=_by_stage(spreads_by_key(left_stage[keep], stage_days[keep])),
            stage_waiting=_by_stage(spreads_by_key(stage_now[open_ & (stage_now != _NONE)],
                                             days_of(self.now_us - stage_since[open_ & (stage_now != _NONE)]))),
            entered=by_month(entered_name, e_months),
            left=by_month(step_source, step_months),
            before_groups=step_group, before_days=step_days,
            now=count_keys(name_now[open_]), ended=count_keys(name_now[final_now]),
        )
        loops = self._loops(step_group, v.pk[step_rows])
        pks = v.pk[first]
        answered_at = self._answers(pks)
        has_answer = answered_at >= 0
        answered = days_of(answered_at[has_answer] - created[has_answer])
        unanswered = days_of(self.now_us - created[~has_answer])
        implementing = stage_now[open_] == STAGES.index("implementation")
        e_seq = v.seq[e] if migrations else v.seq
        clock, under_way = yield from self._clocks(pks[open_], since[open_], e_seq[e_last][open_], implementing)
        stalls, quiet = yield from self._stalls(pks[open_], name_now[open_], since[open_], clock, tally)
        states = self._state_figures(tally, stalls, quiet)
        return Analysis(
            workflow=self.workflow, as_of=self.moment, proposals=proposals, states=states,
            stages=stage_figures(self.workflow, states, tally.stage_passed, tally.stage_waiting),
            transitions=self._transition_figures(step_group, step_days),
            loops=loops, funnel=self._funnel(furthest, name_now, int(evaluated.sum()), proposals,
                                             int(under_way.sum())),
            feedback=Feedback(proposals, _one_spread(answered), int(unanswered.size), _one_spread(unanswered)),
            stalls=stalls, quiet=quiet,
        )

    # -- pieces ------------------------------------------------------------------------------

    def _answers(self, pks: Ints) -> Ints:
        """Per proposal (in ``pks`` order), the time of its first answering step; -1 for none."""
        found = np.full(pks.size, -1, dtype=np.int64)
        mine = np.array([g.source is not None and answers_panel(self.workflow, g.source, g.trigger, g.target)
                         for g in self.answer_groups], dtype=bool)
        if not mine.any() or not self.answers.pk.size:
            return found
        take = mine[self.answers.group] & is_member(self.answers.pk, pks)
        pk, at = self.answers.pk[take], self.answers.at[take]  # sorted by proposal and sequence already
        head = run_starts(pk)
        found[np.searchsorted(pks, pk[head])] = at[head]
        return found

    def _clocks(self, pks: Ints, since: Ints, entered: Ints,
                implementing: Flags) -> Generator[Need, Any, tuple[Ints, Flags]]:
        """When each proposal's deadline clock last started — its stay's start, or where
        ``implementing`` its latest progress record in the stay (one index seek each) — and
        whether it has progress recorded in the stay (``entered``: the seq that began the stay)."""
        clock = since.copy()
        under_way = np.zeros(pks.size, dtype=bool)
        if not implementing.any():
            return clock, under_way
        wanted, began = pks[implementing], since[implementing]
        latest = _latest((yield Need(PROGRESS_TIMES, wanted)), wanted)[0]
        in_stay = latest > began
        tied = np.flatnonzero(latest == began)  # progress at the very moment the stay began: before or after?
        if tied.size:
            seqs = _latest((yield Need(PROGRESS_SEQS, wanted[tied])), wanted[tied])[1]
            in_stay[tied] = seqs > entered[implementing][tied]
        clock[implementing] = np.where(in_stay, latest, began)
        under_way[implementing] = in_stay
        return clock, under_way

    def _stalls(self, pks: Ints, names: Ints, since: Ints, clock: Ints,
                tally: _Tally) -> Generator[Need, Any, tuple[tuple[Stall, ...], tuple[Stall, ...]]]:
        """The open proposals over their limit (as stalls._stalls and _limit): (stalled, worst
        first; gone quiet, longest silent first). A clock only ever starts at or after its stay's
        start, so only proposals over the least limit counted from there are looked at further."""
        never = np.iinfo(np.int64).max
        least = np.full(pks.size, never, dtype=np.int64)  # the shortest limit each could be over
        limits: dict[int, tuple[Duration | int, str, float | None]] = {}  # code → deadline or p90 span, rule, p90
        for code in distinct(names).tolist():
            declared = self.workflow.states.get(self.names[code])
            here = names == code
            if declared is not None and declared.deadline is not None:
                deadline = declared.deadline
                least[here] = deadline.months * 28 * US_PER_DAY + deadline.delta // timedelta(microseconds=1)
                limits[code] = (deadline, "no progress" if declared.stage == "implementation" else "deadline", None)
                continue
            history = tally.passed.get(code)
            if history is None or history.count < MIN_HISTORY or history.p90 is None:
                continue
            span = timedelta(days=history.p90) // timedelta(microseconds=1)
            least[here] = span
            limits[code] = (span, "p90", history.p90)
        maybe = (least != never) & (self.now_us - since > least)
        due = np.full(pks.size, never, dtype=np.int64)
        limit_days = np.zeros(pks.size, dtype=np.float64)
        for code, (limit, _, p90) in limits.items():
            here = np.flatnonzero(maybe & (names == code))
            if not here.size:
                continue
            if isinstance(limit, Duration):
                due[here] = add_duration(limit, clock[here])
                limit_days[here] = days_of(due[here] - clock[here])
            else:
                due[here] = clock[here] + limit
                limit_days[here] = p90
        stalled = np.flatnonzero(maybe & (self.now_us > due))
        if not stalled.size:
            return (), ()
        who: dict[int, aggregates.Current] = yield Need(LAST_HEARD, pks[stalled])
        waited = days_of(self.now_us - clock[stalled])
        found = []
        about: dict[int, tuple[str, str | None, str | None, str]] = {}  # code → name, stage, owner, rule
        for code in limits:
            declared = self.workflow.states.get(self.names[code])
            about[code] = (self.names[code], declared.stage if declared else None,
                           declared.owner if declared else None, limits[code][1])
        for pk, code, started_us, days, limit_days_of in zip(
                pks[stalled].tolist(), names[stalled].tolist(), clock[stalled].tolist(), waited.tolist(),
                limit_days[stalled].tolist(), strict=True):
            name, stage, owner, rule = about[code]
            current = who[pk]
            last_heard = as_utc(current.last_at)
            found.append(Stall(
                proposal=current.id, title=current.title, workflow=current.workflow, state=name, stage=stage,
                owner=owner, since=EPOCH + timedelta(microseconds=started_us), days=days, limit_days=limit_days_of,
                rule=rule, last_actor=current.last_actor, last_role=current.last_role, last_heard=last_heard,
                heard_days=max(0.0, (self.moment - last_heard).total_seconds() / 86400),
            ))
        return split_quiet(found)

    def _loops(self, step_group: Ints, step_pk: Ints) -> tuple[LoopFigures, ...]:
        order = chain_order(self.workflow)
        pair_of: dict[int, tuple[str, str]] = {}
        for index, g in enumerate(self.groups):
            if g.kind == ADVANCED and g.source in order and g.target in order and order[g.target] < order[g.source]:
                pair_of[index] = (g.source, g.target)
        if not pair_of:
            return ()
        pairs = sorted(set(pair_of.values()))
        pair_code = np.full(len(self.groups), -1, dtype=np.int64)
        for index, pair in pair_of.items():
            pair_code[index] = pairs.index(pair)
        codes = pair_code[step_group]
        looped = codes >= 0
        if not looped.any():  # sent back only later than the moment (groups are read for the whole log)
            return ()
        times = count_keys(codes[looped])
        span = int(step_pk.max()) + 1
        proposals = count_keys(distinct(codes[looped] * span + step_pk[looped]) // span)
        loops = [LoopFigures(pairs[code][0], pairs[code][1], times[code], proposals[code]) for code in times]
        return tuple(sorted(loops, key=lambda loop: (-loop.times, loop.source, loop.target)))

    def _state_figures(self, tally: _Tally, stalls: tuple[Stall, ...],
                       quiet: tuple[Stall, ...]) -> tuple[StateFigures, ...]:
        names = self.names

        def named(by_code: dict[int, Any]) -> dict[str, Any]:
            return {names[code]: value for code, value in by_code.items()}

        stays = spreads_by_key(np.concatenate([tally.passed_values[0], tally.waiting_values[0]]),
                         np.concatenate([tally.passed_values[1], tally.waiting_values[1]]))
        return state_figures(self.workflow, stalls, quiet=quiet, passed=named(tally.passed),
                             waiting=named(spreads_by_key(*tally.waiting_values)), stays=named(stays),
                             now=named(tally.now), ended=named(tally.ended), entered=named(tally.entered),
                             left=named(tally.left))

    def _transition_figures(self, step_group: Ints, step_days: Floats) -> tuple[TransitionFigures, ...]:
        key_of: dict[tuple[str, str, str], int] = {}
        group_key = np.full(len(self.groups), -1, dtype=np.int64)
        for index, g in enumerate(self.groups):
            if g.kind == ADVANCED and g.source is not None:
                group_key[index] = key_of.setdefault((g.source, g.trigger or "", g.target), len(key_of))
        spreads = spreads_by_key(group_key[step_group], step_days)
        taken = [key for key, code in key_of.items() if code in spreads]
        result = []
        for key, declared in transition_keys(self.workflow, taken):
            spread = spreads.get(key_of.get(key, -1), Spread())
            result.append(TransitionFigures(key[0], key[1], key[2], declared, spread.count, spread))
        return tuple(result)

    def _funnel(self, furthest: Ints, name_now: Ints, evaluated: int, count: int, in_progress: int) -> Funnel:
        outcome_of: list[str | None] = []
        for name in self.names:
            state = self.workflow.states.get(name)
            outcome_of.append(state.outcome if state is not None and state.final else None)
        ends: Counter[tuple[int, str | None]] = Counter()
        if furthest.size:
            span = len(self.names)
            for key, n in count_keys((furthest + 1) * span + name_now).items():
                ends[(key // span - 1, outcome_of[key % span])] += n
        return funnel(self.workflow, ends, count, evaluated, in_progress)


def _latest(progress: EventColumns, wanted: Ints) -> tuple[Ints, Ints]:
    """Each wanted proposal's latest progress (``progress``: of these proposals and maybe others):
    its time (the least int64 where none) and seq (-1)."""
    progress = _among(progress, wanted)
    order = np.argsort(wanted)
    position = order[np.searchsorted(wanted, progress.pk, sorter=order)]
    latest = np.full(wanted.size, np.iinfo(np.int64).min, dtype=np.int64)
    seq = np.full(wanted.size, -1, dtype=np.int64)
    latest[position], seq[position] = progress.at, progress.seq
    return latest, seq


def _among(rows: EventColumns, wanted: Ints) -> EventColumns:
    keep = is_member(rows.pk, wanted)
    return EventColumns(rows.pk[keep], rows.seq[keep], rows.at[keep])


@dataclass(frozen=True)
class _Tally:
    passed: dict[int, Spread]  # by state code
    passed_values: tuple[Ints, Floats]
    waiting_values: tuple[Ints, Floats]
    stage_passed: dict[str, Spread]  # by stage
    stage_waiting: dict[str, Spread]
    entered: dict[int, dict[str, int]]  # state code → month → count
    left: dict[int, dict[str, int]]
    before_groups: Ints
    before_days: Floats
    now: dict[int, int]  # open proposals per state code
    ended: dict[int, int]  # proposals that ended in each final state


def _by_stage(by_index: dict[int, Spread]) -> dict[str, Spread]:
    """Spreads keyed by index in STAGES, keyed by the stage (an index past STAGES is no shared stage)."""
    return {STAGES[index]: spread for index, spread in by_index.items() if index < len(STAGES)}


def _one_spread(values: Floats) -> Spread:
    """The spread of all ``values`` together."""
    return spreads_by_key(np.zeros(values.size, dtype=np.int64), values).get(0, Spread())
