"""Commands import only what they use: start-up time matters for a tool used many times a day."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from flowengine_cli.main import cli

from .cli_support import command_modules
from .conftest import REPO_ROOT

HEAVY = ("jsonschema", "networkx", "graphviz", "sqlalchemy", "transitions", "yaml")


def _modules_after(args: list[str]) -> set[str]:
    code = (
        "import sys\n"
        "from flowengine_cli.main import cli\n"
        f"try:\n    cli({args!r}, prog_name='flowengine')\n"
        "except SystemExit:\n    pass\n"
        "print(' '.join(sorted(m for m in sys.modules if '.' not in m)), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    return set(done.stderr.split())


def test_help_imports_none_of_the_heavy_libraries() -> None:
    assert not _modules_after(["--help"]) & set(HEAVY)


@pytest.mark.parametrize("command", [["workflow", "validate", "--help"], ["workflow", "schema"]])
def test_light_commands_do_not_import_graph_or_drawing_libraries(command: list[str]) -> None:
    loaded = _modules_after(command)
    assert not loaded & {"networkx", "graphviz", "sqlalchemy"}


def test_validate_does_not_import_graphviz() -> None:
    chain = REPO_ROOT / "workflows" / "default" / "innovation-chain.yaml"
    loaded = _modules_after(["workflow", "validate", str(chain)])
    assert "jsonschema" in loaded  # it does check the file against the schema
    assert "networkx" in loaded  # and asks the graph checks
    assert "graphviz" not in loaded


def test_advance_and_proposal_help_import_no_database_graph_or_schema_library() -> None:
    code = (
        "import sys\n"
        "from flowengine_cli.main import cli\n"
        "for args in (['advance', '--help'], ['proposal', '--help']):\n"
        "    try:\n        cli(args, prog_name='flowengine')\n"
        "    except SystemExit as exc:\n        assert exc.code == 0, args\n"
        "print(' '.join(sorted(m for m in sys.modules if '.' not in m)), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert "Example" in done.stdout
    assert not set(done.stderr.split()) & {"sqlalchemy", "networkx", "graphviz", "jsonschema"}


def _exit_and_modules(args: list[str], database: str, *, submodules: bool = False,
                      cache: Path | None = None) -> tuple[int, set[str]]:
    """:func:`command_modules` against ``database`` at a fixed moment; ``cache``: the build cache's folder."""
    env = {"FLOWENGINE_DB": database, "FLOWENGINE_NOW": "2019-03-05T10:00:00Z",
           **({"XDG_CACHE_HOME": str(cache)} if cache is not None else {})}
    return command_modules(args, env, submodules=submodules)


def test_advance_on_a_current_database_imports_no_graph_schema_or_migration_library(db_target: str) -> None:
    database = db_target
    env = {"FLOWENGINE_DB": database, "FLOWENGINE_NOW": "2019-03-01T10:00:00Z"}
    registered = CliRunner().invoke(cli, ["proposal", "new", "innovation-chain", "--title", "Meeting place",
                                          "--set", "summary=A place to meet", "--as", "ola", "--role", "panel"],
                                    env=env)
    assert registered.exit_code == 0, registered.stderr
    status, loaded = _exit_and_modules(["advance", "INN-1", "send_to_council", "--set", "expected_benefit=Company",
                                        "--as", "ola", "--role", "panel"], database)
    assert status == 0
    assert "sqlalchemy" in loaded  # it did reach the database
    assert "transitions" in loaded  # the step fired on a transitions machine
    assert not loaded & {"networkx", "graphviz", "jsonschema", "alembic"}


@pytest.mark.parametrize("command", [
    ["progress", "INN-1", "40", "--note", "Premises found", "--as", "ola", "--role", "service"],
    ["tick"],
    ["tick", "--dry-run", "--json"],
], ids=["progress", "tick", "tick-dry-run"])
def test_progress_and_tick_import_no_graph_schema_or_migration_library(db_target: str, command: list[str]) -> None:
    database = db_target
    env = {"FLOWENGINE_DB": database, "FLOWENGINE_NOW": "2019-03-01T10:00:00Z"}
    for args in (["proposal", "new", "innovation-chain", "--title", "Meeting place", "--set", "summary=A place",
                  "--set", "expected_benefit=Company", "--set", "decision_reference=2019/1", "--as", "ola",
                  "--role", "panel"],
                 ["advance", "INN-1", "send_to_council", "--as", "ola", "--role", "panel"],
                 ["advance", "INN-1", "recommend", "--as", "ola", "--role", "council"],
                 ["advance", "INN-1", "decide", "--comment", "Yes", "--as", "ola", "--role", "administration"]):
        done = CliRunner().invoke(cli, args, env=env)
        assert done.exit_code == 0, done.stderr
    status, loaded = _exit_and_modules(command, database)
    assert status == 0
    assert "sqlalchemy" in loaded
    assert not loaded & {"networkx", "graphviz", "jsonschema", "alembic"}
    if command[0] == "progress":
        assert "transitions" not in loaded  # nothing fires: the state machine library is not imported


