"""`flowengine db backup` and `db restore`: a backup taken while another process advances
proposals is one consistent moment, restores elsewhere, and is audited each time; on SQLite
files (the online backup API) and on the real PostgreSQL server (pg_dump and pg_restore)."""

from __future__ import annotations

import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flowengine_cli.main import cli
from sqlalchemy import text

from .cli_support import CLEARED_ENV
from .conftest import REPO_ROOT
from .databases import ON_POSTGRESQL, DatabaseTargets, count_events, raw_connection, tampering
from .stress_advances import create_proposals

STEPS = 120
READY_AFTER = 20
PROPOSALS = 4
TIMEOUT = 120


def flowengine(*args: str, env: dict[str, str] | None = None) -> Result:
    environment: dict[str, str | None] = {name: None for name in CLEARED_ENV}
    environment |= {"FLOWENGINE_NOW": "2025-03-02T12:00:00Z", **(env or {})}
    return CliRunner().invoke(cli, list(args), env=environment, catch_exceptions=False, prog_name="flowengine")


class Places:
    """Whole, empty databases: the source, and one to restore into."""

    def __init__(self, folder: Path, targets: DatabaseTargets) -> None:
        self.folder = folder
        self.targets = targets
        self.made: list[str] = []

    def new(self, name: str) -> str:
        made = self.targets.new(self.folder, name, copyable=True)
        self.made.append(made)
        return made

    def backup_file(self, name: str = "backup") -> Path:
        return self.folder / (f"{name}.dump" if ON_POSTGRESQL else f"{name}.db")


@pytest.fixture
def places(tmp_path: Path, database_targets: DatabaseTargets) -> Iterator[Places]:
    made = Places(tmp_path, database_targets)
    yield made
    for target in made.made:
        database_targets.drop(target)


