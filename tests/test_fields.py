"""Field values as people type them, checked against the field's declared type.

Numbers accept a decimal comma (12,5) but refuse what could be a thousands separator (1,500);
dates are ISO; a choice must be one of its options; a URL starts with http(s)://; an empty
value clears the field.
"""

from __future__ import annotations

from typing import Any

import pytest

from flowengine.definition.fields import (
    MAX_VALUE_CHARS,
    coerce_fields,
    coerce_value,
    display,
    missing,
    parse_assignments,
)
from flowengine.definition.loader import check_text
from flowengine.definition.model import Workflow
from flowengine.errors import InvalidInput, NotFound

WITH_FIELDS = """\
id: fields
version: 1
fields:
  summary: {type: text, required: true}
  cost_estimate: {type: number}
  implemented_on: {type: date}
  category: {type: choice, options: [meeting place, information, other]}
  link: {type: url}
states:
  start: {initial: true, stage: panel}
  end: {final: true, outcome: implemented}
transitions:
  - {trigger: finish, from: start, to: end}
"""
CATEGORIES = ("meeting place", "information", "other")


@pytest.fixture(scope="module")
def workflow() -> Workflow:
    result = check_text(WITH_FIELDS, "fields.yaml")
    assert result.ok and result.workflow is not None, [i.format() for i in result.issues]
    return result.workflow


# --- numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "stored"), [
    ("25000", 25000),
    (" 25000 ", 25000),
    ("12.5", 12.5),
    ("12,5", 12.5),          # the decimal comma of Norway and Sweden
    ("12,50", 12.5),
    ("-12,5", -12.5),
    ("1 500", 1500),         # a space groups thousands
    ("1\u00a0500", 1500),    # so does a no-break space
    ("1e3", 1000),
    ("3.0", 3),              # a whole number is stored as one
    (7, 7),
    (2.5, 2.5),
    (10**20, 10**20),        # a Python int is kept exactly
])
def test_a_number_is_read_as_people_write_it(raw: Any, stored: int | float) -> None:
    value = coerce_value("cost_estimate", "number", (), raw)
    assert value == stored
    assert type(value) is type(stored)


@pytest.mark.parametrize("raw", ["1,500", "0,125", "-1,500", "25,000"])
def test_a_comma_before_three_digits_is_ambiguous_and_refused(raw: str) -> None:
    with pytest.raises(InvalidInput, match=r"ambiguous .*thousands or decimals"):
        coerce_value("cost_estimate", "number", (), raw)


@pytest.mark.parametrize("raw", ["many", "12.5.1", "1,500.5", "1,2,3", "12 kr", "0x10"])
def test_text_that_is_not_a_number_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInput, match="takes a number"):
        coerce_value("cost_estimate", "number", (), raw)


@pytest.mark.parametrize("raw", ["nan", "NaN", "inf", "-inf", "1e400", float("nan"), float("inf")])
def test_a_number_must_be_finite(raw: Any) -> None:
    with pytest.raises(InvalidInput, match="finite"):
        coerce_value("cost_estimate", "number", (), raw)


@pytest.mark.parametrize("kind", ["number", "text", "date", "choice", "url"])
def test_true_or_false_is_no_field_value(kind: str) -> None:
    with pytest.raises(InvalidInput, match="not true/false"):
        coerce_value("x", kind, CATEGORIES, True)


# --- dates, choices, web addresses, text --------------------------------------------------------


@pytest.mark.parametrize(("raw", "stored"), [("2019-03-01", "2019-03-01"), (" 2020-02-29 ", "2020-02-29")])
def test_a_date_is_stored_as_iso(raw: str, stored: str) -> None:
    assert coerce_value("implemented_on", "date", (), raw) == stored


@pytest.mark.parametrize("raw", ["01.03.2019", "2019-02-29", "2019-13-01", "yesterday", "2019-03-01T10:00",
                                 "20190301", "2019-W01-1"])
def test_a_date_that_is_not_iso_or_does_not_exist_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInput, match="YYYY-MM-DD"):
        coerce_value("implemented_on", "date", (), raw)


def test_a_choice_must_be_one_of_its_options() -> None:
    assert coerce_value("category", "choice", CATEGORIES, " meeting place ") == "meeting place"
    with pytest.raises(InvalidInput, match="must be one of: meeting place, information, other") as refused:
        coerce_value("category", "choice", CATEGORIES, "Meeting place")
    assert "did you mean 'meeting place'?" in str(refused.value)
    with pytest.raises(InvalidInput, match="did you mean 'information'"):
        coerce_value("category", "choice", CATEGORIES, "informaton")


