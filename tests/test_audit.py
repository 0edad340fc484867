"""Tampering with the database behind flowengine's back is found by ``FlowEngine.verify()``.

The attacker here has write access to the database (the SQLite file, or the tables on the
server): they connect with a plain SQL client, drop the append-only triggers first (without
that the database itself refuses, which is tested too), and then edit, delete, reorder or
insert events, or change a proposal row or a stored definition. Each time verify names the
damaged proposal and the event where its history goes wrong, and leaves the untouched
proposals out of the report.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, exc, text

from flowengine.clock import Clock
from flowengine.history import chain
from flowengine.history.records import ADVANCED, FIELDS_SET, Actor, Event
from flowengine.service.facade import AuditReport, FlowEngine

from . import sealing_oracle as oracle
from .databases import raw_connection, tampering
from .stress_advances import WORKFLOW, WORKFLOW_DIR, WORKFLOW_ID

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
PANEL = Actor("pia", "panel")
COUNCIL = Actor("cato", "council")
PROPOSALS = ("PING-1", "PING-2", "PING-3")
TARGET = "PING-2"  # the one tampered with; its neighbours must stay unreported
EVENTS_EACH = 4  # created, ping (a→b), note set (b), pong (b→a)
# The row of one event of one proposal, for statements taking :pid and :seq parameters.
EVENT_PK = ("(SELECT e.pk FROM events AS e JOIN proposals AS p ON p.pk = e.proposal_pk "
            "WHERE p.id = :pid AND e.seq = :seq)")
TARGET_PK = "(SELECT pk FROM proposals WHERE id = :pid)"

Tamper = Callable[[Connection, list[Event]], None]


def sql(conn: Connection, statement: str, **params: Any) -> Any:
    return conn.execute(text(statement), params)


def ticking_clock() -> Clock:
    """A minute later at every reading: distinct, ordered, reproducible times."""
    moments = (START + timedelta(minutes=n) for n in itertools.count())
    return lambda: next(moments)


def open_engine(db: str) -> FlowEngine:
    return FlowEngine.open(db, workflow_dirs=[WORKFLOW_DIR], clock=ticking_clock())


@pytest.fixture
def db(db_target: str) -> str:
    """Three proposals with four events each, written the honest way, of event format 2 (as a
    database recorded them before it kept personal data apart, schema 0011): every value is
    sealed in, so an edit of any column breaks a hash."""
    path = db_target
    with open_engine(path):
        pass  # the database, made
    with raw_connection(path) as conn:
        sql(conn, "DELETE FROM settings WHERE name = 'personal'")
    with open_engine(path) as engine:
        for n in range(1, len(PROPOSALS) + 1):
            pid = engine.new_proposal(WORKFLOW, title=f"Proposal {n}", actor=PANEL).proposal.id
            engine.advance(pid, "ping", actor=PANEL, comment="over to the council")
            engine.set_fields(pid, {"note": f"note {n}"}, actor=COUNCIL)
            engine.advance(pid, "pong", actor=COUNCIL, comment="back to the panel")
    return path


def verify(db: str) -> AuditReport:
    with open_engine(db) as engine:
        return engine.verify()


def history(db: str, proposal_id: str) -> list[Event]:
    with open_engine(db) as engine:
        return engine.history(proposal_id)[1]


# -- the tampering --------------------------------------------------------------------------

def edit(column: str, value: str, seq: int) -> Tamper:
    def tamper(conn: Connection, _events: list[Event]) -> None:
        sql(conn, f"UPDATE events SET {column} = :value WHERE pk = {EVENT_PK}", value=value, pid=TARGET, seq=seq)

    return tamper


def edit_and_rehash(conn: Connection, events: list[Event]) -> None:
    """Edit event 2 and give it the hash its new content has: event 3 no longer links to it."""
    edited = replace(events[1], comment="approved by everyone")
    sql(conn, f"UPDATE events SET comment = :comment, hash = :hash WHERE pk = {EVENT_PK}",
        comment=edited.comment, hash=chain.recompute(edited), pid=TARGET, seq=2)


def delete(seq: int) -> Tamper:
    def tamper(conn: Connection, _events: list[Event]) -> None:
        sql(conn, f"DELETE FROM events WHERE pk = {EVENT_PK}", pid=TARGET, seq=seq)

    return tamper


def delete_whole_history(conn: Connection, _events: list[Event]) -> None:
    sql(conn, f"DELETE FROM events WHERE proposal_pk = {TARGET_PK}", pid=TARGET)


def swap_events_2_and_3(conn: Connection, _events: list[Event]) -> None:
    for old, new in ((2, -1), (3, 2), (-1, 3)):  # through -1: (proposal, seq) is unique
        sql(conn, f"UPDATE events SET seq = :new WHERE pk = {EVENT_PK}", new=new, pid=TARGET, seq=old)


def forged_after(previous: Event, seq: int, kind: str, trigger: str | None, to_state: str) -> Event:
    """An event that links correctly to ``previous``, hashed as flowengine would hash it."""
    forged = Event(TARGET, seq, kind, trigger, previous.to_state, to_state, "mallory", "panel", previous.at,
                   previous.at, "", {"note": "forged"} if kind == FIELDS_SET else {}, {}, None, previous.hash, "")
    return replace(forged, hash=chain.recompute(forged))


def insert_row(conn: Connection, event: Event, copy_times_from: int) -> None:
    """Insert ``event``, its times copied from event ``copy_times_from`` (so stored exactly alike)."""
    sql(conn,
        "INSERT INTO events (proposal_pk, seq, kind, trigger, from_state, to_state, actor, role, at, entered_at, "
        "comment, changes, details, idempotency_key, prev_hash, hash) "
        "SELECT proposal_pk, :new_seq, :kind, :trigger, :from_state, :to_state, :actor, :role, at, at, :comment, "
        f":changes, '{{}}', NULL, :prev_hash, :hash FROM events WHERE pk = {EVENT_PK}",
        new_seq=event.seq, kind=event.kind, trigger=event.trigger, from_state=event.from_state,
        to_state=event.to_state, actor=event.actor, role=event.role, comment=event.comment,
        changes=oracle.canonical(event.changes).decode(), prev_hash=event.prev_hash, hash=event.hash,
        pid=TARGET, seq=copy_times_from)


def insert_forged_event_3(conn: Connection, events: list[Event]) -> None:
    """Make room after event 2 and slip in a well-formed, correctly hashed event."""
    sql(conn, f"UPDATE events SET seq = -seq - 1 WHERE proposal_pk = {TARGET_PK} AND seq >= 3", pid=TARGET)
    sql(conn, f"UPDATE events SET seq = -seq WHERE proposal_pk = {TARGET_PK} AND seq < 0", pid=TARGET)
    insert_row(conn, forged_after(events[1], 3, FIELDS_SET, None, events[1].to_state), copy_times_from=2)


def append_forged_event_5(conn: Connection, events: list[Event]) -> None:
    """A correct-looking newest step, without touching the proposal row."""
    insert_row(conn, forged_after(events[3], 5, ADVANCED, "ping", "b"), copy_times_from=4)


def set_row(column: str, value: str) -> Tamper:
    def tamper(conn: Connection, _events: list[Event]) -> None:
        sql(conn, f"UPDATE proposals SET {column} = :value WHERE id = :pid", value=value, pid=TARGET)

    return tamper


def swap_definition(conn: Connection, _events: list[Event]) -> None:
    """File a laxer copy of the workflow under its own (correct) hash and point the proposal at it."""
    original = sql(conn, "SELECT text FROM definitions").scalar_one()
    laxer = original.replace("roles: [council]", "roles: [panel, council]")
    assert laxer != original
    content_hash = hashlib.sha256(laxer.encode("utf-8")).hexdigest()
    sql(conn, "INSERT INTO definitions (content_hash, workflow, version, source, text, stored_at) "
        "SELECT :hash, workflow, version, source, :text, stored_at FROM definitions", hash=content_hash, text=laxer)
    sql(conn, "UPDATE proposals SET definition_hash = :hash WHERE id = :pid", hash=content_hash, pid=TARGET)


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

def test_clean_database_verifies_ok_with_counts(db: str) -> None:
    report = verify(db)
    assert report.ok
    assert (report.proposals, report.events) == (len(PROPOSALS), len(PROPOSALS) * EVENTS_EACH)
    assert report.breaks == ()
    assert report.altered_definitions == ()


def test_database_refuses_to_update_events(db: str) -> None:
    with pytest.raises(exc.DBAPIError, match="append-only"), raw_connection(db) as conn:
        sql(conn, "UPDATE events SET comment = 'rewritten' WHERE seq = 2")
    assert verify(db).ok


def test_database_refuses_to_delete_events(db: str) -> None:
    with pytest.raises(exc.DBAPIError, match="append-only"), raw_connection(db) as conn:
        sql(conn, "DELETE FROM events WHERE seq = 4")
    assert verify(db).ok
    assert len(history(db, TARGET)) == EVENTS_EACH


@pytest.mark.parametrize(("tamper", "seq", "problem"), TAMPERING)
def test_tampering_is_reported_at_the_damaged_proposal_and_event(db: str, tamper: Tamper, seq: int | None,
                                                                problem: str) -> None:
    events = history(db, TARGET)
    with tampering(db) as conn:
        tamper(conn, events)
    report = verify(db)
    assert not report.ok
    assert [(b.proposal, b.seq) for b in report.breaks] == [(TARGET, seq)], report.as_dict()
    assert problem in report.breaks[0].problem
    assert report.proposals == len(PROPOSALS)
    assert report.altered_definitions == ()


def test_altered_definition_text_is_reported(db: str) -> None:
    with tampering(db) as conn:
        content_hash = sql(conn, "SELECT content_hash FROM definitions").scalar_one()
        sql(conn, "UPDATE definitions SET text = replace(text, 'requires_comment: true', 'requires_comment: false')")
    report = verify(db)
    assert not report.ok
    assert report.altered_definitions == (f"{WORKFLOW_ID} {content_hash[:12]}",)
    assert report.breaks == ()
