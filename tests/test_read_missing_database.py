"""A command that only reads, given a SQLite database that is not there, creates nothing: not
the file, not its folder. It says so in one line naming the path and the fix, exit 1. The
commands that are meant to create a database keep doing it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flowengine_cli.main import cli

from .cli_support import CLEARED_ENV
from .conftest import REPO_ROOT

# Every command that only reads a database, with the arguments it needs besides it.
READERS: dict[str, tuple[str, ...]] = {
    "proposal list": (),
    "proposal list --all": (),
    "proposal show": ("INN-1",),
    "history": ("INN-1",),
    "audit verify": (),
    "audit checkpoint": ("--key", "{key}", "-o", "{dir}/c.json"),
    "stalls report": ("--no-pager",),
    "stalls diagram": ("innovation-chain", "-o", "{dir}/s.dot"),
    "stalls compare": ("--no-pager",),
    "export": ("-o", "{dir}/log.csv"),
    "report": ("--out", "{dir}/site"),
    "whoami": (),
    "access list": (),
    "access log": (),
    "workflow versions": ("innovation-chain",),
    "db status": (),
    "db backup": ("{dir}/backup.db",),
    "tick --dry-run": (),
}


def _invoke(words: str, extra: tuple[str, ...], folder: Path, env: dict[str, str | None],
            key: Path | None = None) -> Result:
    args = [*words.split(), *(word.format(dir=folder, key=key) for word in extra)]
    environment: dict[str, str | None] = {name: None for name in CLEARED_ENV}
    environment |= {"FLOWENGINE_DB": None, "FLOWENGINE_READ_DB": None, "FLOWENGINE_NOW": None, **env}
    return CliRunner().invoke(cli, args, env=environment, prog_name="flowengine")


def _everything_under(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*"))


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A signing key, kept outside the folder a test watches."""
    made = tmp_path_factory.mktemp("keys") / "auditor.key"
    done = _invoke("audit keygen", ("-o", str(made)), made.parent, {})
    assert done.exit_code == 0, done.stderr
    return made


@pytest.mark.sqlite_only("about SQLite files that are not there")
@pytest.mark.parametrize("command", list(READERS), ids=list(READERS))
def test_a_reading_command_on_a_missing_database_file_refuses_and_creates_nothing(command: str, tmp_path: Path,
                                                                                  key: Path) -> None:
    database = tmp_path / "nowhere.db"
    before = _everything_under(tmp_path)
    done = _invoke(command, (*READERS[command], "--db", str(database)), tmp_path, {}, key)
    assert done.exit_code == 1, (done.stdout, done.stderr)
    (line,) = done.stderr.splitlines()
    assert line == (f"error: there is no database at {database}; a command that only reads creates none "
                    f"(fix: flowengine init --db {database}; --db PATH)")
    assert "Traceback" not in done.output
    assert _everything_under(tmp_path) == before  # no database, no -wal or -journal, no output


@pytest.mark.sqlite_only("about SQLite files that are not there")
@pytest.mark.parametrize("command", list(READERS), ids=list(READERS))
def test_a_reading_command_creates_neither_the_default_database_nor_its_folder(command: str, tmp_path: Path,
                                                                              key: Path) -> None:
    data_home = tmp_path / "data"
    data_home.mkdir()
    done = _invoke(command, READERS[command], tmp_path, {"XDG_DATA_HOME": str(data_home)}, key)
    assert done.exit_code == 1, (done.stdout, done.stderr)
    assert str(data_home / "flowengine" / "flowengine.db") in done.stderr
    assert _everything_under(data_home) == []


@pytest.mark.sqlite_only("about SQLite files that are not there")
@pytest.mark.parametrize("named", ["sqlite:///{path}", "{path}"], ids=["url", "path"])
def test_a_missing_replica_to_read_from_is_refused_as_well(named: str, tmp_path: Path) -> None:
    primary = tmp_path / "primary.db"
    assert _invoke("init", ("--db", str(primary)), tmp_path, {}).exit_code == 0
    replica = tmp_path / "replica.db"
    done = _invoke("stalls report", ("--no-pager", "--db", str(primary), "--read-db", named.format(path=replica)),
                   tmp_path, {})
    assert done.exit_code == 1, (done.stdout, done.stderr)
    assert f"there is no database at {replica}" in done.stderr
    assert not replica.exists()


@pytest.mark.sqlite_only("about SQLite files that are not there")
def test_a_sqlite_url_to_a_missing_file_is_refused_by_a_reader(tmp_path: Path) -> None:
    database = tmp_path / "nowhere.db"
    done = _invoke("proposal list", ("--db", f"sqlite:///{database}"), tmp_path, {})
    assert done.exit_code == 1
    assert f"there is no database at {database}" in done.stderr
    assert not database.exists()


@pytest.mark.sqlite_only("about SQLite files that are created")
@pytest.mark.parametrize("command", [
    ("init",),
    ("proposal", "new", "innovation-chain", "--title", "Meeting place", "--set", "summary=A place",
     "--as", "ola", "--role", "panel"),
    ("import", str(REPO_ROOT / "tests" / "fixtures" / "eventlogs" / "roadtraffic100traces.xes"), "-w",
     "road-traffic-fines", "--workflows", str(REPO_ROOT / "examples" / "eventlogs"), "--actor", "police"),
], ids=["init", "proposal new", "import"])
def test_the_commands_meant_to_create_a_database_still_do(command: tuple[str, ...], tmp_path: Path) -> None:
    database = tmp_path / "new.db"
    done = _invoke(command[0], (*command[1:], "--db", str(database)), tmp_path, {})
    assert done.exit_code == 0, (done.stdout, done.stderr)
    assert database.is_file()
    listed = _invoke("proposal list", ("--db", str(database)), tmp_path, {})  # and a reader reads it
    assert listed.exit_code == 0, listed.stderr


@pytest.mark.sqlite_only("about SQLite files")
def test_a_reading_command_on_an_existing_database_reads_it(tmp_path: Path) -> None:
    database = tmp_path / "here.db"
    assert _invoke("init", ("--db", str(database)), tmp_path, {}).exit_code == 0
    for command in ("proposal list", "audit verify", "whoami", "db status"):
        done = _invoke(command, ("--db", str(database)), tmp_path, {})
        assert done.exit_code == 0, (command, done.stderr)
