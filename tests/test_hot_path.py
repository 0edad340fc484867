"""The path every step takes, made fast without changing what it does: the driver-level
statements store and read exactly what SQLAlchemy's would, each trigger fires on the small
machine of the state it leaves, and a thread's write connection is kept between transactions but
never across a failure.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Connection

from flowengine import engine
from flowengine.definition.loader import load_workflow
from flowengine.definition.registry import bundled_dir, yaml_files
from flowengine.errors import TransitionRefused
from flowengine.history.records import Actor
from flowengine.service.facade import FlowEngine
from flowengine.store import KeyTaken, driver, queries
from flowengine.store.database import Database

from .conftest import REPO_ROOT, FixedClock

T0 = datetime(2024, 3, 1, 9, 0, 0, 123456, tzinfo=UTC)
PANEL = Actor("kari", "panel")
COUNCIL = Actor("ola", "council")
CHAIN_FILE = REPO_ROOT / "workflows" / "default" / "innovation-chain.yaml"


@pytest.fixture
def sqlalchemy_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every statement through SQLAlchemy's own execution, as before the driver path."""
    monkeypatch.setattr(queries, "_DRIVER_PATH_DIALECTS", frozenset())


def _steps(target: str) -> str:
    """A few steps with fields of every kind, a comment, an idempotency key and a microsecond clock."""
    clock = FixedClock(T0)
    with FlowEngine.open(target, clock=clock) as flow:
        pid = flow.new_proposal(str(CHAIN_FILE), title="Møteplass i sentrum", actor=PANEL,
                                fields={"summary": "Et sted å møtes \u2013 «åpent» hver dag"}).proposal.id
        clock.set(days=1, microseconds=7)
        flow.advance(pid, "send_to_council", actor=PANEL, fields={"expected_benefit": "Less isolation"},
                     idempotency_key="step-1")
        clock.set(days=2, hours=3)
        flow.advance(pid, "send_back", actor=COUNCIL, comment="Say more about the costs\nand who runs it")
        clock.set(days=3)
        flow.set_fields(pid, {"summary": "Shorter"}, actor=PANEL)
        # a whole second, a naive time (taken as UTC) and another zone's: all stored as UTC text
        flow.advance(pid, "send_to_council", actor=PANEL, at=datetime(2024, 3, 10, 12, 0, 0, tzinfo=UTC))
        flow.advance(pid, "send_back", actor=COUNCIL, comment="Again", at=datetime(2024, 3, 11, 8, 30))
        flow.advance(pid, "send_to_council", actor=PANEL,
                     at=datetime(2024, 3, 12, 9, 15, 1, 5, tzinfo=timezone(timedelta(hours=2))))
        return pid


def _rows(path: str) -> dict[str, list[tuple[object, ...]]]:
    """Every stored value with SQLite's own type of it, as another program would read the file."""
    with sqlite3.connect(path) as conn:
        return {table: [tuple((value, type(value).__name__) for value in row)
                        for row in conn.execute(f"SELECT * FROM {table} ORDER BY pk")]
                for table in ("proposals", "events")}


@pytest.mark.sqlite_only("compares two SQLite files byte for byte")
def test_steps_written_on_the_driver_path_are_stored_exactly_as_sqlalchemy_stores_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = str(tmp_path / "fast.db")
    ran: list[str] = []
    run = queries._DriverStatement.run
    monkeypatch.setattr(queries._DriverStatement, "run",
                        lambda self, conn, params: ran.append(self.sql) or run(self, conn, params))
    _steps(fast)
    assert len({sql.split()[0] for sql in ran}) == 3  # it did read, update and insert on the driver path
    monkeypatch.setattr(queries, "_DRIVER_PATH_DIALECTS", frozenset())
    engine._CACHE.clear()
    slow = str(tmp_path / "slow.db")
    _steps(slow)
    assert _rows(fast) == _rows(slow)


def test_the_driver_path_reads_the_proposal_sqlalchemy_reads(db_target: str, monkeypatch: pytest.MonkeyPatch) -> None:
    pid = _steps(db_target)
    with FlowEngine.open(db_target) as flow, flow.database.read() as conn:
        fast = queries.load_proposal(conn, pid)
        text = queries.definition_text(conn, fast[1].definition_hash) if fast else None
        monkeypatch.setattr(queries, "_DRIVER_PATH_DIALECTS", frozenset())
        assert queries.load_proposal(conn, pid) == fast
        assert fast is not None and fast[1].fields == {"summary": "Shorter", "expected_benefit": "Less isolation"}
        assert queries.definition_text(conn, fast[1].definition_hash) == text
        assert text is not None and text[0] == CHAIN_FILE.read_text(encoding="utf-8")
        assert queries.load_proposal(conn, "INN-999") is None
        assert queries.definition_text(conn, "0" * 64) is None


