"""Who acted, for real: the authenticated login sealed into every step, grants per workflow
enforced on every write and read path, the access log, solo mode, and the clock nobody sets.

On SQLite the identity is the process's OS login; a second login is simulated by what the
operating system would answer (``store.basics.os_login``). The PostgreSQL tests with separate
real logins are in ``test_access_postgresql.py``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from flowengine_cli.main import cli
from sqlalchemy import text

from flowengine.errors import AccessDenied, InvalidInput, NotFound
from flowengine.history.records import Actor
from flowengine.service.facade import FlowEngine
from flowengine.store import basics as store_basics

from .access_support import municipal_workflows
from .cli_support import CLEARED_ENV
from .databases import count_events, raw_connection

pytestmark = pytest.mark.sqlite_only("a second login is simulated through the OS; PostgreSQL has real ones")

ME = store_basics.os_login()
LEADER = Actor(ME, "project_leader")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return municipal_workflows(tmp_path)


Become = Callable[[str], None]


@pytest.fixture
def as_login(monkeypatch: pytest.MonkeyPatch) -> Become:
    """``as_login("kari")``: from now on the operating system says this process is kari."""

    def become(login: str) -> None:
        monkeypatch.setattr(store_basics, "os_login", lambda: login)

    return become


def _open(db: str, folder: Path) -> FlowEngine:
    return FlowEngine.open(db, workflow_dirs=[folder])


def test_whoever_creates_the_database_holds_admin_and_every_role(db_target: str, folder: Path) -> None:
    with _open(db_target, folder) as engine:
        me = engine.whoami()
        assert (me.login, me.admin, me.roles) == (ME, True, {"*": ["*"]})
        done = engine.new_proposal("melhus", title="Meeting place", actor=Actor("kari", "project_leader"))
        assert done.event.login == ME and done.event.recorded_at is not None
        assert [(e.action, e.login, e.workflow, e.role) for e in engine.access_log()] == [
            ("grant", ME, "*", "admin"), ("grant", ME, "*", "*")]


def test_a_second_login_without_a_grant_is_refused_and_nothing_is_written(db_target: str, folder: Path,
                                                                           as_login: Become) -> None:
    with _open(db_target, folder) as engine:
        engine.new_proposal("melhus", title="Meeting place", actor=LEADER)
    before = count_events(db_target)
    as_login("ola")
    with _open(db_target, folder) as engine:
        with pytest.raises(AccessDenied) as refused:
            engine.new_proposal("melhus", title="Another", actor=Actor("ola", "project_leader"))
        assert str(refused.value) == ("ola may not act as project_leader in melhus (roles here: none); an "
                                      "administrator can grant it")
        with pytest.raises(NotFound):  # not even its id is the login's to know
            engine.history("MEL-1")
        assert engine.proposals() == []
    assert count_events(db_target) == before


def test_a_grant_takes_effect_at_the_next_command_and_names_what_is_held(db_target: str, folder: Path,
                                                                          as_login: Become) -> None:
    with _open(db_target, folder) as admin:
        admin.new_proposal("trondheim", title="Hub at Byåsen", actor=LEADER)
        assert [(g.login, g.workflow, g.role) for g in admin.grant("ola", ["project_leader"], ["melhus"])] == [
            ("ola", "melhus", "project_leader")]
        assert admin.grant("ola", ["project_leader"], ["melhus"]) == []  # already held: nothing recorded
    as_login("ola")
    with _open(db_target, folder) as ola:
        made = ola.new_proposal("melhus", title="Service hub at Potten", actor=Actor("ola", "project_leader"))
        assert made.event.login == "ola"
        ola.advance(made.proposal.id, "send", actor=Actor("ola", "project_leader"))
        with pytest.raises(AccessDenied, match=r"^ola may not act as politician in melhus \(roles here: "
                                               r"project_leader\); an administrator can grant it$"):
            ola.advance(made.proposal.id, "decide", actor=Actor("ola", "politician"))
        assert [s.proposal.id for s in ola.proposals()] == [made.proposal.id]  # Trondheim's stays out of sight
        with pytest.raises(AccessDenied, match="may not read trondheim"):
            ola.proposals(workflow="trondheim")
        with pytest.raises(AccessDenied, match="another name"):
            ola.new_proposal("melhus", title="Under a pseudonym", actor=Actor("someone", "project_leader"))
        with pytest.raises(AccessDenied, match="admin capability"):
            ola.grant("ola", ["politician"], ["melhus"])
        with pytest.raises(AccessDenied, match="admin capability"):
            ola.migrate("melhus", "melhus", actor=Actor("ola", "project_leader"))
        with pytest.raises(AccessDenied, match="may not act as system"):
            ola.tick()
        assert [a.workflow.id for a in ola.analyse()] == ["melhus"]
    as_login(ME)
    with _open(db_target, folder) as admin:
        admin.revoke("ola", ["project_leader"], ["melhus"])
    as_login("ola")
    with _open(db_target, folder) as ola, pytest.raises(NotFound):  # no role left in melhus: out of sight
        ola.note("MEL-1", "Still waiting", actor=Actor("ola", "project_leader"))


def test_a_reader_reads_everything_granted_and_writes_nothing(db_target: str, folder: Path, as_login: Become) -> None:
    with _open(db_target, folder) as admin:
        admin.new_proposal("melhus", title="Meeting place", actor=LEADER)
        admin.new_proposal("trondheim", title="Hub at Byåsen", actor=LEADER)
        admin.grant("auditor", ["reader"], ["*"])
    as_login("auditor")
    with _open(db_target, folder) as auditor:
        assert [s.proposal.id for s in auditor.proposals()] == ["MEL-1", "TRD-1"]
        assert auditor.verify().ok
        with pytest.raises(AccessDenied, match="auditor may not act as project_leader in melhus"):
            auditor.note("MEL-1", "Seen", actor=Actor("auditor", "project_leader"))


def test_the_engines_own_name_is_nobodys(db_target: str, folder: Path) -> None:
    with _open(db_target, folder) as engine, pytest.raises(AccessDenied, match="engine's own name"):
        engine.new_proposal("melhus", title="Escalated automatically", actor=Actor("system", "project_leader"))


def test_the_access_log_verifies_and_a_grant_written_behind_its_back_is_found(db_target: str,
                                                                              folder: Path) -> None:
    with _open(db_target, folder) as engine:
        engine.grant("kari", ["project_leader"], ["melhus"])
        assert engine.verify().ok and engine.verify().access_entries == 3
    with raw_connection(db_target) as conn:
        conn.execute(text("INSERT INTO grants (login, workflow, role, granted_by, granted_at) "
                          "VALUES ('kari', '*', 'admin', 'kari', '2024-01-01 00:00:00')"))
    with _open(db_target, folder) as engine:
        report = engine.verify()
    assert not report.ok
    assert report.access_problems == ("grant of admin in * to kari is not in the access log: it was written "
                                      "behind the log's back",)


def test_a_step_cannot_take_effect_in_the_future_of_a_database_made_for_real_use(
        db_target: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime, timedelta

    monkeypatch.delenv("FLOWENGINE_FOR_TESTS")
    with _open(db_target, folder) as engine:
        assert not engine.whoami().made_for_tests
        with pytest.raises(InvalidInput, match="is in the future"):
            engine.new_proposal("melhus", title="Dated 2099", actor=LEADER,
                                at=datetime.now(UTC) + timedelta(days=1))
        last_tuesday = datetime.now(UTC) - timedelta(days=6)
        done = engine.new_proposal("melhus", title="Decided at last Tuesday's meeting", actor=LEADER,
                                   at=last_tuesday)
        assert done.event.at == last_tuesday and done.event.recorded_at is not None
        assert done.event.recorded_at > last_tuesday


def _cli(db: str, folder: Path, *args: str, now: str | None = "2024-03-01T09:00:00Z") -> tuple[int, str, str]:
    env: dict[str, str | None] = {name: None for name in CLEARED_ENV}
    env |= {"FLOWENGINE_DB": db, "FLOWENGINE_WORKFLOWS": str(folder), "FLOWENGINE_NOW": now}
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False, prog_name="flowengine")
    return result.exit_code, result.stdout, result.stderr


def test_the_command_line_names_the_grant_that_would_allow_a_refused_step(db_target: str, folder: Path,
                                                                          as_login: Become) -> None:
    granted = _cli(db_target, folder, "access", "grant", "kari", "--role", "project_leader", "--workflow", "melhus")
    assert granted[0] == 0, granted
    as_login("kari")
    code, out, err = _cli(db_target, folder, "proposal", "new", "melhus", "--title", "Meeting place", "--as", "kari",
                          "--role", "politician")
    assert (code, out) == (1, "")
    assert err == ("error: kari may not act as politician in melhus (roles here: project_leader); an administrator "
                   "can grant it: flowengine access grant kari --role politician --workflow melhus\n")
    code, out, _ = _cli(db_target, folder, "whoami", "--json")
    assert code == 0 and '"login": "kari"' in out and '"melhus": [\n      "project_leader"' in out


def test_a_fixed_clock_is_refused_by_a_database_made_for_real_use(db_target: str, folder: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLOWENGINE_FOR_TESTS")
    assert _cli(db_target, folder, "init", now=None)[0] == 0
    code, _, err = _cli(db_target, folder, "proposal", "list", now="2099-01-01")
    assert code == 1 and "made for real use" in err and "unset FLOWENGINE_NOW" in err



def test_effective_dates_a_step_earlier_than_its_recording_never_later_nor_before_the_last(
        db_target: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    monkeypatch.delenv("FLOWENGINE_FOR_TESTS")
    me = ("--as", ME, "--role", "project_leader")
    made = _cli(db_target, folder, "proposal", "new", "melhus", "--title", "Decided on Tuesday", *me,
                "--effective", "2024-01-02T10:00:00Z", now=None)
    assert made[0] == 0, made
    future = _cli(db_target, folder, "advance", "MEL-1", "send", *me, "--effective", "2199-01-01", now=None)
    assert future[0] == 1 and "is in the future" in future[2]
    earlier = _cli(db_target, folder, "note", "MEL-1", "Heard", *me, "--effective", "2023-12-31T10:00:00Z", now=None)
    assert earlier[0] == 1 and "is before the last step of MEL-1" in earlier[2]
    events = json.loads(_cli(db_target, folder, "history", "MEL-1", "--json", now=None)[1])["events"]
    assert [(e["at"], e["login"]) for e in events] == [("2024-01-02T10:00:00.000000Z", ME)]
    assert events[0]["recorded_at"] > "2025"  # recorded when it was, by the clock