def test_a_choice_far_from_every_option_gets_no_guess() -> None:
    with pytest.raises(InvalidInput) as refused:
        coerce_value("category", "choice", CATEGORIES, "zzz")
    assert "did you mean" not in str(refused.value)


@pytest.mark.parametrize("raw", ["https://example.org/report", "http://kommune.no/sak?id=7#top",
                                 "HTTPS://EXAMPLE.ORG"])
def test_a_web_address_is_accepted(raw: str) -> None:
    assert coerce_value("link", "url", (), raw) == raw


@pytest.mark.parametrize("raw", ["example.org", "www.example.org", "ftp://example.org", "https://",
                                 "https://exa mple.org", "javascript:alert(1)"])
def test_something_else_than_a_web_address_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInput, match="web address"):
        coerce_value("link", "url", (), raw)


def test_text_is_stored_trimmed_and_anything_turns_into_text() -> None:
    assert coerce_value("summary", "text", (), "  two\nlines  ") == "two\nlines"
    assert coerce_value("summary", "text", (), 42) == "42"


def test_a_value_longer_than_the_limit_is_refused() -> None:
    assert coerce_value("summary", "text", (), "x" * MAX_VALUE_CHARS) == "x" * MAX_VALUE_CHARS
    with pytest.raises(InvalidInput, match="longer than"):
        coerce_value("summary", "text", (), "x" * (MAX_VALUE_CHARS + 1))


@pytest.mark.parametrize("kind", ["number", "text", "date", "choice", "url"])
@pytest.mark.parametrize("raw", ["", "   ", None])
def test_an_empty_value_clears_the_field(kind: str, raw: str | None) -> None:
    assert coerce_value("x", kind, CATEGORIES, raw) is None


# --- a workflow's fields ----------------------------------------------------------------------------


def test_values_are_checked_against_the_fields_the_workflow_declares(workflow: Workflow) -> None:
    given = {"cost_estimate": "12,5", "implemented_on": "2024-05-01", "category": "other",
             "link": "https://example.org", "summary": " idea "}
    assert coerce_fields(workflow, given) == {"cost_estimate": 12.5, "implemented_on": "2024-05-01",
                                              "category": "other", "link": "https://example.org", "summary": "idea"}
    assert coerce_fields(workflow, {"link": ""}) == {"link": None}


def test_an_unknown_field_is_not_found_with_a_did_you_mean(workflow: Workflow) -> None:
    with pytest.raises(NotFound, match="unknown field 'cost_estimat'; did you mean 'cost_estimate'") as missing_field:
        coerce_fields(workflow, {"cost_estimat": 5})
    assert missing_field.value.kind == "field"
    assert "cost_estimate" in missing_field.value.known


def test_a_workflow_without_fields_says_it_declares_none() -> None:
    result = check_text(WITH_FIELDS.split("fields:")[0] + "states:" + WITH_FIELDS.split("states:")[1])
    assert result.workflow is not None and not result.workflow.fields
    with pytest.raises(NotFound, match="fields declares no fields"):
        coerce_fields(result.workflow, {"summary": "x"})


def test_the_first_bad_value_names_its_field(workflow: Workflow) -> None:
    with pytest.raises(InvalidInput, match="field 'implemented_on'"):
        coerce_fields(workflow, {"summary": "fine", "implemented_on": "soon", "cost_estimate": "many"})


# --- helpers -------------------------------------------------------------------------------------------


def test_assignments_split_at_the_first_equals_sign_and_the_last_one_wins() -> None:
    assert parse_assignments(["a=1", "b=x=y", "c=", "a=2", " d =v"]) == {"a": "2", "b": "x=y", "c": "", "d": "v"}


@pytest.mark.parametrize("item", ["no_equals", "=value", " =value"])
def test_an_assignment_without_a_name_or_equals_sign_is_invalid(item: str) -> None:
    with pytest.raises(InvalidInput, match="is not field=value"):
        parse_assignments([item])


def test_missing_counts_absent_none_and_empty_values_but_not_zero() -> None:
    values = {"a": None, "b": "", "c": 0, "d": "x"}
    assert missing(["a", "b", "c", "d", "e"], values) == ["a", "b", "e"]


def test_display_shows_numbers_without_a_trailing_zero() -> None:
    assert [display(12.5), display(3.0), display(25000), display("text")] == ["12.5", "3", "25000", "text"]


@pytest.mark.parametrize("raw", ["line\x1b[31mred", "bell\x07", "\x9bcsi"])
def test_a_text_value_with_control_characters_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInput, match="control character"):
        coerce_value("summary", "text", (), raw)


def test_a_text_value_may_hold_line_breaks_and_tabs() -> None:
    assert coerce_value("summary", "text", (), "first\n\tsecond") == "first\n\tsecond"