@pytest.mark.parametrize("command", [["proposal", "show", "INN-1"], ["history", "INN-1"]], ids=["show", "history"])
def test_one_proposal_s_history_loads_neither_the_stall_report_nor_the_analysis(db_target: str, tmp_path: Path,
                                                                                 command: list[str]) -> None:
    """A history is written as the report's tables are (views.sections), without the stall
    report, its figures or the analysis that makes them, and read without what only a write needs."""
    env = {"FLOWENGINE_DB": db_target, "FLOWENGINE_NOW": "2019-03-01T10:00:00Z"}
    registered = CliRunner().invoke(cli, ["proposal", "new", "innovation-chain", "--title", "Meeting place",
                                          "--set", "summary=A place to meet", "--as", "ola", "--role", "panel"],
                                    env=env)
    assert registered.exit_code == 0, registered.stderr
    for _ in range(2):  # the first may keep the definition it built (a write to the cache)
        status, loaded = _exit_and_modules(command, db_target, submodules=True, cache=tmp_path / "cache")
        assert status == 0
    assert "flowengine.views.histories" in loaded  # the history was written
    assert not loaded & {"flowengine.views.report", "flowengine.analysis.figures", "flowengine.analysis.reference",
                         "flowengine.analysis.cells", "flowengine.analysis.provenance"}
    # Nor what only a write needs: a temporary file (tempfile, shutil and its archives), a salt (secrets, random),
    # beyond what the database driver imports by itself (psycopg imports tempfile, shutil and random).
    write_only = {"tempfile", "shutil", "bz2", "lzma", "secrets", "random"}
    if "psycopg" in loaded:
        driver = subprocess.run([sys.executable, "-c", "import sys, psycopg; print(' '.join(sys.modules))"],
                                capture_output=True, text=True, check=True, timeout=60).stdout.split()
        write_only -= set(driver)
    assert not loaded & write_only


def test_alembic_is_imported_only_to_create_or_upgrade_the_schema(db_target: str) -> None:
    database = db_target
    status, loaded = _exit_and_modules(["init"], database)  # a new database: the schema is created
    assert status == 0
    assert "alembic" in loaded
    status, loaded = _exit_and_modules(["proposal", "list"], database)
    assert status == 0
    assert "alembic" not in loaded


def test_a_step_under_a_definition_built_before_needs_no_yaml_parser_deadlines_or_stall_figures(
        db_target: str, tmp_path: Path) -> None:
    """The definition a proposal runs under is built by the first step that needs it and kept
    (flowengine.definition.buildcache); a later step imports neither PyYAML nor what it does not use: the
    deadline clock, the stall figures."""
    cache = str(tmp_path / "cache")
    env = {"FLOWENGINE_DB": db_target, "FLOWENGINE_NOW": "2019-03-01T10:00:00Z", "XDG_CACHE_HOME": cache}
    registered = CliRunner().invoke(cli, ["proposal", "new", "innovation-chain", "--title", "Meeting place",
                                          "--set", "summary=A place to meet", "--as", "ola", "--role", "panel"],
                                    env=env)
    assert registered.exit_code == 0, registered.stderr
    steps = (["advance", "INN-1", "send_to_council", "--set", "expected_benefit=Company"],  # builds and keeps it
             ["advance", "INN-1", "send_back", "--comment", "Say more"])
    for args in steps:
        code = (
            "import sys\n"
            "from flowengine_cli.main import cli\n"
            f"try:\n    cli({[*args, '--as', 'ola', '--role', 'council' if 'send_back' in args else 'panel']!r},"
            " prog_name='flowengine')\n"
            "except SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
            "print(' '.join(sorted(sys.modules)), file=sys.stderr)\n"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60,
                              env={**os.environ, **env})
    loaded = set(done.stderr.splitlines()[-1].split())
    assert "flowengine.store.queries" in loaded  # it did reach the database
    assert not loaded & {"yaml", "flowengine.definition.loader", "flowengine.service.deadlines",
                         "flowengine.analysis.figures"}


def test_a_command_run_from_a_test_freezes_nothing_and_leaves_collection_on(tmp_path: Path) -> None:
    """Freezing is for the process that ends with its command: a test run through CliRunner
    must keep collecting its own garbage."""
    import gc

    frozen = gc.get_freeze_count()
    done = CliRunner().invoke(cli, ["init"], env={"FLOWENGINE_DB": str(tmp_path / "flowengine.db")})
    assert done.exit_code == 0, done.output
    assert gc.get_freeze_count() == frozen
    assert gc.isenabled()


def test_the_command_s_own_process_loads_its_modules_frozen_out_of_collection(tmp_path: Path) -> None:
    code = (
        "import gc, sys\n"
        "from flowengine_cli.main import cli\n"
        "try:\n    cli(['proposal', 'list'], prog_name='flowengine')\n"
        "except SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
        "print(gc.get_freeze_count(), gc.isenabled(), file=sys.stderr)\n"
    )
    database = str(tmp_path / "flowengine.db")
    assert CliRunner().invoke(cli, ["init"], env={"FLOWENGINE_DB": database}).exit_code == 0
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60,
                          env={**os.environ, "FLOWENGINE_DB": database})
    frozen, enabled = done.stderr.splitlines()[-1].split()
    assert int(frozen) > 20_000  # SQLAlchemy's and flowengine's modules, classes and functions
    assert enabled == "True"  # the command's own work is collected as usual


def test_loading_restores_collection_as_it_found_it() -> None:
    import gc

    from flowengine_cli.startup import loading

    with loading():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with loading():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
