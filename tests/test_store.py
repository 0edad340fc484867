"""The database: the migration creates exactly the tables the code uses, a new database is set
up on first use, SQLite runs in WAL mode with foreign keys, a shared PostgreSQL database is never
upgraded behind its users' backs, and anything that is not our database is refused with a
StoreError that says what to do (never a traceback)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flowengine_cli.remedies import hint
from sqlalchemy import Table, inspect, text

from flowengine.errors import Remedy, StoreError
from flowengine.service.facade import FlowEngine
from flowengine.store import migrate, titles
from flowengine.store.database import Database, default_database_path, resolve_url
from flowengine.store.schema import SCHEMA_HEAD, metadata

from . import sealing_oracle as oracle
from .databases import tampering, untouched
from .stress_advances import create_proposals


@pytest.fixture
def database(db_target: str) -> Iterator[Database]:
    db = Database(resolve_url(db_target))
    migrate.ensure_schema(db)
    yield db
    db.dispose()


def test_the_schema_head_is_the_newest_migration() -> None:
    assert migrate.head_revision() == SCHEMA_HEAD
    assert SCHEMA_HEAD in migrate.known_revisions()


def _unique_sets(table: Table) -> set[frozenset[str]]:
    from sqlalchemy import UniqueConstraint

    found = {frozenset(c.name for c in constraint.columns)
             for constraint in table.constraints if isinstance(constraint, UniqueConstraint)}
    return found | {frozenset([column.name]) for column in table.columns if column.unique}


def _described(table: Table) -> dict[str, Any]:
    return {
        "columns": {c.name: c.nullable for c in table.columns},
        "primary key": {c.name for c in table.primary_key.columns},
        "unique": _unique_sets(table),
        "foreign keys": {(fk.parent.name, fk.column.table.name, fk.column.name) for fk in table.foreign_keys},
        "indexes": {(i.name, tuple(c.name for c in i.columns)) for i in table.indexes},
    }


def test_the_migration_creates_exactly_the_tables_of_the_schema(database: Database) -> None:
    inspector = inspect(database.engine)
    # on SQLite migration 0014's trigram table of the titles and FTS5's own tables behind it
    fts = {titles.FTS, *(f"{titles.FTS}_{part}" for part in ("data", "idx", "docsize", "config"))}
    assert set(inspector.get_table_names()) - fts == set(metadata.tables) | {"alembic_version"}
    for name, table in metadata.tables.items():
        wanted = _described(table)
        columns = inspector.get_columns(name)
        got = {
            "columns": {c["name"]: c["nullable"] for c in columns},
            "primary key": set(inspector.get_pk_constraint(name)["constrained_columns"]),
            "unique": {frozenset(u["column_names"]) for u in inspector.get_unique_constraints(name)},
            "foreign keys": {(col, fk["referred_table"], ref)
                             for fk in inspector.get_foreign_keys(name)
                             for col, ref in zip(fk["constrained_columns"], fk["referred_columns"], strict=True)},
            "indexes": {(i["name"], tuple(i["column_names"])) for i in inspector.get_indexes(name)
                        # PostgreSQL lists a unique constraint's own index; migration 0012's trigram
                        # index of lower(title) is PostgreSQL's alone, where pg_trgm could be had
                        if not i.get("duplicates_constraint") and i["name"] != "ix_proposals_title_trgm"},
        }
        for pk in got["primary key"]:  # SQLite reports primary keys as nullable; the schema does not
            got["columns"][pk] = False
        assert got == wanted, name
        assert [c["name"] for c in columns] == list(table.columns.keys()), name  # same order too


@pytest.mark.sqlite_only
def test_the_events_table_is_append_only(database: Database) -> None:
    with database.read() as conn:
        triggers = set(conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())
    assert triggers == {"events_no_update", "events_no_delete", "access_log_no_update", "access_log_no_delete",
                        "erasable_no_update", *titles.FTS_TRIGGERS}  # the last keep the titles' trigram table


@pytest.mark.postgresql_only
def test_the_events_table_is_append_only_on_postgresql(database: Database, db_target: str) -> None:
    create_proposals(db_target, 1)
    with database.read() as conn:
        triggers = set(conn.execute(text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'events'::regclass "
                                         "AND NOT tgisinternal")).scalars())
    assert triggers == {"events_append_only", "events_who_acted"}  # the second checks who records each event
    for statement in ("UPDATE events SET comment = 'rewritten'", "DELETE FROM events"):
        with pytest.raises(StoreError, match="append-only: history cannot be changed or deleted"), \
                database.write() as conn:
            conn.execute(text(statement))


def test_a_new_database_is_created_on_first_use(db_target: str) -> None:
    assert untouched(db_target)
    with FlowEngine.open(db_target) as engine:
        assert engine.database.schema_revision() == SCHEMA_HEAD
        assert engine.proposals() == []
        assert engine.verify().ok
    assert not untouched(db_target)


def test_opening_a_current_database_again_changes_nothing(db_target: str) -> None:
    FlowEngine.open(db_target).close()
    with FlowEngine.open(db_target) as engine:
        assert engine.database.schema_revision() == SCHEMA_HEAD


@pytest.mark.sqlite_only
def test_sqlite_runs_in_wal_mode_with_foreign_keys_on(database: Database) -> None:
    with database.read() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30_000


def test_a_database_of_a_newer_flowengine_is_refused(db_target: str) -> None:
    FlowEngine.open(db_target).close()
    database = Database(resolve_url(db_target))
    with database.write() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
    database.dispose()
    with pytest.raises(StoreError, match=r"0099_from_the_future.*newer flowengine"):
        FlowEngine.open(db_target)


@pytest.mark.sqlite_only
def test_a_database_in_a_missing_folder_is_refused_naming_the_folder(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such"
    with pytest.raises(StoreError, match=re.escape(f"the folder {missing} does not exist")):
        FlowEngine.open(str(missing / "flow.db"))
    assert not missing.exists()


@pytest.mark.sqlite_only
def test_a_folder_given_as_the_database_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a folder"):
        FlowEngine.open(str(tmp_path))


@pytest.mark.sqlite_only
@pytest.mark.parametrize("content", [b"name,cost\nmeeting place,25000\n" * 20, b"\x89PNG\r\n\x1a\n" + b"\0" * 200])
def test_a_file_that_is_not_a_database_is_refused_with_a_store_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(content)
    with pytest.raises(StoreError, match="not a database"):
        FlowEngine.open(str(path))
    assert path.read_bytes() == content  # left as it was


@pytest.mark.parametrize(("url", "says"), [
    ("mysql://user@host/flow", "SQLite or PostgreSQL"),
    ("sqlite+nosuchdriver:///x.db", "cannot use the sqlite driver 'nosuchdriver'"),
    ("postgresql+psycopg3://user@host/flow", "cannot use the postgresql driver 'psycopg3'"),
])
def test_a_url_of_another_kind_of_database_is_refused(url: str, says: str) -> None:
    with pytest.raises(StoreError, match=says):
        FlowEngine.open(url)


def test_the_database_comes_from_the_environment_or_the_default_place(tmp_path: Path) -> None:
    assert resolve_url(None, {"FLOWENGINE_DB": str(tmp_path / "env.db")}) == f"sqlite:///{tmp_path / 'env.db'}"
    assert resolve_url(str(tmp_path / "given.db"), {"FLOWENGINE_DB": "elsewhere.db"}).endswith("given.db")
    assert resolve_url("postgresql+psycopg://u@h/db", {}) == "postgresql+psycopg://u@h/db"
    environ = {"XDG_DATA_HOME": str(tmp_path / "data")}
    assert default_database_path(environ) == tmp_path / "data" / "flowengine" / "flowengine.db"
    assert resolve_url(None, environ) == f"sqlite:///{tmp_path / 'data' / 'flowengine' / 'flowengine.db'}"
    assert (tmp_path / "data" / "flowengine").is_dir()  # the default folder is made when needed


def _one_revision_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend this flowengine knows a migration newer than the newest real one, so the database is behind."""
    import flowengine.store.migrate as database_module

    monkeypatch.setattr(database_module, "SCHEMA_HEAD", "0002_next")
    monkeypatch.setattr(migrate, "known_revisions", lambda: frozenset({SCHEMA_HEAD, "0002_next"}))


