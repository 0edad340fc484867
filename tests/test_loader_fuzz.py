"""Fuzzing the linter's promise: whatever the file holds, checking it ends in issues, never a crash.

``check_text`` is fed (a) random text built from YAML syntax pieces and workflow keywords, and
(b) random documents under the real top-level keys, dumped with ``yaml.safe_dump``. Every run
must return a :class:`CheckResult` whose issues are well formed. Hypothesis is derandomized
and bounded, so the run is the same on every machine.

The command line is then run over the nastiest concrete inputs found by hand, and the bugs
those inputs once found each keep a test of their own. No test here times anything: bounded
inputs keep the file fast, and a slow-down shows as a slow suite, not a flaky failure.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from flowengine_cli.main import cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowengine.definition.loader import CheckResult, check_file, check_text

from .conftest import MINIMAL_WORKFLOW

FUZZ = settings(max_examples=300, derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
ISSUE_CODE = re.compile(r"FE\d{3}")


def assert_well_formed(result: CheckResult) -> None:
    assert isinstance(result, CheckResult)
    for issue in result.issues:
        assert ISSUE_CODE.fullmatch(issue.code), issue
        assert issue.location.line >= 1, issue  # every line reads file:line:column, whole-file ones 1:1
        assert issue.location.column >= 1, issue
        assert issue.message.strip(), issue
        assert issue.format().isprintable(), issue
    if result.ok:
        assert result.workflow is not None


# --- (a) YAML-ish text -----------------------------------------------------------------------

_SYNTAX = ["\n", "\n", "\n", " ", "  ", "    ", "- ", "-", ": ", ":", "? ", "[", "]", "{", "}", ", ",
           "&a ", "*a", "&b ", "*b", "!!str ", "! ", "!!int ", "!!binary ", "!x ", "# c", "'", '"', "|",
           ">", "|-", "---", "...", "%YAML 1.2\n", "%YAML 1.1\n", "%TAG !e! tag:e.com,2000:\n", "<<", "=",
           "\t", "\r", "\r\n", "\\", "\\q", "\\x", "\\u", "*", "'*'", '"*"']
_SCALARS = ["~", "null", "true", "false", "yes", "on", "1", "-1", "1.5", "1e999", "1:30", "0x1F", ".nan",
            ".inf", "2024-01-01", "30d", "P3M", "0d", "PT30S", "3 months", "9" * 120]
_WORDS = ["id", "version", "prefix", "title", "description", "states", "transitions", "roles", "fields",
          "labels", "from", "to", "trigger", "initial", "final", "outcome", "stage", "owner", "deadline",
          "answers_panel", "requires", "requires_comment", "kind", "type", "options", "required", "en", "nb",
          "sv", "draft", "review", "done", "panel", "council", "implemented", "rejected", "choice", "__proto__",
          "brukerråd", "日本", "x" * 40]
_ODD_CHARACTERS = ["\ufeff", "\x85", "\u2028", "\u200b", "\u200f", "\u202e", "\x07", "\x1b", "\x00", "\ud800",
                   "\ufffe", "😀", "é"]


@st.composite
def yamlish_text(draw: st.DrawFn) -> str:
    pieces = st.sampled_from(_SYNTAX + _SCALARS + _WORDS + _ODD_CHARACTERS)
    return "".join(draw(st.lists(pieces, max_size=80)))


@FUZZ
@given(yamlish_text())
def test_check_text_never_raises_on_yamlish_text(text: str) -> None:
    assert_well_formed(check_text(text, "fuzz.yaml"))


@FUZZ
@given(st.text(max_size=200))
def test_check_text_never_raises_on_arbitrary_unicode(text: str) -> None:
    assert_well_formed(check_text(text, "fuzz.yaml"))


# --- (b) structured documents under the real keys --------------------------------------------

_NAMES = ["draft", "review", "done", "rejected", "panel", "council", "a", "", "*", "Draft", "x y", "null",
          "brukerråd", "to_x", "is_y", "trigger", "__proto__"]
_STATE_KEYS = ["initial", "final", "outcome", "stage", "owner", "deadline", "answers_panel", "labels",
               "description", "reminder", "escalate"]
_TRANSITION_KEYS = ["trigger", "from", "to", "roles", "requires", "requires_comment", "answers_panel", "labels",
                    "description"]
_FIELD_KEYS = ["type", "options", "required", "labels", "description"]
_ROLE_KEYS = ["kind", "labels", "description"]
_TOP_KEYS = ["id", "version", "prefix", "title", "description", "labels", "roles", "fields", "states",
             "transitions"]

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([*_NAMES, "P3M", "30d", "8w", "0d", "3 months", "implemented", "closed", "choice", "text",
                     "en", "'", "\\", "1:30", "yes"]),
    st.text(max_size=12),
)
_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(
            st.one_of(st.sampled_from([*_NAMES, *_STATE_KEYS, *_TRANSITION_KEYS, "after"]), st.text(max_size=6),
                      st.integers(-3, 3), st.booleans(), st.none()),
            children, max_size=3),
    ),
    max_leaves=6,
)
_name = st.one_of(st.sampled_from(_NAMES), st.text(max_size=8))


def _entry(keys: list[str]) -> st.SearchStrategy[dict[str, object]]:
    """A mapping using the keys the language knows for this kind of entry (plus a stray one)."""
    return st.dictionaries(st.sampled_from([*keys, "bogus"]),
                           st.one_of(_name, _values, st.lists(_name, max_size=3)), max_size=4)


_SECTIONS: dict[str, st.SearchStrategy[object]] = {
    "id": st.one_of(_name, _values),
    "prefix": st.one_of(st.sampled_from(["TRD", "tr", "ABCDEFG", ""]), _values),
    "labels": st.one_of(_values, st.dictionaries(st.sampled_from(["en", "nb", "sv", "no", "EN"]),
                                                 st.one_of(st.text(max_size=10), _values), max_size=3)),
    "roles": st.one_of(_values, st.dictionaries(_name, st.one_of(st.none(), _entry(_ROLE_KEYS), _values),
                                                max_size=3)),
    "fields": st.one_of(_values, st.dictionaries(_name, st.one_of(_entry(_FIELD_KEYS), _values), max_size=3)),
    "states": st.one_of(_values, st.dictionaries(_name, st.one_of(_entry(_STATE_KEYS), _values), max_size=4)),
    "transitions": st.one_of(_values, st.lists(st.one_of(_entry(_TRANSITION_KEYS), _values), max_size=4)),
}


@st.composite
def structured_document(draw: st.DrawFn) -> str:
    keys = draw(st.lists(st.sampled_from([*_TOP_KEYS, "bogus"]), unique=True, max_size=len(_TOP_KEYS) + 1))
    document = {key: draw(_SECTIONS.get(key, _values)) for key in keys}
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=draw(st.booleans()),
                          default_flow_style=draw(st.sampled_from([False, None, True])))


@FUZZ
@given(structured_document())
def test_check_text_never_raises_on_structured_documents(text: str) -> None:
    assert_well_formed(check_text(text, "fuzz.yaml"))


@st.composite
def mutated_minimal_workflow(draw: st.DrawFn) -> str:
    """The valid minimal workflow with one value replaced: close to valid, so every check runs."""
    lines = MINIMAL_WORKFLOW.splitlines()
    index = draw(st.sampled_from([i for i, line in enumerate(lines) if ": " in line]))
    key = lines[index].split(": ", 1)[0]
    value = yaml.safe_dump(draw(_values), default_flow_style=True, width=10_000).removesuffix("\n...\n").strip()
    lines[index] = f"{key}: {value}"
    return "\n".join(lines) + "\n"


@FUZZ
@given(mutated_minimal_workflow())
def test_check_text_never_raises_on_mutated_valid_workflows(text: str) -> None:
    assert_well_formed(check_text(text, "fuzz.yaml"))


# --- the command line over the nastiest inputs found by hand -----------------------------------

_BIG_ALIAS_BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{previous}'] * 10)}]\n"
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
)
NASTY: dict[str, bytes] = {
    "utf16_with_bom": b"\xff\xfe" + MINIMAL_WORKFLOW.encode("utf-16-le"),
    "latin1": "id: brukerråd\n".encode("latin-1"),
    "nul_byte": MINIMAL_WORKFLOW.encode() + b"\x00",
    "only_star": b"*\n",
    "only_anchor": b"&a\n",
    "only_document_end": b"...\n",
    "cr_only_line_endings": MINIMAL_WORKFLOW.replace("\n", "\r").encode(),
    "yaml11_directive_and_markers": b"%YAML 1.1\n---\n" + MINIMAL_WORKFLOW.encode() + b"...\n",
    "tag_directive": b"%TAG !e! tag:yaml.org,2002:\n---\n"
                     + MINIMAL_WORKFLOW.replace("version: 1", "version: !e!str 1").encode(),
    "python_tag": b"id: !!python/object/apply:os.system ['echo pwned']\n",
    "merge_key": MINIMAL_WORKFLOW.replace("  council_review:\n",
                                          "  council_review:\n    <<: {stage: council}\n").encode(),
    "complex_key": b"? [a, b]\n: x\n",
    "alias_as_key": b"&k a: 1\n*k : 2\n",
    "alias_bomb": b"a: &a [x, x, x, x, x, x, x, x, x, x]\n" + _BIG_ALIAS_BOMB.encode(),
    "deep_unclosed_flow": b"a: " + b"[" * 100_000 + b"\n",
    "huge_int_and_inf": MINIMAL_WORKFLOW.replace("version: 1", "version: " + "9" * 5000)
                                         .replace("deadline: 30d", "deadline: 1e999").encode(),
    "states_as_list_and_transitions_as_mapping": b"id: x\nstates:\n  - draft: {initial: true}\n"
                                                 b"transitions:\n  go: {from: draft, to: draft}\n",
    "from_star_in_list": MINIMAL_WORKFLOW.replace("from: draft", 'from: [draft, "*"]').encode(),
    "weird_keys": MINIMAL_WORKFLOW.replace("version: 1\n", "version: 1\n1: a\ntrue: b\n~: c\n'': d\n").encode(),
    "zero_width_and_rtl_ids": MINIMAL_WORKFLOW.replace("  rejected:\n", "  rejected\u200b:\n")
                                              .replace("trigger: reject\n", "trigger: \u202ereject\n").encode(),
    "bad_escape_in_quotes": MINIMAL_WORKFLOW.replace("version: 1",
                                                     'description: "G:\\Felles\\Rutiner \\ud800"').encode(),
    "empty_target": MINIMAL_WORKFLOW.replace("to: accepted", "to: ''").encode(),
    "control_characters_via_escapes": MINIMAL_WORKFLOW.replace("version: 1", 'title: "\\e[2J\\0\\x07"').encode(),
    "newline_in_key": MINIMAL_WORKFLOW.replace("version: 1\n", 'version: 1\n"a\\nb": 1\n').encode(),
}


@pytest.mark.parametrize("name", sorted(NASTY))
def test_cli_gives_clean_issues_for_nasty_files(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLOWENGINE_DEBUG", raising=False)
    path = tmp_path / "minimal.yaml"
    path.write_bytes(NASTY[name])
    for args in (["validate", str(path)], ["show", str(path)], ["diagram", str(path), "-o", str(tmp_path / "x.svg")]):
        result = CliRunner().invoke(cli, ["workflow", *args])
        output = result.output
        assert result.exit_code in (0, 1), (args[0], result.exit_code, output)
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        assert "Traceback" not in output
        assert "internal error" not in output
    assert_well_formed(check_file(path))


# --- bugs these inputs once found ---------------------------------------------------------------


def test_an_empty_target_state_is_an_error() -> None:
    result = check_text(MINIMAL_WORKFLOW.replace("to: accepted", "to: ''"), "wf.yaml")
    assert not result.ok


@pytest.mark.parametrize("value", ["true", "false"])
def test_a_boolean_deadline_is_an_error(value: str) -> None:
    result = check_text(MINIMAL_WORKFLOW.replace("deadline: 30d", f"deadline: {value}"), "wf.yaml")
    assert not result.ok


@pytest.mark.parametrize("text", [
    MINIMAL_WORKFLOW.replace("version: 1\n", 'version: 1\n"a\\nother.yaml:1:1: error FE000: forged": 1\n'),
    MINIMAL_WORKFLOW.replace("id: minimal", 'id: "x\\ry"'),
    MINIMAL_WORKFLOW.replace("id: minimal", 'id: "\\e[32mok"'),
    MINIMAL_WORKFLOW.replace("  rejected:\n", "  rejected\u200b:\n"),
    MINIMAL_WORKFLOW.replace("trigger: reject\n", "trigger: \u202ereject\n"),
], ids=["newline-in-key", "carriage-return-in-id", "escape-in-id", "zero-width-space", "right-to-left-override"])
def test_issue_text_is_one_printable_line(text: str) -> None:
    result = check_text(text, "wf.yaml")
    assert result.issues
    for issue in result.issues:
        line = issue.format()
        assert line.isprintable(), repr(line)


@pytest.mark.parametrize("value", ['"G:\\Felles\\Rutiner"', '"\\q"', '"\\ud800"'])
def test_a_bad_escape_is_not_called_an_unclosed_quote(value: str) -> None:
    result = check_text(MINIMAL_WORKFLOW.replace("version: 1", f"description: {value}"), "wf.yaml")
    assert [issue.code for issue in result.issues] == ["FE005"]
    assert "never closed" not in result.issues[0].message


def test_an_infinite_deadline_gets_a_sensible_message() -> None:
    result = check_text(MINIMAL_WORKFLOW.replace("deadline: 30d", "deadline: 1e999"), "wf.yaml")
    assert not result.ok
    assert not any("inf" in issue.message + issue.hint for issue in result.issues)


def test_line_numbers_count_newlines_only() -> None:
    broken = MINIMAL_WORKFLOW.replace("to: rejected", "to: rejectd").replace(
        "version: 1\n", 'version: 1\ntitle: "one\u2028two"\n')
    wanted = broken.split("\n").index("    to: rejectd") + 1
    result = check_text(broken, "wf.yaml")
    assert result.issues
    for issue in result.issues:  # the typo's line, or (if such characters get refused) the title's
        assert issue.location.line in (wanted, 3), issue.format()


def test_check_file_reports_a_path_with_a_nul_byte() -> None:
    assert_well_formed(check_file("work\x00flow.yaml"))


def _many_unknown_sources(n: int) -> str:
    sources = ", ".join(f"s{i}" for i in range(n))
    return MINIMAL_WORKFLOW.replace("from: draft", f"from: [{sources}]")


def test_a_long_list_of_unknown_states_gives_one_issue_per_item_at_its_own_column() -> None:
    # Once quadratic (each location lookup rebuilt a dict): 20,000 roles took 30 s.
    result = check_text(_many_unknown_sources(3000), "wf.yaml")
    unknown = [issue for issue in result.issues if issue.code == "FE203"]
    assert len(unknown) == 3000
    assert len({issue.location.column for issue in unknown}) == 3000


def test_long_governance_paths_are_shortened_so_output_stays_linear() -> None:
    n = 600
    states = "".join(f"  s{i}: {{stage: panel, owner: panel, deadline: 1d}}\n" for i in range(1, n))
    states += "".join(f"  f{i}: {{final: true, outcome: rejected}}\n" for i in range(n))
    steps = "".join(f"  - {{trigger: t{i}, from: s{i}, to: s{i + 1}}}\n" for i in range(n - 1))
    steps += "".join(f"  - {{trigger: e{i}, from: s{i}, to: f{i}}}\n" for i in range(n))
    text = ("id: chain\nroles:\n  panel: {}\nstates:\n  s0: {initial: true, stage: panel, owner: panel, deadline: 1d}\n"
            f"{states}transitions:\n{steps}")
    result = check_text(text, "wf.yaml")
    assert sum(len(issue.message) for issue in result.issues) < 10 * len(text)
