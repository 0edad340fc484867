"""A step on PostgreSQL costs two statements: one read, one write (issue 20).

Counted on the real server, as a login in ``flowengine_users`` (row-level security on) in a
database made for real use (the event trigger holds the recorded time to ``now()``), two ways:
every statement announced to SQLAlchemy's listeners (its ``before_cursor_execute`` event, which
the driver path fires too) with the transaction's ``BEGIN`` and ``COMMIT`` (its ``begin`` and
``commit`` events); and the round trips themselves, read from libpq's trace of the connection's
protocol messages: each answer that ends with the server's ``ReadyForQuery`` is one."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from flowengine import engine as engines
from flowengine.errors import ConflictError, NotFound
from flowengine.history.records import Actor
from flowengine.service.facade import FlowEngine

from .access_support import Place, member_logins, municipal_workflows

pytestmark = pytest.mark.postgresql_only

LEADER = "project_leader"


class RoundTrips:
    """The round trips an engine's database is sent, by their first words."""

    def __init__(self, flow: FlowEngine) -> None:
        self.sent: list[str] = []
        engine = flow.database.engine
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "begin", lambda _conn: self.sent.append("BEGIN"))
        event.listen(engine, "commit", lambda _conn: self.sent.append("COMMIT"))

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        self.sent.append(" ".join(statement.split()[:2]).upper())

    def take(self) -> list[str]:
        sent, self.sent = self.sent, []
        return sent


TWO_STATEMENTS = ["BEGIN", "SELECT PROPOSALS.PK,", "WITH MOVED", "COMMIT"]


def exchanges(flow: FlowEngine, tmp_path: Path, step: Callable[[], object]) -> list[list[str]]:
    """The round trips ``step`` makes on the engine's write connection (the thread keeps it
    between transactions), each as the commands the server says it completed."""
    from psycopg import pq

    with flow.database.write() as conn:  # nothing sent: the kept connection, to trace
        pgconn = conn.connection.driver_connection.pgconn  # type: ignore[union-attr]
    trace = tmp_path / "libpq.trace"
    with trace.open("w") as out:
        pgconn.trace(out.fileno())
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            step()
        finally:
            pgconn.untrace()
    trips: list[list[str]] = [[]]
    for line in trace.read_text(encoding="utf-8").splitlines():
        direction, _length, message, *rest = [*line.split("\t"), "", ""]  # a statement's text runs over lines
        if direction == "F" and message == "Parse" and not rest[0].strip().startswith('""'):
            trips[-1].append("PREPARE")  # a named statement prepared on the server, once per connection
        elif direction == "B" and message == "CommandComplete":
            trips[-1].append(rest[0].strip().strip('"'))
        elif direction == "B" and message == "ReadyForQuery":
            trips.append([])
    assert trips[-1] == []  # every message answered
    return trips[:-1]


@pytest.fixture
def place(db_target: str, tmp_path: Path) -> Iterator[Place]:
    folder = municipal_workflows(tmp_path)
    login = f"melhus_steps_{os.getpid()}"
    with FlowEngine.open(db_target, workflow_dirs=[folder]) as admin:  # made for real use: the database's clock
        for n in range(3):
            admin.new_proposal("melhus", title=f"Proposal {n}", actor=Actor("leader", LEADER))
        admin.new_proposal("trondheim", title="Hub at Byåsen", actor=Actor("leader", LEADER))
        admin.grant(login, [LEADER], ["melhus"])
    with member_logins([login]):
        yield Place(db_target, folder, {"melhus": login})


def test_a_step_of_a_member_login_is_one_read_and_one_write(place: Place) -> None:
    login = place.logins["melhus"]
    me = Actor(login, LEADER)
    with place.engine("melhus") as flow:
        flow.note("MEL-1", "warming up", actor=me)  # the definition is built once per process
        trips = RoundTrips(flow)
        sent = flow.advance("MEL-1", "send", actor=me)
        assert trips.take() == TWO_STATEMENTS
        flow.note("MEL-2", "seen", actor=me)
        assert trips.take() == TWO_STATEMENTS
        keyed = flow.note("MEL-3", "once", actor=me, idempotency_key="note-mel-3")
        assert trips.take() == TWO_STATEMENTS
        assert flow.note("MEL-3", "once", actor=me, idempotency_key="note-mel-3").repeated
        trips.take()
        report = flow.verify()
    # sealed with the login and the transaction's time, which the server's trigger accepted
    assert sent.event.login == login and sent.event.recorded_at is not None
    assert keyed.event.recorded_at is not None and report.ok


