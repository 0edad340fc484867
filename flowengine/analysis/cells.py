"""The counts a published report shows, as named cells, and every sum that ties them together.

A count on its own may be safe to show and still give away another that is hidden: the stage's
"now" is the sum of its states', the proposals are the sum of every state's, a state's
finished stays are the steps taken out of it. :func:`published_cells` names each count the
site, the stall report and the diagrams show (one name per count, however many pages show
it) and writes down those ties as equalities, with *latent* cells for what is never shown
(the proposals in a state that are not stalled, the stays that began in a state). An identity
is kept only where the figures satisfy it: one that does not hold cannot help a reader either.
:mod:`flowengine.analysis.disclosure` then decides which cells to hide.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from flowengine.analysis.figures import CARRIED_ON, Analysis
from flowengine.analysis.reference import ANY_SOURCE

__all__ = ["SITE", "CellTable", "cell", "done", "done_cells", "published_cells"]

SITE = "*"  # the workflow part of a cell counted over every workflow


def cell(workflow: str, what: str, *parts: str) -> str:
    """The name of one count: ``cell("trondheim", "now", "panel_work")``; ``workflow`` :data:`SITE`
    for the site's totals over every workflow."""
    return "|".join((workflow, what, *parts))


@dataclass
class CellTable:
    """Counts by name, the latent ones among them, and equalities (each: coefficient per cell, sum 0)."""

    values: dict[str, int] = field(default_factory=dict)
    latent: set[str] = field(default_factory=set)
    equalities: list[tuple[tuple[str, int], ...]] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # identities the figures did not satisfy (see equal)

    def add(self, key: str, value: int) -> str:
        self.values[key] = value
        return key

    def hidden_part(self, key: str, value: int) -> str:
        """A count never shown (and so never pinned by the reader)."""
        self.latent.add(key)
        return self.add(key, value)

    def equal(self, total: str, parts: Iterable[str]) -> None:
        """``total`` = the sum of ``parts``, kept when the figures say so."""
        members = [p for p in parts if p in self.values]
        if total not in self.values:
            return
        if sum(self.values[p] for p in members) != self.values[total]:
            self.dropped.append(f"{total} != {' + '.join(members) or '0'}")
            return
        terms: dict[str, int] = {total: -1}
        for part in members:
            terms[part] = terms.get(part, 0) + 1
        self.equalities.append(tuple((k, c) for k, c in terms.items() if c))

    def at_most(self, small: str, big: str, slack_name: str) -> None:
        """``small`` ≤ ``big``: ``big`` = ``small`` + a latent slack."""
        self.sum_at_most([small], big, slack_name)

    def sum_at_most(self, parts: Sequence[str], total: str, slack_name: str) -> None:
        """The sum of ``parts`` ≤ ``total``."""
        present = [p for p in parts if p in self.values]
        if total in self.values and present:
            rest = self.values[total] - sum(self.values[p] for p in present)
            if rest >= 0:
                self.equal(total, [*present, self.hidden_part(slack_name, rest)])
            else:
                self.dropped.append(f"{' + '.join(present)} > {total}")

    def shown(self) -> list[str]:
        return [key for key in self.values if key not in self.latent]


def published_cells(analyses: Sequence[Analysis]) -> CellTable:
    """Every count the published views show, and how they add up."""
    table = CellTable()
    for analysis in analyses:
        _workflow_cells(table, analysis)
    everyone = SITE
    table.add(cell(everyone, "proposals"), sum(a.proposals for a in analyses))
    table.equal(cell(everyone, "proposals"), [cell(a.workflow.id, "proposals") for a in analyses])
    table.add(cell(everyone, "stalled"), sum(len(a.stalls) for a in analyses))
    table.equal(cell(everyone, "stalled"), [cell(a.workflow.id, "stalled", s.state) for a in analyses
                                            for s in a.states if not s.final])
    table.add(cell(everyone, "answered"), sum(a.feedback.answered.count for a in analyses))
    table.equal(cell(everyone, "answered"), [cell(a.workflow.id, "answered") for a in analyses])
    table.add(cell(everyone, "quiet"), sum(len(a.quiet) for a in analyses))
    table.equal(cell(everyone, "quiet"), [cell(a.workflow.id, "quiet", s.state) for a in analyses
                                          for s in a.states if not s.final])
    table.add(cell(everyone, "done"), sum(done(a) for a in analyses))
    table.equal(cell(everyone, "done"), [c for a in analyses for c in done_cells(a)])
    table.add(cell(everyone, "carried_on"), sum(a.funnel.carried_on for a in analyses))
    table.equal(cell(everyone, "carried_on"), [cell(a.workflow.id, "carried_on") for a in analyses])
    return table


