"""Which published counts to hide: small ones, and enough others that no hidden one can be worked out.

Hiding a count below the threshold (*primary* suppression) is not enough: shown beside its
total and its siblings, a hidden cell is one subtraction away. So more cells are hidden
(*complementary* suppression) until, for every hidden cell, the published counts and every
identity between them (:mod:`flowengine.analysis.cells`) leave more than one value possible —
and for a small one, a value of at least the threshold, so a reader cannot even tell that it
is small. "Possible" is decided exactly: the smallest and largest value of the cell over all
whole-number solutions of the published counts (hidden and latent cells at least 0; a zero
may be hidden beside a small count), solved as an integer programme by HiGHS.

Which others to hide is decided for each connected part of the table as one integer programme
too: the fewest cells such that, for every small count, some table a reader cannot tell from
the true one (same shown counts, same sums, whole numbers) gives it at least the threshold —
that table is the proof, so a solution cut short by the time limit is as safe as the best one.
The search stops within a tenth of the fewest cells, so each partner it chose, the largest count
first, is then shown again where every witness still holds without it (a total or a stage's
"reached" is not hidden for want of one more small partner). A partner that a reader can still
work out is shown after all: it protects nothing. Should the
programme find nothing in time, partners are chosen one at a time: the smallest shown count a
hidden cell shares an identity with, or one reached through the hidden cells around it.

This is the only module that imports ``highspy``, and only when something is to be hidden.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from flowengine.analysis.cells import SITE, CellTable, published_cells
from flowengine.analysis.figures import Analysis, Privacy

__all__ = ["Bounds", "bounds", "decide", "for_publication", "suppress"]

# A hidden count's upper limit in the model: any count is far below it, and a cell that reaches
# half of it is unbounded in effect (a solver is steadier with every variable bounded).
_CEILING = 1e9
# How long the choice of partners for one part of the table may take before the one-at-a-time
# choice is used instead, in seconds (the programme's best solution so far is kept when it has one).
TIME_LIMIT = 10.0


@dataclass(frozen=True)
class Bounds:
    """The values a reader can still think a hidden cell has."""

    low: int
    high: int | None  # None: no upper limit

    def pins(self) -> bool:
        return self.high is not None and self.low == self.high


@cache
def _quiet_highs() -> type:
    """HiGHS with its output off from the very first call. HiGHS writes a banner on the first call
    that is not an option's, so its maintainers' advice is to set ``output_flag`` to false before
    any other; highspy's constructor makes such a call itself (it installs its callbacks), so the
    options are set there, first."""
    import highspy

    class QuietHighs(highspy.Highs):
        def enableCallbacks(self) -> None:
            self.setOptionValue("output_flag", False)
            self.setOptionValue("log_to_console", False)
            super().enableCallbacks()  # type: ignore[no-untyped-call]

    return QuietHighs


def _solver() -> Any:
    """A HiGHS instance that prints nothing."""
    return _quiet_highs()()


class _Model:
    """The reader's view of one connected part of the table: shown cells fixed, hidden ones free."""

    def __init__(self, table: CellTable, keys: Sequence[str], hidden: Collection[str], *, exact: bool = True) -> None:
        import highspy

        self.solver = _solver()
        self.index = {key: i for i, key in enumerate(keys)}
        self.vars = []
        for key in keys:
            value = table.values[key]
            if key in table.latent or key in hidden:
                low, high = 0.0, _CEILING
            else:
                low = high = float(value)
            kind = highspy.HighsVarType.kInteger if exact else highspy.HighsVarType.kContinuous
            self.vars.append(self.solver.addVariable(lb=low, ub=high, type=kind))
        members = set(keys)
        for equality in table.equalities:
            if all(key in members for key, _ in equality):
                self.solver.addConstr(sum(coef * self.vars[self.index[key]] for key, coef in equality) == 0)

    def hide(self, key: str) -> None:
        self.solver.changeColBounds(self.index[key], 0.0, _CEILING)

    def show(self, key: str, value: int) -> None:
        self.solver.changeColBounds(self.index[key], float(value), float(value))

    def bounds(self, key: str) -> Bounds:
        var = self.vars[self.index[key]]
        low = math.ceil(self._solved(self.solver.minimize, var) - 1e-6)
        high = self._solved(self.solver.maximize, var)
        return Bounds(low, None if high >= _CEILING / 2 else math.floor(high + 1e-6))

    def _solved(self, sense: Callable[[Any], Any], var: Any) -> float:
        import highspy

        sense(var)
        if self.solver.getModelStatus() != highspy.HighsModelStatus.kOptimal:  # the true counts always solve it
            raise RuntimeError(f"the published counts have no solution: {self.solver.getModelStatus()}")
        return float(self.solver.val(var))


