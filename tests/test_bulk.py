"""Bulk writes: on SQLite the importer's rows go to the driver as plain tuples already in the
storage format, and must be stored exactly as SQLAlchemy's types store them (the PostgreSQL
path, through Core, is the reference), or as-of queries and the stall analysis, which compare
and parse that text, would read them wrong."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from flowengine.clock import iso_utc
from flowengine.history.chain import GENESIS
from flowengine.history.erasure import Committed
from flowengine.history.steps import EventRow
from flowengine.store import migrate, queries
from flowengine.store.bulk import BulkWriter, ProposalRow
from flowengine.store.database import Database, resolve_url

T0 = datetime(2024, 3, 1, 9, 0, 0, 123456, tzinfo=UTC)
DEFINITION = "d" * 64


def _case(number: int, start: datetime) -> tuple[ProposalRow, list[EventRow], tuple[str, str, str]]:
    """A proposal created at ``start`` and moved on a day (and 7 µs) later, with text, fields,
    a comment and an idempotency key: every kind of value a row carries."""
    later = start + timedelta(days=1, microseconds=7)
    pid = f"INN-{number}"
    proposal: ProposalRow = (pid, "INN", number, "innovation-chain", DEFINITION, "Møteplass i sentrum", "",
                             f"case-{number}", "council_review", {"summary": "Et sted å møtes \u2013 «åpent»"},
                             start, "kari", later, later, 2, f"{number:064x}")
    events: list[EventRow] = [
        EventRow(pid, 1, "created", None, None, "panel_work", "kari", "panel", start, iso_utc(start), start,
                 iso_utc(start), "", {"summary": "Et sted å møtes \u2013 «åpent»"},
                 {"title": "Møteplass i sentrum", "origin": f"case-{number}"}, None, GENESIS, "a" * 64,
                     "kari", later, iso_utc(later)),
        EventRow(pid, 2, "advanced", "send_to_council", "panel_work", "council_review", "ola", "council", later,
                 iso_utc(later), start, iso_utc(start), "Ready\nfor the council", {}, {}, f"import-{number}", "a" * 64,
                 f"{number:064x}", "kari", later, iso_utc(later)),
    ]
    return proposal, events, (iso_utc(start), iso_utc(later), iso_utc(later))


def _kept_apart(number: int, start: datetime) -> tuple[ProposalRow, list[EventRow], tuple[str, str, str]]:
    """A history of event format 3 in every shape its personal values take: a name alone (an
    import's every step), a name erased, a name and a comment, a comment alone, a personal field."""
    pid = f"INN-{number}"
    moments = [start + timedelta(hours=hours) for hours in range(5)]
    isos = [iso_utc(moment) for moment in moments]
    salt, digest = "5" * 64, "d" * 64

    def event(seq: int, kind: str, actor: str, comment: str, changes: dict[str, object],
              personal: dict[str, Committed]) -> EventRow:
        at = moments[seq - 1]
        return EventRow(pid, seq, kind, None if seq == 1 else "check", None if seq == 1 else "panel_work",
                        "panel_work", actor, "panel", at, isos[seq - 1], start, isos[0], comment, changes,
                        {"title": "Plass"} if seq == 1 else {}, None, GENESIS, f"{seq:064x}", "kari", at,
                        isos[seq - 1], personal)

    events = [
        event(1, "created", "Kari «K» Nordmann", "", {}, {"actor": Committed(digest, salt)}),
        event(2, "advanced", "[erased]", "", {}, {"actor": Committed("e" * 64, None)}),
        event(3, "advanced", "ola", "Ser «bra» ut\nto linjer", {},
              {"actor": Committed(digest, salt), "comment": Committed("c" * 64, "6" * 64)}),
        event(4, "advanced", "system", "Påminnelse", {}, {"comment": Committed("c" * 64, salt)}),
        event(5, "fields_set", "ola", "", {"phone": "+47 22 22 22 22", "category": "plass"},
              {"actor": Committed(digest, salt), "field:phone": Committed("f" * 64, salt)}),
    ]
    proposal: ProposalRow = (pid, "INN", number, "innovation-chain", DEFINITION, "Plass", "", f"case-{number}",
                             "panel_work", {"category": "plass"}, start, "", moments[-1], moments[-1], 5,
                             f"{5:064x}")
    return proposal, events, (isos[0], isos[-1], isos[-1])


def _store(path: Path, *, through_core: bool) -> dict[str, list[tuple[object, ...]]]:
    """Two batches written one way; then every stored value with SQLite's own type of it."""
    with Database(resolve_url(str(path))) as database:
        migrate.ensure_schema(database)
        with database.write() as conn:
            queries.insert_definition(conn, content_hash=DEFINITION, workflow="innovation-chain", version="1",
                                      source="innovation-chain.yaml", text="id: innovation-chain\n", at=T0)
            writer = BulkWriter(conn)
            assert writer.sqlite
            writer.sqlite = not through_core
            other_zone = T0.astimezone(timezone(timedelta(hours=-5)))  # stored as UTC all the same
            for batch in ([_case(1, T0), _case(2, T0 + timedelta(hours=1))], [_case(3, other_zone)],
                          [_kept_apart(4, T0), _case(5, T0)]):
                writer.write([(proposal, events) for proposal, events, _ in batch], iso=[iso for *_, iso in batch])
    with sqlite3.connect(path) as conn:
        return {table: [tuple((value, type(value).__name__) for value in row)
                        for row in conn.execute(f"SELECT * FROM {table} ORDER BY {order}")]
                for table, order in (("proposals", "pk"), ("events", "pk"), ("erasable", "rowid"))}


@pytest.mark.sqlite_only("compares two SQLite files row for row")
def test_bulk_rows_on_sqlite_are_stored_exactly_as_sqlalchemy_stores_them(tmp_path: Path) -> None:
    fast = _store(tmp_path / "fast.db", through_core=False)
    assert [len(fast[table]) for table in ("proposals", "events", "erasable")] == [5, 13, 6]
    assert fast == _store(tmp_path / "core.db", through_core=True)
