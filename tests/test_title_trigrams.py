"""SQLite's title search by migration 0014's FTS5 trigram table: the table names candidates (every
title the exact test finds among them), the page reads those by key, the triggers keep it current
through every way a title is written (a new proposal, an import, a load, a restore, an update), a
text of one or two letters is still found, and an SQLite without the trigram tokenizer still
searches by reading every title. The results themselves are tests/test_title_search.py's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, text

from flowengine.history.records import Actor
from flowengine.service import backups
from flowengine.service.facade import FlowEngine
from flowengine.store import listing, migrate, pages, queries, titles
from flowengine.store.bulk import BulkWriter
from flowengine.store.bulkload import loading
from flowengine.store.database import Database, resolve_url

from .conftest import MINIMAL_WORKFLOW, FixedClock
from .test_bulk import DEFINITION, T0, _case
from .test_bulkload import _new
from .test_title_search import TITLES

pytestmark = [pytest.mark.sqlite_only("migration 0014's table is SQLite's"),
              pytest.mark.skipif(not titles.trigrams_available(), reason="this SQLite has no FTS5 trigram tokenizer")]

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
PANEL = Actor("panel-member", "panel")


def _engine(target: str, folder: Path) -> FlowEngine:
    (folder / "minimal.yaml").write_text(MINIMAL_WORKFLOW, encoding="utf-8")
    return FlowEngine.open(target, workflow_dirs=[folder], clock=FixedClock(NOW))


@pytest.fixture
def engine(db_target: str, tmp_path: Path) -> Iterator[FlowEngine]:
    with _engine(db_target, tmp_path) as flow:
        for title in TITLES:
            flow.new_proposal("minimal", title=title, actor=PANEL)
        yield flow


def candidates(target: str, wanted: str) -> list[int] | None:
    with Database(resolve_url(target)) as database, database.read() as conn:
        return titles.titled(listing.reads(conn), wanted)


def exact(conn: Connection, wanted: str) -> set[int]:
    """The keys the page's own test (no candidates) finds."""
    given: dict[str, Any] = {}

    def param(value: Any) -> str:
        given[f"v{len(given)}"] = value
        return f":v{len(given) - 1}"

    condition = titles.contains("sqlite", wanted, None, param)
    return {int(pk) for (pk,) in conn.execute(text(f"SELECT pk FROM proposals WHERE {condition}"), given)}


def _titles_of(target: str, found: list[int] | None) -> set[str]:
    assert found is not None
    with Database(resolve_url(target)) as database, database.read() as conn:
        return {str(title) for (pk, title) in conn.execute(text("SELECT pk, title FROM proposals")) if pk in found}


def test_the_candidates_hold_every_title_the_exact_test_finds(engine: FlowEngine, db_target: str) -> None:
    texts = {title[start:start + size] for title in TITLES for size in (3, 4, 7)
             for start in range(len(title) - size + 1)}
    with Database(resolve_url(db_target)) as database, database.read() as conn:
        for wanted in sorted(texts):
            assert exact(conn, wanted), wanted  # each text is in a title: the comparison is never empty
            for variant in (wanted, wanted.upper(), wanted.lower(), wanted.swapcase()):
                found = titles.titled(listing.reads(conn), variant)
                assert found is not None, variant
                assert exact(conn, variant) <= set(found), variant