def done(analysis: Analysis) -> int:
    """Proposals implemented, in use or partly in place: ended implemented (fully or in part), in
    an evaluation stage now (taken into use), or being implemented with progress recorded."""
    funnel = analysis.funnel
    evaluating = sum(s.now for s in analysis.stages if s.stage == "evaluation")
    return funnel.implemented + funnel.partially_implemented + evaluating + funnel.in_progress


def done_cells(analysis: Analysis) -> list[str]:
    """The cells :func:`done` adds up."""
    wid = analysis.workflow.id
    return [cell(wid, "implemented"), cell(wid, "partially_implemented"), cell(wid, "in_progress"),
            *(cell(wid, "stage_now", s.stage) for s in analysis.stages if s.stage == "evaluation")]


def _workflow_cells(table: CellTable, analysis: Analysis) -> None:
    wid = analysis.workflow.id
    states = analysis.states
    open_states = [s for s in states if not s.final]
    total = table.add(cell(wid, "proposals"), analysis.proposals)
    for s in states:
        table.add(cell(wid, "now", s.state), s.now)
        if not s.final:
            table.add(cell(wid, "stalled", s.state), s.stalled_now)
            table.add(cell(wid, "over", s.state), s.over_deadline_now)
            table.add(cell(wid, "quiet", s.state), s.quiet_now)
            table.add(cell(wid, "passed", s.state), s.passed.count)
            # Stalled and gone quiet are both over their limit, told apart by the last record: disjoint.
            table.sum_at_most([cell(wid, "stalled", s.state), cell(wid, "quiet", s.state)], cell(wid, "now", s.state),
                              cell(wid, "calm", s.state))
            table.at_most(cell(wid, "over", s.state), cell(wid, "stalled", s.state), cell(wid, "near", s.state))
    table.equal(total, [cell(wid, "now", s.state) for s in states])
    for g in analysis.stages:
        members = [s for s in open_states if s.stage == g.stage]
        for what, value in (("now", g.now), ("stalled", g.stalled_now), ("over", g.over_deadline_now),
                            ("quiet", g.quiet_now)):
            table.add(cell(wid, f"stage_{what}", g.stage), value)
            table.equal(cell(wid, f"stage_{what}", g.stage), [cell(wid, what, s.state) for s in members])
        table.add(cell(wid, "stage_passed", g.stage), g.passed.count)
        # A stage's stays merge consecutive states of it: never more than its states' stays together.
        bound = table.hidden_part(cell(wid, "stage_states_passed", g.stage), sum(s.passed.count for s in members))
        table.equal(bound, [cell(wid, "passed", s.state) for s in members])
        table.at_most(cell(wid, "stage_passed", g.stage), bound, cell(wid, "stage_merged", g.stage))
    _flow_cells(table, analysis)
    _funnel_cells(table, analysis)
    table.add(cell(wid, "answered"), analysis.feedback.answered.count)
    table.add(cell(wid, "unanswered"), analysis.feedback.unanswered)
    table.equal(total, [cell(wid, "answered"), cell(wid, "unanswered")])


def _flow_cells(table: CellTable, analysis: Analysis) -> None:
    """Steps taken, and how they tie to the states' stays; the loops back."""
    wid = analysis.workflow.id
    by_source: dict[str, list[str]] = {}
    by_target: dict[str, list[str]] = {}
    by_pair: dict[tuple[str, str], list[str]] = {}
    for t in analysis.transitions:
        name = table.add(cell(wid, "taken", t.source, t.trigger, t.target), t.taken)
        by_source.setdefault(t.source, []).append(name)
        by_target.setdefault(t.target, []).append(name)
        by_pair.setdefault((t.source, t.target), []).append(name)
    _any_source_cells(table, analysis, by_source)
    initial = analysis.workflow.initial_state
    for s in analysis.states:
        outgoing = by_source.get(s.state, [])
        incoming = by_target.get(s.state, [])
        if not s.final:
            table.equal(cell(wid, "passed", s.state), outgoing)
        entered = table.hidden_part(cell(wid, "entered", s.state), s.passed.count + s.now if not s.final else s.now)
        table.equal(entered, [cell(wid, "passed", s.state), cell(wid, "now", s.state)] if not s.final
                    else [cell(wid, "now", s.state)])
        started = [cell(wid, "proposals")] if initial is not None and initial.id == s.state else []
        table.equal(entered, [*incoming, *started])
    for loop in analysis.loops:
        times = table.add(cell(wid, "loop_times", loop.source, loop.target), loop.times)
        table.equal(times, by_pair.get((loop.source, loop.target), []))
        proposals = table.add(cell(wid, "loop_proposals", loop.source, loop.target), loop.proposals)
        table.at_most(proposals, times, cell(wid, "loop_again", loop.source, loop.target))


