"""Hostile text in what flowengine writes: Markdown shows HTML and Markdown literally, CSV cells
never run as spreadsheet formulas (and read back equal), control characters are refused in
workflow files and shown escaped on a terminal, and files are never written through symbolic links."""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import pytest
from flowengine_cli.shown import visible

from flowengine.history.records import Actor
from flowengine.service.facade import FlowEngine
from flowengine.views.report_writers import markdown_text
from flowengine.views.spreadsheet import neutralise, restore

from .databases import DatabaseTargets
from .stall_histories import TINY
from .terminal import run_in_terminal
from .test_hostile_time import flowengine

SCRIPT = "<script>alert(1)</script>"
IMAGE = '<img src=x onerror="alert(2)">'
LINK = "[click](javascript:alert(3))"
FORMULAS = ("=cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0", "+1+cmd|' /C calc'!A0", "-2+3",
            "\t=1+1", "\r=1+1", "'=already quoted")
DAY0 = datetime(2019, 1, 1, tzinfo=UTC)
HOSTILE_TINY = TINY.replace("title: Tiny chain", f"title: '{SCRIPT} **bold** {LINK}'").replace(
    "  council_review: {stage: council, owner: council, deadline: 10d}",
    f"  council_review: {{stage: council, owner: council, deadline: 10d, labels: {{en: '{IMAGE} | pipe'}}}}")


class Place(NamedTuple):
    folder: Path
    db: str

    def env(self) -> dict[str, str]:
        return {"FLOWENGINE_DB": self.db, "FLOWENGINE_WORKFLOWS": str(self.folder), "TZ": "UTC",
                "FLOWENGINE_NOW": "2019-06-01T00:00:00Z"}


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory, database_targets: DatabaseTargets) -> Iterator[Place]:
    folder = tmp_path_factory.mktemp("hostile-output")
    (folder / "tiny.yaml").write_text(HOSTILE_TINY, encoding="utf-8")
    db = database_targets.new(folder, "hostile.db")
    with FlowEngine.open(db, workflow_dirs=[folder]) as engine:
        titles = (SCRIPT, IMAGE, LINK, *FORMULAS[:4])
        for number, title in enumerate(titles):
            pid = engine.new_proposal("tiny", title=title.strip(), actor=Actor("kari", "panel"),
                                      at=DAY0 + timedelta(days=number)).proposal.id
            engine.advance(pid, "submit", actor=Actor("ola", "panel"), at=DAY0 + timedelta(days=number + 1))
            engine.note(pid, f"{FORMULAS[number % len(FORMULAS)].strip()} {SCRIPT}", actor=Actor("ola", "panel"),
                        at=DAY0 + timedelta(days=number + 2))
    yield Place(folder, db)
    database_targets.drop(db)


@pytest.mark.parametrize("text", [SCRIPT, IMAGE, LINK, "**b** _i_ `c` ~s~ | # h ![x](y) \\", "a\nb\r\nc"])
def test_markdown_text_escapes_html_and_every_markdown_mark(text: str) -> None:
    shown = markdown_text(text)
    assert "<" not in shown and ">" not in shown and "\n" not in shown
    assert not re.search(r"(?<!\\)[*`~|\[\]]|(?<![\\\w])_", shown), shown
    assert not re.match(r"[#+-]", markdown_text(text, line_start=True))


