"""Promises the README makes that no other test held it to: the command line's shape, where
things live, the error tree, what the library never does, which module alone imports a heavy
library, and what the set-up scripts run.
"""

from __future__ import annotations

import ast
import inspect
import re
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from flowengine_cli.main import cli

from flowengine import errors
from flowengine.definition.buildcache import folder as cache_folder
from flowengine.definition.loader import load_workflow
from flowengine.definition.registry import ENV_WORKFLOWS, bundled_dir, search_dirs
from flowengine.definition.yamlsafe import read_text
from flowengine.service.facade import FlowEngine
from flowengine.store.database import default_database_path

from .conftest import REPO_ROOT, FixedClock
from .test_deadlines import T0, TIMELY, new, tick, to_administration

README = REPO_ROOT / "README.md"


def _commands(command: click.Command = cli, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and group of the command line, as the words that name it."""
    yield path
    if isinstance(command, click.Group):
        context = click.Context(command)
        for name in command.list_commands(context):
            sub = command.get_command(context, name)
            assert sub is not None
            yield from _commands(sub, (*path, name))


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        found = command.get_command(click.Context(command), name)
        assert found is not None, name
        command = found
    return command


def _options(path: tuple[str, ...]) -> set[str]:
    return {option for param in _command(path).params for option in param.opts if option.startswith("--")}


# -- the command line ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", list(_commands()), ids=lambda path: " ".join(path) or "flowengine")
def test_every_command_s_help_ends_with_an_example_of_that_command(path: tuple[str, ...]) -> None:
    """README: "Every command's `--help` ends with an example." (click adds the options after it)."""
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    description = result.output.split("\nOptions:", 1)[0].rstrip()
    last_paragraph = description.split("\n\n")[-1].strip()
    assert last_paragraph.startswith("Example"), description
    assert " ".join(("flowengine", *path)) in last_paragraph


@pytest.mark.parametrize("path", [("proposal", "list"), ("proposal", "show"), ("history",), ("tick",)])
def test_the_read_commands_of_proposals_take_json_and_as_of(path: tuple[str, ...]) -> None:
    assert {"--json", "--as-of"} <= _options(path)


@pytest.mark.parametrize("path", [("advance",), ("proposal", "set"), ("progress",)])
def test_commands_that_change_a_proposal_take_expect_version_and_idempotency_key(path: tuple[str, ...]) -> None:
    assert {"--expect-version", "--idempotency-key"} <= _options(path)


def test_registering_a_proposal_takes_an_idempotency_key() -> None:
    assert "--idempotency-key" in _options(("proposal", "new"))


def test_the_console_script_is_flowengine_cli_s_main() -> None:
    (script,) = [entry for entry in metadata.entry_points(group="console_scripts") if entry.name == "flowengine"]
    assert script.value == "flowengine_cli.main:cli"


def test_the_command_line_works_under_its_folder_s_name_without_a_second_copy() -> None:
    """README: "Modules in `cli/` import each other relatively, so they work under either name"."""
    probe = ("import sys; from click.testing import CliRunner; from cli.main import cli; "
             "result = CliRunner().invoke(cli, ['workflow', 'schema']); assert result.exit_code == 0, result.output; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] == 'flowengine_cli'))")
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


# -- where things live --------------------------------------------------------------------------


def test_the_default_database_and_definition_cache_live_in_the_home_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_database_path({}) == tmp_path / ".local" / "share" / "flowengine" / "flowengine.db"
    assert cache_folder({}) == tmp_path / ".cache" / "flowengine" / "definitions"
    assert cache_folder({"XDG_CACHE_HOME": str(tmp_path / "c")}) == tmp_path / "c" / "flowengine" / "definitions"


def test_workflow_folders_are_searched_given_first_then_the_environment_s_then_the_bundled_ones() -> None:
    dirs = search_dirs(["given"], {ENV_WORKFLOWS: "/srv/one:/srv/two"})
    assert dirs == [Path("given"), Path("/srv/one"), Path("/srv/two"), bundled_dir()]


# -- the library --------------------------------------------------------------------------------


def test_every_error_is_a_flowengine_error() -> None:
    declared = {name for name, value in vars(errors).items()
                if inspect.isclass(value) and issubclass(value, Exception) and value.__module__ == errors.__name__}
    assert declared == {"FlowEngineError", "DefinitionError", "NotFound", "AmbiguousWorkflow", "InvalidInput",
                        "Refused", "TransitionRefused", "AccessDenied", "ConflictError", "StoreError", "Unfinished"}
    assert all(issubclass(getattr(errors, name), errors.FlowEngineError) for name in declared)
    assert issubclass(errors.TransitionRefused, errors.Refused)


def _modules(*folders: str) -> Iterator[tuple[Path, ast.Module]]:
    for folder in folders:
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            yield path.relative_to(REPO_ROOT), ast.parse(path.read_text(encoding="utf-8"), str(path))


def _imported(tree: ast.Module) -> set[str]:
    """The top-level packages a module imports, wherever in it the import stands."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_the_library_never_prints_never_exits_and_knows_no_click() -> None:
    found = []
    for path, tree in _modules("flowengine"):
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in (
                    "print", "exit", "quit", "input", "breakpoint"):
                found.append(f"{path}:{node.lineno}: {node.func.id}()")
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and (
                    (node.value.id, node.attr) in {("sys", "exit"), ("sys", "stdout"), ("sys", "stderr"),
                                                   ("os", "_exit")}):
                found.append(f"{path}:{node.lineno}: {node.value.id}.{node.attr}")
            elif isinstance(node, ast.Raise) and "SystemExit" in ast.dump(node):
                found.append(f"{path}:{node.lineno}: raise SystemExit")
        if "click" in _imported(tree):
            found.append(f"{path}: imports click")
    assert found == []


@pytest.mark.parametrize(("package", "importers"), [
    ("jsonschema", {"flowengine/definition/structure.py"}),
    ("networkx", {"flowengine/definition/graph.py"}),
    ("graphviz", {"flowengine/views/drawing.py"}),
    ("lxml", {"flowengine/eventlog/xes_reader.py"}),
    ("transitions", {"flowengine/engine.py"}),
    ("numpy", {"flowengine/analysis/columnar/arrays.py", "flowengine/analysis/columnar/batches.py",
               "flowengine/analysis/columnar/figures.py"}),
])
def test_each_heavy_library_has_one_importer(package: str, importers: set[str]) -> None:
    assert {str(path) for path, tree in _modules("flowengine", "cli") if package in _imported(tree)} == importers


def test_pm4py_and_pandas_are_imported_by_benchmark_scripts_alone() -> None:
    users = {str(path) for path, tree in _modules("flowengine", "cli", "tests", "bench")
             if {"pm4py", "pandas"} & _imported(tree)}
    assert users == {"bench/stalls.py", "bench/pm4py_compare.py"}


# -- the bundled chain's escalation, as the README shows it ---------------------------------------


def test_the_readme_s_escalation_example_is_the_bundled_chain_s() -> None:
    (block,) = [block for block in re.findall(r"```yaml\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
                if "escalate:" in block]
    shown = read_text(block, "README.md").data["administration_review"]
    chain = load_workflow(bundled_dir() / "default" / "innovation-chain.yaml")
    state = chain.states["administration_review"]
    assert state.escalation is not None
    assert (shown["deadline"], shown["reminder"], shown["escalate"]) == (
        state.deadline_text, state.reminder_text, {"after": state.escalation.after_text,
                                                   "trigger": state.escalation.trigger})
    # "escalates a proposal the administration has left for 90 days to the user council"
    (step,) = [t for t in chain.outgoing(state.id) if t.trigger == state.escalation.trigger]
    target = chain.states[step.target]
    assert (state.escalation.after_text, target.owner, chain.roles[str(target.owner)].kind) == ("90d", "council",
                                                                                                 "council")


def test_tick_json_gives_each_escalation_the_keys_the_readme_lists(db_target: str, tmp_path: Path) -> None:
    (tmp_path / "timely.yaml").write_text(TIMELY, encoding="utf-8")
    clock = FixedClock(T0)
    with FlowEngine.open(db_target, workflow_dirs=[tmp_path], clock=clock) as flow:
        to_administration(flow, new(flow), day=1)
        report = tick(flow, clock, 100).as_dict()
    (escalation,) = report["escalations"]
    assert list(escalation) == ["proposal", "title", "workflow", "from", "to", "trigger", "after", "due", "at"]


# -- the set-up scripts -------------------------------------------------------------------------


def _script(name: str) -> list[str]:
    """A script's commands, comments and blank lines left out."""
    lines = (REPO_ROOT / "scripts" / name).read_text(encoding="utf-8").splitlines()
    return [line.split(" #", 1)[0].strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_the_main_job_checks_every_bundled_workflow_then_builds_the_demo_and_a_session_database() -> None:
    run = _script("run")
    assert run[run.index("bash scripts/install") + 1:][:2] == ['export PATH="$PWD/.venv/bin:$PATH"', 'out="${1:-out}"']
    assert "flowengine workflow validate --strict workflows/" in run
    assert 'flowengine demo --out "$out/demo"' in run
    session = run.index('export FLOWENGINE_DB="$out/flowengine.db" FLOWENGINE_USER=kari FLOWENGINE_ROLE=project_leader')
    assert run[session + 1] == 'rm -f "$FLOWENGINE_DB" "$FLOWENGINE_DB-wal" "$FLOWENGINE_DB-shm"'  # a fresh one


def test_the_test_job_runs_ruff_mypy_and_the_suite_on_sqlite_then_on_postgresql() -> None:
    test = _script("test")
    assert test[test.index("bash scripts/install --test") + 1:][:4] == [
        'venv="$PWD/.venv/bin"', 'export PATH="$venv:$PATH"', '"$venv/ruff" check .', '"$venv/mypy"']
    assert 'env -u FLOWENGINE_TEST_PG "$venv/python" -m pytest "$@"' in test
    assert test[-1] == '"$venv/python" -m pytest "$@"'
    assert 'FLOWENGINE_TEST_PG="$(bash scripts/postgres start)"' in test
    assert "trap 'bash scripts/postgres stop' EXIT" in test


def test_the_license_file_is_the_mit_license_pyproject_declares() -> None:
    import tomllib

    declared = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["license"]
    text = (REPO_ROOT / "LICENSE").read_text(encoding="utf-8")
    assert declared == {"text": "MIT"}
    assert text.startswith("MIT License\n\nCopyright (c) ")
    assert "Permission is hereby granted, free of charge, to any person obtaining a copy" in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND' in text