def test_a_backup_taken_while_another_process_advances_restores_elsewhere_and_holds(places: Places) -> None:
    source = places.new("source.db")
    ids = create_proposals(source, PROPOSALS)
    writer = subprocess.Popen([sys.executable, "-m", "tests.backup_writer", source, str(STEPS), str(READY_AFTER),
                               *ids], cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert writer.stdin is not None and writer.stdout is not None
    try:
        assert writer.stdout.readline().strip() == "ready"
        writer.stdin.write("go\n")
        writer.stdin.flush()
        file = places.backup_file()
        backed_up = flowengine("db", "backup", str(file), "--db", source)
    finally:
        finished, _ = writer.communicate(timeout=TIMEOUT)
    assert writer.returncode == 0 and finished.strip() == f"done {STEPS}"
    assert backed_up.exit_code == 0, backed_up.output
    assert "audit: " in backed_up.output and "every chain holds" in backed_up.output
    assert stat.S_IMODE(file.stat().st_mode) == 0o600

    restored_target = places.new("restored.db")
    restored = flowengine("db", "restore", str(file), "--db", restored_target)
    assert restored.exit_code == 0, restored.output
    assert "every chain holds" in restored.output
    in_backup = count_events(restored_target)
    assert PROPOSALS + READY_AFTER <= in_backup <= PROPOSALS + STEPS
    assert count_events(source) == PROPOSALS + STEPS
    audited = flowengine("audit", "verify", "--db", restored_target)
    assert audited.exit_code == 0 and f"{PROPOSALS} proposals, {in_backup} events checked" in audited.stderr
    with raw_connection(restored_target) as conn:  # each proposal's row agrees with its own events
        rows = conn.execute(text("SELECT p.version, count(e.seq) FROM proposals p JOIN events e "
                                 "ON e.proposal_pk = p.pk GROUP BY p.pk, p.version")).all()
    assert rows and all(version == events for version, events in rows)


def test_the_restored_database_keeps_history_append_only(places: Places) -> None:
    source = places.new("source.db")
    create_proposals(source, 1)
    file = places.backup_file()
    assert flowengine("db", "backup", str(file), "--db", source).exit_code == 0
    restored_target = places.new("restored.db")
    assert flowengine("db", "restore", str(file), "--db", restored_target).exit_code == 0
    with pytest.raises(Exception, match="events are append-only"), \
            raw_connection(restored_target) as conn:
        conn.execute(text("UPDATE events SET comment = 'rewritten'"))


def test_a_backup_never_overwrites_a_file(places: Places) -> None:
    source = places.new("source.db")
    create_proposals(source, 1)
    file = places.backup_file()
    file.write_bytes(b"keep me")
    result = flowengine("db", "backup", str(file), "--db", source)
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: {file} exists already; backups are never overwritten: give a new file name"
    assert file.read_bytes() == b"keep me"


def test_restore_refuses_a_target_that_holds_data(places: Places) -> None:
    source = places.new("source.db")
    create_proposals(source, 1)
    file = places.backup_file()
    assert flowengine("db", "backup", str(file), "--db", source).exit_code == 0
    before = count_events(source)
    result = flowengine("db", "restore", str(file), "--db", source)
    assert result.exit_code == 1 and "not empty" in result.stderr and "Traceback" not in result.stderr
    assert count_events(source) == before


def test_a_backup_of_a_rewritten_history_names_the_break_and_exits_1(places: Places) -> None:
    source = places.new("source.db")
    (first, *_) = create_proposals(source, 2)
    with tampering(source) as conn:
        conn.execute(text("UPDATE events SET comment = 'rewritten' WHERE seq = 1 AND proposal_pk = "
                          "(SELECT pk FROM proposals WHERE id = :id)"), {"id": first})
    file = places.backup_file()
    result = flowengine("db", "backup", str(file), "--db", source)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[1].startswith(f"{first}: event 1: ")
    assert result.stdout.splitlines()[-1] == "audit: 2 proposals, 2 events checked: 1 damaged proposal, " \
                                             "0 altered definitions"
    assert file.exists()  # what the database held, kept as evidence


def test_a_file_that_is_no_backup_is_refused(places: Places, tmp_path: Path) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("not a backup", encoding="utf-8")
    result = flowengine("db", "restore", str(other), "--db", places.new("restored.db"))
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"error: {other} is not a flowengine backup: neither a SQLite file nor "
                                     "pg_dump's custom format")


def test_a_backup_restores_only_into_its_own_kind_of_database(places: Places, tmp_path: Path) -> None:
    other = tmp_path / ("sqlite.db" if ON_POSTGRESQL else "dump.pgdump")
    other.write_bytes(b"SQLite format 3\x00" if ON_POSTGRESQL else b"PGDMP\x01\x0e")
    result = flowengine("db", "restore", str(other), "--db", places.new("restored.db"))
    assert result.exit_code == 1
    kind = "sqlite" if ON_POSTGRESQL else "postgresql"
    assert f"is a {kind} backup" in result.stderr and f"restore it into a {kind} database" in result.stderr


def test_there_is_nothing_to_back_up_where_no_database_is(tmp_path: Path) -> None:
    missing = tmp_path / "never.db"
    result = flowengine("db", "backup", str(tmp_path / "b.db"), "--db", str(missing))
    assert result.exit_code == 1 and f"there is no database at {missing}" in result.stderr
    assert not missing.exists()
    empty = tmp_path / "empty.db"
    empty.touch()
    result = flowengine("db", "backup", str(tmp_path / "b.db"), "--db", str(empty))
    assert result.exit_code == 1 and "there is no flowengine database at" in result.stderr


@pytest.mark.postgresql_only
def test_without_pg_dump_a_backup_says_what_to_install(places: Places) -> None:
    source = places.new("source.db")
    create_proposals(source, 1)
    file = places.backup_file()
    result = flowengine("db", "backup", str(file), "--db", source, env={"PATH": str(places.folder)})
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: pg_dump is not installed, and a PostgreSQL backup is pg_dump's work: install the PostgreSQL client "
        "tools of the server's major version or newer (Debian: apt-get install postgresql-client)")
    assert not file.exists()
