"""A bulk load of a new database (store/bulkload.py): the rows it stores are exactly those the
import's path stores, the indexes, keys, constraints and triggers it sets aside are all back
afterwards, a failed load leaves the database as it was, and a database in use is refused."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, text

from flowengine.errors import StoreError
from flowengine.store import migrate, queries
from flowengine.store.bulk import BulkWriter
from flowengine.store.bulkload import loading, prepare
from flowengine.store.database import Database, resolve_url

from .databases import DatabaseTargets
from .test_bulk import DEFINITION, T0, _case


def _cases(start: int) -> list[Any]:
    found = [_case(number, T0 + timedelta(hours=number)) for number in range(start, start + 3)]
    # COPY's text format escapes backslash, tab, newline and carriage return: all of them in one title
    proposal, events, iso = found[0]
    found[0] = ((*proposal[:5], "Tab\there, a new\nline, back\\slash\r", *proposal[6:]), events, iso)
    return found


def _new(target: str) -> Database:
    database = Database(resolve_url(target))
    migrate.ensure_schema(database)
    with database.write() as conn:
        queries.insert_definition(conn, content_hash=DEFINITION, workflow="innovation-chain", version="1",
                                  source="innovation-chain.yaml", text="id: innovation-chain\n", at=T0)
    return database


def _stored(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {table: [tuple(row) for row in conn.execute(text(f"SELECT * FROM {table} ORDER BY pk"))]
            for table in ("proposals", "events")}


def _schema(conn: Connection) -> list[tuple[Any, ...]]:
    """Every index, constraint and trigger of the two tables, and whether each trigger is on."""
    if conn.dialect.name == "sqlite":
        return [tuple(row) for row in conn.execute(text(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE tbl_name IN ('proposals', 'events') "
            "ORDER BY type, name"))]
    return [tuple(row) for row in conn.execute(text("""
        SELECT 'index', indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index
        WHERE indrelid IN ('proposals'::regclass, 'events'::regclass)
        UNION ALL SELECT 'constraint', conname, pg_get_constraintdef(oid) FROM pg_constraint
        WHERE conrelid IN ('proposals'::regclass, 'events'::regclass)
        UNION ALL SELECT 'trigger', tgname, tgenabled::text FROM pg_trigger
        WHERE tgrelid IN ('proposals'::regclass, 'events'::regclass) AND NOT tgisinternal
        UNION ALL SELECT 'rls', relname::text, relrowsecurity::text FROM pg_class
        WHERE oid IN ('proposals'::regclass, 'events'::regclass)
        ORDER BY 1, 2"""))]


def test_a_load_stores_exactly_what_an_import_stores_and_leaves_the_schema_as_it_was(
        tmp_path: Path, database_targets: DatabaseTargets) -> None:
    loaded, imported = database_targets.new(tmp_path, "loaded.db"), database_targets.new(tmp_path, "imported.db")
    try:
        with _new(loaded) as database:
            with database.read() as conn:
                before = _schema(conn)
            with loading(database) as loader:
                for start in (1, 4):  # two batches: the second's keys follow the first's
                    batch = _cases(start)
                    loader.write([(proposal, events) for proposal, events, _ in batch], iso=[i for *_, i in batch])
            assert (loader.proposals, loader.events) == (6, 12)
            with database.read() as conn:
                assert _schema(conn) == before
                stored = _stored(conn)
        with _new(imported) as database:
            with database.write() as conn:
                writer = BulkWriter(conn)
                for start in (1, 4):
                    batch = _cases(start)
                    writer.write([(proposal, events) for proposal, events, _ in batch], iso=[i for *_, i in batch])
            with database.read() as conn:
                assert _stored(conn) == stored
        assert stored["proposals"][0][6] == "Tab\there, a new\nline, back\\slash\r"
    finally:
        database_targets.drop(loaded)
        database_targets.drop(imported)


def test_the_next_key_follows_the_loaded_ones(db_target: str) -> None:
    with _new(db_target) as database:
        with loading(database) as loader:
            batch = _cases(1)
            loader.write([(proposal, events) for proposal, events, _ in batch], iso=[i for *_, i in batch])
        with database.write() as conn:
            writer = BulkWriter(conn)  # an ordinary write after the load: keys from the sequence
            batch = _cases(4)
            writer.write([(proposal, events) for proposal, events, _ in batch], iso=[i for *_, i in batch])
        with database.read() as conn:
            assert [row[0] for row in conn.execute(text("SELECT pk FROM proposals ORDER BY pk"))] == [1, 2, 3, 4, 5, 6]
            assert len({row[0] for row in conn.execute(text("SELECT pk FROM events"))}) == 12


def test_a_failed_load_leaves_the_database_as_it_was(db_target: str) -> None:
    with _new(db_target) as database:
        with database.read() as conn:
            before = _schema(conn)
        batch = _cases(1)
        with pytest.raises(RuntimeError, match="the generator failed"), loading(database) as loader:
            loader.write([(proposal, events) for proposal, events, _ in batch], iso=[i for *_, i in batch])
            raise RuntimeError("the generator failed")
        with database.read() as conn:
            assert _schema(conn) == before
            assert _stored(conn) == {"proposals": [], "events": []}


def test_a_database_holding_proposals_is_refused_and_kept(db_target: str) -> None:
    with _new(db_target) as database:
        batch = _cases(1)
        with loading(database) as loader:
            loader.write([(proposal, events) for proposal, events, _ in batch], iso=[i for *_, i in batch])
        with pytest.raises(StoreError, match="already holds proposals"), loading(database):
            pass
        with database.read() as conn:
            assert len(_stored(conn)["events"]) == 6


def test_prepared_rows_are_plain_data_another_process_can_send() -> None:
    import pickle

    batch = _cases(1)
    for dialect in ("sqlite", "postgresql"):
        rows = prepare(dialect, [(proposal, events) for proposal, events, _ in batch], [i for *_, i in batch], 1)
        assert (rows.proposals, rows.events) == (3, 6)
        assert pickle.loads(pickle.dumps(rows)) == rows
