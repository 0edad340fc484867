"""Every long command on a real terminal: a progress bar on standard error, with or without a
known total, and the command's own result; never a crash because a bar had no length."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flowengine.history.records import Actor
from flowengine.service.facade import FlowEngine

from .conftest import MINIMAL_WORKFLOW, REPO_ROOT
from .databases import DatabaseTargets
from .terminal import run_in_terminal

ROAD_LOG = REPO_ROOT / "tests" / "fixtures" / "eventlogs" / "roadtraffic100traces.xes"


class Place:
    def __init__(self, folder: Path, db: str) -> None:
        self.folder = folder
        self.db = db

    def env(self) -> dict[str, str]:
        return {"FLOWENGINE_DB": self.db, "FLOWENGINE_WORKFLOWS": str(self.folder),
                "FLOWENGINE_NOW": "2025-06-01T12:00:00Z", "TZ": "UTC"}


@pytest.fixture
def place(tmp_path: Path, database_targets: DatabaseTargets) -> Iterator[Place]:
    (tmp_path / "minimal.yaml").write_text(MINIMAL_WORKFLOW, encoding="utf-8")
    db = database_targets.new(tmp_path)
    with FlowEngine.open(db, workflow_dirs=[tmp_path]) as engine:
        for number in range(3):
            created = engine.new_proposal("minimal", title=f"Idea {number}", actor=Actor("kari", "panel"))
            if number:
                engine.advance(created.proposal.id, "send_to_council", actor=Actor("kari", "panel"))
    yield Place(tmp_path, db)
    database_targets.drop(db)


def assert_finished(screen_output: str, code: int, *expected: str) -> None:
    assert code == 0, screen_output
    assert "Traceback" not in screen_output and "internal error" not in screen_output, screen_output
    for text in expected:
        assert text in screen_output, screen_output


def test_stalls_report_of_every_workflow_draws_a_count_and_the_report(place: Place) -> None:
    screen = run_in_terminal(["stalls", "report", "--no-pager"], place.env())
    assert_finished(screen.output, screen.exit_code, "analysing", "Stalled proposals")


@pytest.mark.parametrize("command", [["stalls", "report", "--workflow", "minimal", "--no-pager"],
                                     ["stalls", "compare", "--no-pager"]])
def test_stalls_tables_on_a_terminal_finish_with_or_without_named_workflows(place: Place,
                                                                           command: list[str]) -> None:
    screen = run_in_terminal(command, place.env())
    assert_finished(screen.output, screen.exit_code, "analysing")


def test_stalls_diagram_of_a_small_workflow_writes_the_file_without_a_bar(place: Place) -> None:
    """Its figures are read in a fraction of a second (flowengine.service.quick): a bar would only flicker."""
    out = place.folder / "stalls.dot"
    screen = run_in_terminal(["stalls", "diagram", "minimal", "-o", str(out)], place.env())
    assert_finished(screen.output, screen.exit_code, f"wrote {out}")
    assert "analysing" not in screen.output
    assert "digraph stalls {" in out.read_text(encoding="utf-8")


def test_import_draws_a_running_count_then_says_what_it_imported(place: Place) -> None:
    screen = run_in_terminal(["import", str(ROAD_LOG), "--workflow", "road-traffic-fines", "--workflows",
                              str(REPO_ROOT / "examples" / "eventlogs"), "--actor", "police-office"], place.env())
    assert_finished(screen.output, screen.exit_code, "importing", "imported 100 cases, 390 events")


def test_export_to_a_file_draws_a_bar_of_known_length(place: Place) -> None:
    out = place.folder / "log.csv"
    screen = run_in_terminal(["export", "-o", str(out)], place.env())
    assert_finished(screen.output, screen.exit_code, "Exporting", "5/5", f"events written to {out}")
    assert out.read_text(encoding="utf-8").count("\n") > 3


def test_workflow_migrate_draws_a_count_while_it_moves_proposals(place: Place) -> None:
    newer = place.folder / "newer" / "minimal.yaml"
    newer.parent.mkdir()
    newer.write_text(MINIMAL_WORKFLOW.replace("version: 1", "version: 2"), encoding="utf-8")
    screen = run_in_terminal(["workflow", "migrate", "minimal", "--to", str(newer), "--as", "eva", "--role",
                              "council"], place.env())
    assert_finished(screen.output, screen.exit_code, "migrating", "3 proposals moved to minimal 2")


def test_quiet_draws_no_bar_on_a_terminal(place: Place) -> None:
    screen = run_in_terminal(["stalls", "report", "--quiet", "--no-pager"], place.env())
    assert_finished(screen.output, screen.exit_code, "Stalled proposals")
    assert "analysing" not in screen.output