def test_every_latin_greek_and_cyrillic_letter_is_a_candidate_in_each_of_its_cases_or_read_in_order(
        db_target: str, tmp_path: Path) -> None:
    letters = [chr(code) for code in range(0x41, 0x500) if chr(code).isalpha()] + ["\u10d0", "\u13a0"]
    with _engine(db_target, tmp_path) as flow:
        for letter in letters:
            for case in sorted({letter, letter.lower(), letter.upper()} - {""}):
                if len(case) == 1:
                    flow.new_proposal("minimal", title=f"qz{case}qz", actor=PANEL)
    with Database(resolve_url(db_target)) as database, database.read() as conn:
        named = {letter: titles.titled(listing.reads(conn), f"qz{letter}qz") for letter in letters}
        missed = [letter for letter, found in named.items()
                  if found is not None and not exact(conn, f"qz{letter}qz") <= set(found)]
    assert missed == []
    # dotless i, U+0131 (its capital is I, which FTS5 folds to i), some IPA letters, Georgian, Cherokee: in order
    assert "".join(letter for letter, found in named.items() if found is None) == "ıɜɡɪɬʂʇʝʞͿϳ\u10d0\u13a0"


def test_a_rare_title_is_found_through_the_trigram_table_and_read_by_key(engine: FlowEngine, db_target: str) -> None:
    with Database(resolve_url(db_target)) as database, database.read() as conn:
        reads = listing.reads(conn)
        keys = titles.titled(reads, "møteplass")
        assert keys is not None and len(keys) == 1
        found = conn.execute(text(f"EXPLAIN QUERY PLAN SELECT rowid FROM {titles.FTS} WHERE {titles.FTS} MATCH :p"),
                             {"p": titles.fts_phrase("møteplass")}).all()
        assert any(f"SCAN {titles.FTS} VIRTUAL TABLE" in row[-1] for row in found), found
        sql, params = pages.statement(reads, pages.Filter(title="møteplass", titled=keys), sort="id", after=None,
                                      limit=25)
        plan = [row[-1] for row in conn.execute(text("EXPLAIN QUERY PLAN " + sql), params)]
    assert any(step.startswith("SEARCH proposals USING INTEGER PRIMARY KEY") for step in plan), plan
    assert not any(step.startswith("SCAN proposals") for step in plan), plan
    assert [s.proposal.title for s in engine.proposal_page(title="MØTEPLASS", limit=50).standings] == \
        ["Åpen møteplass i sentrum"]


def test_texts_of_one_or_two_letters_read_the_titles_and_are_found(engine: FlowEngine, db_target: str) -> None:
    assert candidates(db_target, "øy") is None and candidates(db_target, "ö") is None
    assert [s.proposal.title for s in engine.proposal_page(title="ØY", limit=50).standings] == \
        ["Ærlig tjeneste på Øya"]
    assert [s.proposal.title for s in engine.proposal_page(title="ö", limit=50).standings] == \
        ["Äldreomsorg över Åre", "ÖPPEN förskola i Älvsjö"]


