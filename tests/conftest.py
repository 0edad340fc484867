"""Shared fixtures: a minimal valid workflow to start from, and a CLI runner."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

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


@pytest.fixture
def db_target(tmp_path: Path) -> str:
    """Where a test keeps its database, as ``--db`` and :meth:`FlowEngine.open` take it: a SQLite
    file by default; a fresh database on a real server when the suite runs against PostgreSQL."""
    return str(tmp_path / "flowengine.db")


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
