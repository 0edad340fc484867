"""Shared fixtures: a fresh database (SQLite, or PostgreSQL with ``$FLOWENGINE_TEST_PG``), a
minimal valid workflow to start from, and a CLI runner."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from .databases import ON_POSTGRESQL, POSTGRESQL_ONLY_REASON, SQLITE_ONLY_REASON, DatabaseTargets, targets

# Every database the suite creates is one made for tests, whose clock FLOWENGINE_NOW may fix (a
# database made for real use refuses it); the tests of that refusal unset this.
os.environ["FLOWENGINE_FOR_TESTS"] = "1"

REPO_ROOT = Path(__file__).resolve().parent.parent

MINIMAL_WORKFLOW = """\
id: minimal
version: 1
roles:
  panel: {}
  council: {}
states:
  draft:
    initial: true
    stage: panel
    owner: panel
    deadline: 30d
  council_review:
    stage: council
    owner: council
    deadline: 8w
  accepted:
    final: true
    outcome: implemented
  rejected:
    final: true
    outcome: rejected
transitions:
  - trigger: send_to_council
    from: draft
    to: council_review
    roles: [panel]
  - trigger: accept
    from: council_review
    to: accepted
    roles: [council]
    answers_panel: true
  - trigger: reject
    from: council_review
    to: rejected
    roles: [council]
    requires_comment: true
    answers_panel: true
"""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests about SQLite files sit out the PostgreSQL run; tests of the server's own behaviour
    sit out the SQLite run."""
    for item in items:
        sqlite_only = item.get_closest_marker("sqlite_only")
        if ON_POSTGRESQL and sqlite_only:
            item.add_marker(pytest.mark.skip(reason=sqlite_only.args[0] if sqlite_only.args else SQLITE_ONLY_REASON))
        if not ON_POSTGRESQL and item.get_closest_marker("postgresql_only"):
            item.add_marker(pytest.mark.skip(reason=POSTGRESQL_ONLY_REASON))


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Built definitions are cached under ``$XDG_CACHE_HOME``: a run of the suite (and every
    process it starts) keeps its cache to itself, out of the home folder."""
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(folder))
        yield folder


@pytest.fixture(scope="session", autouse=True)
def no_terminal_settings() -> Iterator[None]:
    """The developer's shell may export a width or a pager: commands under test see neither, so
    tables keep whole rows and output is never held for a pager."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("COLUMNS", "LINES", "PAGER", "FLOWENGINE_PAGER"):
            patch.delenv(name, raising=False)
        yield


@pytest.fixture(scope="session", autouse=True)
def database_targets() -> Iterator[DatabaseTargets]:
    """Makes fresh databases, for fixtures wider than one test (``.new(folder)``); drops what is
    left of them at the end of the run."""
    made = targets()
    yield made
    made.close()


@pytest.fixture
def db_target(tmp_path: Path, database_targets: DatabaseTargets) -> Iterator[str]:
    """Where a test keeps its database, as ``--db`` and :meth:`FlowEngine.open` take it: a SQLite
    file by default; a fresh database on a real server when the suite runs against PostgreSQL."""
    target = database_targets.new(tmp_path)
    yield target
    database_targets.drop(target)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


WriteWorkflow = Callable[..., Path]


@pytest.fixture
def write_workflow(tmp_path: Path) -> WriteWorkflow:
    """Write YAML text to tmp_path/<name>.yaml and return the path."""

    def write(text: str, name: str = "minimal") -> Path:
        path = tmp_path / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


class FixedClock:
    """"Now" is whatever the test says it is: ``start`` until moved with :meth:`set`."""

    def __init__(self, start: datetime) -> None:
        self.start = self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, **delta: float) -> datetime:
        """Move to ``start`` plus ``delta`` and return that moment."""
        self.now = self.start + timedelta(**delta)
        return self.now