def test_a_step_of_a_member_login_goes_to_the_server_twice(place: Place, tmp_path: Path) -> None:
    """flowengine's BEGIN with the read in one simple query, and the write with the COMMIT in one
    pipeline (the write connection is in autocommit: psycopg sends no BEGIN of its own); the read
    as the engine's first of the process, with the definition along, as well (its statement
    prepared on the connection the first time, a round trip once)."""
    me = Actor(place.logins["melhus"], LEADER)
    with place.engine("melhus") as flow:
        flow.note("MEL-1", "warming up", actor=me)
        trips = exchanges(flow, tmp_path, lambda: flow.advance("MEL-1", "send", actor=me))
        assert trips == [["BEGIN", "SELECT 1"], ["SELECT 1", "COMMIT"]]
        trips = exchanges(flow, tmp_path, lambda: flow.note("MEL-2", "seen", actor=me, idempotency_key="n-2"))
        assert trips == [["BEGIN", "SELECT 1"], ["SELECT 1", "COMMIT"]]
        engines._CACHE.clear()  # as in a new process: the read asks for the definition too
        trips = exchanges(flow, tmp_path, lambda: flow.note("MEL-3", "fresh", actor=me))
        # that read is a statement of its own, prepared on this connection first (once)
        assert trips == [["PREPARE"], ["BEGIN", "SELECT 1"], ["SELECT 1", "COMMIT"]]
        engines._CACHE.clear()
        trips = exchanges(flow, tmp_path, lambda: flow.note("MEL-3", "again", actor=me))
        assert trips == [["BEGIN", "SELECT 1"], ["SELECT 1", "COMMIT"]]
        assert [e.kind for e in flow.history("MEL-2")[1]] == ["created", "noted"]
        assert [e.comment for e in flow.history("MEL-3")[1]] == ["", "fresh", "again"]


