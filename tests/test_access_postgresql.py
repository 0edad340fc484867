"""Who may act, enforced by PostgreSQL itself: three real logins — a Melhus project leader, a
Trondheim project leader, an auditor — each over its own connection, tried through flowengine's
Python API, its command line, and raw SQL that goes around flowengine.

The suite's server trusts loopback connections, so a login is chosen by naming it; on a real
server each would authenticate (password, certificate, LDAP, Kerberos)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flowengine_cli.main import cli
from sqlalchemy.engine import make_url

from flowengine.errors import AccessDenied, NotFound
from flowengine.history.records import Actor
from flowengine.service.facade import FlowEngine

from .access_support import Place, member_logins, municipal_workflows
from .access_support import server_connection as _server
from .cli_support import CLEARED_ENV

pytestmark = pytest.mark.postgresql_only

SUFFIX = os.getpid()


@pytest.fixture
def place(db_target: str, tmp_path: Path) -> Iterator[Place]:
    folder = municipal_workflows(tmp_path)
    logins = {who: f"{who}_{SUFFIX}" for who in ("melhus", "trondheim", "auditor")}
    with FlowEngine.open(db_target, workflow_dirs=[folder]) as admin:  # creates the schema, the roles
        admin.new_proposal("melhus", title="Service hub at Potten", actor=Actor("leader", "project_leader"))
        admin.new_proposal("trondheim", title="Hub at Byåsen", actor=Actor("leader", "project_leader"))
        admin.grant(logins["melhus"], ["project_leader"], ["melhus"])
        admin.grant(logins["trondheim"], ["project_leader"], ["trondheim"])
        admin.grant(logins["auditor"], ["reader"], ["*"])
    with member_logins(logins.values()):
        yield Place(db_target, folder, logins)


def test_the_tables_belong_to_a_role_nobody_logs_in_as(place: Place) -> None:
    with place.sql("auditor") as conn:
        owners = {row[0] for row in conn.execute(
            "SELECT tableowner FROM pg_tables WHERE schemaname = current_schema()")}
        can_login = conn.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'flowengine_owner'").fetchone()
    assert owners == {"flowengine_owner"} and can_login == (False,)


def test_the_melhus_leader_sees_and_moves_melhus_alone(place: Place) -> None:
    melhus = place.logins["melhus"]
    with place.engine("melhus") as engine:
        assert engine.login == melhus
        assert [s.proposal.id for s in engine.proposals()] == ["MEL-1"]
        with pytest.raises(NotFound):
            engine.history("TRD-1")
        with pytest.raises(AccessDenied, match="may not read trondheim"):
            engine.proposals(workflow="trondheim")
        done = engine.advance("MEL-1", "send", actor=Actor(melhus, "project_leader"))
        assert done.event.login == melhus
        with pytest.raises(AccessDenied, match=f"^{melhus} may not act as politician in melhus"):
            engine.advance("MEL-1", "decide", actor=Actor(melhus, "politician"))
        with pytest.raises(NotFound):  # out of sight: the server shows the login no row of it
            engine.advance("TRD-1", "send", actor=Actor(melhus, "project_leader"))
        with pytest.raises(AccessDenied, match="admin capability"):
            engine.migrate("melhus", "melhus", actor=Actor(melhus, "project_leader"))
        with pytest.raises(AccessDenied, match="admin capability"):
            engine.grant(melhus, ["politician"], ["melhus"])
        assert [a.workflow.id for a in engine.analyse()] == ["melhus"]
        assert engine.readable_workflows() == ("melhus",)
        made = engine.new_proposal("melhus", title="Better information", actor=Actor(melhus, "project_leader"))
        assert made.proposal.id == "MEL-2"
        assert engine.verify().ok


def test_the_command_line_refuses_with_the_grant_that_would_allow_it(place: Place) -> None:
    melhus = place.logins["melhus"]
    env: dict[str, str | None] = {name: None for name in CLEARED_ENV}
    env |= {"FLOWENGINE_DB": place.url("melhus"), "FLOWENGINE_WORKFLOWS": str(place.folder)}

    def run(*args: str) -> Any:
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False, prog_name="flowengine")

    listed = run("proposal", "list", "--json")
    assert listed.exit_code == 0 and "MEL-1" in listed.stdout and "TRD-1" not in listed.stdout
    exported = run("export", "--format", "csv")
    assert exported.exit_code == 0 and "MEL-1" in exported.stdout and "TRD-1" not in exported.stdout
    refused = run("advance", "MEL-1", "send", "--as", melhus, "--role", "politician")
    assert refused.exit_code == 1
    assert refused.stderr == (f"error: {melhus} may not act as politician in melhus (roles here: project_leader); "
                              f"an administrator can grant it: flowengine access grant {melhus} --role politician "
                              "--workflow melhus\n")
    assert run("access", "grant", melhus, "--role", "politician", "--workflow", "melhus").exit_code == 1


def test_raw_sql_over_the_leaders_own_connection_cannot_read_or_forge(place: Place) -> None:
    import psycopg

    melhus, trondheim = place.logins["melhus"], place.logins["trondheim"]
    with place.sql("melhus") as conn:
        assert [row[0] for row in conn.execute("SELECT id FROM proposals ORDER BY id")] == ["MEL-1"]
        assert conn.execute("SELECT count(*) FROM events e JOIN proposals p ON p.pk = e.proposal_pk").fetchone() \
            == (1,)
        pk, head = conn.execute("SELECT pk, head_hash FROM proposals WHERE id = 'MEL-1'").fetchone()
        forge = ("INSERT INTO events (proposal_pk, seq, kind, trigger, from_state, to_state, actor, role, at, "
                 "entered_at, comment, changes, details, prev_hash, hash, login, recorded_at) VALUES "
                 "(%s, 2, 'advanced', %s, 'draft', %s, %s, %s, now(), now(), '', '{}', '{}', %s, %s, %s, now())")
        for values, refusal in (
                (("send", "political_review", melhus, "project_leader", trondheim), "as login"),
                (("send", "political_review", melhus, "politician", melhus), "may not act as politician"),
                (("send", "political_review", "system", "project_leader", melhus), "engine's own name"),
                (("send", "political_review", "rita", "project_leader", melhus), "under another name")):
            trigger, target, actor, role, login = values
            with pytest.raises(psycopg.Error, match=refusal):
                conn.execute(forge, (pk, trigger, target, actor, role, head, "f" * 64, login))
        trd = conn.execute("SELECT pk FROM proposals WHERE id = 'TRD-1'").fetchone()
        assert trd is None
        for statement in ("UPDATE events SET comment = 'rewritten'", "DELETE FROM events",
                          "DELETE FROM access_log", "UPDATE settings SET value = 'injected'",
                          f"INSERT INTO grants VALUES ('{melhus}', '*', 'admin', '{melhus}', now())",
                          "TRUNCATE events", "ALTER TABLE events DISABLE TRIGGER USER"):
            with pytest.raises(psycopg.Error):
                conn.execute(statement)
    with place.engine("auditor") as engine:  # nothing of that was written
        assert engine.verify().ok


def test_a_step_recorded_at_another_time_than_the_databases_is_refused(place: Place) -> None:
    import psycopg

    melhus = place.logins["melhus"]
    with _server(make_url(place.admin).database) as server:  # as a database made for real use is
        server.execute(f"UPDATE \"{_schema(place)}\".settings SET value = 'system' WHERE name = 'clock'")
    with place.sql("melhus") as conn:
        pk, head = conn.execute("SELECT pk, head_hash FROM proposals WHERE id = 'MEL-1'").fetchone()
        with pytest.raises(psycopg.Error, match="recorded at the database's time"):
            conn.execute("INSERT INTO events (proposal_pk, seq, kind, trigger, from_state, to_state, actor, role, at, "
                         "entered_at, comment, changes, details, prev_hash, hash, login, recorded_at) VALUES "
                         "(%s, 2, 'advanced', 'send', 'draft', 'political_review', %s, 'project_leader', now(), "
                         "now(), '', '{}', '{}', %s, %s, %s, '2099-01-01')", (pk, melhus, head, "f" * 64, melhus))
    with place.engine("melhus") as engine:  # flowengine itself records at the database's time
        assert engine.recording_clock is None
        done = engine.advance("MEL-1", "send", actor=Actor(melhus, "project_leader"))
        assert done.event.recorded_at is not None


def test_the_auditor_reads_everything_and_writes_nothing(place: Place) -> None:
    import psycopg

    auditor = place.logins["auditor"]
    with place.engine("auditor") as engine:
        assert [s.proposal.id for s in engine.proposals()] == ["MEL-1", "TRD-1"]
        with pytest.raises(AccessDenied):
            engine.note("MEL-1", "Seen", actor=Actor(auditor, "project_leader"))
        assert engine.verify().ok
    with place.sql("auditor") as conn:
        assert conn.execute("SELECT count(*) FROM proposals").fetchone() == (2,)
        assert conn.execute("UPDATE proposals SET title = 'x'").rowcount == 0  # no row is its to write
        with pytest.raises(psycopg.Error, match=r"auditor_\d+ may not act as project_leader"):
            pk, head = conn.execute("SELECT pk, head_hash FROM proposals WHERE id = 'MEL-1'").fetchone()
            conn.execute("INSERT INTO events (proposal_pk, seq, kind, to_state, actor, role, at, entered_at, comment, "
                         "changes, details, prev_hash, hash, login, recorded_at) VALUES (%s, 2, 'noted', 'draft', "
                         "%s, 'project_leader', now(), now(), 'Seen', '{}', '{}', %s, %s, %s, now())",
                         (pk, auditor, head, "f" * 64, auditor))


def test_grants_and_revokes_take_effect_at_the_next_command(place: Place, db_target: str) -> None:
    melhus = place.logins["melhus"]
    with place.engine("melhus") as engine, pytest.raises(AccessDenied):
        engine.proposals(workflow="trondheim")
    with FlowEngine.open(db_target, workflow_dirs=[place.folder]) as admin:
        admin.grant(melhus, ["reader"], ["trondheim"])
    with place.engine("melhus") as engine:
        assert [s.proposal.id for s in engine.proposals()] == ["MEL-1", "TRD-1"]
    with FlowEngine.open(db_target, workflow_dirs=[place.folder]) as admin:
        admin.revoke(melhus, ["reader"], ["trondheim"])
    with place.engine("melhus") as engine:
        assert [s.proposal.id for s in engine.proposals()] == ["MEL-1"]


def test_the_access_log_verifies_and_a_tampered_grant_row_is_found(place: Place, db_target: str) -> None:
    with place.engine("auditor") as engine:
        assert engine.verify().ok and engine.verify().access_entries == 5
    with _server(make_url(place.admin).database) as server:  # the owner's own hand, behind the log's back
        server.execute(f"UPDATE \"{_schema(place)}\".grants SET role = 'politician' "
                       f"WHERE login = '{place.logins['melhus']}'")
    with place.engine("auditor") as engine:
        report = engine.verify()
    assert not report.ok and len(report.access_problems) == 2


def _schema(place: Place) -> str:
    schema = make_url(place.admin).query.get("application_name")
    assert isinstance(schema, str)
    return schema


def test_erasure_is_for_administrators_and_the_database_refuses_deleting_a_kept_value(place: Place) -> None:
    """A project leader records steps with names kept apart (event format 3, every database's
    since schema 0011), but may not erase
    them: neither through flowengine nor by deleting the kept values directly; the administrator can."""
    from flowengine.service.erasing import ErasureRequest

    melhus = place.logins["melhus"]
    with place.engine("melhus") as engine:
        pid = engine.new_proposal("melhus", title="Meeting place", actor=Actor(melhus, "project_leader")).proposal.id
        assert engine.history(pid)[1][0].format == 3
        with pytest.raises(AccessDenied, match="admin capability"):
            engine.erase(ErasureRequest(proposal=pid))
    with place.sql("melhus") as conn:
        assert conn.execute("DELETE FROM erasable").rowcount == 0  # row-level security: no row is its to delete
    with FlowEngine.open(place.admin, workflow_dirs=[place.folder]) as admin:
        assert admin.erase(ErasureRequest(actor=melhus)).erased == {pid: 1}
        assert admin.verify().ok