def test_a_statement_outside_a_transaction_begins_one_as_sqlalchemy_would(db_target: str) -> None:
    pid = _steps(db_target)
    with FlowEngine.open(db_target) as flow, flow.database.engine.connect() as conn:
        assert not conn.in_transaction()
        assert queries.load_proposal(conn, pid) is not None
        assert conn.in_transaction()


def test_a_taken_unique_key_reaches_the_caller_naming_the_key(db_target: str) -> None:
    pid = _steps(db_target)
    with FlowEngine.open(db_target) as flow:
        with pytest.raises(KeyTaken) as taken, flow.database.write() as conn:
            found = queries.load_proposal(conn, pid)
            assert found is not None
            event = queries.last_event(conn, found[0])
            assert event is not None
            queries.insert_event(conn, found[0], event)  # its sequence number is taken
        assert taken.value.key == "event_seq"
        assert flow.history(pid)[1][-1] == event  # nothing was written, and the engine goes on


@pytest.mark.parametrize("path", [p for p in yaml_files(bundled_dir())
                                  if "demo" not in p.relative_to(bundled_dir()).parts], ids=lambda p: p.stem)
def test_firing_leads_where_the_workflow_declares_for_every_trigger_of_every_state(path: Path) -> None:
    workflow = load_workflow(path)
    compiled = engine.CompiledWorkflow(workflow)
    system = Actor("system", "system")
    for transition in workflow.transitions:
        fields = {name: "x" for name in transition.requires}
        for source in transition.sources:
            assert compiled.fire("P-1", source, transition.trigger, system, fields, "why",
                                 any_role=True) == transition.target


def test_a_trigger_the_machine_does_not_have_is_refused(tmp_path: Path) -> None:
    compiled = engine.CompiledWorkflow(load_workflow(CHAIN_FILE))
    with pytest.raises(TransitionRefused, match="does not lead out of panel_work"):
        compiled.fire("P-1", "panel_work", "recommend", COUNCIL, {}, "")


@pytest.fixture
def database(db_target: str) -> Iterator[Database]:
    with FlowEngine.open(db_target) as flow:
        yield flow.database


def _connection_id(conn: Connection) -> int:
    return id(conn.connection.driver_connection)


def test_a_thread_keeps_its_write_connection_between_transactions(database: Database) -> None:
    with database.write() as conn:
        first = _connection_id(conn)
    with database.write() as conn:
        assert _connection_id(conn) == first
    seen: list[int] = []

    def elsewhere() -> None:
        with database.write() as conn:
            seen.append(_connection_id(conn))

    worker = threading.Thread(target=elsewhere)
    worker.start()
    worker.join(timeout=30)
    assert seen and seen[0] != first


def test_a_thread_that_ends_gives_its_write_connection_back(database: Database) -> None:
    """More short-lived writing threads than the pool has connections (5 + 10 overflow), as a
    server with a thread per request has: each one's kept connection goes back when it ends."""
    with database.write():
        pass
    held = database.engine.pool.checkedout()

    def elsewhere() -> None:
        with database.write():
            pass

    for _ in range(20):
        worker = threading.Thread(target=elsewhere)
        worker.start()
        worker.join(timeout=60)
        assert not worker.is_alive()
        assert database.engine.pool.checkedout() == held


def test_after_a_failed_write_the_next_write_starts_on_a_fresh_connection(database: Database) -> None:
    with database.write() as conn:
        first = conn
    with pytest.raises(RuntimeError), database.write() as conn:
        assert conn.in_transaction()
        raise RuntimeError("the work failed")
    assert first.closed
    with database.write() as conn:
        assert conn is not first
        assert conn.in_transaction()


def test_closing_the_database_closes_the_kept_write_connections(database: Database) -> None:
    with database.write() as conn:
        kept = conn
    database.dispose()
    assert kept.closed
    with database.write() as conn:  # and it can still be used, as an engine can after dispose()
        assert not conn.closed


@pytest.mark.parametrize("moment", [
    datetime(2024, 3, 1, 9, 0, tzinfo=UTC), datetime(2024, 3, 1, 9, 0, 0, 1, tzinfo=UTC), datetime(2024, 3, 1, 9, 0),
    datetime(2024, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))), datetime(999, 1, 2, 3, 4, 5),
], ids=str)
def test_times_are_converted_as_sqlalchemy_converts_them_on_sqlite(moment: datetime) -> None:
    from sqlalchemy import create_engine

    from flowengine.store.schema import UTCDateTime

    dialect = create_engine("sqlite://").dialect
    kind = UTCDateTime()
    written = kind.dialect_impl(dialect).bind_processor(dialect)
    read = kind.dialect_impl(dialect).result_processor(dialect, None)
    assert written is not None and read is not None
    fast_write, fast_read = driver.bind_processor(kind, dialect), driver.result_processor(kind, dialect)
    assert fast_write is not None and fast_read is not None
    assert fast_write(moment) == written(moment)
    for text in (written(moment), "2024-03-01 09:00:00", "2024-03-01T09:00:00.5+02:00"):
        assert fast_read(text) == read(text)
        assert fast_read(text).tzinfo is UTC
