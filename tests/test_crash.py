"""A writer killed outright (SIGKILL: no clean-up, no rollback of its own) in the middle of its
steps leaves a database that verifies, whose rows equal the replay of their events, and that
takes the next step as if nothing had happened."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from flowengine.history import chain
from flowengine.history.records import Actor

from .databases import DatabaseTargets, count_events
from .stress_advances import NEXT_STEP, advance_forever, create_proposals, open_engine, spawn

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

PROPOSALS = 2
KILLS = 2  # writers killed one after the other on the same file
EVENTS_BEFORE_KILL = 30  # new events each writer must have written before it is killed
POLL_SECONDS = 0.02
POLLS = 3000  # at most a minute of waiting for a writer to get going (a bound, not a timing)


@dataclass(frozen=True)
class Killed:
    db: str
    proposal_ids: list[str]
    events_at_kill: list[int]


def kill_mid_advances(db: str, proposal_ids: list[str], name: str) -> int:
    """Start a writer that never stops, let it write EVENTS_BEFORE_KILL events, SIGKILL it while it
    is still writing; return the number of events seen just before the kill."""
    target = count_events(db) + EVENTS_BEFORE_KILL
    writer = spawn().Process(target=advance_forever, args=(db, proposal_ids, name), name=name)
    writer.start()
    try:
        seen = 0
        for _ in range(POLLS):
            seen = count_events(db)
            if seen >= target or not writer.is_alive():
                break
            time.sleep(POLL_SECONDS)
        assert writer.is_alive(), f"the writer stopped by itself (exit code {writer.exitcode})"
        assert seen >= target, f"only {seen} events after {POLLS} polls"
        assert writer.pid is not None
        os.kill(writer.pid, signal.SIGKILL)
        writer.join(timeout=60)
        assert writer.exitcode == -signal.SIGKILL
        return seen
    finally:
        if writer.is_alive():
            writer.kill()
            writer.join()


@pytest.fixture(scope="module")
def killed(tmp_path_factory: pytest.TempPathFactory, database_targets: DatabaseTargets) -> Iterator[Killed]:
    db = database_targets.new(tmp_path_factory.mktemp("crash"), "crash.db")
    proposal_ids = create_proposals(db, PROPOSALS)
    seen = [kill_mid_advances(db, proposal_ids, f"doomed-{n}") for n in range(KILLS)]
    yield Killed(db, proposal_ids, seen)
    database_targets.drop(db)


def test_killed_writers_had_written_before_they_died(killed: Killed) -> None:
    assert count_events(killed.db) >= max(killed.events_at_kill) >= PROPOSALS + KILLS * EVENTS_BEFORE_KILL


def test_database_verifies_after_writer_is_killed(killed: Killed) -> None:
    with open_engine(killed.db) as engine:
        report = engine.verify()
    assert report.ok, report.as_dict()
    assert report.proposals == PROPOSALS
    assert report.events == count_events(killed.db)


def test_every_row_equals_its_replay_after_writer_is_killed(killed: Killed) -> None:
    with open_engine(killed.db) as engine:
        for pid in killed.proposal_ids:
            proposal, events = engine.history(pid)
            replayed = chain.replay(events)
            assert [e.seq for e in events] == list(range(1, len(events) + 1))
            assert (proposal.state, proposal.version, proposal.fields, proposal.head_hash) == (
                replayed.state, replayed.version, replayed.fields, replayed.head_hash), pid
            assert proposal.state_entered_at == replayed.state_entered_at


def test_next_advance_after_writer_is_killed_is_written(killed: Killed) -> None:
    with open_engine(killed.db) as engine:
        for pid in killed.proposal_ids:
            before = engine.standing(pid).proposal
            trigger, role = NEXT_STEP[before.state]
            result = engine.advance(pid, trigger, actor=Actor("survivor", role), expected_version=before.version)
            assert result.event is not None
            assert (result.event.seq, result.event.prev_hash) == (before.version + 1, before.head_hash)
            assert result.proposal.version == before.version + 1
        report = engine.verify()
    assert report.ok, report.as_dict()
