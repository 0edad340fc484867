"""Text tables within a width: never wider, nothing lost while it can be wrapped, and whatever is
left out is named under the table."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from flowengine.views.texttable import table, wrap

HEADERS = ["id", "workflow", "state", "stage", "owner", "waiting", "deadline", "title"]
ROWS = [("INN-1", "innovation-chain", "council_review", "council", "council", "12 d", "OVERDUE",
         "A drop-in meeting place run with peers in the town centre, open evenings"),
        ("INN-22", "melhus", "implementation", "implementation", "service", "400 d", "on time", "Potten")]


def test_without_a_width_rows_are_whole_and_aligned_as_before() -> None:
    lines = table(["a", "bb"], [("x", "long text here"), ("yyy", None)]).splitlines()
    assert lines == ["a    bb", "---  --------------", "x    long text here", "yyy  -"]


def test_a_wide_table_wraps_its_prose_and_keeps_every_word_at_100_characters() -> None:
    text = table(HEADERS, ROWS, width=100)
    assert max(map(len, text.splitlines())) <= 100
    assert "left out" not in text
    for word in ROWS[0][7].split():
        assert word in text


def test_optional_columns_are_left_out_first_and_named() -> None:
    text = table(HEADERS, ROWS, width=80, optional=("stage", "workflow"))
    lines = text.splitlines()
    assert max(map(len, lines)) <= 80
    assert lines[0].split() == ["id", "state", "owner", "waiting", "deadline", "title"]
    assert lines[-1] == "(left out to fit 80 characters: stage, workflow)"


def test_the_first_column_is_never_wrapped() -> None:
    text = table(["id", "note"], [("PROPOSAL-123456", "word " * 30)], width=40)
    assert all(len(line) <= 40 for line in text.splitlines())
    assert text.splitlines()[2].startswith("PROPOSAL-123456  ")


def test_identifiers_wrap_after_underscores_and_hyphens() -> None:
    assert wrap("council_review", 8) == ["council_", "review"]
    assert wrap("innovation-chain", 11) == ["innovation-", "chain"]
    assert wrap("abcdefghij", 4) == ["abcd", "efgh", "ij"]


cell = st.one_of(st.none(), st.integers(), st.text(alphabet=st.characters(codec="utf-8", categories=("L", "N", "P",
                                                                                                      "Zs")),
                                                   max_size=60))


@settings(max_examples=200, deadline=None)
@given(columns=st.integers(1, 8), data=st.data(), width=st.integers(20, 200))
def test_no_line_is_ever_wider_than_the_width(columns: int, data: st.DataObject, width: int) -> None:
    headers = [f"c{i}" for i in range(columns)]
    rows = data.draw(st.lists(st.lists(cell, min_size=columns, max_size=columns), max_size=6))
    first = data.draw(st.text(alphabet="ABC-0123456789", min_size=1, max_size=12))  # an id: never wrapped
    rows = [[first, *row[1:]] for row in rows]
    text = table(headers, rows, width=width)
    assert all(len(line) <= width for line in text.splitlines()), text
