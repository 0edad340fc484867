"""Several processes writing one database at once (a SQLite file, or one on a PostgreSQL
server): exactly one writer wins each race, the losers get a ConflictError that explains
itself, and the history stays a clean chain.

Every worker is a fresh interpreter (``spawn``) with its own FlowEngine, as separate
``flowengine`` commands would be. They wait for each other at a barrier and then all hammer
the same few proposals: read where a proposal stands, take the step that leads on from there,
and claim the version just read. For a longer run by hand, raise PROCESSES and
ADVANCES_PER_PROCESS below (e.g. 8 and 200), or run ``python -m tests.stress_advances``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pytest

from flowengine.history import chain
from flowengine.history.records import Event, Proposal
from flowengine.store.schema import SCHEMA_HEAD

from .databases import DatabaseTargets
from .stress_advances import (
    NEXT_STEP,
    PREFIX,
    WorkerReport,
    open_engine,
    run_advances,
    run_creations,
)

PROCESSES = 4
ADVANCES_PER_PROCESS = 50  # attempts per process: each ends as a win or a conflict
PROPOSALS = 3  # how many proposals they all fight over

CREATING_PROCESSES = 2
CREATIONS_PER_PROCESS = 3
NEW_DATABASES = 3  # rounds of the first-open race, one new file each
WRITER_HOLDS_SECONDS = 1.0  # far below the busy timeout: an opener must still be waiting then


@dataclass(frozen=True)
class Race:
    db: str
    proposal_ids: list[str]
    reports: list[WorkerReport]
    histories: dict[str, tuple[Proposal, list[Event]]]

    @property
    def wins(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for report in self.reports:
            total.update(report.wins)
        return total


@pytest.fixture(scope="module")
def race(tmp_path_factory: pytest.TempPathFactory, database_targets: DatabaseTargets) -> Iterator[Race]:
    db = database_targets.new(tmp_path_factory.mktemp("concurrency"), "race.db")
    proposal_ids, reports = run_advances(db, processes=PROCESSES, attempts=ADVANCES_PER_PROCESS,
                                         proposals=PROPOSALS)
    with open_engine(db) as engine:
        histories = {pid: engine.history(pid) for pid in proposal_ids}
    yield Race(db, proposal_ids, reports, histories)
    database_targets.drop(db)


def test_every_worker_reports_every_attempt(race: Race) -> None:
    assert [r.worker for r in race.reports] == [f"worker-{n}" for n in range(PROCESSES)]
    for report in race.reports:
        assert report.attempts == ADVANCES_PER_PROCESS
        assert sum(report.wins.values()) + len(report.losses) + len(report.failures) == report.attempts


def test_writers_fail_only_with_conflicts_never_locked_or_busy(race: Race) -> None:
    failures = [f"{r.worker}:\n{failure}" for r in race.reports for failure in r.failures]
    assert not failures, "\n".join(failures)


def test_each_proposal_has_its_creation_plus_one_event_per_win(race: Race) -> None:
    for pid in race.proposal_ids:
        proposal, events = race.histories[pid]
        assert len(events) == 1 + race.wins[pid], pid
        assert proposal.version == len(events)


def test_sequence_numbers_run_from_one_without_gaps_or_duplicates(race: Race) -> None:
    for pid in race.proposal_ids:
        seqs = [event.seq for event in race.histories[pid][1]]
        assert seqs == list(range(1, len(seqs) + 1)), pid


def test_every_step_leads_on_from_the_state_before_it(race: Race) -> None:
    for pid in race.proposal_ids:
        events = race.histories[pid][1]
        for before, after in pairwise(events):
            assert after.from_state == before.to_state
            assert after.trigger == NEXT_STEP[before.to_state][0]


def test_conflict_message_names_proposal_changer_and_state_and_says_nothing_written(race: Race) -> None:
    losses = [loss for r in race.reports for loss in r.losses]
    for loss in losses:
        assert loss.message.startswith(f"{loss.proposal} was changed by {loss.actor} ({loss.role}) at ")
        assert f"is now in {loss.state}; nothing was written" in loss.message
        assert loss.actor.startswith("worker-")
        assert loss.state in NEXT_STEP


def test_conflict_names_someone_else_who_stepped_after_the_losers_read(race: Race) -> None:
    for report in race.reports:
        for loss in report.losses:
            assert loss.actor != report.worker
            later = [(e.actor, e.role, e.to_state) for e in race.histories[loss.proposal][1]
                     if e.seq > loss.expected_version]
            assert (loss.actor, loss.role, loss.state) in later, loss


def test_losers_wrote_nothing(race: Race) -> None:
    keys = {e.idempotency_key for _, events in race.histories.values() for e in events if e.idempotency_key}
    written = Counter(key.rpartition("-")[0] for key in keys)
    assert written == Counter({r.worker: sum(r.wins.values()) for r in race.reports if r.wins})


def test_database_verifies_after_concurrent_advances(race: Race) -> None:
    with open_engine(race.db) as engine:
        report = engine.verify()
    assert report.ok, report.as_dict()
    assert report.proposals == PROPOSALS
    assert report.events == PROPOSALS + sum(race.wins.values())


def test_every_proposal_row_equals_the_replay_of_its_events(race: Race) -> None:
    for pid in race.proposal_ids:
        proposal, events = race.histories[pid]
        replayed = chain.replay(events)
        assert proposal.state == replayed.state
        assert (proposal.version, proposal.head_hash, proposal.fields) == (
            replayed.version, replayed.head_hash, replayed.fields)


def test_processes_creating_on_a_brand_new_database_all_succeed_with_distinct_ids(
        tmp_path: Path, database_targets: DatabaseTargets) -> None:
    dbs = [database_targets.new(tmp_path, f"new-{n}.db") for n in range(NEW_DATABASES)]
    reports = run_creations(dbs, processes=CREATING_PROCESSES, count=CREATIONS_PER_PROCESS)
    failures = [f"{r.worker}:\n{failure}" for r in reports for failure in r.failures]
    assert not failures, "\n".join(failures)
    expected = sorted(f"{PREFIX}-{n}" for n in range(1, CREATING_PROCESSES * CREATIONS_PER_PROCESS + 1))
    for db in dbs:
        created = [pid for r in reports for where, pid in r.created if where == db]
        assert sorted(created) == expected, db
        with open_engine(db) as engine:
            assert engine.database.schema_revision() == SCHEMA_HEAD
            report = engine.verify()
            assert report.ok, report.as_dict()
            assert report.proposals == len(expected)
    for db in dbs:
        database_targets.drop(db)


@pytest.mark.sqlite_only
def test_opening_a_file_another_connection_is_writing_waits_instead_of_failing(tmp_path: Path) -> None:
    """Switching a file to WAL needs an exclusive lock, and SQLite does not wait for that one by
    itself: this is the race of two first opens, with the other writer holding on for longer."""
    db = tmp_path / "busy.db"
    outcome: list[object] = []

    def open_it() -> None:
        try:
            with open_engine(db) as engine:
                outcome.append(engine.database.schema_revision())
        except Exception as error:
            outcome.append(error)

    opener = threading.Thread(target=open_it, daemon=True)
    with closing(sqlite3.connect(db, isolation_level=None)) as writer:
        writer.execute("PRAGMA user_version = 0")  # a started file, still in rollback-journal mode
        writer.execute("BEGIN IMMEDIATE")  # the write lock, held until COMMIT
        opener.start()
        opener.join(timeout=WRITER_HOLDS_SECONDS)
        assert not outcome, f"gave up while another connection held the write lock: {outcome}"
        writer.execute("COMMIT")
    opener.join(timeout=60)
    assert outcome == [SCHEMA_HEAD]
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
