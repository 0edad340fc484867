"""`flowengine export` through the real command line (click's CliRunner): the log on standard
output or in a file, the progress bar only on a terminal, and one-line errors that write
nothing."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import pytest
from flowengine_cli import export as export_command
from flowengine_cli import meter

from flowengine.eventlog import attributes as a

from .cli_support import Run, make_run, ok, one_error_line
from .export_support import PEOPLE, assert_log_matches, build_history, stored

NOW = "2024-12-01T09:00:00Z"


@pytest.fixture
def history(db_target: str, tmp_path: Path) -> str:
    build_history(db_target, tmp_path / "workflows")
    return db_target


@pytest.fixture
def run(history: str) -> Run:
    return make_run(history, NOW)


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_the_log_goes_to_standard_output_as_csv_by_default_and_nothing_else_is_said(run: Run, history: str) -> None:
    result = ok(run("export"))
    assert_log_matches(rows(result.stdout), stored(history))
    assert result.stderr == ""  # no bar: standard error is no terminal here


def test_a_file_is_written_with_the_count_said_on_standard_error(run: Run, history: str, tmp_path: Path) -> None:
    target = tmp_path / "events.json"
    result = ok(run("export", "--format", "ocel", "-o", str(target)))
    count = sum(len(events) for _, events in stored(history))
    assert result.stdout == ""
    assert result.stderr == f"{count} events written to {target}\n"
    assert len(json.loads(target.read_text(encoding="utf-8"))["events"]) == count
    quiet = ok(run("export", "--format", "xes", "--output", str(tmp_path / "events.xes"), "--quiet"))
    assert quiet.stderr == "" and (tmp_path / "events.xes").read_text(encoding="utf-8").startswith("<?xml")


def test_options_select_workflows_steps_and_pseudonymise(run: Run, history: str) -> None:
    result = ok(run("export", "--workflow", "small", "--workflow", "timely", "--steps-only", "--pseudonymise"))
    exported = rows(result.stdout)
    assert {r[a.KIND] for r in exported} == {"created", "advanced"}
    assert {r[a.CASE_WORKFLOW] for r in exported} == {"small", "timely"}
    assert not any(name in result.stdout for name in PEOPLE)
    only_small = rows(ok(run("export", "--workflow", "small")).stdout)
    assert_log_matches(only_small, stored(history, ["small"]))


def test_a_progress_bar_is_drawn_on_a_terminal_and_not_with_quiet(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(meter, "bar_wanted", lambda quiet: not quiet)  # as if standard error were a terminal
    drawn = ok(run("export", "--format", "ocel"))
    assert drawn.stderr.startswith("Exporting") and json.loads(drawn.stdout)["events"]
    assert ok(run("export", "--format", "ocel", "--quiet")).stderr == ""


def test_the_bar_counts_every_event_of_every_pass(run: Run, history: str, monkeypatch: pytest.MonkeyPatch) -> None:
    told: list[tuple[str, int | None, bool]] = []
    done: list[int] = []

    @contextmanager
    def recording(label: str, total: int | None, *, quiet: bool) -> Iterator[Callable[[int], None]]:
        told.append((label, total, quiet))
        yield done.append

    monkeypatch.setattr(export_command, "terminal_meter", recording)
    count = sum(len(events) for _, events in stored(history))
    ok(run("export", "--format", "ocel", "--quiet"))
    assert told == [("Exporting", 2 * count, True)] and sum(done) == 2 * count


def test_a_missing_folder_is_one_line_and_writes_nothing(run: Run, tmp_path: Path) -> None:
    line = one_error_line(run("export", "-o", str(tmp_path / "nowhere" / "events.csv")))
    assert line == (f"error: cannot write the event log {tmp_path / 'nowhere' / 'events.csv'}: the folder "
                    f"{tmp_path / 'nowhere'} does not exist; create it first")
    assert not (tmp_path / "nowhere").exists()


def test_an_unknown_workflow_is_one_line_with_a_did_you_mean_and_writes_nothing(run: Run, tmp_path: Path) -> None:
    target = tmp_path / "events.xes"
    line = one_error_line(run("export", "--format", "xes", "--workflow", "timley", "-o", str(target)))
    assert line.startswith("error: unknown workflow 'timley'; did you mean 'timely'?")
    assert not target.exists() and list(tmp_path.glob(".events.xes.*")) == []


def test_an_unknown_format_is_a_usage_error(run: Run) -> None:
    assert "'xml' is not one of 'csv', 'xes', 'ocel'" in one_error_line(run("export", "--format", "xml"), code=2)


def test_an_empty_database_exports_an_empty_log(db_target: str) -> None:
    run = make_run(db_target, NOW)
    ok(run("init"))
    assert ok(run("export")).stdout.splitlines() == [",".join(a.CSV_COLUMNS)]
    assert json.loads(ok(run("export", "--format", "ocel")).stdout)["events"] == []


def test_help_says_what_steps_only_and_pseudonymise_leave_out(run: Run) -> None:
    text = " ".join(ok(run("export", "--help")).stdout.split())
    assert "self-loops in a directly-follows graph" in text
    for removed in ("titles", "descriptions", "origins", "comments", "progress notes", "text and URL field values",
                    "idempotency keys", "hashes"):
        assert removed in text, removed
    assert "export" in ok(run("--help")).stdout


def test_the_command_offers_exactly_the_formats_the_library_writes() -> None:
    from flowengine.eventlog.export import PASSES, SUFFIXES, WRITERS
    from flowengine.eventlog.formats import export_format_names

    offered = next(p for p in export_command.export.params if p.name == "fmt")
    assert isinstance(offered.type, click.Choice)
    assert tuple(offered.type.choices) == export_format_names()
    assert set(WRITERS) == set(PASSES) == set(SUFFIXES) == set(export_format_names())
