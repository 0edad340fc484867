"""Which published counts to hide: small ones, and enough others that no hidden one can be worked out.

Hiding a count below the threshold (*primary* suppression) is not enough: shown beside its
total and its siblings, a hidden cell is one subtraction away. So more cells are hidden
(*complementary* suppression) until, for every hidden cell, the published counts and every
identity between them (:mod:`flowengine.analysis.cells`) leave more than one value possible —
and for a small one, a value of at least the threshold, so a reader cannot even tell that it
is small. "Possible" is decided exactly: the smallest and largest value of the cell over all
whole-number solutions of the published counts (hidden and latent cells at least 0; a zero
may be hidden beside a small count), solved as an integer programme by HiGHS.
A hidden cell that pins itself gets a partner: the smallest shown count it shares an identity
with, or, failing that, one reached through the hidden cells around it.

This is the only module that imports ``highspy``, and only when something is to be hidden.
"""

from __future__ import annotations

import math
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


def bounds(table: CellTable, hidden: Collection[str]) -> dict[str, Bounds]:
    """For every hidden cell, the least and greatest value the published table allows."""
    found: dict[str, Bounds] = {}
    for keys in _components(table):
        wanted = [key for key in keys if key in hidden]
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