def _is_site_total(equality: tuple[tuple[str, int], ...]) -> bool:
    return equality[0][0].startswith(SITE + "|")


def _components(table: CellTable) -> list[list[str]]:
    """Cells linked by identities, each group in the table's order. The site's totals over every
    workflow are left out: each is the sum of one count per workflow, hidden whenever one of those
    is (:func:`suppress`), so it ties nothing that is hidden to anything else."""
    parent = {key: key for key in table.values}

    def root(key: str) -> str:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for equality in table.equalities:
        if _is_site_total(equality):
            continue
        first = root(equality[0][0])
        for key, _ in equality[1:]:
            parent[root(key)] = first
    groups: dict[str, list[str]] = {}
    for key in table.values:
        groups.setdefault(root(key), []).append(key)
    return list(groups.values())


def bounds(table: CellTable, hidden: Collection[str], of: Collection[str] | None = None) -> dict[str, Bounds]:
    """For every hidden cell (of those in ``of``, when given), the least and greatest value the
    published table allows."""
    found: dict[str, Bounds] = {}
    for keys in _components(table):
        wanted = [key for key in keys if key in hidden and (of is None or key in of)]
        if wanted:
            model = _Model(table, keys, hidden)
            found.update((key, model.bounds(key)) for key in wanted)
    return found


def suppress(table: CellTable, min_count: int, *, pinned: Callable[[str], bool] = lambda key: False) -> frozenset[str]:
    """The cells to hide so that none below ``min_count`` shows or can be worked out.

    ``pinned`` cells are public anyway (a workflow that publishes its proposals one by one shows
    every count of its own by their pages): they are never hidden, and never hidden for others.
    """
    if min_count <= 1:
        return frozenset()
    shown = table.shown()
    primary = {key for key in shown if 0 < table.values[key] < min_count and not pinned(key)}
    if not primary:
        return frozenset()
    hidden = set(primary)
    index = {key: i for i, key in enumerate(table.values)}
    linked: dict[str, list[tuple[tuple[str, int], ...]]] = {}
    for equality in table.equalities:
        if not _is_site_total(equality):
            for key, _ in equality:
                linked.setdefault(key, []).append(equality)
    shown_anyway: set[str] = set()

    def can_hide(other: str) -> bool:
        return other not in shown_anyway and not pinned(other)

    # Hiding more only widens what a reader can think, so a cell found safe stays safe while
    # partners are added; showing a cell again narrows it, and everything is checked again.
    for keys in _components(table):
        if not any(key in hidden for key in keys) or keys[0].startswith(SITE + "|"):
            continue
        chosen = _fewest(table, keys, primary, min_count, can_hide)
        if chosen is not None:
            hidden.update(chosen)
            continue
        # First against the continuous relaxation (fast; a cell it pins, whole numbers pin too),
        # then against whole numbers, which may pin what the relaxation does not.
        for exact in (False, True):
            model = _Model(table, keys, hidden, exact=exact)
            pending = [key for key in keys if key in hidden]
            while pending:
                key = pending.pop(0)
                if key not in hidden or not _too_narrow(model.bounds(key), key in primary, min_count):
                    continue
                partner = _partner(key, table, hidden, linked, can_hide, index)
                if partner is None:  # nothing left to hide beside it: public in effect
                    shown_anyway.add(key)
                    hidden.discard(key)
                    model.show(key, table.values[key])
                    pending = [other for other in keys if other in hidden]
                    continue
                hidden.add(partner)
                model.hide(partner)
                pending += [key, partner]
    for equality in table.equalities:
        if _is_site_total(equality) and any(key in hidden for key, _ in equality[1:]):
            hidden.add(equality[0][0])
    return frozenset(hidden)


