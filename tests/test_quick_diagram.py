"""``stalls diagram`` of a small workflow reads its figures through the database driver alone
(flowengine.service.quick): the same analysis as ``FlowEngine.analyse``, hence the same diagram,
without importing SQLAlchemy or numpy; and the engine takes over wherever that read cannot be
sure of giving the same (another schema, a file not stored yet, a large workflow …)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from flowengine_cli.main import cli

from flowengine.analysis.disclosure import for_publication
from flowengine.analysis.figures import Analysis, Privacy
from flowengine.clock import clock_from_environment
from flowengine.errors import AccessDenied
from flowengine.history.records import Actor
from flowengine.service import quick
from flowengine.service.facade import FlowEngine
from flowengine.store import basics, direct, queries
from flowengine.views.stall_diagram import stall_diagram_dot

from .access_support import Place, member_logins, municipal_workflows
from .cli_support import command_modules
from .conftest import FixedClock
from .databases import DatabaseTargets
from .stall_histories import HISTORIES, TINY, day, record_histories
from .test_national import national

NOW = "2019-06-01T00:00:00Z"


def _engine_analysis(db: str, workflow: str, folder: Path | None, as_of: datetime | None
                     ) -> tuple[Analysis, datetime | None]:
    """What the command did before: the façade, opened as the command line opens it."""
    with FlowEngine.open(db, workflow_dirs=[folder] if folder else [], clock=clock_from_environment(),
                         create=False) as engine:
        (analysis,) = engine.analyse([workflow], as_of=as_of)
        return analysis, engine.newest_step([workflow])


def _same_drawing(mine: Analysis, theirs: Analysis) -> None:
    for language, privacy in (("en", Privacy()), ("nb", Privacy.publication())):
        decided, _ = for_publication([theirs], privacy)
        assert stall_diagram_dot(mine, language, for_publication([mine], privacy)[0]) == \
            stall_diagram_dot(theirs, language, decided)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory, database_targets: DatabaseTargets) -> Iterator[tuple[Path, str]]:
    """The hand-built histories of tests.stall_histories (stalls, notes, a jump back, outcomes)."""
    folder = tmp_path_factory.mktemp("quick")
    (folder / "tiny.yaml").write_text(TINY, encoding="utf-8")
    db = database_targets.new(folder, "quick.db")
    with FlowEngine.open(db, workflow_dirs=[folder]) as engine:
        record_histories(engine)
    yield folder, db
    database_targets.drop(db)


@pytest.mark.parametrize("as_of", [None, datetime(2019, 2, 9, tzinfo=UTC), datetime(2019, 1, 10, tzinfo=UTC),
                                   datetime(2030, 1, 1, tzinfo=UTC)], ids=["now", "day-39", "day-9", "after-now"])
def test_the_driver_read_gives_the_engines_analysis_of_a_small_workflow(
        tiny: tuple[Path, str], as_of: datetime | None, monkeypatch: pytest.MonkeyPatch) -> None:
    folder, db = tiny
    monkeypatch.setenv("FLOWENGINE_NOW", NOW)
    found = quick.small_analysis(db, "tiny", workflow_dirs=[folder], as_of=as_of)
    assert found is not None
    expected = _engine_analysis(db, "tiny", folder, as_of)
    assert found == expected
    assert found[0].proposals == len(HISTORIES) and found[0].as_of.tzinfo is not None
    _same_drawing(found[0], expected[0])


@pytest.mark.parametrize("until", [national.END, datetime(2019, 7, 1, tzinfo=UTC)], ids=["end", "part-way"])
def test_the_driver_read_gives_the_engines_analysis_of_each_national_workflow(
        db_target: str, until: datetime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Municipal variants stored in the database alone (no file declares them), with loops,
    notes, progress in implementation and names kept apart (event format 3)."""
    national.build(db_target, scale=0.002, municipalities=6, seed=5)
    monkeypatch.setenv("FLOWENGINE_NOW", national.END.isoformat())
    with FlowEngine.open(db_target, clock=FixedClock(national.END)) as engine:
        workflows = [a.workflow.id for a in engine.analyse()]
    assert len(workflows) == 6
    for workflow in workflows:
        found = quick.small_analysis(db_target, workflow, as_of=until)
        assert found is not None, workflow
        expected = _engine_analysis(db_target, workflow, None, until)
        assert found == expected, workflow
        _same_drawing(found[0], expected[0])