def _any_source_cells(table: CellTable, analysis: Analysis, by_source: dict[str, list[str]]) -> None:
    """A transition declared from any open state has a row per state it was taken from and one
    row, source ``"*"``, for the states that never took it (a count of 0, shown). Those steps left
    some state all the same: each such state gets a latent count of them among its steps out, and
    the ``"*"`` row is their sum. Without them a hidden ``"*"`` row would let a reader's table
    send proposals into the target from nowhere — a table no reader could believe, taken as proof
    that a cell is protected."""
    wid = analysis.workflow.id
    rows = {(t.source, t.trigger, t.target) for t in analysis.transitions}
    for t in analysis.transitions:
        if t.source != ANY_SOURCE:
            continue
        declared = next((d for d in analysis.workflow.transitions if d.from_any and d.trigger == t.trigger
                         and d.target == t.target), None)
        if declared is None:
            continue
        unused = [source for source in declared.sources if (source, t.trigger, t.target) not in rows]
        parts = [table.hidden_part(cell(wid, "taken_unlisted", source, t.trigger, t.target), 0) for source in unused]
        for source, part in zip(unused, parts, strict=True):
            by_source.setdefault(source, []).append(part)
        table.equal(cell(wid, "taken", t.source, t.trigger, t.target), parts)


def _funnel_cells(table: CellTable, analysis: Analysis) -> None:
    wid = analysis.workflow.id
    funnel = analysis.funnel
    total = cell(wid, "proposals")
    rows = funnel.stages
    for row in rows:
        table.add(cell(wid, "reached", row.stage), row.reached)
        table.add(cell(wid, "lost", row.stage), row.lost_total)
        table.add(cell(wid, "carried", row.stage), row.carried_on)
    if rows:
        table.equal(total, [cell(wid, "reached", rows[0].stage)])
    for index, row in enumerate(rows):
        later = [cell(wid, "reached", rows[index + 1].stage)] if index + 1 < len(rows) else []
        table.sum_at_most([*later, cell(wid, "lost", row.stage), cell(wid, "carried", row.stage)],
                          cell(wid, "reached", row.stage), cell(wid, "went_on", row.stage))
        open_there = [cell(wid, "now", s.state) for s in analysis.states if not s.final and s.stage in
                      {r.stage for r in rows[index:]}]
        table.sum_at_most(open_there, cell(wid, "reached", row.stage), cell(wid, "passed_through", row.stage))
    declared = analysis.workflow.states
    for outcome, outcomes in (("implemented", ("implemented",)), ("partially_implemented", ("partially_implemented",)),
                              ("carried_on", CARRIED_ON)):
        table.add(cell(wid, outcome), getattr(funnel, outcome))
        table.equal(cell(wid, outcome), [cell(wid, "now", s.state) for s in analysis.states
                                         if s.final and s.state in declared and declared[s.state].outcome in outcomes])
    table.equal(cell(wid, "carried_on"), [cell(wid, "carried", r.stage) for r in rows])
    table.sum_at_most([*(cell(wid, "lost", r.stage) for r in rows), cell(wid, "implemented"),
                       cell(wid, "partially_implemented"), cell(wid, "carried_on")], total,
                      cell(wid, "ended_otherwise"))
    table.add(cell(wid, "in_progress"), funnel.in_progress)
    implementing = [cell(wid, "stage_now", g.stage) for g in analysis.stages if g.stage == "implementation"]
    if implementing:
        table.at_most(cell(wid, "in_progress"), implementing[0], cell(wid, "not_progressed"))
    table.add(cell(wid, "evaluated"), funnel.evaluated)
    if any(r.stage == "evaluation" for r in rows):
        table.equal(cell(wid, "reached", "evaluation"), [cell(wid, "evaluated")])
    table.sum_at_most([cell(wid, "evaluated")], total, cell(wid, "not_evaluated"))
