"""`-` as a file name: standard input for `import` and `workflow validate`, standard output for
`export -o -` and `stalls report -o -`; never a file named "-"."""

from __future__ import annotations

import errno
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flowengine_cli import terminal
from flowengine_cli.main import cli

from flowengine.history.records import Actor
from flowengine.service.facade import FlowEngine

from .cli_support import CLEARED_ENV
from .conftest import MINIMAL_WORKFLOW, REPO_ROOT
from .databases import DatabaseTargets
from .terminal import run_in_terminal

ROAD = REPO_ROOT / "tests" / "fixtures" / "eventlogs" / "roadtraffic100traces.xes"
EVENTLOGS = str(REPO_ROOT / "examples" / "eventlogs")


class Place:
    def __init__(self, folder: Path, db: str) -> None:
        self.folder, self.db = folder, db

    def env(self) -> dict[str, str]:
        return {"FLOWENGINE_DB": self.db, "FLOWENGINE_WORKFLOWS": str(self.folder / "workflows"),
                "FLOWENGINE_NOW": "2025-06-01T12:00:00Z", "TZ": "UTC"}

    def run(self, *args: str, stdin: bytes | None = None) -> Result:
        environment: dict[str, str | None] = {name: None for name in CLEARED_ENV}
        environment |= self.env()
        return CliRunner().invoke(cli, list(args), input=stdin, env=environment, catch_exceptions=False,
                                  prog_name="flowengine")


@pytest.fixture
def place(tmp_path: Path, database_targets: DatabaseTargets, monkeypatch: pytest.MonkeyPatch) -> Iterator[Place]:
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "minimal.yaml").write_text(MINIMAL_WORKFLOW, encoding="utf-8")
    db = database_targets.new(tmp_path)
    with FlowEngine.open(db, workflow_dirs=[tmp_path / "workflows"]) as engine:
        engine.new_proposal("minimal", title="Meeting place", actor=Actor("kari", "panel"))
    monkeypatch.chdir(tmp_path)  # where a file named "-" would appear
    yield Place(tmp_path, db)
    database_targets.drop(db)


def no_dash_file(place: Place) -> None:
    assert not (place.folder / "-").exists()


def test_import_reads_a_log_from_standard_input(place: Place) -> None:
    result = place.run("import", "-", "--format", "xes", "-w", "road-traffic-fines", "--workflows", EVENTLOGS,
                       "--actor", "police", stdin=ROAD.read_bytes())
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("imported 100 cases, 390 events from <stdin> under road-traffic-fines")


def test_import_from_standard_input_names_its_problems_at_stdin_lines(place: Place) -> None:
    log = b"case:concept:name,concept:name,time:timestamp\nc1,Nowhere,2020-01-01T00:00:00Z\n"
    result = place.run("import", "-", "--format", "csv", "-w", "road-traffic-fines", "--workflows", EVENTLOGS,
                       "--actor", "police", stdin=log)
    assert result.exit_code == 1
    assert result.stderr.startswith("<stdin>:2: case c1: ")


def test_import_from_standard_input_needs_the_format(place: Place) -> None:
    result = place.run("import", "-", "-w", "road-traffic-fines", stdin=ROAD.read_bytes())
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == ("Error: reading the log from standard input, say its format: "
                                              "--format csv, xes or ocel")


def test_validate_reads_a_workflow_from_standard_input(place: Place) -> None:
    valid = place.run("workflow", "validate", "-", stdin=MINIMAL_WORKFLOW.encode())
    assert valid.exit_code == 0, valid.output
    invalid = place.run("workflow", "validate", "-", stdin=MINIMAL_WORKFLOW.replace("to: accepted", "to: acepted")
                        .encode())
    assert invalid.exit_code == 1
    assert invalid.stdout.startswith("<stdin>:") and "acepted" in invalid.stdout


def test_export_to_dash_writes_standard_output(place: Place) -> None:
    result = place.run("export", "-o", "-")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("case:concept:name,") and "Meeting place" in result.stdout
    no_dash_file(place)


