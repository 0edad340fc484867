"""The published site respects read grants: a login granted one workflow builds a site in which
the other workflows do not exist — no page, no feed, no entry in a shared feed, no share of an
index figure — not merely pages nobody links to.

Built twice from one database: by a login that may read melhus alone, and by the administrator
asking for melhus alone (``--workflow melhus``). The two sites must be the same, file for file and
byte for byte, and nothing in the first may name a Trondheim proposal. On SQLite the second login
is what the operating system would answer (solo mode: the creator holds every role); on
PostgreSQL it is a real login of its own, which row-level security holds to its grants as well."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from flowengine_cli.main import cli
from sqlalchemy.engine import make_url

from flowengine.history.records import Actor
from flowengine.service.facade import FlowEngine
from flowengine.store import basics as store_basics
from flowengine.views.site.build import build_site

from .access_support import municipal_workflows
from .cli_support import CLEARED_ENV
from .databases import server_url

LEADER = Actor("leader", "project_leader")
POLITICIAN = Actor("mayor", "politician")
PANEL = "Youth panel"  # both municipalities' proposals come from a panel of this name: one shared feed
HIDDEN_WORDS = ("trondheim", "TRD-", "Byåsen", "Heimdal", "GLIMT")


def _fill(engine: FlowEngine) -> None:
    for title, decided in (("Service hub at Potten", True), ("Better information", False)):
        done = engine.new_proposal("melhus", title=title, origin=PANEL, actor=LEADER)
        engine.advance(done.proposal.id, "send", actor=LEADER)
        if decided:
            engine.advance(done.proposal.id, "decide", actor=POLITICIAN)
    for title in ("Hub at Byåsen", "Meeting place at Heimdal", "GLIMT recovery centre"):
        done = engine.new_proposal("trondheim", title=title, origin=PANEL, actor=LEADER)
        engine.advance(done.proposal.id, "send", actor=LEADER)


def _files(site: Path) -> dict[str, bytes]:
    return {str(path.relative_to(site)): path.read_bytes() for path in sorted(site.rglob("*")) if path.is_file()}


def _same_sites(granted: Path, asked: Path, *, internal: bool) -> None:
    mine, theirs = _files(granted), _files(asked)
    assert sorted(mine) == sorted(theirs)
    assert [name for name in mine if mine[name] != theirs[name]] == []
    # internal: every proposal a page and the feeds, the shared panel's among them (melhus' part of it)
    assert any(name.startswith("feeds/origin-") for name in mine) == internal
    for name, content in mine.items():
        text = content.decode("utf-8", "replace")
        assert [word for word in HIDDEN_WORDS if word in name or word in text] == [], name


def _day_after(engine: FlowEngine) -> datetime:
    """A moment after every step: both sites are built as of it."""
    newest = engine.newest_step()
    assert newest is not None
    return newest + timedelta(days=1)


def _report(env: dict[str, str], out: Path, *args: str) -> None:
    result = CliRunner().invoke(cli, ["report", "--out", str(out), *args],
                                env={**{name: None for name in CLEARED_ENV}, **env}, catch_exceptions=False)
    assert result.exit_code == 0, result.output


@pytest.mark.sqlite_only("a second login is simulated through the OS; PostgreSQL has real ones")
@pytest.mark.parametrize("internal", [False, True], ids=["published", "internal"])
def test_a_site_built_by_a_login_granted_one_workflow_holds_that_workflow_alone(
        db_target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, internal: bool) -> None:
    folder = municipal_workflows(tmp_path)
    with FlowEngine.open(db_target, workflow_dirs=[folder]) as admin:
        _fill(admin)
        admin.grant("panel_reader", ["reader"], ["melhus"])
        as_of = _day_after(admin).isoformat()
    env = {"FLOWENGINE_DB": db_target, "FLOWENGINE_WORKFLOWS": str(folder), "FLOWENGINE_LANG": "en", "TZ": "UTC"}
    flags = ("--as-of", as_of, *(("--internal",) if internal else ()))
    _report(env, tmp_path / "asked", "--workflow", "melhus", *flags)
    _report(env, tmp_path / "everything", *flags)
    everything = _files(tmp_path / "everything")  # the words looked for are there when Trondheim may be read
    assert all(any(word in name or word in content.decode("utf-8", "replace") for name, content in everything.items())
               for word in (HIDDEN_WORDS if internal else ("trondheim",)))
    monkeypatch.setattr(store_basics, "os_login", lambda: "panel_reader")
    _report(env, tmp_path / "granted", *flags)
    _same_sites(tmp_path / "granted", tmp_path / "asked", internal=internal)


@pytest.mark.postgresql_only
@pytest.mark.parametrize("internal", [False, True], ids=["published", "internal"])
def test_a_real_login_granted_one_workflow_builds_a_site_of_that_workflow_alone(
        db_target: str, tmp_path: Path, internal: bool) -> None:
    import psycopg

    folder = municipal_workflows(tmp_path)
    login = f"panel_reader_{os.getpid()}"
    with FlowEngine.open(db_target, workflow_dirs=[folder]) as admin:  # creates the schema and flowengine_users
        _fill(admin)
        admin.grant(login, ["reader"], ["melhus"])
        as_of = _day_after(admin)
        asked = build_site(admin, tmp_path / "asked", workflows=["melhus"], as_of=as_of, internal=internal)
    server = make_url(server_url() or "")
    with psycopg.connect(host=server.host, port=server.port, user=server.username or "postgres",
                         dbname=server.database or "postgres", autocommit=True) as connection:
        connection.execute(f"DROP ROLE IF EXISTS {login}")
        connection.execute(f"CREATE ROLE {login} LOGIN IN ROLE flowengine_users")
    try:
        as_reader = make_url(db_target).set(username=login).render_as_string(hide_password=False)
        with FlowEngine.open(as_reader, workflow_dirs=[folder]) as reader:
            assert reader.whoami().login == login
            granted = build_site(reader, tmp_path / "granted", as_of=as_of, internal=internal)
        _same_sites(granted.out, asked.out, internal=internal)
    finally:
        with psycopg.connect(host=server.host, port=server.port, user=server.username or "postgres",
                             dbname=server.database or "postgres", autocommit=True) as connection:
            connection.execute(f"DROP ROLE IF EXISTS {login}")