def test_the_markdown_report_carries_no_raw_html_or_links(place: Place, tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    done = flowengine("stalls", "report", "--as-of", "2019-03-01", "-o", str(report), env=place.env())
    assert done.returncode == 0, done.stderr
    text = report.read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=\"alert(2)\"&gt; \\| pipe" in text
    assert "<script" not in text and "<img" not in text
    assert not re.search(r"(?<!\\)\]\(javascript", text)


@pytest.mark.parametrize("value", [*FORMULAS, "-3.5", "+47", "plain", "", "'", "''=x", "-"])
def test_neutralising_a_cell_is_undone_exactly_by_restoring_it(value: str) -> None:
    cell = neutralise(value)
    assert restore(cell) == value
    assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r") or re.fullmatch(r"[+-][\d.]+", cell)


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def test_the_csv_export_starts_every_formula_with_an_apostrophe(place: Place) -> None:
    done = flowengine("export", "--format", "csv", env=place.env())
    assert done.returncode == 0, done.stderr
    cells = _cells(done.stdout)
    assert "'=cmd|' /C calc'!A0" in cells and "'-2+3" in cells
    assert all(cell[:1] not in "=+-@\t\r" or re.fullmatch(r"[+-][\d.]+", cell) for cell in cells if cell)


def test_raw_cells_keeps_formulas_and_both_read_back_into_equal_histories(place: Place, tmp_path: Path) -> None:
    raw = flowengine("export", "--format", "csv", "--raw-cells", env=place.env())
    assert "=cmd|' /C calc'!A0" in _cells(raw.stdout)
    for name, args in (("safe", ()), ("raw", ("--raw-cells",))):
        log = tmp_path / f"{name}.csv"
        assert flowengine("export", "--format", "csv", *args, "-o", str(log), env=place.env()).returncode == 0
        copy = tmp_path / f"{name}.db"
        done = flowengine("import", str(log), *args, "--workflow", "tiny", "--db", str(copy), env=place.env())
        assert done.returncode == 0, done.stderr
        again = flowengine("export", "--format", "csv", "--raw-cells", "--db", str(copy), env=place.env())
        assert again.stdout == raw.stdout


def test_the_csv_report_neutralises_titles(place: Place) -> None:
    done = flowengine("stalls", "report", "--as-of", "2019-03-01", "--format", "csv", env=place.env())
    assert done.returncode == 0, done.stderr
    cells = _cells(done.stdout)
    assert "'=cmd|' /C calc'!A0" in cells
    assert not any(cell[:1] in ("=", "+", "@", "\t", "\r") for cell in cells)


@pytest.mark.parametrize("escape", ["\\e]0;owned\\a", "\\0", "\\x1b[2J", "\\u202e", "\\x9b31m"])
def test_a_control_character_written_as_an_escape_in_a_workflow_is_refused(escape: str, tmp_path: Path) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY.replace("title: Tiny chain", f'title: "Tiny {escape} chain"'), encoding="utf-8")
    done = flowengine("workflow", "validate", str(path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FE012" in done.stdout + done.stderr
    assert "\x1b" not in done.stdout + done.stderr and "\x00" not in done.stdout + done.stderr


def test_visible_shows_what_a_terminal_would_obey() -> None:
    assert visible("a\x1b]0;owned\x07b\x00c\u202ed\x9b") == "a\\x1b]0;owned\\x07b\\x00c\\u202ed\\x9b"
    assert visible("line\nnext\ttab æøå") == "line\nnext\ttab æøå"


def test_a_control_sequence_in_an_argument_reaches_the_terminal_escaped(tmp_path: Path) -> None:
    assert flowengine("init", "--db", str(tmp_path / "t.db")).returncode == 0
    screen = run_in_terminal(["history", "X\x1b]0;owned\x07\x1b[2J", "--db", str(tmp_path / "t.db")],
                             {"FLOWENGINE_NOW": "2019-06-01T00:00:00Z"})
    assert screen.exit_code == 1, screen.output
    assert "\x1b]0;owned" not in screen.output and "\x1b[2J" not in screen.output
    assert "\\x1b]0;OWNED\\x07" in screen.output


def test_a_report_file_replaces_a_planted_link_instead_of_writing_through_it(place: Place, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    report = tmp_path / "report.md"
    report.symlink_to(victim)
    done = flowengine("stalls", "report", "--as-of", "2019-03-01", "-o", str(report), env=place.env())
    assert done.returncode == 0, done.stderr
    assert victim.read_text(encoding="utf-8") == "precious"
    assert not report.is_symlink() and "Stalled" in report.read_text(encoding="utf-8")


def test_the_demo_replaces_planted_links_and_leaves_their_targets_alone(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    victims = {}
    for name in ("stall-report.md", "trondheim.svg", "compare.svg", "flowengine.db", "flowengine.db-wal",
                 "flowengine.db.building"):
        victim = tmp_path / f"victim-{name}"
        victim.write_text("precious", encoding="utf-8")
        (out / name).symlink_to(victim)
        victims[name] = victim
    done = flowengine("demo", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert all(victim.read_text(encoding="utf-8") == "precious" for victim in victims.values())
    assert not any((out / name).is_symlink() for name in victims)


def test_a_refused_demo_leaves_no_new_folder(tmp_path: Path) -> None:
    broken = tmp_path / "workflows"
    broken.mkdir()
    (broken / "trondheim.yaml").write_text("id: trondheim\nstates: [\n", encoding="utf-8")
    out = tmp_path / "a" / "b"
    done = flowengine("demo", "--out", str(out), "--workflows", str(broken))
    assert done.returncode == 1, done.stdout + done.stderr
    assert not (tmp_path / "a").exists()
    assert os.listdir(tmp_path) == ["workflows"]


def test_a_refused_report_leaves_no_new_folder(tmp_path: Path) -> None:
    database = tmp_path / "empty.db"
    assert flowengine("init", "--db", str(database)).returncode == 0
    done = flowengine("report", "--db", str(database), "--out", str(tmp_path / "new" / "deeper" / "site"))
    assert done.returncode == 1, done.stderr
    assert not (tmp_path / "new").exists()