def test_the_drivers_reads_are_the_stores_queries(db_target: str) -> None:
    national.build(db_target, scale=0.001, municipalities=3, seed=7)
    with FlowEngine.open(db_target, clock=FixedClock(national.END)) as engine, engine.database.read() as conn:
        workflows = queries.workflows_in_use(conn)
        expected = {w: (list(queries.trails(conn, until=datetime(2020, 3, 1, tzinfo=UTC), workflow=w)),
                        queries.definitions_of(conn, w), queries.newest_step(conn, [w])) for w in workflows}
    link = direct.connect(direct.target(db_target))
    assert link is not None
    with link:
        for workflow, (trails, definitions, newest) in expected.items():
            assert list(link.trails(workflow, datetime(2020, 3, 1, tzinfo=UTC))) == trails
            assert link.definitions(workflow) == definitions
            assert link.size(workflow)[2] == newest
    assert sum(len(trail.steps) for trails, _, _ in expected.values() for trail in trails) > 1000


def test_a_driver_read_whose_connection_is_lost_closes_without_raising(db_target: str) -> None:
    """The engine takes over from a read that failed: closing what is left of its connection (a
    server gone, a connection already closed) must not turn into an internal error."""
    with FlowEngine.open(db_target, clock=FixedClock(national.END)):
        pass
    link = direct.connect(direct.target(db_target))
    assert link is not None
    link.connection.close()
    with pytest.raises(link.errors()):
        link.rows("SELECT 1")
    link.close()




