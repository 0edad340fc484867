"""Every command's exit codes, as the README documents them: 0 done, 1 refused or invalid, 2 usage
(an unknown option, a missing argument, a malformed option value such as ``--as-of 2019-13-45``),
3 internal error, each with one line on standard error and never a traceback.

Each command has its cases in :data:`CASES`; a command without them fails
:func:`test_every_command_has_its_exit_codes_tested`, so a new command cannot slip through.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from flowengine_cli.main import cli

from flowengine.history.records import Actor
from flowengine.service.facade import FlowEngine

from .cli_support import CLEARED_ENV
from .conftest import REPO_ROOT
from .databases import ON_POSTGRESQL, DatabaseTargets, tampering
from .test_readme_promises import _command, _commands

OPS = """\
id: ops
version: 1
prefix: OPS
roles:
  service: {}
fields:
  note:
    type: text
states:
  doing:
    initial: true
    stage: implementation
    owner: service
    deadline: 30d
  done:
    final: true
    outcome: implemented
transitions:
  - trigger: finish
    from: doing
    to: done
    roles: [service]
"""
ROAD = str(REPO_ROOT / "tests" / "fixtures" / "eventlogs" / "roadtraffic100traces.xes")
EVENTLOG_WORKFLOWS = str(REPO_ROOT / "examples" / "eventlogs")
SERVICE = ("--as", "sam", "--role", "service")
ENGINE = "flowengine.service.facade.FlowEngine.open"  # what an internal error is injected into, per command
QUICK = "flowengine.service.quick.small_analysis"  # a small workflow's diagram reads without the engine
QUICK_READ = "flowengine.service.quick_reads.read"  # one proposal, or a page, read without the engine
LOADER = "flowengine.definition.loader.load_workflow"
CHECKER = "flowengine.definition.loader.check_file"


@dataclass(frozen=True)
class Case:
    done: tuple[str, ...]  # exit 0
    refused: tuple[str, ...] | None  # exit 1; None where nothing can be refused
    usage: tuple[str, ...]  # exit 2: a malformed option value where the command takes one
    breaks: str  # a function the command calls, made to raise: exit 3


CASES: dict[str, Case] = {
    "workflow validate": Case(("{ops}",), ("{dir}/broken.yaml",), (), CHECKER),
    "workflow list": Case((), None, ("--workflows", "{dir}/missing"), CHECKER),
    "workflow show": Case(("ops",), ("nosuch",), ("ops", "--lang", "xx"), LOADER),
    "workflow diagram": Case(("ops", "-o", "{dir}/ops.dot"), ("nosuch", "-o", "{dir}/x.dot"), ("ops",), LOADER),
    "workflow diagrams": Case(("--out", "{dir}/diagrams"), ("--check", "--out", "{dir}/stale"), ("--check", "x"),
                              "flowengine.views.bundled.write_bundled_diagrams"),
    "workflow discover": Case((ROAD, "-o", "{dir}/draft.yaml"), ("{dir}/missing.xes",), (ROAD, "--min-share", "2"),
                              "flowengine.eventlog.draft.draft_workflow"),
    "workflow schema": Case((), None, ("extra",), "flowengine.definition.structure.schema_text"),
    "workflow versions": Case(("ops",), ("nosuch",), (), ENGINE),
    "workflow migrate": Case(("ops", "--to", "{ops}", "--dry-run"), ("ops", "--to", "{dir}/nosuch.yaml", "--dry-run"),
                             ("ops", "--to", "{ops}", "--map", "doing"), ENGINE),
    "init": Case((), ("--db", "{dir}/missing/x.db"), ("--bogus",), "flowengine.store.migrate.ensure_schema"),
    "db status": Case((), ("--db", "{dir}/missing/x.db"), ("--bogus",), "flowengine.store.Database.schema_revision"),
    "db upgrade": Case((), ("--db", "{dir}/missing/x.db"), ("--bogus",), "flowengine.store.migrate.ensure_schema"),
    "db backup": Case(("{dir}/backup.db",), ("{ops}",), (), "flowengine.service.backups.backup"),
    "db restore": Case(("{backup}", "--db", "{dir}/restored.db"), ("{dir}/broken.yaml", "--db", "{dir}/restored.db"),
                       (), "flowengine.service.backups.restore"),
    "proposal new": Case(("ops", "--title", "T", *SERVICE), ("nosuch", "--title", "T", *SERVICE),
                         ("ops", "--title", "T", "--set", "note", *SERVICE), ENGINE),
    "proposal list": Case((), ("--db", "{dir}/missing/x.db"),
                          ("--as-of", "2019-13-45"), QUICK_READ),
    "proposal show": Case(("OPS-1",), ("OPS-99",), ("OPS-1", "--as-of", "2019-13-45"), QUICK_READ),
    "proposal set": Case(("OPS-1", "note=x", *SERVICE), ("OPS-1", "nosuch=1", *SERVICE), ("OPS-1", "note", *SERVICE),
                         ENGINE),
    "advance": Case(("OPS-1", "finish", *SERVICE), ("OPS-1", "nosuch", *SERVICE),
                    ("OPS-1", "finish", "--set", "=x", *SERVICE), ENGINE),
    "history": Case(("OPS-1",), ("OPS-99",), ("OPS-1", "--as-of", "2019-13-45"), QUICK_READ),
    "audit verify": Case((), ("{tampered}",), ("--bogus",), ENGINE),
    "audit keygen": Case(("-o", "{dir}/new.key"), ("-o", "{dir}/missing/new.key"), (),
                         "flowengine.proof.keyfiles.write_key_pair"),
    "audit checkpoint": Case(("--key", "{key}", "-o", "{dir}/c.json"), ("--key", "{ops}", "-o", "{dir}/c.json"),
                             ("-o", "{dir}/c.json"), ENGINE),
    "audit convert-personal": Case(("--key", "{key}", "--out", "{dir}", "--yes"),
                                   ("--key", "{key}", "--out", "{dir}/missing", "--yes"), ("--out", "{dir}"), ENGINE),
    "audit prove": Case(("OPS-1", "--checkpoint", "{checkpoint}"), ("OPS-99", "--checkpoint", "{checkpoint}"),
                        ("OPS-1",), "flowengine.proof.checkpoint.inclusion"),
    "stalls report": Case(("--no-pager",), ("--workflow", "nosuch"), ("--as-of", "2019-13-45"), ENGINE),
    "stalls diagram": Case(("ops", "-o", "{dir}/s.dot"), ("nosuch", "-o", "{dir}/s.dot"), ("ops", "-o", "{dir}/s.txt"),
                           QUICK),
    "stalls compare": Case(("--no-pager",), ("nosuch",), ("--as-of", "2019-13-45"), ENGINE),
    "note": Case(("OPS-1", "Still waiting", *SERVICE), ("OPS-99", "Still waiting", *SERVICE),
                 ("OPS-1", "Still waiting", "--expect-version", "x", *SERVICE), ENGINE),
    "progress": Case(("OPS-1", "40", *SERVICE), ("OPS-99", "40", *SERVICE),
                     ("OPS-1", "40", "--milestone-date", "2019-02-30", *SERVICE), ENGINE),
    "tick": Case((), ("--workflow", "nosuch"), ("--as-of", "2019-13-45"), ENGINE),
    "demo": Case(("--out", "{dir}/demo"), ("--out", "{dir}/demo", "--data", "{ops}"), ("--lang", "xx"),
                 "flowengine.demo.build_demo"),
    "import": Case((ROAD, "-w", "road-traffic-fines", "--workflows", EVENTLOG_WORKFLOWS, "--actor", "police"),
                   (ROAD, "-w", "ops"), (ROAD, "-w", "ops", "--map", "nonsense"), ENGINE),
    "completion": Case(("bash",), None, ("tcsh",), "click.shell_completion.get_completion_class"),
    "report": Case(("--out", "{dir}/site"), ("--out", "{dir}/site", "--workflow", "nosuch"),
                   ("--out", "{dir}/site", "--min-count", "1"), ENGINE),
    "export": Case(("-o", "{dir}/log.csv"), ("--workflow", "nosuch"), ("--format", "nope"), ENGINE),
    "access grant": Case(("kari", "--role", "service", "--workflow", "ops"),
                         ("kari", "--role", "nosuch", "--workflow", "ops"), ("kari", "--role", "service"), ENGINE),
    "access revoke": Case(("kari", "--role", "service", "--workflow", "ops"),
                          ("kari", "--role", "nosuch", "--workflow", "ops"), ("kari", "--role", "service"), ENGINE),
    "access list": Case((), ("--db", "{dir}/missing/x.db"), ("--bogus",), ENGINE),
    "access log": Case((), ("--db", "{dir}/missing/x.db"), ("--bogus",), ENGINE),
    "whoami": Case((), ("--db", "{dir}/missing/x.db"), ("--bogus",), ENGINE),
    "db erasable": Case((), ("--db", "{dir}/missing/x.db"), ("--bogus",), ENGINE),
    "erase": Case(("--proposal", "OPS-1", "--yes"), ("--proposal", "OPS-99", "--yes"), ("--yes",), ENGINE),
}


def test_every_command_has_its_exit_codes_tested() -> None:
    leaves = {" ".join(path) for path in _commands() if not isinstance(_command(path), click.Group)}
    assert leaves == set(CASES)


class Place:
    def __init__(self, folder: Path, db: str) -> None:
        self.folder, self.db = folder, db

    def args(self, words: tuple[str, ...]) -> list[str]:
        backup, key, checkpoint = self.folder / "made.backup", self.folder / "made.key", self.folder / "made.json"
        if "{backup}" in words and not backup.exists():
            assert self.run("db backup", (str(backup),)).exit_code == 0
        if {"{key}", "{checkpoint}"} & set(words) and not key.exists():
            assert self.run("audit keygen", ("-o", str(key))).exit_code == 0
        if "{checkpoint}" in words and not checkpoint.exists():
            assert self.run("audit checkpoint", ("--key", str(key), "-o", str(checkpoint))).exit_code == 0
        return [word.format(dir=self.folder, ops=self.folder / "workflows" / "ops.yaml", backup=backup, key=key,
                            checkpoint=checkpoint) for word in words]

    def run(self, command: str, words: tuple[str, ...]) -> Result:
        environment: dict[str, str | None] = {name: None for name in CLEARED_ENV}
        environment |= {"FLOWENGINE_DB": self.db, "FLOWENGINE_WORKFLOWS": str(self.folder / "workflows"), "TZ": "UTC",
                        "FLOWENGINE_NOW": "2025-06-01T12:00:00Z"}
        return CliRunner().invoke(cli, [*command.split(), *self.args(words)], env=environment,
                                  catch_exceptions=False, prog_name="flowengine")


@pytest.fixture
def place(tmp_path: Path, database_targets: DatabaseTargets) -> Iterator[Place]:
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "ops.yaml").write_text(OPS, encoding="utf-8")
    (tmp_path / "broken.yaml").write_text(OPS.replace("to: done", "to: nowhere"), encoding="utf-8")
    (tmp_path / "stale").mkdir()
    db = database_targets.new(tmp_path)
    with FlowEngine.open(db, workflow_dirs=[tmp_path / "workflows"]) as engine:
        engine.new_proposal("ops", title="Premises", actor=Actor("sam", "service"))
    yield Place(tmp_path, db)
    database_targets.drop(db)


def _one_error_line(result: Result, code: int) -> None:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(("error: ", "Error: ")) or code == 1, result.stderr


@pytest.mark.parametrize("command", sorted(CASES))
def test_done_exits_0(place: Place, command: str) -> None:
    if command in ("demo", "db restore") and ON_POSTGRESQL:
        pytest.skip("writes a SQLite file of its own (test_backup.py restores on the server)")
    result = place.run(command, CASES[command].done)
    assert result.exit_code == 0, (result.stdout, result.stderr)


@pytest.mark.parametrize("command", sorted(name for name, case in CASES.items() if case.refused is not None))
def test_refused_or_invalid_exits_1(place: Place, command: str) -> None:
    words = CASES[command].refused
    assert words is not None
    if words == ("{tampered}",):
        with tampering(place.db) as conn:
            from sqlalchemy import text

            conn.execute(text("UPDATE events SET comment = 'rewritten'"))
        words = ()
    result = place.run(command, words)
    _one_error_line(result, 1)


@pytest.mark.parametrize("command", sorted(CASES))
def test_usage_errors_and_malformed_option_values_exit_2(place: Place, command: str) -> None:
    result = place.run(command, CASES[command].usage)
    _one_error_line(result, 2)
    assert result.stdout == ""


@pytest.mark.parametrize("command", sorted(CASES))
def test_an_unknown_option_exits_2(place: Place, command: str) -> None:
    _one_error_line(place.run(command, ("--no-such-option",)), 2)


@pytest.mark.parametrize("command", sorted(CASES))
def test_an_internal_error_exits_3_with_one_line(place: Place, command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("something nobody foresaw")

    monkeypatch.setattr(CASES[command].breaks, broken)
    result = place.run(command, CASES[command].done)
    assert result.exit_code == 3, (result.stdout, result.stderr)
    assert result.stderr.splitlines()[-1].startswith("error: internal error: RuntimeError: something nobody foresaw")
    assert "Traceback" not in result.stderr
