"""A write that the database rolls back because of concurrent writers is run again whole, a
few times, and then reported as one clear error that says nothing was written.

On PostgreSQL the failures are real ones, provoked deterministically on the real server: a
database whose administrator chose REPEATABLE READ, where another client changes the row
between flowengine's read and its write (a serialization failure, SQLSTATE 40001), and two
writers taking two row locks in opposite order, held at a barrier until both hold their first
(a deadlock, 40P01). On SQLite the lock held by another connection stands in.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable
from contextlib import closing
from typing import Any

import pytest
from sqlalchemy import Connection, event, text

from flowengine.errors import StoreError
from flowengine.history.records import Actor
from flowengine.service.facade import FlowEngine
from flowengine.store import database as database_module
from flowengine.store.database import WRITE_ATTEMPTS, Database, resolve_url

from .databases import count_events, with_options
from .stress_advances import FIXED_NOW, WORKFLOW, WORKFLOW_DIR

PANEL = Actor("pia", "panel")
WAIT_SECONDS = 60.0  # a bound on every wait for the other thread, never a timing


def open_engine(target: str) -> FlowEngine:
    return FlowEngine.open(target, workflow_dirs=[WORKFLOW_DIR], clock=lambda: FIXED_NOW)


def create(target: str, count: int) -> list[str]:
    with open_engine(target) as flow:
        return [flow.new_proposal(WORKFLOW, title=f"Proposal {n}", actor=PANEL).proposal.id
                for n in range(1, count + 1)]


class Interloper:
    """Another client that commits an update of the proposal rows (same values, new row versions)
    just before each of flowengine's first ``times`` UPDATEs of one: under REPEATABLE READ those
    UPDATEs then fail to serialize."""

    def __init__(self, flow: FlowEngine, target: str, times: int) -> None:
        self.other = Database(resolve_url(target))
        self.times = times
        self.updates = 0  # flowengine's UPDATEs of a proposal row, one per attempt
        event.listen(flow.database.engine, "before_cursor_execute", self._before)

    def _before(self, _conn: Connection, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        said = " ".join(statement.split()).upper()  # a step's write on PostgreSQL updates the row in a WITH clause
        if not (said.startswith("UPDATE PROPOSALS") or said.startswith("WITH MOVED AS (UPDATE PROPOSALS")):
            return
        self.updates += 1
        if self.updates <= self.times:
            with self.other.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("UPDATE proposals SET title = title"))  # a new row version, same content

    def close(self) -> None:
        self.other.dispose()


@pytest.fixture
def repeatable_read(db_target: str) -> str:
    """The test database, reached with REPEATABLE READ as the default isolation level, as an
    administrator may choose for a database or a role (here through the connection's options)."""
    return with_options(db_target, "-cdefault_transaction_isolation=repeatable\\ read")


@pytest.mark.postgresql_only
def test_a_serialization_failure_is_run_again_and_the_step_is_written(repeatable_read: str) -> None:
    (pid,) = create(repeatable_read, 1)
    with open_engine(repeatable_read) as flow:
        with flow.database.read() as conn:
            assert conn.execute(text("SHOW transaction_isolation")).scalar() == "repeatable read"
        interloper = Interloper(flow, repeatable_read, times=2)
        try:
            step = flow.advance(pid, "ping", actor=PANEL, comment="over to the council")
        finally:
            interloper.close()
        assert interloper.updates == 3  # two attempts rolled back, the third written
        proposal, events = flow.history(pid)
        assert [e.trigger for e in events] == [None, "ping"] and events[-1] == step.event
        assert proposal.version == 2
        assert flow.verify().ok


@pytest.mark.postgresql_only
def test_serialization_failures_every_time_give_one_line_and_write_nothing(repeatable_read: str) -> None:
    (pid,) = create(repeatable_read, 1)
    with open_engine(repeatable_read) as flow:
        before = flow.history(pid)[1]
        interloper = Interloper(flow, repeatable_read, times=WRITE_ATTEMPTS)
        try:
            with pytest.raises(StoreError) as failed:
                flow.advance(pid, "ping", actor=PANEL)
        finally:
            interloper.close()
        assert interloper.updates == WRITE_ATTEMPTS
        message = str(failed.value)
        assert "\n" not in message
        assert re.fullmatch(
            rf"the advance in \S+ gave up after {WRITE_ATTEMPTS} attempts in [\d.]+ s, each rolled back because of "
            r"concurrent writers \(serialization failure: could not serialize access due to concurrent update\); "
            r"nothing was written — try again", message), message
        assert flow.history(pid)[1] == before
        assert flow.standing(pid).proposal.version == 1
    assert count_events(repeatable_read) == 1


def lock_in_order(first: str, second: str, barrier: threading.Barrier, calls: list[str],
                  name: str) -> Callable[[Connection], str]:
    """A write that locks two proposal rows in the given order; on its first run it waits, holding
    the first lock, until the other writer holds its own first lock too."""

    def work(conn: Connection) -> str:
        calls.append(name)
        conn.execute(text("UPDATE proposals SET title = title WHERE id = :id"), {"id": first})
        if calls.count(name) == 1:
            barrier.wait(WAIT_SECONDS)
        conn.execute(text("UPDATE proposals SET title = title WHERE id = :id"), {"id": second})
        return name

    return work


@pytest.mark.postgresql_only
def test_a_deadlock_is_run_again_and_both_writers_finish(db_target: str) -> None:
    one, two = create(db_target, 2)
    barrier = threading.Barrier(2)
    calls: list[str] = []
    results: dict[str, object] = {}

    def write(name: str, work: Callable[[Connection], str]) -> None:
        with Database(resolve_url(db_target)) as database:
            try:
                results[name] = database.run_write(work, operation="test write")
            except Exception as error:  # reported below
                results[name] = error

    writers = [threading.Thread(target=write, args=(name, lock_in_order(first, second, barrier, calls, name)))
               for name, first, second in (("forward", one, two), ("backward", two, one))]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(WAIT_SECONDS)
    assert not any(writer.is_alive() for writer in writers)
    assert results == {"forward": "forward", "backward": "backward"}
    victim = calls[-1]  # the writer the server rolled back ran again; the other ran once
    assert len(calls) == 3 and calls.count(victim) == 2


@pytest.mark.sqlite_only
def test_a_sqlite_file_locked_for_longer_than_the_busy_timeout_gives_one_line_and_writes_nothing(
        db_target: str, monkeypatch: pytest.MonkeyPatch) -> None:
    (pid,) = create(db_target, 1)
    monkeypatch.setattr(database_module, "BUSY_TIMEOUT_SECONDS", 0.2)
    with open_engine(db_target) as flow, closing(sqlite3.connect(db_target, isolation_level=None)) as holder:
        holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock throughout
        with pytest.raises(StoreError) as failed:
            flow.advance(pid, "ping", actor=PANEL)
        holder.execute("ROLLBACK")
        message = str(failed.value)
        assert "\n" not in message
        assert re.fullmatch(r"the advance in \S+ gave up after (1 attempt in [\d.]+ s,|\d+ attempts in [\d.]+ s, each) "
                            r"rolled back because of concurrent writers \(database is locked\); nothing was written — "
                            r"try again",
                            message), message
        assert flow.standing(pid).proposal.version == 1
    assert count_events(db_target) == 1


def test_work_is_run_once_when_nothing_gets_in_its_way(db_target: str) -> None:
    create(db_target, 1)
    runs: list[int] = []

    def work(conn: Connection) -> int:
        runs.append(1)
        return int(conn.execute(text("SELECT count(*) FROM proposals")).scalar_one())

    with Database(resolve_url(db_target)) as database:
        assert database.run_write(work) == 1
    assert runs == [1]

