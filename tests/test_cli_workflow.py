"""The `flowengine workflow …` commands as a user meets them: output, exit codes, no tracebacks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from flowengine_cli.main import cli

from flowengine.definition.structure import workflow_schema

from .conftest import MINIMAL_WORKFLOW, REPO_ROOT, WriteWorkflow


def run(runner: CliRunner, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = runner.invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_validate_valid_file_exits_0(runner: CliRunner, write_workflow: WriteWorkflow) -> None:
    code, out, err = run(runner, "workflow", "validate", str(write_workflow(MINIMAL_WORKFLOW)))
    assert code == 0
    assert out == ""
    assert "1 file checked: valid; 0 errors, 0 warnings" in err


def test_validate_invalid_file_lists_every_issue_with_location_and_exits_1(
    runner: CliRunner, write_workflow: WriteWorkflow
) -> None:
    broken = MINIMAL_WORKFLOW.replace("stage: council\n", "stage: counsil\n").replace(
        "to: accepted", "to: acepted")
    path = write_workflow(broken)
    code, out, err = run(runner, "workflow", "validate", str(path))
    assert code == 1
    assert f"{path}:13:12: error FE103: 'counsil' is not an allowed stage (did you mean 'council'?)" in out
    assert f"{path}:29:9: error FE204: transition 'accept' goes to unknown state 'acepted'" in out
    assert "did you mean 'accepted'?" in out
    assert "1 invalid" in err
    assert "Traceback" not in out + err


def test_validate_json_reports_issues_as_objects(runner: CliRunner, write_workflow: WriteWorkflow) -> None:
    path = write_workflow(MINIMAL_WORKFLOW.replace("deadline: 8w", "deadline: soon"))
    code, out, _ = run(runner, "workflow", "validate", "--json", str(path))
    assert code == 1
    report = json.loads(out)
    assert report["valid"] is False
    [issue] = report["files"][0]["issues"]
    assert issue == {"code": "FE211", "severity": "error", "message": "deadline 'soon' is not a duration",
                     "hint": issue["hint"], "file": str(path), "line": 15, "column": 15}
    assert "30d" in issue["hint"]


def test_validate_strict_turns_governance_warnings_into_errors(
    runner: CliRunner, write_workflow: WriteWorkflow
) -> None:
    path = write_workflow(MINIMAL_WORKFLOW.replace("    deadline: 8w\n", ""))
    assert run(runner, "workflow", "validate", str(path))[0] == 0
    code, out, _ = run(runner, "workflow", "validate", "--strict", str(path))
    assert code == 1
    assert "error FE301: open state 'council_review' has no deadline" in out


def test_validate_folder_skips_files_that_are_not_workflows(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "minimal.yaml").write_text(MINIMAL_WORKFLOW, encoding="utf-8")
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "data.yaml").write_text("proposals:\n  - title: x\n", encoding="utf-8")
    code, _, err = run(runner, "workflow", "validate", str(tmp_path))
    assert code == 0
    assert "1 file checked" in err


def test_validate_missing_path_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["workflow", "validate", "no/such/file.yaml"])
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


@pytest.mark.parametrize("content", [b"", b"\x00\x01binary", b"\xff\xfe latin", b"- a list\n", b"key: [unclosed\n"])
def test_hostile_files_give_one_clean_line_and_exit_1(runner: CliRunner, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    code, out, err = run(runner, "workflow", "validate", str(path))
    assert code == 1
    lines = [line for line in out.splitlines() if line.startswith(str(path))]
    assert len(lines) == 1, out
    assert " error FE0" in lines[0]
    assert "Traceback" not in out + err


def test_every_bundled_workflow_validates_strictly(runner: CliRunner) -> None:
    code, out, err = run(runner, "workflow", "validate", "--strict", str(REPO_ROOT / "workflows"))
    assert code == 0, out
    assert "0 errors, 0 warnings" in err


def test_list_shows_bundled_and_extra_folders_and_marks_shadowing(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "minimal.yaml").write_text(MINIMAL_WORKFLOW, encoding="utf-8")
    shadow = MINIMAL_WORKFLOW.replace("id: minimal", "id: innovation-chain")
    (tmp_path / "innovation-chain.yaml").write_text(shadow, encoding="utf-8")
    code, out, _ = run(runner, "workflow", "list", "--json", "--workflows", str(tmp_path))
    assert code == 0
    rows = json.loads(out)
    ids = [(r["id"], r["bundled"], r["shadowed"]) for r in rows]
    assert ("minimal", False, False) in ids
    assert ("innovation-chain", False, False) in ids
    assert ("innovation-chain", True, True) in ids
    assert ("user-asks-user", True, False) in ids


def test_list_reads_extra_folders_from_the_environment(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "minimal.yaml").write_text(MINIMAL_WORKFLOW, encoding="utf-8")
    code, out, _ = run(runner, "workflow", "list", env={"FLOWENGINE_WORKFLOWS": str(tmp_path)})
    assert code == 0
    assert "minimal" in out and "innovation-chain" in out


def test_show_prints_tables_in_the_chosen_language(runner: CliRunner) -> None:
    code, out, _ = run(runner, "workflow", "show", "innovation-chain", "--lang", "nb")
    assert code == 0
    assert "Brukerråd" in out
    for heading in ("Tilstander", "Overganger", "Roller", "Felter", "handling", "påkrevd ved opprettelse"):
        assert heading in out


def test_show_json_keeps_file_order_and_resolves_labels(runner: CliRunner, write_workflow: WriteWorkflow) -> None:
    path = write_workflow(MINIMAL_WORKFLOW)
    code, out, _ = run(runner, "workflow", "show", str(path), "--json")
    assert code == 0
    data = json.loads(out)
    assert [s["id"] for s in data["states"]] == ["draft", "council_review", "accepted", "rejected"]
    assert data["states"][0]["label"] == "draft"  # no labels: falls back to the id
    assert data["transitions"][2] == {
        "trigger": "reject", "label": "reject", "from": ["council_review"], "to": "rejected",
        "roles": ["council"], "requires": [], "requires_comment": True, "answers_panel": True}


def test_show_unknown_workflow_suggests_the_close_one(runner: CliRunner) -> None:
    code, _out, err = run(runner, "workflow", "show", "innovation-chian")
    assert code == 1
    assert err.strip() == ("error: unknown workflow 'innovation-chian'; did you mean 'innovation-chain'? "
                           "(fix: flowengine workflow list)")


def test_show_invalid_workflow_prints_its_issues_and_exits_1(runner: CliRunner, write_workflow: WriteWorkflow) -> None:
    path = write_workflow(MINIMAL_WORKFLOW.replace("owner: council", "owner: councl"))
    code, _, err = run(runner, "workflow", "show", str(path))
    assert code == 1
    assert f"{path}:14:12: error FE205" in err  # points at the owner value itself
    assert "error FE205: state 'council_review' is owned by unknown role 'councl'" in err


def test_diagram_writes_the_format_its_extension_names(runner: CliRunner, tmp_path: Path) -> None:
    for suffix, magic in ((".svg", b"<svg"), (".png", b"\x89PNG"), (".pdf", b"%PDF"), (".dot", b"digraph")):
        target = tmp_path / f"chain{suffix}"
        code, out, _ = run(runner, "workflow", "diagram", "innovation-chain", "-o", str(target))
        assert code == 0, out
        assert magic in target.read_bytes()[:400]


def test_diagram_unknown_extension_is_refused_without_writing(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "chain.jpg"
    code, _, err = run(runner, "workflow", "diagram", "innovation-chain", "-o", str(target))
    assert code == 1
    assert "'.jpg'" in err and ".svg" in err
    assert not target.exists()


def test_schema_command_prints_the_bundled_schema(runner: CliRunner) -> None:
    code, out, _ = run(runner, "workflow", "schema")
    assert code == 0
    assert json.loads(out) == workflow_schema()


def test_diagrams_check_fails_when_a_diagram_is_stale_and_redraw_fixes_it(runner: CliRunner, tmp_path: Path) -> None:
    code, out, _ = run(runner, "workflow", "diagrams", "--check", "--out", str(tmp_path))
    assert code == 1
    assert "OUT OF DATE" in out
    code, out, _ = run(runner, "workflow", "diagrams", "--out", str(tmp_path))
    assert code == 0 and "redrawn" in out
    code, out, _ = run(runner, "workflow", "diagrams", "--check", "--out", str(tmp_path))
    assert code == 0 and "OUT OF DATE" not in out


@pytest.mark.parametrize("command", [[], ["workflow"], ["workflow", "validate"], ["workflow", "list"],
                                     ["workflow", "show"], ["workflow", "diagram"], ["workflow", "diagrams"],
                                     ["workflow", "schema"]])
def test_every_command_help_has_an_example(runner: CliRunner, command: list[str]) -> None:
    result = runner.invoke(cli, [*command, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output


def test_two_files_with_one_id_in_a_folder_are_refused_not_guessed(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "minimal.yaml").write_text(MINIMAL_WORKFLOW, encoding="utf-8")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "minimal-copy.yaml").write_text(MINIMAL_WORKFLOW.replace("draft", "utkast"), encoding="utf-8")
    code, _, err = run(runner, "workflow", "show", "minimal", "--workflows", str(tmp_path))
    assert code == 1
    assert "workflow id 'minimal' is declared by 2 files" in err
    assert "minimal-copy.yaml" in err
    _, out, _ = run(runner, "workflow", "list", "--workflows", str(tmp_path))
    assert out.count("(id declared by another file too)") == 2


@pytest.mark.parametrize(("text", "message", "hint"), [
    ("id: m\nstates:\n  a:\n    owner: x\n     stage: panel\n", "indented deeper", "same number of spaces"),
    ("id: m\nstates:\n  a:\n\tstage: panel\n", "a tab character", "replace the tab with spaces"),
    ("id: m\ntransitions:\n  - from: *\n", "'*' at the start of a value", 'write from: "*" with the quotes'),
    ("id: m\nlabels:\n  nb: Lagt på is: venter\n", "a text holds ': '", "put the whole text in quotes"),
    ("id: m\nlabels: [en, nb\n", "'[' or '{' is not closed", "close the list"),
])
def test_yaml_syntax_errors_are_explained_in_plain_words(
    runner: CliRunner, tmp_path: Path, text: str, message: str, hint: str
) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    code, out, _ = run(runner, "workflow", "validate", str(path))
    assert code == 1
    [line] = out.splitlines()
    assert line.startswith(f"{path}:") and " error FE005: " in line
    assert message in line and hint in line


def test_a_missing_dash_between_transitions_says_so_and_nothing_more(
    runner: CliRunner, write_workflow: WriteWorkflow
) -> None:
    merged = MINIMAL_WORKFLOW.replace("[panel]\n  - trigger: accept", "[panel]\n    trigger: accept")
    code, out, _ = run(runner, "workflow", "validate", str(write_workflow(merged)))
    assert code == 1
    assert {line.split(": ")[1] for line in out.splitlines()} == {"error FE007"}
    assert "did you forget '- ' to start a new list item?" in out


def test_validate_a_folder_without_workflows_is_an_error_not_a_pass(runner: CliRunner, tmp_path: Path) -> None:
    code, _, err = run(runner, "workflow", "validate", str(tmp_path))
    assert code == 1
    assert err.startswith("error: no workflow files found in")


def test_a_fifo_is_refused_instead_of_waited_on(runner: CliRunner, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    code, out, _ = run(runner, "workflow", "validate", str(fifo))
    assert code == 1
    assert f"{fifo}:1:1: error FE001: not a regular file" in out


def test_a_star_inside_a_from_list_says_to_write_it_alone(runner: CliRunner, write_workflow: WriteWorkflow) -> None:
    path = write_workflow(MINIMAL_WORKFLOW.replace("    from: draft\n", '    from: [draft, "*"]\n'))
    code, out, _ = run(runner, "workflow", "validate", str(path))
    assert code == 1
    assert """(write from: "*" on its own, not inside a list)""" in out


def test_whole_file_problems_still_name_line_and_column(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing yet\n", encoding="utf-8")
    _, out, _ = run(runner, "workflow", "validate", str(path))
    assert out.startswith(f"{path}:1:1: error FE004: ")


def test_the_label_language_can_come_from_the_environment(runner: CliRunner) -> None:
    _, out, _ = run(runner, "workflow", "show", "innovation-chain", env={"FLOWENGINE_LANG": "sv"})
    assert "Brukarråd" in out


def test_debug_mode_lets_the_error_through_for_bug_reports(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["workflow", "show", "no-such-workflow"], env={"FLOWENGINE_DEBUG": "1"})
    assert type(result.exception).__name__ == "NotFound"


def test_each_file_is_read_once_per_command(runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import flowengine.definition.loader
    import flowengine.definition.registry

    for name in ("one", "two", "three"):
        (tmp_path / f"{name}.yaml").write_text(MINIMAL_WORKFLOW.replace("id: minimal", f"id: {name}"), "utf-8")
    reads: list[Path] = []
    real_read = flowengine.definition.registry.read_file

    def counting_read(path: Path) -> object:
        reads.append(Path(path))
        return real_read(path)

    monkeypatch.setattr(flowengine.definition.registry, "read_file", counting_read)
    monkeypatch.setattr(flowengine.definition.loader, "read_file", counting_read)
    for command in (["validate", str(tmp_path)], ["list", "--workflows", str(tmp_path)],
                    ["show", "two", "--workflows", str(tmp_path)]):
        reads.clear()
        assert run(runner, "workflow", *command)[0] == 0
        mine = [p for p in reads if p.parent == tmp_path]
        assert sorted(mine) == sorted(set(mine)), f"{command[0]} read a file twice: {mine}"
        # show looks for one id: it parses only the file that can declare it
        assert mine == [tmp_path / "two.yaml"] if command[0] == "show" else len(mine) == 3