def test_a_first_step_in_a_process_reads_its_definition_along(place: Place,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    me = Actor(place.logins["melhus"], LEADER)
    monkeypatch.setattr(engines, "_CACHE", {})  # a new process: nothing built yet
    with place.engine("melhus") as flow:
        trips = RoundTrips(flow)
        flow.advance("MEL-1", "send", actor=me)
        assert trips.take() == TWO_STATEMENTS


def test_a_proposal_out_of_the_logins_sight_is_not_found(place: Place) -> None:
    me = Actor(place.logins["melhus"], LEADER)
    with place.engine("melhus") as flow, pytest.raises(NotFound):
        flow.advance("TRD-1", "send", actor=me)


def test_a_writer_that_moved_the_row_between_read_and_write_wins_and_the_other_writes_nothing(
        place: Place) -> None:
    me = Actor(place.logins["melhus"], LEADER)
    overtaken: list[str] = []
    with place.engine("melhus") as slow, place.engine("melhus") as quick:
        def overtake(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
            if statement.lstrip().upper().startswith("WITH MOVED") and not overtaken:
                overtaken.append(quick.note("MEL-1", "first", actor=me).event.kind)  # committed before it runs

        event.listen(slow.database.engine, "before_cursor_execute", overtake)
        with pytest.raises(ConflictError, match=f"MEL-1 was changed by {me.name}"):
            slow.advance("MEL-1", "send", actor=me)
        _, events = slow.history("MEL-1")
    assert overtaken == ["noted"] and [e.kind for e in events] == ["created", "noted"]


def test_an_error_between_the_read_and_the_write_rolls_the_step_back(place: Place, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The transaction flowengine began with the read is rolled back on the server (the write
    connection is in autocommit: nothing else would end it), and the connection handed back to
    the pool is out of autocommit again, so a reader that gets it reads in one transaction."""
    from psycopg import pq

    from flowengine.service import steps

    me = Actor(place.logins["melhus"], LEADER)
    with place.engine("melhus") as flow:
        flow.note("MEL-1", "warming up", actor=me)
        with flow.database.write() as conn:
            driver = conn.connection.driver_connection
        assert driver is not None and driver.autocommit

        def broken(*_args: Any, **_kwargs: Any) -> None:
            raise RuntimeError("the event could not be built")

        monkeypatch.setattr(steps, "next_event", broken)
        with pytest.raises(RuntimeError, match="could not be built"):
            exchanges(flow, tmp_path, lambda: flow.advance("MEL-1", "send", actor=me))
        trace = (tmp_path / "libpq.trace").read_text(encoding="utf-8")
        completed = [line.split("\t")[3].strip().strip('"') for line in trace.splitlines()
                     if line.split("\t")[:3:2] == ["B", "CommandComplete"]]
        # (psycopg then forgets what it prepared in the transaction: DEALLOCATE ALL)
        assert completed[:3] == ["BEGIN", "SELECT 1", "ROLLBACK"] and completed.count("SELECT 1") == 1  # no write
        assert driver.info.transaction_status == pq.TransactionStatus.IDLE and not driver.autocommit
        monkeypatch.undo()
        assert flow.standing("MEL-1").proposal.state == "draft"  # nothing of it was written
        assert flow.advance("MEL-1", "send", actor=me).proposal.state == "political_review"
        assert [e.kind for e in flow.history("MEL-1")[1]] == ["created", "noted", "advanced"]


def test_a_write_the_server_refuses_ends_its_round_trip_and_leaves_the_connection_usable(
        place: Place, monkeypatch: pytest.MonkeyPatch) -> None:
    """The write and its COMMIT go out together; when the server refuses the write (here the event
    trigger: an event recorded under another login), it skips the COMMIT, the step fails with the
    server's reason, nothing is written, and the connection is out of libpq's pipeline mode, out of
    the failed transaction, and takes the next step."""
    import dataclasses

    from psycopg import pq

    from flowengine.errors import StoreError
    from flowengine.service import steps

    me = Actor(place.logins["melhus"], LEADER)
    with place.engine("melhus") as flow:
        flow.note("MEL-1", "warming up", actor=me)
        real = steps.next_event

        def forged(*args: Any, **kwargs: Any) -> Any:
            return dataclasses.replace(real(*args, **kwargs), login="postgres")

        monkeypatch.setattr(steps, "next_event", forged)
        with pytest.raises(StoreError, match="may not record a step as login postgres"):
            flow.advance("MEL-1", "send", actor=me)
        monkeypatch.undo()
        with flow.database.write() as conn:
            driver = conn.connection.driver_connection
            assert driver is not None and driver.pgconn.pipeline_status == pq.PipelineStatus.OFF
        assert driver.info.transaction_status == pq.TransactionStatus.IDLE
        assert flow.standing("MEL-1").proposal.state == "draft"
        assert flow.advance("MEL-1", "send", actor=me).proposal.state == "political_review"
        assert [e.kind for e in flow.history("MEL-1")[1]] == ["created", "noted", "advanced"]


def test_a_write_whose_first_statement_is_not_a_steps_read_is_still_one_transaction(place: Place) -> None:
    """Any other statement sends the owed BEGIN before itself: two statements see one
    transaction, and an error after them leaves nothing behind."""
    with FlowEngine.open(place.admin, workflow_dirs=[place.folder]) as admin:
        with pytest.raises(RuntimeError), admin.database.write() as conn:
            first = conn.execute(text("SELECT pg_current_xact_id()")).scalar_one()
            conn.execute(text("INSERT INTO settings (name, value) VALUES ('probe', 'written')"))
            assert conn.execute(text("SELECT pg_current_xact_id()")).scalar_one() == first
            raise RuntimeError("given up")
        with admin.database.write() as conn:  # a new connection of the pool, in autocommit as well
            assert conn.execute(text("SELECT count(*) FROM settings WHERE name = 'probe'")).scalar_one() == 0
            conn.execute(text("INSERT INTO settings (name, value) VALUES ('probe', 'kept')"))
        with admin.database.read() as conn:
            assert conn.execute(text("SELECT value FROM settings WHERE name = 'probe'")).scalar_one() == "kept"
        with admin.database.write() as conn:
            conn.execute(text("DELETE FROM settings WHERE name = 'probe'"))


def test_a_read_prepared_on_the_server_but_forgotten_here_is_taken_as_prepared(place: Place, tmp_path: Path) -> None:
    """After a rollback flowengine forgets what it prepared (psycopg may have deallocated it);
    where the server still holds it, preparing it again is answered "already exists", which is
    the same statement under the same name: the step goes on."""
    from flowengine.store.driver import PREPARED

    me = Actor(place.logins["melhus"], LEADER)
    with place.engine("melhus") as flow:
        flow.note("MEL-1", "warming up", actor=me)
        with flow.database.write() as conn:
            assert conn.info.pop(PREPARED)  # forgotten here; still on the server
        trips = exchanges(flow, tmp_path, lambda: flow.advance("MEL-1", "send", actor=me))
        # the PREPAREs (the read's, and the writes' along) answered with an error; which of them
        # the server holds (all three); then the step
        assert trips == [[], ["SELECT 3"], ["BEGIN", "SELECT 1"], ["SELECT 1", "COMMIT"]]
        assert flow.standing("MEL-1").proposal.state == "political_review"


def test_a_read_deallocated_behind_flowengines_back_is_prepared_again(place: Place) -> None:
    """psycopg deallocates every prepared statement of a connection once a statement there drops
    or alters something (or says DEALLOCATE ALL): the step's first read then finds its statement
    gone, begins again with it prepared afresh, and the step is taken once."""
    me = Actor(place.logins["melhus"], LEADER)
    with place.engine("melhus") as flow:
        flow.note("MEL-1", "warming up", actor=me)
        with flow.database.write() as conn:
            conn.exec_driver_sql("DEALLOCATE ALL")
        assert flow.advance("MEL-1", "send", actor=me).proposal.state == "political_review"
        assert [e.kind for e in flow.history("MEL-1")[1]] == ["created", "noted", "advanced"]


def test_a_write_transaction_of_a_held_snapshot_sees_that_snapshot(place: Place) -> None:
    """A backup's snapshot sets every transaction of its database to it as the transaction
    begins; on a write connection (in autocommit) that is where flowengine's BEGIN goes first."""
    from flowengine.store.backup import snapshot

    with FlowEngine.open(place.admin, workflow_dirs=[place.folder]) as admin:
        with snapshot(admin.database) as (_exported, frozen):
            admin.new_proposal("melhus", title="After the snapshot", actor=Actor("leader", LEADER))
            with frozen.write() as conn:
                assert conn.execute(text("SHOW transaction_isolation")).scalar_one() == "repeatable read"
                assert conn.execute(text("SELECT count(*) FROM proposals")).scalar_one() == 4
        with admin.database.read() as conn:
            assert conn.execute(text("SELECT count(*) FROM proposals")).scalar_one() == 5
