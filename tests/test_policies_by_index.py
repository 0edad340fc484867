"""Row-level security costs an index look-up per proposal, not a pass over every proposal
(migration 0010): the plans a member login gets, read from PostgreSQL's own EXPLAIN, and the
migration's way back to the policies 0008 made and forward again."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flowengine.history.records import Actor
from flowengine.service.facade import FlowEngine
from flowengine.store import migrate

from .access_support import Place, copy_proposal, member_logins, municipal_workflows, plan_nodes

pytestmark = pytest.mark.postgresql_only

LEADER = Actor("leader", "project_leader")
OTHERS = 20_000  # proposals of another municipality, which the member may not read


@pytest.fixture
def place(db_target: str, tmp_path: Path) -> Iterator[Place]:
    folder = municipal_workflows(tmp_path)
    login = f"melhus_plans_{os.getpid()}"
    with FlowEngine.open(db_target, workflow_dirs=[folder]) as admin:
        admin.new_proposal("melhus", title="Service hub at Potten", actor=LEADER)
        admin.new_proposal("trondheim", title="Hub at Byåsen", actor=LEADER)
        admin.grant(login, ["project_leader"], ["melhus"])
    copy_proposal(db_target, "TRD-1", "TRD", OTHERS)  # many more of Trondheim's, quickly
    with member_logins([login]):
        yield Place(db_target, folder, {"melhus": login})




def _plan(conn: Any, sql: str, *params: object) -> list[dict[str, Any]]:
    (document,) = conn.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params).fetchone()
    return list(plan_nodes(document[0]["Plan"]))


def test_a_members_read_of_one_proposals_events_looks_its_proposal_up_by_key(place: Place) -> None:
    with place.sql("melhus") as conn:
        (pk,) = conn.execute("SELECT pk FROM proposals WHERE id = 'MEL-1'").fetchone()
        nodes = _plan(conn, "SELECT * FROM events WHERE proposal_pk = %s", pk)
        on_proposals = [node for node in nodes if node.get("Relation Name") == "proposals"]
        assert on_proposals and all(node["Node Type"] == "Index Scan" for node in on_proposals), on_proposals
        assert all(node.get("Actual Rows", 0) <= 1 for node in on_proposals)  # one row, not every proposal
        assert conn.execute("SELECT count(*) FROM events WHERE proposal_pk = %s", (pk,)).fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (1,)  # still only Melhus' own


def test_the_policies_helpers_keep_their_plans_and_their_owner(place: Place) -> None:
    with place.sql("melhus") as conn:
        rows = conn.execute("""SELECT p.proname, l.lanname, pg_get_userbyid(p.proowner), p.prosecdef
                               FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
                               WHERE p.proname IN ('flowengine_is_admin', 'flowengine_reads_all',
                                                   'flowengine_readable', 'flowengine_holds',
                                                   'flowengine_writes', 'flowengine_check_event')""").fetchall()
    assert {name for name, *_ in rows} == {"flowengine_is_admin", "flowengine_reads_all", "flowengine_readable",
                                            "flowengine_holds", "flowengine_writes", "flowengine_check_event"}
    assert {(language, owner, definer) for _, language, owner, definer in rows} == {
        ("plpgsql", "flowengine_owner", True)}


def test_the_migration_goes_back_to_the_old_policies_and_forward_again(place: Place) -> None:
    from alembic import command

    def policies() -> dict[str, str]:
        with place.sql("melhus") as conn:
            # this test's own schema: the suite's other schemas in the same database hold policies of
            # the same names, at whatever revision their tests left them
            return dict(conn.execute("SELECT policyname, coalesce(qual, with_check) FROM pg_policies WHERE "
                                     "schemaname = current_schema() AND tablename IN ('events', 'erasable') "
                                     "AND cmd IN ('SELECT', 'INSERT')").fetchall())

    upgraded = policies()
    assert all("EXISTS" in rule and " IN " not in rule for rule in upgraded.values()), upgraded
    with FlowEngine.open(place.admin, workflow_dirs=[place.folder]) as admin:
        config = migrate._config()
        with admin.database.write() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0009_resealing")
        downgraded = policies()
        assert downgraded.keys() == upgraded.keys()
        assert all("EXISTS" not in rule and "IN" in rule for rule in downgraded.values()), downgraded
        migrate.upgrade(admin.database)
    assert policies() == upgraded
    with place.engine("melhus") as flow:  # and a member acts under them as before
        flow.note("MEL-1", "under 0010 again", actor=Actor(place.logins["melhus"], "project_leader"))
        assert [e.kind for e in flow.history("MEL-1")[1]] == ["created", "noted"]
        assert [s.proposal.id for s in flow.proposals()] == ["MEL-1"]
