"""Tables and long output on a real terminal: no wider than it (or than $COLUMNS), whole rows with
--wide, long output through a pager only when standard output is a terminal."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowengine.history.records import Actor
from flowengine.service.facade import FlowEngine

from .cli_support import local_time_zone, make_run, ok
from .conftest import MINIMAL_WORKFLOW
from .databases import DatabaseTargets
from .terminal import run_in_terminal

LONG_TITLE = "A drop-in meeting place in the town centre, run with peers and open on weekday evenings"
NOW = "2025-06-01T12:00:00Z"
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|\r")


class Place:
    def __init__(self, folder: Path, db: str, first: str) -> None:
        self.folder, self.db, self.first = folder, db, first

    def env(self, **more: str) -> dict[str, str]:
        return {"FLOWENGINE_DB": self.db, "FLOWENGINE_WORKFLOWS": str(self.folder), "FLOWENGINE_NOW": NOW,
                "TZ": "UTC", **more}


@pytest.fixture
def place(tmp_path: Path, database_targets: DatabaseTargets) -> Iterator[Place]:
    (tmp_path / "minimal.yaml").write_text(MINIMAL_WORKFLOW, encoding="utf-8")
    db = database_targets.new(tmp_path)
    kari = Actor("kari", "panel")
    with FlowEngine.open(db, workflow_dirs=[tmp_path]) as engine:
        first = engine.new_proposal("minimal", title=LONG_TITLE, actor=kari).proposal.id
        for number in range(40):
            engine.new_proposal("minimal", title=f"{LONG_TITLE} ({number})", actor=kari)
        engine.advance(first, "send_to_council", actor=kari,
                       comment="The panel agreed after a long discussion about opening hours and who runs it")
        engine.advance(first, "reject", actor=Actor("ola", "council"),
                       comment="No premises are free this year; the council asks the panel to try again next spring")
    yield Place(tmp_path, db, first)
    database_targets.drop(db)


def lines_of(output: str) -> list[str]:
    return _ESCAPES.sub("", output).splitlines()


@pytest.mark.parametrize("columns", [80, 100])
@pytest.mark.parametrize("command", [["proposal", "list"], ["history", "{first}"], ["stalls", "report"],
                                     ["workflow", "show", "minimal"], ["proposal", "show", "{first}"]])
def test_tables_fit_the_terminal(place: Place, command: list[str], columns: int) -> None:
    args = [word.format(first=place.first) for word in command]
    screen = run_in_terminal([*args, "--no-pager", *(["--quiet"] if command[0] == "stalls" else [])],
                             place.env(), columns=columns)
    assert screen.exit_code == 0, screen.output
    lines = lines_of(screen.output)
    assert len(lines) > 3
    assert max(map(len, lines)) <= columns, "\n".join(line for line in lines if len(line) > columns)


def test_wide_keeps_whole_rows_on_a_terminal(place: Place) -> None:
    screen = run_in_terminal(["proposal", "list", "--wide", "--no-pager"], place.env(), columns=80)
    assert screen.exit_code == 0, screen.output
    assert any(LONG_TITLE in line and len(line) > 80 for line in lines_of(screen.output))


def test_columns_limits_tables_even_in_a_pipe(place: Place) -> None:
    run = make_run(place.db, NOW)
    piped = ok(run("history", place.first, env={"COLUMNS": "70", "FLOWENGINE_WORKFLOWS": str(place.folder)}))
    assert max(map(len, piped.stdout.splitlines())) <= 70
    whole = ok(run("history", place.first, env={"FLOWENGINE_WORKFLOWS": str(place.folder)}))
    assert max(map(len, whole.stdout.splitlines())) > 100  # no terminal, no $COLUMNS: whole rows for scripts


def test_long_output_goes_through_the_pager_named_in_flowengine_pager(place: Place) -> None:
    screen = run_in_terminal(["proposal", "list"], place.env(FLOWENGINE_PAGER="sed s/^/PAGED:/"))
    assert screen.exit_code == 0, screen.output
    listed = [line for line in lines_of(screen.output) if line.strip()]
    assert listed and all(line.startswith("PAGED:") for line in listed), screen.output


@pytest.mark.parametrize("how", [["--no-pager"], ["FLOWENGINE_PAGER="], ["FLOWENGINE_PAGER=cat"]])
def test_no_pager_or_an_empty_pager_prints_straight_out(place: Place, how: list[str]) -> None:
    env = place.env(PAGER="sed s/^/PAGED:/")
    args = ["proposal", "list"]
    if how[0].startswith("FLOWENGINE_PAGER="):
        env["FLOWENGINE_PAGER"] = how[0].split("=", 1)[1]
    else:
        args += how
    screen = run_in_terminal(args, env)
    assert screen.exit_code == 0, screen.output
    assert "PAGED:" not in screen.output and LONG_TITLE[:20] in screen.output


def test_pager_falls_back_to_pager_variable(place: Place) -> None:
    screen = run_in_terminal(["history", place.first], place.env(PAGER="sed s/^/PAGER:/"))
    assert screen.exit_code == 0, screen.output
    assert "PAGER:" in screen.output


def test_less_shows_long_output_a_screen_at_a_time_until_q(place: Place) -> None:
    screen = run_in_terminal(["proposal", "list"], place.env(), rows=10, keys=[(":", "q")], timeout=60)
    assert screen.exit_code == 0, screen.output
    shown = lines_of(screen.output)
    assert any(line.startswith(place.first) for line in shown)
    assert not any("(40)" in line for line in shown)  # the last proposal lies beyond the first screen


def test_less_quits_by_itself_when_the_output_fits_one_screen(place: Place) -> None:
    screen = run_in_terminal(["proposal", "show", place.first], place.env(), rows=60, timeout=60)
    assert screen.exit_code == 0, screen.output
    assert "rejected" in screen.output


def test_a_pipe_is_never_paged(place: Place) -> None:
    run = make_run(place.db, NOW)
    result = ok(run("proposal", "list", env={"FLOWENGINE_PAGER": "sed s/^/PAGED:/",
                                             "FLOWENGINE_WORKFLOWS": str(place.folder)}))
    assert "PAGED:" not in result.stdout and result.stdout.startswith("id")


@pytest.mark.parametrize(("rule", "zone"), [("UTC0", "UTC"), ("CET-1CEST,M3.5.0,M10.5.0/3", "CE")])
def test_times_are_shown_with_their_zone(place: Place, rule: str, zone: str) -> None:
    run = make_run(place.db, NOW)
    with local_time_zone(rule):
        shown = ok(run("history", place.first, env={"FLOWENGINE_WORKFLOWS": str(place.folder)})).stdout
    stamps = re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d( \S+)?", shown)
    assert stamps and all(stamp.strip().startswith(zone) for stamp in stamps), shown
