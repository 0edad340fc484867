"""``flowengine workflow discover``: a workflow drafted from a log validates as it is and imports
the same log; noise below --min-share is left out and said; an end activity that others follow
stays open; a state that could reach no end gets one."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from flowengine.definition.loader import check_text, load_workflow
from flowengine.errors import InvalidInput
from flowengine.eventlog.draft import discover_workflow
from flowengine.eventlog.importer import import_log
from flowengine.service.facade import FlowEngine

from .cli_support import make_run
from .conftest import REPO_ROOT
from .test_import import csv_text

LOGS = REPO_ROOT / "tests" / "fixtures" / "eventlogs"
HEADER = ("case:concept:name", "concept:name", "time:timestamp")


def rows(*cases: str) -> list[tuple[str, str, str]]:
    """Each case as 'A B C': its activities one day apart."""
    found = []
    for number, trace in enumerate(cases, start=1):
        for day, activity in enumerate(trace.split(), start=1):
            found.append((f"c{number}", activity, f"2024-03-{day:02d}T09:00:00Z"))
    return found


def drafted(tmp_path: Path, *cases: str, **options: object) -> tuple[Path, str]:
    log = tmp_path / "log.csv"
    log.write_text(csv_text(rows(*cases), HEADER), encoding="utf-8")
    _, text = discover_workflow(log, **options)  # type: ignore[arg-type]
    checked = check_text(text, "draft.yaml")
    assert checked.ok, [i.format() for i in checked.errors]
    path = tmp_path / "draft.yaml"
    path.write_text(text, encoding="utf-8")
    return log, text


@pytest.mark.parametrize("name", ["receipt.csv", "roadtraffic100traces.xes"])
def test_a_draft_of_each_real_log_validates_and_imports_that_log_whole(name: str, tmp_path: Path,
                                                                      db_target: str) -> None:
    draft, text = discover_workflow(LOGS / name)
    assert check_text(text, "draft.yaml").ok
    (tmp_path / "draft.yaml").write_text(text, encoding="utf-8")
    with FlowEngine.open(db_target, workflow_dirs=[tmp_path]) as flow:
        report = import_log(flow, LOGS / name, draft.id, actor="archive")
        assert report.fitness is not None and report.fitness.case_share == 1.0
        assert flow.verify().ok


def test_states_labels_initial_finals_and_transitions_come_from_the_log(tmp_path: Path) -> None:
    drafted(tmp_path, "Register Review Approve", "Register Review Reject", "Register Approve")
    workflow = load_workflow(tmp_path / "draft.yaml")
    assert [(s.id, s.label("en")) for s in workflow.states.values()] == [
        ("register", "Register"), ("review", "Review"), ("approve", "Approve"), ("reject", "Reject")]
    assert workflow.initial_state.id == "register"
    assert {sid: s.outcome for sid, s in workflow.states.items() if s.final} == {"approve": "implemented",
                                                                                  "reject": "rejected"}
    assert {(source, t.trigger, t.target) for t in workflow.transitions for source in t.sources} == {
        ("register", "review", "review"), ("review", "approve", "approve"), ("review", "reject", "reject"),
        ("register", "approve", "approve")}
    assert workflow.states["review"].stage == "evaluation"  # guessed from the name


def test_a_stage_that_cannot_be_guessed_is_left_for_the_user_with_a_comment(tmp_path: Path) -> None:
    _, text = drafted(tmp_path, "Register Frobnicate Approve")
    assert "stage not guessed from the name: set it\n  frobnicate: {stage: administration" in text


def test_cases_starting_elsewhere_are_stepped_from_the_initial_state(tmp_path: Path, db_target: str) -> None:
    log, text = drafted(tmp_path, "Register Review Approve", "Register Approve", "Review Approve")
    assert "1 cases start elsewhere (review)" in text
    with FlowEngine.open(db_target, workflow_dirs=[tmp_path]) as flow:
        import_log(flow, log, "log", actor="archive")
        _, events = flow.history("LOG-3")
        assert [(e.to_state, e.at) for e in events][:2] == [("register", events[1].at), ("review", events[1].at)]


def test_an_end_activity_that_others_follow_stays_open(tmp_path: Path) -> None:
    _, text = drafted(tmp_path, "Open Pay", "Open Pay Remind Pay Close")
    workflow = load_workflow(tmp_path / "draft.yaml")
    assert not workflow.states["pay"].final and workflow.states["close"].final
    assert "ends 1 cases but 2 events follow it: kept open" in text


def test_a_log_whose_every_end_is_followed_gets_a_final_state_no_event_enters(tmp_path: Path,
                                                                                db_target: str) -> None:
    log, _ = drafted(tmp_path, "Open Work Open", "Open Work")
    workflow = load_workflow(tmp_path / "draft.yaml")
    assert [sid for sid, s in workflow.states.items() if s.final] == ["ended"]
    assert {(source, t.target) for t in workflow.transitions if t.target == "ended" for source in t.sources} == {
        ("work", "ended"), ("open", "ended")}
    with FlowEngine.open(db_target, workflow_dirs=[tmp_path]) as flow:
        assert import_log(flow, log, "log", actor="archive").cases == 2


def test_pairs_below_the_share_are_left_out_and_listed_unless_a_state_needs_them(tmp_path: Path,
                                                                                  db_target: str) -> None:
    cases = ["A B C"] * 19 + ["A C B C", "A D C"]
    log, text = drafted(tmp_path, *cases, min_share=0.1)
    workflow = load_workflow(tmp_path / "draft.yaml")
    pairs = {(source, t.target) for t in workflow.transitions for source in t.sources}
    assert ("a", "c") not in pairs  # 1 of the 21 pairs leaving A
    assert ("a", "d") in pairs  # below the share, but D could not be reached without it
    assert "#   a → c: 1 times, 4.8 %" in text and "Kept below the share" in text
    with FlowEngine.open(db_target, workflow_dirs=[tmp_path]) as flow:
        report = import_log(flow, log, "log", actor="archive", keep_going=True)
        assert report.fitness is not None and (report.fitness.cases_fit, report.fitness.cases) == (20, 21)


def test_activity_names_that_are_other_activities_ids_get_ids_of_their_own(tmp_path: Path) -> None:
    drafted(tmp_path, "to_do Done", "To-Do Done")
    workflow = load_workflow(tmp_path / "draft.yaml")
    assert workflow.states["to_do"].label("en") == "to_do"
    assert workflow.states["to_do_2"].label("en") == "To-Do"
    assert workflow.initial_state.id == "to_do_2"  # "To-Do" sorts first among equally common starts
    assert {t.trigger for t in workflow.transitions} == {"go_to_do", "done"}  # to_… is the engine's


def test_a_log_with_nothing_readable_is_refused(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text(csv_text([("c1", "A", "yesterday")], HEADER), encoding="utf-8")
    with pytest.raises(InvalidInput, match=re.escape("log.csv:2: bad timestamp 'yesterday'")):
        discover_workflow(log)


def test_the_command_writes_the_draft_and_says_what_it_did(tmp_path: Path, db_target: str) -> None:
    run = make_run(db_target, "2026-12-07T12:00")
    out = tmp_path / "road.yaml"
    result = run("workflow", "discover", str(LOGS / "roadtraffic100traces.xes"), "-o", str(out), "--id", "road",
                 "--prefix", "RD", "--min-share", "0.1")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"drafted {out}: 10 states (1 final)")
    assert "taken by 10 cases, which will not fit: import the rest with --keep-going" in result.stdout
    assert "(import the others with --keep-going," in out.read_text(encoding="utf-8")
    assert run("workflow", "validate", str(out)).exit_code == 0
    imported = run("import", str(LOGS / "roadtraffic100traces.xes"), "-w", str(out), "--actor", "police",
                   "--keep-going", "--rejects", str(tmp_path / "rejects.csv"))
    assert imported.exit_code == 0, imported.output
    assert "imported 90 cases" in imported.stdout and "under road (RD-1 …" in imported.stdout


def test_the_command_writes_to_standard_output_with_its_summary_apart(tmp_path: Path, db_target: str) -> None:
    run = make_run(db_target, "2026-12-07T12:00")
    result = run("workflow", "discover", str(LOGS / "receipt.csv"), "--json")
    assert result.exit_code == 0
    assert result.stdout.startswith("# Drafted by `flowengine workflow discover` from receipt.csv: 1,434 cases")
    assert json.loads(result.stderr)["states"] == 27


def test_a_malformed_id_is_refused(tmp_path: Path, db_target: str) -> None:
    run = make_run(db_target, "2026-12-07T12:00")
    result = run("workflow", "discover", str(LOGS / "receipt.csv"), "--prefix", "x1")
    assert result.exit_code == 1 and "'x1' is not a usable prefix (2 to 6 capital letters)" in result.stderr
