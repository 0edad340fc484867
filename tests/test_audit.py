"""Tampering with the database behind flowengine's back is found by ``FlowEngine.verify()``.

The attacker here has write access to the SQLite file: they open it with ``sqlite3``, drop
the append-only triggers first (without that the database itself refuses, which is tested
too), and then edit, delete, reorder or insert events, or change a proposal row or a stored
definition. Each time verify names the damaged proposal and the event where its history goes
wrong, and leaves the untouched proposals out of the report.
"""

from __future__ import annotations

import hashlib
import itertools
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flowengine import chain
from flowengine.clock import Clock
from flowengine.records import ADVANCED, FIELDS_SET, Actor, Event
from flowengine.service import AuditReport, FlowEngine

from .stress_advances import WORKFLOW, WORKFLOW_DIR, WORKFLOW_ID

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
PANEL = Actor("pia", "panel")
COUNCIL = Actor("cato", "council")
PROPOSALS = ("PING-1", "PING-2", "PING-3")
TARGET = "PING-2"  # the one tampered with; its neighbours must stay unreported
EVENTS_EACH = 4  # created, ping (a→b), note set (b), pong (b→a)
GUARDS = ("events_no_update", "events_no_delete")
# The row of one event of one proposal, for statements taking (proposal id, seq) parameters.
EVENT_PK = ("(SELECT e.pk FROM events AS e JOIN proposals AS p ON p.pk = e.proposal_pk "
            "WHERE p.id = ? AND e.seq = ?)")
TARGET_PK = "(SELECT pk FROM proposals WHERE id = ?)"

Tamper = Callable[[sqlite3.Connection, list[Event]], None]


def ticking_clock() -> Clock:
    """A minute later at every reading: distinct, ordered, reproducible times."""
    moments = (START + timedelta(minutes=n) for n in itertools.count())
    return lambda: next(moments)