def test_stalls_report_to_dash_writes_standard_output(place: Place) -> None:
    result = place.run("stalls", "report", "-o", "-", "--format", "markdown")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("## Stalled proposals")
    no_dash_file(place)


@pytest.mark.parametrize("command", [["import", "-", "--format", "csv", "-w", "minimal"],
                                     ["workflow", "validate", "-"]])
def test_dash_on_a_terminal_is_a_usage_error_not_a_wait(place: Place, command: list[str]) -> None:
    screen = run_in_terminal(command, place.env(), timeout=60)
    assert screen.exit_code == 2, screen.output
    assert "'-' reads standard input, which is a terminal here; pipe the file in" in screen.output


def test_standard_input_larger_than_the_disk_has_room_for_is_refused_and_its_spool_removed(
        place: Place, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``import - < /dev/zero`` once filled the disk: the spool keeps :data:`KEEP_FREE` free."""
    spools = tmp_path / "spools"
    spools.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spools))
    monkeypatch.setattr(terminal, "KEEP_FREE", shutil.disk_usage(spools).total)  # no chunk fits
    result = place.run("import", "-", "--format", "csv", "-w", "minimal",
                       stdin=b"case:concept:name,concept:name,time:timestamp\n" * 1000)
    assert result.exit_code == 1, result.stderr
    assert result.stderr.startswith(f"error: standard input is larger than {spools} has room for (it keeps ")
    assert "pass the log as a file, or set TMPDIR to a folder with more room" in result.stderr
    assert list(spools.iterdir()) == []


def test_a_disk_that_runs_full_while_spooling_is_one_line_and_its_spool_removed(
        place: Place, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spools = tmp_path / "spools"
    spools.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spools))
    real_open = Path.open

    def full_when_spooling(path: Path, *args: Any, **kwargs: Any) -> Any:
        handle = real_open(path, *args, **kwargs)
        if path.name != terminal.STDIN_NAME:
            return handle

        class Full(io.BufferedWriter):
            def write(self, data: Any) -> int:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        handle.close()
        return Full(io.FileIO(str(path), "wb"))

    monkeypatch.setattr(Path, "open", full_when_spooling)
    result = place.run("import", "-", "--format", "csv", "-w", "minimal",
                       stdin=b"case:concept:name,concept:name,time:timestamp\n")
    assert result.exit_code == 1, result.stderr
    assert result.stderr == (f"error: could not keep standard input in {spools}: No space left on device; "
                             "pass the log as a file, or set TMPDIR to a folder with more room\n")
    assert list(spools.iterdir()) == []


def test_a_terminated_import_from_standard_input_removes_its_spool_and_says_so(place: Place, tmp_path: Path) -> None:
    """SIGTERM (``kill``, ``timeout``) is taken as Ctrl-C: the spooled standard input is removed
    (Python's default would end the process on the spot and leave it behind), exit 143."""
    spools = tmp_path / "spools"
    spools.mkdir()
    environment = {name: value for name, value in os.environ.items() if name not in CLEARED_ENV}
    environment |= place.env() | {"TMPDIR": str(spools)}
    process = subprocess.Popen([sys.executable, "-m", "flowengine_cli", "import", "-", "--format", "csv", "-w",
                                "minimal"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=environment)
    assert process.stdin is not None
    try:
        process.stdin.write(b"case:concept:name,concept:name,time:timestamp\n")
        process.stdin.flush()
        deadline = time.monotonic() + 120
        while not list(spools.glob(f"*/{terminal.STDIN_NAME}")):  # spooling: waiting for more input
            assert process.poll() is None and time.monotonic() < deadline, process.communicate(timeout=60)
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=120)  # closes standard input only once it has ended
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=60)
    assert process.returncode == 143, stderr
    assert stderr.decode().strip() == "terminated"
    assert list(spools.iterdir()) == []