def test_an_older_shared_database_is_not_upgraded_behind_its_users_backs(
        db_target: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with Database(resolve_url(db_target)) as store:
        migrate.ensure_schema(store)
        _one_revision_behind(monkeypatch)
        with pytest.raises(StoreError, match=r"older than 0002_next; a shared database is brought up to date on "
                                             r"purpose \(after a backup\), never by opening it$") as refused:
            migrate.ensure_schema(store, upgrade_existing=False)
        assert refused.value.remedies == (Remedy("upgrade_schema"),)  # the command line names the command:
        assert hint(refused.value.remedies) == " (fix: flowengine db upgrade (after a backup))"


@pytest.mark.postgresql_only
def test_an_older_postgresql_database_is_left_for_db_upgrade_on_open(
        db_target: str, monkeypatch: pytest.MonkeyPatch) -> None:
    FlowEngine.open(db_target).close()
    _one_revision_behind(monkeypatch)
    monkeypatch.setattr(migrate, "upgrade", lambda db: pytest.fail("a shared database was upgraded on open"))
    with pytest.raises(StoreError, match=r"older than 0002_next; a shared database is brought up to date"):
        FlowEngine.open(db_target)


@pytest.mark.sqlite_only
def test_an_older_sqlite_file_is_upgraded_on_first_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    upgraded: list[Database] = []
    with Database(resolve_url(str(tmp_path / "own.db"))) as store:
        migrate.ensure_schema(store)
        _one_revision_behind(monkeypatch)
        monkeypatch.setattr(migrate, "upgrade", lambda db, **_: upgraded.append(db) or (SCHEMA_HEAD, "0002_next"))
        assert migrate.ensure_schema(store) == (SCHEMA_HEAD, "0002_next")
    assert upgraded == [store]


_ANALYSIS_INDEXES = {"ix_events_flow", "ix_events_commented", "ix_events_progress"}  # what 0002 adds


def _downgrade(database: Database, revision: str) -> None:
    """Take the schema back to an older revision, as a database an older flowengine made would be."""
    from alembic import command

    config = migrate._config()
    with database.write() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def _as_written_before_logins(target: str) -> None:
    """Reseal every (one-event) history as event format 1, before logins were recorded: what a
    database of schema 0001 holds (a downgrade past 0005 drops the logins the seals cover)."""
    with FlowEngine.open(target) as engine:
        histories = list(engine.histories())
    with tampering(target) as conn:
        for proposal, (event,) in histories:
            values = {k: v for k, v in vars(event).items() if k not in ("hash", "login", "recorded_at", "personal")}
            digest = oracle.event_hash(**values)
            conn.execute(text("UPDATE events SET hash = :new, login = NULL, recorded_at = NULL, personal = NULL, "
                              "actor = :actor, comment = :comment, changes = :changes WHERE hash = :old"),
                         {"new": digest, "old": event.hash, "actor": event.actor, "comment": event.comment,
                          "changes": json.dumps(event.changes)})
            conn.execute(text("UPDATE proposals SET head_hash = :new WHERE id = :id"),
                         {"new": digest, "id": proposal.id})
        conn.execute(text("DELETE FROM erasable"))


def test_an_older_database_is_really_upgraded_and_keeps_its_histories(db_target: str) -> None:
    """Not a stand-in for the migration: the real one runs on a database with data in it."""
    proposal_ids = create_proposals(db_target, 2)
    _as_written_before_logins(db_target)
    with Database(resolve_url(db_target)) as store:
        _downgrade(store, "0001_first_schema")
        assert store.schema_revision() == "0001_first_schema"
        assert not _ANALYSIS_INDEXES & {index["name"] for index in inspect(store.engine).get_indexes("events")}
        assert migrate.ensure_schema(store, upgrade_existing=True) == ("0001_first_schema", SCHEMA_HEAD)
        indexes = {index["name"] for index in inspect(store.engine).get_indexes("events")}
        assert indexes >= _ANALYSIS_INDEXES and "ix_events_from_state" not in indexes  # 0003 drops it
    with FlowEngine.open(db_target) as engine:
        assert [standing.proposal.id for standing in engine.proposals()] == proposal_ids
        report = engine.verify()
        assert report.ok and report.proposals == 2 and report.events == 2, report.as_dict()