def open_engine(db: Path) -> FlowEngine:
    return FlowEngine.open(str(db), workflow_dirs=[WORKFLOW_DIR], clock=ticking_clock())


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Three proposals with four events each, written the honest way."""
    path = tmp_path / "audit.db"
    with open_engine(path) as engine:
        for n in range(1, len(PROPOSALS) + 1):
            pid = engine.new_proposal(WORKFLOW, title=f"Proposal {n}", actor=PANEL).proposal.id
            engine.advance(pid, "ping", actor=PANEL, comment="over to the council")
            engine.set_fields(pid, {"note": f"note {n}"}, actor=COUNCIL)
            engine.advance(pid, "pong", actor=COUNCIL, comment="back to the panel")
    return path


def verify(db: Path) -> AuditReport:
    with open_engine(db) as engine:
        return engine.verify()


def history(db: Path, proposal_id: str) -> list[Event]:
    with open_engine(db) as engine:
        return engine.history(proposal_id)[1]


@contextmanager
def attacker(db: Path) -> Iterator[sqlite3.Connection]:
    """A connection of someone with write access to the file, who first removes the guards."""
    with closing(sqlite3.connect(db)) as conn:
        for guard in GUARDS:
            conn.execute(f"DROP TRIGGER {guard}")
        yield conn
        conn.commit()


# -- the tampering --------------------------------------------------------------------------

def edit(column: str, value: str, seq: int) -> Tamper:
    def tamper(conn: sqlite3.Connection, _events: list[Event]) -> None:
        conn.execute(f"UPDATE events SET {column} = ? WHERE pk = {EVENT_PK}", (value, TARGET, seq))

    return tamper


def edit_and_rehash(conn: sqlite3.Connection, events: list[Event]) -> None:
    """Edit event 2 and give it the hash its new content has: event 3 no longer links to it."""
    edited = replace(events[1], comment="approved by everyone")
    conn.execute(f"UPDATE events SET comment = ?, hash = ? WHERE pk = {EVENT_PK}",
                 (edited.comment, chain.recompute(edited), TARGET, 2))


def delete(seq: int) -> Tamper:
    def tamper(conn: sqlite3.Connection, _events: list[Event]) -> None:
        conn.execute(f"DELETE FROM events WHERE pk = {EVENT_PK}", (TARGET, seq))

    return tamper


def delete_whole_history(conn: sqlite3.Connection, _events: list[Event]) -> None:
    conn.execute(f"DELETE FROM events WHERE proposal_pk = {TARGET_PK}", (TARGET,))


def swap_events_2_and_3(conn: sqlite3.Connection, _events: list[Event]) -> None:
    for old, new in ((2, -1), (3, 2), (-1, 3)):  # through -1: (proposal, seq) is unique
        conn.execute(f"UPDATE events SET seq = ? WHERE pk = {EVENT_PK}", (new, TARGET, old))


def forged_after(previous: Event, seq: int, kind: str, trigger: str | None, to_state: str) -> Event:
    """An event that links correctly to ``previous``, hashed as flowengine would hash it."""
    forged = Event(TARGET, seq, kind, trigger, previous.to_state, to_state, "mallory", "panel", previous.at,
                   previous.at, "", {"note": "forged"} if kind == FIELDS_SET else {}, {}, None, previous.hash, "")
    return replace(forged, hash=chain.recompute(forged))


def insert_row(conn: sqlite3.Connection, event: Event, copy_times_from: int) -> None:
    """Insert ``event``, its times copied from event ``copy_times_from`` (so stored exactly alike)."""
    conn.execute(
        "INSERT INTO events (proposal_pk, seq, kind, trigger, from_state, to_state, actor, role, at, entered_at, "
        "comment, changes, details, idempotency_key, prev_hash, hash) "
        f"SELECT proposal_pk, ?, ?, ?, ?, ?, ?, ?, at, at, ?, ?, '{{}}', NULL, ?, ? FROM events WHERE pk = {EVENT_PK}",
        (event.seq, event.kind, event.trigger, event.from_state, event.to_state, event.actor, event.role,
         event.comment, chain.canonical(event.changes).decode(), event.prev_hash, event.hash,
         TARGET, copy_times_from))


def insert_forged_event_3(conn: sqlite3.Connection, events: list[Event]) -> None:
    """Make room after event 2 and slip in a well-formed, correctly hashed event."""
    conn.execute(f"UPDATE events SET seq = -seq - 1 WHERE proposal_pk = {TARGET_PK} AND seq >= 3", (TARGET,))
    conn.execute(f"UPDATE events SET seq = -seq WHERE proposal_pk = {TARGET_PK} AND seq < 0", (TARGET,))
    insert_row(conn, forged_after(events[1], 3, FIELDS_SET, None, events[1].to_state), copy_times_from=2)


def append_forged_event_5(conn: sqlite3.Connection, events: list[Event]) -> None:
    """A correct-looking newest step, without touching the proposal row."""
    insert_row(conn, forged_after(events[3], 5, ADVANCED, "ping", "b"), copy_times_from=4)


def set_row(column: str, value: str) -> Tamper:
    def tamper(conn: sqlite3.Connection, _events: list[Event]) -> None:
        conn.execute(f"UPDATE proposals SET {column} = ? WHERE id = ?", (value, TARGET))

    return tamper


def swap_definition(conn: sqlite3.Connection, _events: list[Event]) -> None:
    """File a laxer copy of the workflow under its own (correct) hash and point the proposal at it."""
    (text,) = conn.execute("SELECT text FROM definitions").fetchone()
    laxer = text.replace("roles: [council]", "roles: [panel, council]")
    assert laxer != text
    content_hash = hashlib.sha256(laxer.encode("utf-8")).hexdigest()
    conn.execute("INSERT INTO definitions (content_hash, workflow, version, source, text, stored_at) "
                 "SELECT ?, workflow, version, source, ?, stored_at FROM definitions", (content_hash, laxer))
    conn.execute("UPDATE proposals SET definition_hash = ? WHERE id = ?", (content_hash, TARGET))


TAMPERING = [
    pytest.param(edit("comment", "nothing to see here", 2), 2, "does not match its hash", id="edit-comment"),
    pytest.param(edit("actor", "someone-else", 2), 2, "does not match its hash", id="edit-actor"),
    pytest.param(edit("to_state", "done", 2), 2, "does not match its hash", id="edit-to-state"),
    pytest.param(edit("at", "2020-01-01 00:00:00.000000", 2), 2, "does not match its hash", id="edit-time"),
    pytest.param(edit("changes", '{"note": "forged"}', 3), 3, "does not match its hash", id="edit-changes"),
    pytest.param(edit_and_rehash, 3, "does not link to the event before it", id="edit-and-rehash"),
    pytest.param(delete(2), 3, "sequence number 3 where 2 was expected", id="delete-middle"),
    pytest.param(delete(4), 4, "does not match the replay", id="delete-newest"),
    pytest.param(delete_whole_history, None, "no events at all", id="delete-all"),
    pytest.param(swap_events_2_and_3, 2, "does not link to the event before it", id="reorder"),
    pytest.param(insert_forged_event_3, 4, "does not link to the event before it", id="insert-forged"),
    pytest.param(append_forged_event_5, 5, "does not match the replay", id="append-forged"),
    pytest.param(set_row("state", "done"), 4, "(state)", id="row-state"),
    pytest.param(set_row("fields", '{"note": "forged"}'), 4, "(fields)", id="row-fields"),
    pytest.param(set_row("version", "3"), 4, "does not match the replay", id="row-version"),
    pytest.param(swap_definition, 1, "definition", id="row-definition"),
]


# -- the tests ------------------------------------------------------------------------------

def test_clean_database_verifies_ok_with_counts(db: Path) -> None:
    report = verify(db)
    assert report.ok
    assert (report.proposals, report.events) == (len(PROPOSALS), len(PROPOSALS) * EVENTS_EACH)
    assert report.breaks == ()
    assert report.altered_definitions == ()


def test_database_refuses_to_update_events(db: Path) -> None:
    with closing(sqlite3.connect(db)) as conn, pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE events SET comment = 'rewritten' WHERE seq = 2")
    assert verify(db).ok


def test_database_refuses_to_delete_events(db: Path) -> None:
    with closing(sqlite3.connect(db)) as conn, pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM events WHERE seq = 4")
    assert verify(db).ok
    assert len(history(db, TARGET)) == EVENTS_EACH


@pytest.mark.parametrize(("tamper", "seq", "problem"), TAMPERING)
def test_tampering_is_reported_at_the_damaged_proposal_and_event(db: Path, tamper: Tamper, seq: int | None,
                                                                problem: str) -> None:
    events = history(db, TARGET)
    with attacker(db) as conn:
        tamper(conn, events)
    report = verify(db)
    assert not report.ok
    assert [(b.proposal, b.seq) for b in report.breaks] == [(TARGET, seq)], report.as_dict()
    assert problem in report.breaks[0].problem
    assert report.proposals == len(PROPOSALS)
    assert report.altered_definitions == ()


def test_altered_definition_text_is_reported(db: Path) -> None:
    with attacker(db) as conn:
        (content_hash,) = conn.execute("SELECT content_hash FROM definitions").fetchone()
        conn.execute("UPDATE definitions SET text = replace(text, 'requires_comment: true', "
                     "'requires_comment: false')")
    report = verify(db)
    assert not report.ok
    assert report.altered_definitions == (f"{WORKFLOW_ID} {content_hash[:12]}",)
    assert report.breaks == ()