@pytest.mark.sqlite_only("the command on the default SQLite file")
def test_the_command_imports_nothing_of_imports_completion_or_package_resources(tiny: tuple[Path, str],
                                                                               tmp_path: Path) -> None:
    """Start-up is most of the command: the event log formats (named by one remedy), click's
    completion (used when a word is completed) and importlib's resource readers (the bundled
    workflows are the package's own folder) are not loaded to draw a diagram."""
    folder, db = tiny
    env = {"FLOWENGINE_DB": db, "FLOWENGINE_NOW": NOW, "TZ": "UTC", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    args = ["stalls", "diagram", "tiny", "--workflows", str(folder), "--as-of", "2019-02-09", "-o",
            str(tmp_path / "tiny.svg")]
    for _ in range(2):  # the first builds the definition from its YAML and keeps it
        status, loaded = command_modules(args, env, submodules=True)
        assert status == 0
    assert "flowengine.service.quick" in loaded and "graphviz" in loaded  # the straight path, drawn
    assert not loaded & {"flowengine.eventlog", "flowengine.eventlog.formats", "click.shell_completion",
                         "importlib.resources", "importlib.readers", "flowengine.definition.loader",
                         "flowengine.i18n.catalogue"}


@pytest.mark.sqlite_only("the command on the default SQLite file")
def test_the_command_draws_the_same_diagram_without_sqlalchemy_or_numpy(tiny: tuple[Path, str],
                                                                        tmp_path: Path) -> None:
    folder, db = tiny
    env = {"FLOWENGINE_DB": db, "FLOWENGINE_NOW": NOW, "FLOWENGINE_LANG": "nb", "TZ": "UTC"}
    out = tmp_path / "tiny.dot"
    args = ["stalls", "diagram", "tiny", "--workflows", str(folder), "--as-of", "2019-02-09", "-o", str(out)]
    # the first may build the definition from its YAML, and keep it
    status, loaded = command_modules(args, env, submodules=True)
    assert status == 0
    assert not loaded & {"sqlalchemy", "numpy", "jsonschema", "alembic", "psycopg"}
    status, loaded = command_modules(args, env, submodules=True)
    assert status == 0
    assert not loaded & {"sqlalchemy", "numpy", "yaml", "jsonschema", "alembic", "psycopg"}
    analysis, _ = _engine_analysis(db, "tiny", folder, datetime(2019, 2, 9, tzinfo=UTC))
    assert out.read_text(encoding="utf-8") == stall_diagram_dot(analysis, "nb")
    # For publication, the counts to hide are decided over the same figures (by a solver that needs numpy).
    status, loaded = command_modules([*args, "--publish"], env, submodules=True)
    assert status == 0 and "sqlalchemy" not in loaded
    assert out.read_text(encoding="utf-8") == stall_diagram_dot(analysis, "nb",
                                                                for_publication([analysis], Privacy.publication())[0])


def test_a_long_finished_history_read_as_of_today_says_so(tiny: tuple[Path, str], tmp_path: Path) -> None:
    folder, db = tiny
    env = {"FLOWENGINE_DB": db, "FLOWENGINE_NOW": "2019-12-31T12:00:00Z", "FLOWENGINE_LANG": "en", "TZ": "UTC"}
    result = CliRunner().invoke(cli, ["stalls", "diagram", "tiny", "--workflows", str(folder), "-o",
                                      str(tmp_path / "tiny.dot")], env=env)
    assert result.exit_code == 0, result.output
    newest = max(day(max([created, *(when for when, _ in steps)])) for created, steps in HISTORIES.values())
    assert (f"note: as of 2019-12-31; the newest event is {newest.date().isoformat()} — --as-of "
            f"{newest.date().isoformat()} reads the history as it stood then") in result.stderr


def test_the_engine_takes_over_what_the_driver_read_cannot_be_sure_of(
        tiny: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder, db = tiny
    monkeypatch.setenv("FLOWENGINE_NOW", NOW)
    assert quick.small_analysis(db, "tiny", workflow_dirs=[folder]) is not None
    edited = tmp_path / "edited"
    edited.mkdir()
    (edited / "tiny.yaml").write_text(TINY + "\n# edited since it was stored\n", encoding="utf-8")
    assert quick.small_analysis(db, "tiny", workflow_dirs=[edited]) is None  # validated by the engine first
    twice = tmp_path / "twice"
    (twice / "old").mkdir(parents=True)
    (twice / "tiny.yaml").write_text(TINY, encoding="utf-8")
    (twice / "old" / "copy.yaml").write_text(TINY, encoding="utf-8")
    assert quick.small_analysis(db, "tiny", workflow_dirs=[twice]) is None  # the engine says which is meant
    assert quick.small_analysis(db, str(folder / "tiny.yaml"), workflow_dirs=[folder]) is None  # a path
    assert quick.small_analysis(str(tmp_path / "none.db"), "tiny", workflow_dirs=[folder]) is None
    assert quick.small_analysis(db, "tiny", workflow_dirs=[folder], as_of=datetime(2300, 1, 1, tzinfo=UTC)) is None
    monkeypatch.setattr(quick, "SMALL_EVENTS", 3)
    assert quick.small_analysis(db, "tiny", workflow_dirs=[folder]) is None  # large: the columnar analysis


def test_a_database_of_another_schema_is_left_to_the_engine(tiny: tuple[Path, str], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    folder, db = tiny
    monkeypatch.setenv("FLOWENGINE_NOW", NOW)
    monkeypatch.setattr(basics, "SCHEMA_HEAD", "0012_not_yet")
    assert quick.small_analysis(db, "tiny", workflow_dirs=[folder]) is None


@pytest.mark.sqlite_only("a fixed clock and the OS login: SQLite's")
def test_a_fixed_clock_and_a_login_without_a_grant_are_refused_as_by_the_engine(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "tiny.yaml").write_text(TINY, encoding="utf-8")
    db = str(tmp_path / "real.db")
    monkeypatch.delenv("FLOWENGINE_FOR_TESTS")
    with FlowEngine.open(db, workflow_dirs=[folder]) as engine:  # made for real use: the system clock
        engine.new_proposal("tiny", title="Idea", actor=Actor("kari", "panel"))
    assert quick.small_analysis(db, "tiny", workflow_dirs=[folder]) is not None
    monkeypatch.setenv("FLOWENGINE_NOW", NOW)
    assert quick.small_analysis(db, "tiny", workflow_dirs=[folder]) is None  # the engine refuses it, and says why
    monkeypatch.delenv("FLOWENGINE_NOW")
    monkeypatch.setattr(basics, "os_login", lambda: "stranger")
    with pytest.raises(AccessDenied) as engine_says, FlowEngine.open(db, workflow_dirs=[folder]) as engine:
        engine.analyse(["tiny"])
    with pytest.raises(AccessDenied) as quick_says:
        quick.small_analysis(db, "tiny", workflow_dirs=[folder])
    assert str(quick_says.value) == str(engine_says.value) == "stranger may not read tiny (no role there); an " \
                                                               "administrator can grant it"
    assert quick_says.value.remedies == engine_says.value.remedies


@pytest.mark.postgresql_only
def test_a_member_login_reads_its_own_workflow_under_row_level_security(db_target: str, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    folder = municipal_workflows(tmp_path)
    logins = {who: f"{who}_quick_{os.getpid()}" for who in ("melhus", "trondheim")}
    with FlowEngine.open(db_target, workflow_dirs=[folder]) as admin:
        for title in ("Service hub at Potten", "Better information"):
            admin.new_proposal("melhus", title=title, actor=Actor("leader", "project_leader"))
        admin.new_proposal("trondheim", title="Hub at Byåsen", actor=Actor("leader", "project_leader"))
        admin.grant(logins["melhus"], ["project_leader"], ["melhus"])
        admin.grant(logins["trondheim"], ["project_leader"], ["trondheim"])
    place = Place(db_target, folder, logins)
    monkeypatch.setenv("FLOWENGINE_NOW", "2030-01-01T00:00:00Z")
    with member_logins(logins.values()):
        found = quick.small_analysis(place.url("melhus"), "melhus", workflow_dirs=[folder])
        assert found is not None and found[0].proposals == 2
        assert found == _engine_analysis(place.url("melhus"), "melhus", folder, None)
        with pytest.raises(AccessDenied, match="may not read melhus"):
            quick.small_analysis(place.url("trondheim"), "melhus", workflow_dirs=[folder])
