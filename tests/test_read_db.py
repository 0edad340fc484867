"""``--read-db`` / ``FLOWENGINE_READ_DB``: analyses, reports and exports read a replica and leave
the primary alone. On PostgreSQL the replica is a real streaming one (a second cluster following
the suite's server, tests/replica.py); on SQLite, a copy of the file stands in for it."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from flowengine.errors import StoreError
from flowengine.history.records import Actor
from flowengine.service import quick
from flowengine.service.facade import FlowEngine

from .cli_support import make_run, ok, one_error_line
from .conftest import FixedClock
from .databases import ON_POSTGRESQL, server_url
from .test_synthetic import BENCH, synthetic

NOW = synthetic.END + timedelta(days=1)
NOWHERE = "postgresql+psycopg://nobody@127.0.0.1:1/nothing" if ON_POSTGRESQL else "/nonexistent-folder/none.db"


@pytest.fixture(scope="session")
def replica() -> Iterator[Any]:
    if not ON_POSTGRESQL:
        yield None
        return
    from .replica import streaming_replica

    server = server_url()
    assert server is not None
    with streaming_replica(server) as running:
        yield running


@pytest.fixture
def primary(db_target: str) -> str:
    synthetic.write_database(db_target, synthetic.generate(90, seed=5))
    return db_target


def follow(primary: str, replica: Any, tmp_path: Path) -> str:
    """The read database, caught up with everything written to ``primary`` so far: the streaming
    replica's URL on PostgreSQL; on SQLite a fresh copy of the file."""
    if replica is not None:
        replica.catch_up(primary)
        return str(replica.url(primary))
    copy = tmp_path / f"copy-{len(list(tmp_path.glob('copy-*')))}.db"
    with sqlite3.connect(primary) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    return str(copy)


def test_stalls_report_from_the_read_database_is_the_primarys_and_never_opens_the_primary(
        primary: str, replica: Any, tmp_path: Path) -> None:
    reading = follow(primary, replica, tmp_path)
    run = make_run(primary, NOW.isoformat())
    own = json.loads(ok(run("stalls", "report", "--format", "json", "--workflows", str(BENCH))).stdout)
    read = json.loads(ok(run("stalls", "report", "--format", "json", "--workflows", str(BENCH),
                             "--read-db", reading, "--db", NOWHERE)).stdout)
    assert read == own and own
    again = json.loads(ok(run("stalls", "report", "--format", "json", "--workflows", str(BENCH), "--db", NOWHERE,
                              env={"FLOWENGINE_READ_DB": reading})).stdout)
    assert again == own


def test_stalls_diagram_reads_the_read_database_through_the_driver_and_never_the_primary(
        primary: str, replica: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reading = follow(primary, replica, tmp_path)
    run = make_run(primary, NOW.isoformat())
    own, read = tmp_path / "own.dot", tmp_path / "read.dot"
    ok(run("stalls", "diagram", synthetic.WORKFLOW_ID, "--workflows", str(BENCH), "-o", str(own)))
    ok(run("stalls", "diagram", synthetic.WORKFLOW_ID, "--workflows", str(BENCH), "--read-db", reading, "--db",
           NOWHERE, "-o", str(read)))
    assert read.read_text(encoding="utf-8") == own.read_text(encoding="utf-8")
    monkeypatch.setenv("FLOWENGINE_NOW", NOW.isoformat())
    found = quick.small_analysis(NOWHERE, synthetic.WORKFLOW_ID, workflow_dirs=[BENCH], replica=reading)
    assert found is not None and found[0].proposals == 90  # the small read, on the replica alone


def test_an_export_reads_the_read_database(primary: str, replica: Any, tmp_path: Path) -> None:
    reading = follow(primary, replica, tmp_path)
    run = make_run(primary, NOW.isoformat())
    assert ok(run("export", "--format", "csv", "--read-db", reading, "--db", NOWHERE)).stdout == \
        ok(run("export", "--format", "csv")).stdout


def test_commands_that_write_or_list_for_a_next_step_keep_to_the_primary(
        primary: str, replica: Any, tmp_path: Path) -> None:
    reading = follow(primary, replica, tmp_path)
    run = make_run(primary, NOW.isoformat())
    listed = json.loads(ok(run("proposal", "list", "--json", env={"FLOWENGINE_READ_DB": NOWHERE})).stdout)
    assert len(listed) == 50
    with FlowEngine.open_read_only(reading) as engine:
        assert len(list(engine.each_proposal())) == 90


def test_a_read_database_that_is_not_a_flowengine_database_is_one_error_line(
        primary: str, tmp_path: Path) -> None:
    run = make_run(primary, NOW.isoformat())
    missing = tmp_path / "missing.db"
    line = one_error_line(run("stalls", "report", "--read-db", str(missing)))
    assert f"there is no database at {missing}" in line
    assert not missing.exists()  # nothing created there
    empty = tmp_path / "empty.db"
    empty.touch()
    line = one_error_line(run("stalls", "report", "--read-db", str(empty)))
    assert "holds no flowengine database" in line and str(empty) in line


@pytest.mark.postgresql_only
def test_the_replica_is_a_hot_standby_that_refuses_writes_and_follows_the_primary(
        primary: str, replica: Any, tmp_path: Path) -> None:
    reading = follow(primary, replica, tmp_path)
    with FlowEngine.open_read_only(reading, clock=FixedClock(NOW)) as engine:
        with engine.database.read() as conn:
            assert conn.execute(text("SELECT pg_is_in_recovery()")).scalar_one() is True
        waiting = next(s for s in engine.each_proposal(sort="waiting"))
        with pytest.raises(StoreError):
            engine.note(waiting.proposal.id, "Heard on the replica", actor=Actor("kari", "project_leader"))
    with FlowEngine.open(primary, clock=FixedClock(NOW)) as writer:
        noted = writer.note(waiting.proposal.id, "Still waiting for the committee",
                            actor=Actor("kari", "project_leader"))
        expected = writer.analyse()
    follow(primary, replica, tmp_path)
    with FlowEngine.open_read_only(reading, clock=FixedClock(NOW)) as engine:
        assert engine.standing(waiting.proposal.id).proposal.version == noted.proposal.version
        assert repr(engine.analyse()) == repr(expected)
