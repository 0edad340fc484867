"""``import --keep-going``: the cases that fit are imported, the others listed with their place and
reason in a rejects file (CSV, or JSON), and the fitness is given either way; without it the
import stays all or nothing, and says how much would fit."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowengine.eventlog.importer import Fitness, LogRejected, import_log
from flowengine.eventlog.rejects import rejects_file
from flowengine.service.facade import FlowEngine

from .cli_support import make_run
from .conftest import FixedClock
from .test_import import NOW, REVIEW, csv_text

ROWS = [
    ("c-1", "received", "2024-03-01T09:00:00Z", "kari", "clerk"),
    ("c-1", "checked", "2024-03-02T09:00:00Z", "kari", "clerk"),
    ("c-2", "received", "2024-03-01T10:00:00Z", "kari", "clerk"),
    ("c-2", "cheked", "2024-03-02T10:00:00Z", "kari", "clerk"),  # line 5: unknown activity
    ("c-2", "decided", "2024-03-03T10:00:00Z", "kari", "clerk"),  # line 6: checked from here on, and fine
    ("", "received", "2024-03-01T11:00:00Z", "kari", "clerk"),  # line 7: no case
    ("c-3", "received", "2024-03-01T12:00:00Z", "kari", "clerk"),
    ("c-3", "rejected", "2024-03-04T12:00:00Z", "ola", "council"),
]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    (workflows / "review.yaml").write_text(REVIEW, encoding="utf-8")
    (tmp_path / "log.csv").write_text(csv_text(ROWS), encoding="utf-8")
    return workflows


@pytest.fixture
def flow(db_target: str, folder: Path) -> Iterator[FlowEngine]:
    with FlowEngine.open(db_target, workflow_dirs=[folder], clock=FixedClock(NOW)) as engine:
        yield engine


def test_the_cases_that_fit_are_imported_and_the_others_listed(flow: FlowEngine, tmp_path: Path) -> None:
    with rejects_file(tmp_path / "rejects.csv", "csv", "log.csv") as rejects:
        report = import_log(flow, tmp_path / "log.csv", "review", keep_going=True, rejects=rejects)
        rejects.close()
    assert [s.proposal.id for s in flow.proposals()] == ["REV-1", "REV-2"]  # numbered without a gap
    assert [s.proposal.origin for s in flow.proposals()] == ["event log case c-1", "event log case c-3"]
    assert (report.cases, report.events, report.problems) == (2, 4, 2)
    assert report.fitness == Fitness(cases=3, cases_fit=2, events=8, events_fit=4)
    listed = list(csv.reader((tmp_path / "rejects.csv").open(encoding="utf-8")))
    assert listed[0] == ["where", "case", "reason"]
    assert [row[:2] for row in listed[1:]] == [["log.csv:7", ""], ["log.csv:5", "c-2"]]
    assert listed[2][2].startswith("unknown activity 'cheked'")
    assert flow.verify().ok


def test_without_keep_going_nothing_is_written_and_the_fitness_is_said(flow: FlowEngine, tmp_path: Path) -> None:
    with pytest.raises(LogRejected) as caught:
        import_log(flow, tmp_path / "log.csv", "review")
    assert flow.proposals() == []
    assert caught.value.fitness == Fitness(cases=3, cases_fit=2, events=8, events_fit=4)
    assert caught.value.summary == ("cannot import log.csv under review: 2 problems in 1 of 3 cases; nothing was "
                                    "written — fitness: 66.7 % of cases (2 of 3), 50.0 % of events (4 of 8)")
    assert "keep_going" in {remedy.kind for remedy in caught.value.remedies}


def test_a_scattered_log_read_twice_lists_each_problem_once(flow: FlowEngine, tmp_path: Path) -> None:
    scattered = [ROWS[0], ROWS[3], ROWS[2], ROWS[1], ROWS[4]]  # c-1, c-2, c-2, c-1 …
    (tmp_path / "scattered.csv").write_text(csv_text(scattered), encoding="utf-8")
    with rejects_file(tmp_path / "rejects.json", "json", "scattered.csv") as rejects:
        report = import_log(flow, tmp_path / "scattered.csv", "review", keep_going=True, rejects=rejects)
        rejects.close({"fitness": report.fitness.as_dict() if report.fitness else None})
    listed = json.loads((tmp_path / "rejects.json").read_text(encoding="utf-8"))
    assert listed["log"] == "scattered.csv"
    assert [(p["where"], p["case"]) for p in listed["problems"]] == [("scattered.csv:3", "c-2")]
    assert listed["fitness"]["cases_fit"] == report.cases == 1


def test_a_problem_with_a_case_refused_in_a_later_batch_leaves_the_earlier_ones_written(
        flow: FlowEngine, tmp_path: Path) -> None:
    report = import_log(flow, tmp_path / "log.csv", "review", keep_going=True, batch_events=1)
    assert report.cases == 2 and len(flow.proposals()) == 2 and flow.verify().ok


# -- the command ---------------------------------------------------------------------------------

def test_the_command_imports_what_fits_and_says_the_fitness(db_target: str, folder: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run = make_run(db_target, "2024-03-10T00:00")
    result = run("import", str(tmp_path / "log.csv"), "-w", "review", "--workflows", str(folder), "--keep-going")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:3] == [
        "imported 2 cases, 4 events from log.csv under review (REV-1 … REV-2)",
        "fitness: 66.7 % of cases (2 of 3), 50.0 % of events (4 of 8)",
        f"left out 1 case that does not fit: 2 problems listed in {tmp_path / 'log.rejects.csv'}",
    ]
    assert (tmp_path / "log.rejects.csv").read_text(encoding="utf-8").count("\n") == 3


def test_the_command_refuses_the_whole_log_naming_keep_going(db_target: str, folder: Path, tmp_path: Path) -> None:
    run = make_run(db_target, "2024-03-10T00:00")
    result = run("import", str(tmp_path / "log.csv"), "-w", "review", "--workflows", str(folder))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].endswith("(fix: --keep-going)")


def test_the_command_writes_json_rejects_with_json(db_target: str, folder: Path, tmp_path: Path) -> None:
    run = make_run(db_target, "2024-03-10T00:00")
    rejects = tmp_path / "out.json"
    result = run("import", str(tmp_path / "log.csv"), "-w", "review", "--workflows", str(folder), "--keep-going",
                 "--rejects", str(rejects), "--json")
    assert result.exit_code == 0, result.output
    said = json.loads(result.stdout)
    assert said["rejects"] == str(rejects) and said["fitness"]["case_share"] == pytest.approx(2 / 3)
    assert len(json.loads(rejects.read_text(encoding="utf-8"))["problems"]) == 2


def test_rejects_without_keep_going_is_a_usage_error(db_target: str, folder: Path, tmp_path: Path) -> None:
    run = make_run(db_target, "2024-03-10T00:00")
    result = run("import", str(tmp_path / "log.csv"), "-w", "review", "--workflows", str(folder), "--rejects", "x")
    assert result.exit_code == 2


def test_no_rejects_file_is_left_when_everything_fits(db_target: str, folder: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good.csv").write_text(csv_text(ROWS[:2]), encoding="utf-8")
    run = make_run(db_target, "2024-03-10T00:00")
    result = run("import", str(tmp_path / "good.csv"), "-w", "review", "--workflows", str(folder), "--keep-going")
    assert result.exit_code == 0 and "fitness: 100.0 % of cases (1 of 1)" in result.stdout
    assert not list(tmp_path.glob("*rejects*"))


def test_an_import_of_a_log_long_past_says_how_to_read_it_as_it_stood(db_target: str, folder: Path,
                                                                       tmp_path: Path) -> None:
    run = make_run(db_target, "2026-12-07T12:00")
    (tmp_path / "good.csv").write_text(csv_text(ROWS[:2]), encoding="utf-8")
    result = run("import", str(tmp_path / "good.csv"), "-w", "review", "--workflows", str(folder))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].startswith("note: the newest event is 2024-03-02, long before today "
                                                     "(2026-12-07)")
    assert result.stdout.splitlines()[-1].endswith("pass --as-of 2024-03-02 to read the log as it stood at its end")
