"""``proposal show``, ``history`` and ``proposal list`` read through the database driver alone
(flowengine.service.quick_reads): the same records as the façade's, hence the same output, human
and JSON, erasure lines and all; the façade takes over wherever that read is off the straight
path (a proposal not there or not readable, a moment before it existed, another schema, a fixed
clock on a database made for real use); and on PostgreSQL a member login sees its own workflows
only."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flowengine_cli.main import cli

from flowengine.clock import clock_from_environment
from flowengine.errors import AccessDenied
from flowengine.history.records import FROM_KEY, Actor
from flowengine.service import quick_reads
from flowengine.service.erasing import ErasureRequest
from flowengine.service.facade import FlowEngine
from flowengine.store import basics, direct, queries

from .access_support import Place, member_logins, municipal_workflows
from .cli_support import CLEARED_ENV, command_modules
from .conftest import FixedClock
from .databases import DatabaseTargets
from .stress_advances import WORKFLOW, WORKFLOW_DIR
from .test_national import national

NOW = national.END + timedelta(days=40)
NAME = "Ola Nordmann"


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory,
          database_targets: DatabaseTargets) -> Iterator[tuple[str, list[str]]]:
    """A small national set (loops, notes, progress, names kept apart) and a few proposals of
    ping-pong beside it: one erased in part, one that others came from; the ids worth reading."""
    folder = tmp_path_factory.mktemp("quick-reads")
    db = database_targets.new(folder, "quick-reads.db")
    national.build(db, scale=0.001, municipalities=3, seed=11)
    with FlowEngine.open(db, workflow_dirs=[WORKFLOW_DIR], clock=FixedClock(NOW)) as engine:
        panel, council = Actor(NAME, "panel"), Actor("cato", "council")
        source = engine.new_proposal(WORKFLOW, title="Meeting place", actor=panel,
                                     fields={"note": "private"}).proposal.id
        engine.advance(source, "ping", actor=panel, comment=f"{NAME} says so")
        engine.advance(source, "pong", actor=council, comment="back to the panel")
        erased = engine.new_proposal(WORKFLOW, title="Erased in part", actor=panel, fields={"note": "x"}).proposal.id
        engine.advance(erased, "ping", actor=panel, comment="a comment to erase")
        engine.erase(ErasureRequest(proposal=erased, comments=True, request="letter 17"))
        derived = engine.new_proposal(WORKFLOW, title="Came from the meeting place", actor=panel,
                                      from_proposal=source).proposal.id
        engine.new_proposal(WORKFLOW, title="Also from it", actor=council, from_proposal=source)
        with engine.database.read() as conn:
            ids = queries.proposal_ids(conn)
    picked = [*ids[:: max(1, len(ids) // 12)], source, erased, derived]
    yield db, sorted(set(picked))
    database_targets.drop(db)


def _env(db: str) -> dict[str, str | None]:
    environment: dict[str, str | None] = {name: None for name in CLEARED_ENV}
    return environment | {"FLOWENGINE_DB": db, "FLOWENGINE_NOW": NOW.isoformat(), "FLOWENGINE_PAGER": "cat",
                          "TZ": "UTC"}


def _both(db: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[Result, Result]:
    """The command's output through the driver's read, and through the façade (the quick read
    made to answer None)."""
    quick = CliRunner().invoke(cli, list(args), env=_env(db), prog_name="flowengine")
    with monkeypatch.context() as patched:
        patched.setattr(quick_reads, "read", lambda *_args: None)
        engine = CliRunner().invoke(cli, list(args), env=_env(db), prog_name="flowengine")
    return quick, engine


def test_the_drivers_reads_of_one_proposal_are_the_stores(place: tuple[str, list[str]]) -> None:
    db, _ = place
    until = datetime(2019, 7, 1, tzinfo=UTC)
    link = direct.connect(direct.target(db))
    assert link is not None
    with FlowEngine.open(db, clock=FixedClock(NOW)) as engine, engine.database.read() as conn, link:
        ids = queries.proposal_ids(conn)
        for pid in ids:
            expected = queries.load_proposal(conn, pid)
            assert expected is not None
            assert link.proposal(pid) == expected
            pk, proposal = expected
            assert link.events_of(pk) == queries.events_of(conn, pk)
            assert link.events_of(pk, until=until) == queries.events_of(conn, pk, until=until)
            assert link.derived_from(pid) == queries.derived_from(conn, [pid]).get(pid, [])
            assert link.derived_from(pid, until=until) == queries.derived_from(conn, [pid], until=until).get(pid, [])
            assert link.definition_text(proposal.definition_hash) == \
                queries.definition_text(conn, proposal.definition_hash)
        assert link.proposal("NOPE-1") is None
        assert sum(len(link.derived_from(pid)) for pid in ids) == 2
        assert any(event.personal for pid in ids for event in link.events_of(link.proposal(pid)[0]))


@pytest.mark.parametrize("as_of", [None, datetime(2019, 7, 1, tzinfo=UTC), NOW + timedelta(days=400)],
                         ids=["now", "part-way", "after-now"])
def test_show_and_history_read_by_the_driver_are_the_facades(place: tuple[str, list[str]], as_of: datetime | None,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    db, ids = place
    monkeypatch.setenv("FLOWENGINE_NOW", NOW.isoformat())
    with FlowEngine.open(db, clock=FixedClock(NOW), create=False) as engine:
        checked = 0
        for pid in ids:
            found = quick_reads.standing(db, pid.lower(), as_of=as_of, language="nb")
            read = quick_reads.history(db, pid, as_of=as_of)
            if found is None:  # not registered yet then: the façade says so
                assert as_of is not None and read is None
                with pytest.raises(Exception, match="did not exist yet"):
                    engine.standing(pid, as_of=as_of)
                continue
            assert found == engine.standing(pid, as_of=as_of, language="nb")
            assert read is not None
            proposal, events = engine.history(pid, as_of=as_of)
            assert read == (proposal, events, engine.led_to(pid, as_of=as_of))
            checked += 1
        assert checked >= 4


@pytest.mark.parametrize("args", [("proposal", "show"), ("proposal", "show", "--json"), ("history",),
                                  ("history", "--json"), ("history", "--as-of", "2019-07-01"),
                                  ("proposal", "show", "--as-of", "2019-07-01", "--json")],
                         ids=["show", "show-json", "history", "history-json", "history-as-of", "show-as-of-json"])
def test_the_commands_print_the_same_through_either_read(place: tuple[str, list[str]], args: tuple[str, ...],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    db, ids = place
    for pid in ids:
        quick, engine = _both(db, monkeypatch, *args[:2], pid, *args[2:]) if args[0] == "proposal" else \
            _both(db, monkeypatch, args[0], pid, *args[1:])
        assert (quick.exit_code, quick.stdout, quick.stderr) == (engine.exit_code, engine.stdout, engine.stderr), pid


def test_erasure_and_lineage_lines_read_the_same(place: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    db, ids = place
    both = [_both(db, monkeypatch, "history", pid) for pid in ids if pid.startswith("PING")]
    assert all(quick.stdout == engine.stdout for quick, engine in both)
    shown = [quick.stdout for quick, _ in both]
    assert any("[erased]" in text for text in shown)
    assert any("led to" in text for text in shown) and any("came from" in text for text in shown)
    show = [_both(db, monkeypatch, "proposal", "show", pid)[0].stdout for pid in ids if pid.startswith("PING")]
    assert any("erased" in text for text in show)


def test_the_facade_takes_over_what_the_driver_read_cannot_be_sure_of(
        place: tuple[str, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db, ids = place
    monkeypatch.setenv("FLOWENGINE_NOW", NOW.isoformat())
    pid = ids[0]
    assert quick_reads.standing(db, pid) is not None
    assert quick_reads.standing(db, "NOPE-404") is None  # the façade says so, with the ids near it
    assert quick_reads.history(db, "NOPE-404") is None
    assert quick_reads.standing(db, pid, as_of=datetime(1990, 1, 1, tzinfo=UTC)) is None  # before it existed
    assert quick_reads.history(db, pid, as_of=datetime(1990, 1, 1, tzinfo=UTC)) is None
    assert quick_reads.standing(db, pid, as_of=datetime(2300, 1, 1, tzinfo=UTC)) is None  # out of the window
    assert quick_reads.standing(str(tmp_path / "none.db"), pid) is None
    monkeypatch.setattr(basics, "SCHEMA_HEAD", "0099_not_yet")
    assert quick_reads.standing(db, pid) is None
    assert quick_reads.history(db, pid) is None
    missing = CliRunner().invoke(cli, ["proposal", "show", "NOPE-404"], env=_env(db), prog_name="flowengine")
    assert missing.exit_code != 0 and "NOPE-404" in missing.stderr


@pytest.mark.sqlite_only("a fixed clock and the OS login: SQLite's")
def test_a_fixed_clock_and_a_login_without_a_grant_are_left_to_the_facade(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = str(tmp_path / "real.db")
    monkeypatch.delenv("FLOWENGINE_FOR_TESTS")
    monkeypatch.delenv("FLOWENGINE_NOW", raising=False)
    with FlowEngine.open(db, workflow_dirs=[WORKFLOW_DIR]) as engine:  # made for real use: the system clock
        pid = engine.new_proposal(WORKFLOW, title="Idea", actor=Actor("kari", "panel")).proposal.id
        expected = engine.standing(pid)
    found = quick_reads.standing(db, pid)
    assert found is not None and found.proposal == expected.proposal
    monkeypatch.setenv("FLOWENGINE_NOW", NOW.isoformat())
    assert quick_reads.standing(db, pid) is None  # the façade refuses the fixed clock, and says why
    monkeypatch.delenv("FLOWENGINE_NOW")
    monkeypatch.setattr(basics, "os_login", lambda: "stranger")
    assert quick_reads.standing(db, pid) is None  # not readable: the façade says it is not there
    assert quick_reads.history(db, pid) is None




def test_show_history_and_list_import_neither_sqlalchemy_nor_the_definition_language(
        place: tuple[str, list[str]]) -> None:
    db, ids = place
    env = {"FLOWENGINE_DB": db, "FLOWENGINE_NOW": NOW.isoformat(), "FLOWENGINE_PAGER": "cat"}
    heavy = {"sqlalchemy", "numpy", "yaml", "jsonschema", "alembic"}
    for args in (["proposal", "show", ids[-1]], ["proposal", "show", ids[0], "--json"], ["history", ids[-1]],
                 ["history", ids[0], "--json"], ["proposal", "list"], ["proposal", "list", "--json", "--after", ids[1]],
                 ["proposal", "list", "--overdue", "--sort", "updated"],
                 ["proposal", "list", "--sort", "waiting", "--stage", "implementation"]):
        command_modules(args, env)  # the first may build the definition from its YAML, and keep it
        status, loaded = command_modules(args, env)
        assert status == 0, args
        assert not loaded & heavy, (args, loaded & heavy)
        assert ("psycopg" in loaded) == ("://" in db and not db.startswith("sqlite")), args


@pytest.mark.postgresql_only
def test_a_member_login_reads_only_its_own_workflows_under_row_level_security(
        db_target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = municipal_workflows(tmp_path)
    logins = {who: f"{who}_reads_{os.getpid()}" for who in ("melhus", "trondheim")}
    with FlowEngine.open(db_target, workflow_dirs=[folder]) as admin:
        mine = admin.new_proposal("melhus", title="Service hub at Potten", actor=Actor("leader", "project_leader"))
        theirs = admin.new_proposal("trondheim", title="Hub at Byåsen", actor=Actor("leader", "project_leader"),
                                    from_proposal=mine.proposal.id)
        admin.grant(logins["melhus"], ["project_leader"], ["melhus"])
        admin.grant(logins["trondheim"], ["project_leader"], ["trondheim"])
    where = Place(db_target, folder, logins)
    monkeypatch.setenv("FLOWENGINE_NOW", "2030-01-01T00:00:00Z")
    with member_logins(logins.values()):
        url = where.url("melhus")
        found = quick_reads.standing(url, mine.proposal.id)
        with FlowEngine.open(url, workflow_dirs=[folder], clock=clock_from_environment(), create=False) as engine:
            assert found == engine.standing(mine.proposal.id)
            assert quick_reads.history(url, mine.proposal.id) == (*engine.history(mine.proposal.id), [])
        assert quick_reads.standing(url, theirs.proposal.id) is None  # out of its sight: the façade says so
        assert quick_reads.history(url, theirs.proposal.id) is None
        seen = quick_reads.history(where.url("trondheim"), theirs.proposal.id)
        assert seen is not None and seen[1][0].details.get(FROM_KEY) == mine.proposal.id
        listed = quick_reads.page(url)
        assert listed is not None and [s.proposal.id for s in listed.standings] == [mine.proposal.id]
        with FlowEngine.open(url, workflow_dirs=[folder], clock=clock_from_environment(), create=False) as engine:
            assert listed == engine.proposal_page()
        with pytest.raises(AccessDenied, match="may not read trondheim"):
            quick_reads.page(url, workflow="trondheim")


LISTS = [
    {}, {"limit": 7}, {"sort": "waiting"}, {"sort": "updated", "limit": 9}, {"sort": "state"},
    {"stage": "implementation", "sort": "waiting"}, {"overdue": True, "sort": "updated"}, {"overdue": True},
    {"owner": "panel"}, {"state": "a"}, {"title": "meeting"}, {"title": "50%_/"}, {"workflow": "ping-pong"},
    {"stage": "panel", "sort": "waiting", "limit": 3}, {"stage": "closed"}, {"title": "Ø"},
    {"title": "e", "sort": "waiting", "stage": "implementation"},
]


@pytest.mark.parametrize("options", LISTS, ids=lambda options: "-".join(f"{k}={v}" for k, v in options.items()) or
                         "first-page")
def test_a_page_read_by_the_driver_is_the_facades_and_so_is_the_next(
        place: tuple[str, list[str]], options: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    db, _ = place
    monkeypatch.setenv("FLOWENGINE_NOW", NOW.isoformat())
    with FlowEngine.open(db, clock=FixedClock(NOW), create=False) as engine:
        after = None
        for _ in range(3):  # the first page, and the next two after it
            found = quick_reads.page(db, after=after, language="nb", **options)  # type: ignore[arg-type]
            expected = engine.proposal_page(after=after, language="nb", **options)  # type: ignore[arg-type]
            assert found == expected
            after = expected.next_after
            if after is None:
                break


@pytest.mark.parametrize("args", [(), ("--json",), ("--sort", "waiting", "--stage", "implementation"),
                                  ("--overdue", "--sort", "updated", "--json"), ("--title", "MEETING", "--limit", "2"),
                                  ("--workflow", "ping-pong", "--sort", "updated")],
                         ids=["page", "json", "waiting-stage", "overdue-json", "title", "workflow"])
def test_the_list_prints_the_same_through_either_read(place: tuple[str, list[str]], args: tuple[str, ...],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    db, _ = place
    quick, engine = _both(db, monkeypatch, "proposal", "list", *args)
    assert quick.exit_code == 0, quick.stderr
    assert (quick.exit_code, quick.stdout, quick.stderr) == (engine.exit_code, engine.stdout, engine.stderr)
    if "--json" not in args:
        following = quick.stderr.split("next: ")[-1].strip().split()[1:] if "next: " in quick.stderr else []
        if following:  # the page the "next" line names, through either read
            quick, engine = _both(db, monkeypatch, *following)
            assert quick.exit_code == 0 and quick.stdout == engine.stdout


def test_a_list_the_driver_cannot_page_is_left_to_the_facade(place: tuple[str, list[str]],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    db, _ = place
    monkeypatch.setenv("FLOWENGINE_NOW", NOW.isoformat())
    assert quick_reads.page(db) is not None
    assert quick_reads.page(db, after="NOPE-404") is None  # the façade says so, with the ids near it
    assert quick_reads.page(db, sort="colour") is None and quick_reads.page(db, limit=0) is None
    missing = CliRunner().invoke(cli, ["proposal", "list", "--after", "NOPE-404"], env=_env(db), prog_name="flowengine")
    assert missing.exit_code == 1 and "NOPE-404" in missing.stderr
    quick, engine = _both(db, monkeypatch, "proposal", "list", "--as-of", "2019-07-01", "--json")  # replayed
    assert quick.exit_code == 0 and quick.stdout == engine.stdout
    monkeypatch.setattr(basics, "SCHEMA_HEAD", "0099_not_yet")
    assert quick_reads.page(db) is None


@pytest.mark.sqlite_only("SQLite's plans")
def test_every_statement_the_driver_runs_searches_an_index(place: tuple[str, list[str]],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Each costs the same on 1,000 and on 1,000,000 proposals: no statement of show, history or
    the first page of a list scans the proposals or the events."""
    db, ids = place
    monkeypatch.setenv("FLOWENGINE_NOW", NOW.isoformat())
    ran: list[tuple[str, dict[str, object]]] = []
    real = direct.Direct.rows

    def recorded(self: direct.Direct, sql: str, **params: object) -> list[object]:
        ran.append((sql, params))
        return real(self, sql, **params)

    monkeypatch.setattr(direct.Direct, "rows", recorded)
    erased = next(pid for pid in ids if pid.startswith("PING"))
    assert quick_reads.standing(db, erased) is not None and quick_reads.history(db, erased) is not None
    assert quick_reads.page(db, after=ids[1]) is not None
    monkeypatch.undo()
    link = direct.connect(direct.target(db))
    assert link is not None and len(ran) > 8
    with link:
        for sql, params in ran:
            plan = " | ".join(str(row[-1]) for row in link.rows("EXPLAIN QUERY PLAN " + sql, **params))
            assert "SCAN proposals" not in plan and "SCAN events" not in plan, (sql, plan)