def _fewest(table: CellTable, keys: Sequence[str], primary: Collection[str], min_count: int,
           can_hide: Callable[[str], bool]) -> set[str] | None:
    """The fewest cells of one connected part to hide (its small counts among them) so that each
    small count reaches ``min_count`` in a table that agrees with every count shown and every
    sum: one copy of the part's cells per small count (its *witness*), tied to the true counts
    wherever a cell is shown. None when no such choice is found in :data:`TIME_LIMIT`."""
    import highspy

    solver = _solver()
    small = [key for key in keys if key in primary]
    members = set(keys)
    equalities = [e for e in table.equalities if all(key in members for key, _ in e)]
    flags = [key for key in keys if key not in table.latent and (key in primary or can_hide(key))]
    flag = {key: i for i, key in enumerate(flags)}
    lower = [1.0 if key in primary else 0.0 for key in flags]
    upper = [1.0] * len(flags)
    cost = [1.0] * len(flags)
    rows: list[tuple[float, float, list[int], list[float]]] = []
    rise = 2.0 * min_count  # how far above its true count a witness may take a hidden cell
    witnesses: list[dict[str, int]] = []
    for weak in small:
        first = len(lower)
        at = {key: first + i for i, key in enumerate(keys)}
        witnesses.append(at)
        for key in keys:
            value = float(table.values[key])
            if key in table.latent:
                low, high = 0.0, _CEILING
            elif key == weak:
                low, high = float(min_count), float(min_count) + rise
            elif key in flag:
                low, high = 0.0, value + rise
                # Shown (flag 0), the witness keeps the true count: w - rise·flag ≤ v and w + v·flag ≥ v.
                rows.append((-highspy.kHighsInf, value, [at[key], flag[key]], [1.0, -rise]))
                rows.append((value, highspy.kHighsInf, [at[key], flag[key]], [1.0, value]))
            else:
                low = high = value
            lower.append(low)
            upper.append(high)
            cost.append(0.0)
        rows += [(0.0, 0.0, [at[key] for key, _ in e], [float(c) for _, c in e]) for e in equalities]
    count = len(lower)
    solver.addVars(count, lower, upper)
    solver.changeColsIntegrality(count, list(range(count)), [highspy.HighsVarType.kInteger] * count)
    solver.changeColsCost(count, list(range(count)), cost)
    starts: list[int] = []
    index: list[int] = []
    values: list[float] = []
    for _, _, columns, coefficients in rows:
        starts.append(len(index))
        index += columns
        values += coefficients
    solver.addRows(len(rows), [r[0] for r in rows], [r[1] for r in rows], len(index), starts, index, values)
    solver.setOptionValue("time_limit", TIME_LIMIT)
    solver.setOptionValue("mip_rel_gap", 0.1)  # within a tenth of the fewest: proving the last cell costs most
    # A first solution to start from: every cell that may be hidden hidden, which leaves each
    # witness its own small problem (solved at once); the search then shows what it can.
    free = [i for i, key in enumerate(flags) if key not in primary]
    solver.changeColsBounds(len(free), free, [1.0] * len(free), [1.0] * len(free))
    solver.run()
    if solver.getInfo().primal_solution_status == 2:
        start = solver.getSolution()
        solver.changeColsBounds(len(free), free, [0.0] * len(free), [1.0] * len(free))
        solver.setSolution(start)
    else:
        return None  # not even hiding everything protects them: chosen one at a time (and shown where hopeless)
    solver.run()
    if solver.getInfo().primal_solution_status != 2:  # 2: a feasible solution was found
        return None
    solution = _pruned(solver, table, flags, primary, list(solver.getSolution().col_value))
    # A partner no witness moves off its true count protects nothing: shown, it changes no witness.
    return {key for key in flags if key in primary or (solution[flag[key]] > 0.5 and any(
        abs(solution[at[key]] - table.values[key]) > 0.5 for at in witnesses))}