def test_a_text_in_more_titles_than_named_walks_the_order_and_finds_them(
        engine: FlowEngine, db_target: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(titles, "MOST", 1)
    assert candidates(db_target, "ent") is None  # "sentrum", "Percent"
    assert [s.proposal.title for s in engine.proposal_page(title="ENT", limit=50).standings] == \
        ["Åpen møteplass i sentrum", "Percent: 100% sure"]


def test_new_changed_and_deleted_titles_are_in_the_table(engine: FlowEngine, db_target: str) -> None:
    engine.new_proposal("minimal", title="Sykkelverksted på biblioteket", actor=PANEL)
    assert _titles_of(db_target, candidates(db_target, "SYKKEL")) == {"Sykkelverksted på biblioteket"}
    with Database(resolve_url(db_target)) as database, database.write() as conn:
        conn.execute(text("UPDATE proposals SET title = 'Verksted for sykler' WHERE title LIKE 'Sykkel%'"))
        columns = ", ".join(name for (_, name, *_) in conn.execute(text("PRAGMA table_info(proposals)"))
                            if name not in ("pk", "id", "number", "title"))
        conn.execute(text(f"INSERT INTO proposals (id, number, title, {columns}) SELECT 'MIN-999', 999, "
                          f"'Kortvarig forslag', {columns} FROM proposals ORDER BY pk LIMIT 1"))
    assert candidates(db_target, "sykkel") == []
    assert _titles_of(db_target, candidates(db_target, "for sykler")) == {"Verksted for sykler"}
    assert _titles_of(db_target, candidates(db_target, "KORTVARIG")) == {"Kortvarig forslag"}
    with Database(resolve_url(db_target)) as database, database.write() as conn:
        conn.execute(text("DELETE FROM proposals WHERE id = 'MIN-999'"))  # it has no events
        # FTS5 compares its index with the proposals' titles and raises where they differ
        conn.execute(text(f"INSERT INTO {titles.FTS} ({titles.FTS}, rank) VALUES ('integrity-check', 1)"))
    assert candidates(db_target, "kortvarig") == []


def test_imported_and_loaded_titles_are_in_the_table_and_the_load_rebuilds_it_once(tmp_path: Path) -> None:
    imported, loaded = str(tmp_path / "imported.db"), str(tmp_path / "loaded.db")
    batch = [_case(number, T0) for number in (1, 2, 3)]
    with _new(imported) as database, database.write() as conn:
        BulkWriter(conn).write([(proposal, events) for proposal, events, _ in batch], iso=[i for *_, i in batch])
    with _new(loaded) as database:
        with database.read() as conn:
            schema = sorted(conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).all())
        with loading(database) as loader:
            loader.write([(proposal, events) for proposal, events, _ in batch], iso=[i for *_, i in batch])
        with database.read() as conn:
            assert sorted(conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).all()) == \
                schema
    for target in (imported, loaded):
        assert len(candidates(target, "MØTEPLASS") or []) == 3, target


def test_a_restored_backup_keeps_its_table_and_its_triggers(engine: FlowEngine, db_target: str, tmp_path: Path) -> None:
    backups.backup(db_target, tmp_path / "backup.db")
    restored = str(tmp_path / "restored.db")
    backups.restore(tmp_path / "backup.db", restored)
    assert _titles_of(restored, candidates(restored, "ærlig")) == {"Ærlig tjeneste på Øya"}
    with _engine(restored, tmp_path) as flow:
        flow.new_proposal("minimal", title="Nytt etter gjenoppretting", actor=PANEL)
    assert _titles_of(restored, candidates(restored, "GJENOPPRETTING")) == {"Nytt etter gjenoppretting"}


def test_an_older_database_gets_the_table_built_from_its_rows(tmp_path: Path) -> None:
    target = str(tmp_path / "older.db")
    batch = [_case(number, T0) for number in (1, 2, 3)]
    with Database(resolve_url(target)) as database:
        migrate.upgrade(database, "0013_waiting_by_state")
        with database.write() as conn:
            queries.insert_definition(conn, content_hash=DEFINITION, workflow="innovation-chain", version="1",
                                      source="innovation-chain.yaml", text="id: innovation-chain\n", at=T0)
            BulkWriter(conn).write([(proposal, events) for proposal, events, _ in batch], iso=[i for *_, i in batch])
        migrate.upgrade(database)
    assert len(candidates(target, "i SENTRUM") or []) == 3


def test_without_the_trigram_tokenizer_nothing_is_made_and_the_search_reads_every_title(
        db_target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(titles, "trigrams_available", lambda: False)
    with _engine(db_target, tmp_path) as flow:
        for title in TITLES:
            flow.new_proposal("minimal", title=title, actor=PANEL)
        with Database(resolve_url(db_target)) as database, database.read() as conn:
            assert conn.execute(text(f"SELECT 1 FROM sqlite_master WHERE name = '{titles.FTS}'")).first() is None
        assert candidates(db_target, "møteplass") is None
        assert [s.proposal.title for s in flow.proposal_page(title="MØTEPLASS", limit=50).standings] == \
            ["Åpen møteplass i sentrum"]
        assert [s.proposal.title for s in flow.proposal_page(title="ÖVER åre", limit=50).standings] == \
            ["Äldreomsorg över Åre"]
