"""Which published counts are hidden: no more than protecting the small ones needs, and decided
on a reader's table that only holds what is true of every history (the tiny chain of
:mod:`tests.stall_histories`, whose ``withdraw`` is declared from any open state)."""

from __future__ import annotations

from flowengine.analysis.cells import CellTable, published_cells
from flowengine.analysis.disclosure import Bounds, bounds, suppress
from flowengine.analysis.reference import analyse

from .stall_histories import day, tiny_workflow, trails, upto

MIN_COUNT = 5
AS_OF = day(39)  # as tests/test_cli_stalls.py reports them with --min-count 5


def _table() -> CellTable:
    return published_cells([analyse(tiny_workflow(), upto(AS_OF, trails()), AS_OF)])


def _exposed(table: CellTable, hidden: frozenset[str]) -> list[str]:
    """The small counts a reader of everything but ``hidden`` can pin or knows to be small."""
    small = {key for key in table.shown() if 0 < table.values[key] < MIN_COUNT}
    found: dict[str, Bounds] = bounds(table, hidden, of=small)
    return [key for key in sorted(small) if key not in hidden or found[key].pins()
            or (found[key].high is not None and found[key].high < MIN_COUNT)]


def test_every_count_hidden_beside_a_small_one_is_needed() -> None:
    """Show any one partner again and some small count can be worked out: a choice that hides a
    count it could spare (the proposals, a stage's "reached") fails here."""
    table = _table()
    hidden = suppress(table, MIN_COUNT)
    small = {key for key in table.shown() if 0 < table.values[key] < MIN_COUNT}
    assert small <= hidden and not _exposed(table, hidden)
    assert not [key for key, found in bounds(table, hidden).items() if found.pins()]
    partners = sorted(key for key in hidden - small if not key.startswith("*|"))
    assert partners
    spared = [key for key in partners if not _exposed(table, hidden - {key})]
    assert not spared, f"hidden though no small count needs them: {spared}"


def test_the_proposals_and_how_many_reached_the_panel_stay_shown() -> None:
    hidden = suppress(_table(), MIN_COUNT)
    assert "tiny|proposals" not in hidden and "tiny|reached|panel" not in hidden
    assert "tiny|lost|panel" in hidden


def test_a_step_from_any_state_is_counted_among_the_steps_out_of_some_state() -> None:
    """The row of a transition declared ``from: "*"`` for the states that never took it (a 0) is
    the sum of a hidden count per such state, each among that state's steps out: hidden, it
    cannot send proposals into ``withdrawn`` from nowhere in a reader's table."""
    table = _table()
    row = "tiny|taken|*|withdraw|withdrawn"
    assert table.values[row] == 0 and row not in table.latent
    parts = next({key for key, _ in e if key != row} for e in table.equalities if e[0][0] == row)
    assert parts and parts <= table.latent
    for state in ("council_review", "admin_review", "implementation"):
        steps_out = next({key for key, _ in e} for e in table.equalities if e[0][0] == f"tiny|passed|{state}")
        assert len(steps_out & parts) == 1, state