def _pruned(solver: Any, table: CellTable, flags: Sequence[str], primary: Collection[str],
            solution: list[float]) -> list[float]:
    """``solution`` with every partner shown again that the small counts can do without, the
    largest count first. The search stops within a tenth of the fewest cells, so its choice may
    hide a cell — a stage's "reached", the proposals — that one more smaller partner would spare;
    with the choice of cells fixed, the witnesses are small problems of their own, solved at once."""
    chosen = [i for i, key in enumerate(flags) if key not in primary and solution[i] > 0.5]
    fixed = [1.0 if solution[i] > 0.5 else 0.0 for i in range(len(flags))]
    every = list(range(len(flags)))
    solver.changeColsBounds(len(flags), every, fixed, fixed)
    solver.setOptionValue("mip_rel_gap", 1.0)  # any witness will do: only whether one exists matters
    deadline = time.monotonic() + TIME_LIMIT  # past it, the partners not yet tried stay hidden (safe)
    for i in sorted(chosen, key=lambda i: -table.values[flags[i]]):
        if time.monotonic() > deadline:
            break
        solver.changeColBounds(i, 0.0, 0.0)
        solver.run()
        if solver.getInfo().primal_solution_status == 2:
            solution = list(solver.getSolution().col_value)
        else:
            solver.changeColBounds(i, 1.0, 1.0)
    return solution


def _too_narrow(found: Bounds, primary: bool, min_count: int) -> bool:
    if found.pins():
        return True
    return primary and found.high is not None and found.high < min_count


def _partner(weak: str, table: CellTable, hidden: set[str], linked: dict[str, list[tuple[tuple[str, int], ...]]],
             can_hide: Callable[[str], bool], index: dict[str, int]) -> str | None:
    """The shown cell to hide beside ``weak``: the smallest one that shares an identity with it,
    else with a hidden or latent cell reached from it through identities."""
    seen = {weak}
    frontier = [weak]
    while frontier:
        candidates: list[str] = []
        reached: list[str] = []
        for key in frontier:
            for equality in linked.get(key, []):
                for other, _ in equality:
                    if other in seen:
                        continue
                    seen.add(other)
                    if other in hidden or other in table.latent:
                        reached.append(other)
                    elif can_hide(other):
                        candidates.append(other)
        if candidates:
            return min(candidates, key=lambda key: (table.values[key], index[key]))
        frontier = reached
    return None


def decide(analyses: Sequence[Analysis], privacy: Privacy, *, open_workflows: Collection[str] = ()) -> Privacy:
    """``privacy`` with its decision of which counts of ``analyses`` to hide. ``open_workflows``
    publish their proposals one by one, so their counts are public by those pages and never hidden."""
    if privacy.min_count <= 1:
        return replace(privacy, hidden=frozenset())
    table = published_cells(analyses)
    opened = {f"{wid}|" for wid in open_workflows}

    def public(key: str) -> bool:
        return key[: key.index("|") + 1] in opened

    # A total over every workflow is public too when each count it adds up is.
    totals = {equality[0][0] for equality in table.equalities if _is_site_total(equality)
              and all(public(key) for key, _ in equality[1:])}
    hidden = suppress(table, privacy.min_count, pinned=lambda key: public(key) or key in totals)
    return replace(privacy, hidden=hidden)


def for_publication(analyses: Sequence[Analysis], privacy: Privacy) -> tuple[Privacy, frozenset[str] | None]:
    """``privacy`` decided for ``analyses`` when it hides small counts, and the workflows whose
    proposals may then be listed one by one (those whose workflow publishes its proposals; None:
    every workflow, when no count is hidden)."""
    if privacy.min_count <= 1:
        return privacy, None
    listed = frozenset(a.workflow.id for a in analyses if a.workflow.publication.proposals)
    return decide(analyses, privacy, open_workflows=listed), listed
