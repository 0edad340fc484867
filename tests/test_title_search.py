"""``proposal list --title TEXT``: a text the title contains, in any case — Norwegian and Swedish
letters too, texts of one or two letters too, wildcards as letters — on both backends, the same
as the reference list (every history replayed, compared case-folded in Python); on PostgreSQL
found through migration 0012's trigram index as a member login, under row-level security."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from flowengine.history.records import Actor
from flowengine.service.facade import FlowEngine
from flowengine.store import listing, pages, titles

from .access_support import (
    Place,
    administrator,
    copy_proposal,
    member_logins,
    municipal_workflows,
    plan_nodes,
    server_connection,
)
from .conftest import MINIMAL_WORKFLOW, FixedClock

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
PANEL = Actor("panel-member", "panel")
TITLES = (
    "Ærlig tjeneste på Øya", "Åpen møteplass i sentrum", "ØKONOMISK rådgivning", "Äldreomsorg över Åre",
    "ÖPPEN förskola i Älvsjö", "A recovery college", "Percent: 100% sure", "Under_score and /slash\\back",
    "Star * query ? [brackets]", "Straße im Ort",
)


@pytest.fixture
def engine(db_target: str, tmp_path: Path) -> Iterator[FlowEngine]:
    (tmp_path / "minimal.yaml").write_text(MINIMAL_WORKFLOW, encoding="utf-8")
    with FlowEngine.open(db_target, workflow_dirs=[tmp_path], clock=FixedClock(NOW)) as flow:
        for title in TITLES:
            flow.new_proposal("minimal", title=title, actor=PANEL)
        yield flow


def listed(engine: FlowEngine, text: str) -> list[str]:
    """The titles a page, and the streamed list, give for ``text`` (they must agree)."""
    page = [s.proposal.title for s in engine.proposal_page(title=text, limit=50).standings]
    assert [s.proposal.title for s in engine.each_proposal(title=text)] == page
    return page


def reference(engine: FlowEngine, text: str) -> list[str]:
    return [s.proposal.title for s in engine.proposals(title=text, as_of=NOW)]


@pytest.mark.parametrize(("text", "wanted"), [
    ("ærlig", ["Ærlig tjeneste på Øya"]), ("ÆRLIG", ["Ærlig tjeneste på Øya"]),
    ("øya", ["Ærlig tjeneste på Øya"]), ("MØTEPLASS", ["Åpen møteplass i sentrum"]),
    ("åpen", ["Åpen møteplass i sentrum"]), ("økonomisk RÅD", ["ØKONOMISK rådgivning"]),
    ("äldreOMSORG", ["Äldreomsorg över Åre"]), ("ÖVER åre", ["Äldreomsorg över Åre"]),
    ("öppen FÖRSKOLA", ["ÖPPEN förskola i Älvsjö"]), ("älvsjö", ["ÖPPEN förskola i Älvsjö"]),
    ("RECOVERY College", ["A recovery college"]),
])
def test_norwegian_and_swedish_letters_are_found_in_either_case(engine: FlowEngine, text: str,
                                                                 wanted: list[str]) -> None:
    assert listed(engine, text) == wanted == reference(engine, text)


@pytest.mark.parametrize(("text", "wanted"), [
    ("Æ", ["Ærlig tjeneste på Øya"]), ("ø", ["Ærlig tjeneste på Øya", "Åpen møteplass i sentrum",
                                             "ØKONOMISK rådgivning"]),
    ("å", ["Ærlig tjeneste på Øya", "Åpen møteplass i sentrum", "ØKONOMISK rådgivning",
           "Äldreomsorg över Åre"]),
    ("Ä", ["Äldreomsorg över Åre", "ÖPPEN förskola i Älvsjö"]), ("ÖV", ["Äldreomsorg över Åre"]),
    ("YA", ["Ærlig tjeneste på Øya"]), ("q", ["Star * query ? [brackets]"]), ("ß", ["Straße im Ort"]),
])
def test_texts_of_one_or_two_letters_are_found_as_well(engine: FlowEngine, text: str, wanted: list[str]) -> None:
    """Trigrams cannot serve a text shorter than three letters: the answer is the same."""
    assert listed(engine, text) == wanted == reference(engine, text)


@pytest.mark.parametrize(("text", "wanted"), [
    ("%", ["Percent: 100% sure"]), ("100%", ["Percent: 100% sure"]), ("_", ["Under_score and /slash\\back"]),
    ("/", ["Under_score and /slash\\back"]), ("\\", ["Under_score and /slash\\back"]),
    ("h\\b", ["Under_score and /slash\\back"]), ("*", ["Star * query ? [brackets]"]),
    ("?", ["Star * query ? [brackets]"]), ("[b", ["Star * query ? [brackets]"]), ("]", ["Star * query ? [brackets]"]),
    ("e_s", []), ("t%s", []), ("R*Q", []), ("nothing like it", []),
])
def test_wildcards_and_escapes_are_letters_like_any_other(engine: FlowEngine, text: str, wanted: list[str]) -> None:
    assert listed(engine, text) == wanted == reference(engine, text)


def test_glob_patterns_give_each_letter_its_cases_and_quote_globs_own_wildcards() -> None:
    assert titles.glob_pattern("Øy a") == "*[Øø][Yy] [Aa]*"
    assert titles.glob_pattern("1*?[]") == "*1[*][?][[]]*"
    assert titles.like_pattern("5%_/", "/") == "%5/%/_//%"


# -- PostgreSQL: the index, as a member reads it ----------------------------------------------------

OTHERS = 20_000  # proposals of another municipality, which the member may not read


@pytest.fixture
def place(db_target: str, tmp_path: Path) -> Iterator[Place]:
    folder = municipal_workflows(tmp_path)
    login = f"melhus_titles_{os.getpid()}"
    with FlowEngine.open(db_target, workflow_dirs=[folder]) as admin:
        admin.new_proposal("melhus", title="Service hub at Potten", actor=Actor("leader", "project_leader"))
        admin.new_proposal("melhus", title="Hub for Øyås skole", actor=Actor("leader", "project_leader"))
        admin.new_proposal("trondheim", title="A hub at Byåsen", actor=Actor("leader", "project_leader"))
        admin.grant(login, ["project_leader"], ["melhus"])
    copy_proposal(db_target, "TRD-1", "TRD", OTHERS)  # many more of Trondheim's, quickly
    with member_logins([login]):
        yield Place(db_target, folder, {"melhus": login})




@pytest.mark.postgresql_only
def test_the_trigram_index_is_made_where_pg_trgm_can_be_had(place: Place) -> None:
    with administrator(place.admin) as server:
        (definition,) = server.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                                       "AND indexname = 'ix_proposals_title_trgm'").fetchone()
    assert "USING gin (lower(title)" in definition and "gin_trgm_ops" in definition, definition


@pytest.mark.postgresql_only
def test_a_members_title_search_reads_the_trigram_index_and_its_rows_by_key(place: Place) -> None:
    with place.sql("melhus") as conn:
        # the function answers for the member's rows only, though 20,000 others' titles hold "hub"
        (keys,) = conn.execute("SELECT flowengine_titled(lower(%s), %s)", ("%HUB%", titles.MOST)).fetchone()
        assert len(keys) == 2
        with conn.transaction():
            (key,) = conn.execute("SELECT flowengine_titled(lower(%s), %s)", ("%øyÅs%", titles.MOST)).fetchone()
            # it searched an index, not the table (the counts of this transaction's own reads)
            scans = conn.execute("SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables "
                                 "WHERE relname = 'proposals' AND schemaname = current_schema()").fetchone()
            assert scans is not None and scans[0] == 0 and scans[1] >= 1, scans
    with place.engine("melhus") as flow, flow.database.read() as conn:
        sql, params = pages.statement(listing.reads(conn), listing.Filter(title="øyås", titled=key), sort="id",
                                      after=None, limit=51)
        (document,) = conn.execute(text("EXPLAIN (ANALYZE, FORMAT JSON) " + sql), params).fetchone()
        on_proposals = [node for node in plan_nodes(document[0]["Plan"]) if node.get("Relation Name") == "proposals"
                        and node.get("Alias") == "proposals"]
        assert on_proposals and all(node["Node Type"] == "Index Scan" and node["Index Name"] == "proposals_pkey"
                                    for node in on_proposals), on_proposals
        assert sum(node.get("Actual Rows", 0) for node in on_proposals) == 1  # the one, not 20,003 rows
        assert [s.proposal.title for s in flow.proposal_page(title="ØYÅS").standings] == ["Hub for Øyås skole"]
        assert [s.proposal.id for s in flow.proposal_page(title="hub").standings] == ["MEL-1", "MEL-2"]


@pytest.mark.postgresql_only
def test_a_text_in_more_titles_than_the_function_names_walks_the_order_instead(
        place: Place, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(titles, "MOST", 1)
    with place.sql("melhus") as conn:
        assert conn.execute("SELECT flowengine_titled('%hub%', 1)").fetchone() == (None,)  # two: too many
    with place.engine("melhus") as flow:
        assert [s.proposal.id for s in flow.proposal_page(title="HUB", limit=1).standings] == ["MEL-1"]
        assert [s.proposal.id for s in flow.each_proposal(title="hub")] == ["MEL-1", "MEL-2"]
    with place.engine("melhus") as flow, flow.database.read() as conn:
        # the first 51 by id whose title holds a longer text (20,000 do), as a page asks: taken for one
        # row in two, the title test lets the planner walk the id order and stop; ``LIKE`` alone
        # (estimated at one row in all, statistics being closed to a member) read every row and sorted
        given: dict[str, Any] = {}

        def param(value: Any) -> str:
            given[f"v{len(given)}"] = value
            return f":v{len(given) - 1}"

        condition = titles.contains("postgresql", "a hub at byåsen", None, param)
        walk = (f"SELECT proposals.pk FROM proposals WHERE {condition} "
                "ORDER BY proposals.prefix, proposals.number LIMIT 51")
        (document,) = conn.execute(text("EXPLAIN (FORMAT JSON) " + walk), given).fetchone()
        nodes = list(plan_nodes(document[0]["Plan"]))
        assert [(node["Node Type"], node.get("Index Name")) for node in nodes if node.get("Alias") == "proposals"] \
            == [("Index Scan", "uq_proposals_prefix_number")], nodes
        assert not [node for node in nodes if node["Node Type"] == "Sort"], nodes


@pytest.mark.postgresql_only
def test_without_pg_trgm_the_search_is_the_same_and_reads_the_table(place: Place) -> None:
    """Where the DBA could not provide the extension the migration leaves the index out; the
    function then reads the table as the owner, with the same answers."""
    with administrator(place.admin) as server:
        server.execute("DROP INDEX ix_proposals_title_trgm")
    with place.engine("melhus") as flow:
        assert [s.proposal.id for s in flow.proposal_page(title="øyÅS").standings] == ["MEL-2"]
        assert [s.proposal.id for s in flow.proposal_page(title="hub").standings] == ["MEL-1", "MEL-2"]


@pytest.mark.postgresql_only
def test_the_migration_makes_pg_trgm_in_public_and_uses_one_made_before(place: Place) -> None:
    with server_connection(_database(place.admin)) as server:
        (schema,) = server.execute("SELECT nspname FROM pg_extension JOIN pg_namespace ON pg_namespace.oid = "
                                   "extnamespace WHERE extname = 'pg_trgm'").fetchone()
    assert schema == "public"  # where a schema dropped with its tests cannot take it along


def _database(target: str) -> str:
    from sqlalchemy.engine import make_url

    return str(make_url(target).database)
