"""Workflow versions: editing a YAML file makes a new stored definition for new proposals while
running ones keep theirs, `workflow versions` lists them, and the stall analysis spans them.

End to end through the command line (click's CliRunner), "now" fixed by FLOWENGINE_NOW and
the local time zone UTC, so printed times are the stored ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result

from flowengine.definition.model import content_hash
from flowengine.definition.versions import short_hash, spanning, version_labels
from flowengine.history.records import Actor
from flowengine.service.facade import FlowEngine

from .cli_support import Run, as_json, local_time_zone, make_run, ok, one_error_line
from .conftest import MINIMAL_WORKFLOW, FixedClock

PANEL = ("--as", "kari", "--role", "panel")
COUNCIL = ("--as", "ola", "--role", "council")

# Version 2: the council's review is now a hearing, reached by another trigger.
MINIMAL_V2 = (MINIMAL_WORKFLOW.replace("version: 1", "version: 2")
              .replace("council_review", "council_hearing")
              .replace("trigger: send_to_council", "trigger: ask_council"))


@pytest.fixture(scope="module", autouse=True)
def utc_local_time() -> Iterator[None]:
    with local_time_zone("UTC0"):
        yield


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    (workflows / "minimal.yaml").write_text(MINIMAL_WORKFLOW, encoding="utf-8")
    return workflows


@pytest.fixture
def run(db_target: str, folder: Path) -> Run:
    """The command line on the test's database, with ``folder`` as the workflows' folder."""
    return in_folder(db_target, folder)


def in_folder(db_target: str, folder: Path) -> Run:
    base = make_run(db_target, "2024-03-01T09:00:00Z")

    def run(*args: str, now: str = "2024-03-01T09:00:00Z") -> Result:
        return base(*args, now=now, env={"FLOWENGINE_WORKFLOWS": str(folder)})

    return run


def edit(folder: Path, text: str) -> None:
    (folder / "minimal.yaml").write_text(text, encoding="utf-8")


def test_editing_the_file_makes_a_new_version_for_new_proposals_while_running_ones_keep_theirs(
        run: Run, folder: Path) -> None:
    ok(run("proposal", "new", "minimal", "--title", "Before the edit", *PANEL))
    edit(folder, MINIMAL_V2)
    ok(run("proposal", "new", "minimal", "--title", "After the edit", *PANEL, now="2024-03-02T09:00:00Z"))

    # each follows its own definition: the old trigger for the old one, the new for the new
    assert "no trigger 'ask_council'" in one_error_line(run("advance", "MINIMA-1", "ask_council", *PANEL))
    assert "no trigger 'send_to_council'" in one_error_line(run("advance", "MINIMA-2", "send_to_council", *PANEL))
    ok(run("advance", "MINIMA-1", "send_to_council", *PANEL, now="2024-03-03T09:00:00Z"))
    ok(run("advance", "MINIMA-2", "ask_council", *PANEL, now="2024-03-03T09:00:00Z"))
    assert as_json(run("proposal", "show", "MINIMA-1", "--json"))["state"] == "council_review"
    assert as_json(run("proposal", "show", "MINIMA-2", "--json"))["state"] == "council_hearing"
    ok(run("advance", "MINIMA-1", "accept", *COUNCIL, now="2024-03-04T09:00:00Z"))

    old, new = content_hash(MINIMAL_WORKFLOW), content_hash(MINIMAL_V2)
    shown = ok(run("proposal", "show", "MINIMA-1")).stdout
    assert f"workflow   minimal 1 (definition {old[:12]})" in shown
    assert as_json(run("proposal", "show", "MINIMA-2", "--json"))["workflow_version"] == "2"

    versions = as_json(run("workflow", "versions", "minimal", "--json"))
    assert [(v["version"], v["label"], v["content_hash"], v["proposals"], v["open"], v["current"])
            for v in versions] == [("2", "2", new, 1, 1, True), ("1", "1", old, 1, 0, False)]
    assert [v["stored_at"] for v in versions] == ["2024-03-02T09:00:00.000000Z", "2024-03-01T09:00:00.000000Z"]
    assert all(v["source"].endswith("minimal.yaml") for v in versions)

    text = ok(run("workflow", "versions", "minimal"))
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["version", "hash", "first", "stored", "source", "proposals", "open", "file"]
    assert lines[2].split()[:4] == ["2", short_hash(new), "2024-03-02", "09:00"]
    assert lines[2].split()[-3:] == ["1", "1", "current"]
    assert lines[3].split()[-3:] == ["1", "0", "-"]
    assert text.stderr == ""
    assert ok(run("audit", "verify")).stderr.endswith("every chain holds\n")


def test_a_file_edited_without_raising_its_version_is_told_apart_by_hash(run: Run, folder: Path) -> None:
    ok(run("proposal", "new", "minimal", "--title", "One", *PANEL))
    edit(folder, MINIMAL_WORKFLOW.replace("deadline: 30d", "deadline: 20d"))
    ok(run("proposal", "new", "minimal", "--title", "Two", *PANEL, now="2024-03-02T09:00:00Z"))

    versions = as_json(run("workflow", "versions", "minimal", "--json"))
    assert [v["label"] for v in versions] == [f"1 ({v['short_hash']})" for v in versions]
    assert len({v["content_hash"] for v in versions}) == 2
    text = ok(run("workflow", "versions", "minimal"))
    assert f"1 ({versions[0]['short_hash']})" in text.stdout
    assert text.stderr.startswith("note: definitions share version 1: the file was edited without raising")


def test_versions_of_a_workflow_without_proposals_names_the_ones_with_some(run: Run) -> None:
    ok(run("proposal", "new", "minimal", "--title", "One", *PANEL))
    line = one_error_line(run("workflow", "versions", "minmal"))
    assert line.startswith("error: unknown workflow 'minmal'; did you mean 'minimal'?")


def test_version_labels_add_the_hash_only_where_a_version_string_repeats() -> None:
    labels = version_labels([("a" * 64, "2"), ("b" * 64, "1"), ("c" * 64, "1"), ("d" * 64, "")])
    assert labels == {"a" * 64: "2", "b" * 64: "1 (bbbbbbb)", "c" * 64: "1 (ccccccc)", "d" * 64: "-"}


def test_the_spanning_view_adds_retired_states_as_the_newest_older_version_declared_them() -> None:
    from flowengine.definition.loader import check_text

    def workflow(text: str):  # type: ignore[no-untyped-def]
        result = check_text(text, "minimal.yaml")
        assert result.workflow is not None and result.ok
        return result.workflow

    current = workflow(MINIMAL_V2)
    middle = workflow(MINIMAL_WORKFLOW.replace("version: 1", "version: 1.5").replace(
        "  council_review:\n    stage: council\n    owner: council",
        "  council_review:\n    stage: administration\n    owner: panel"))
    oldest = workflow(MINIMAL_WORKFLOW)
    view = spanning(current, [middle, oldest])
    assert list(view.states) == [*current.states, "council_review"]
    retired = view.states["council_review"]
    assert (retired.stage, retired.owner, retired.initial) == ("administration", "panel", False)
    assert view.transitions == current.transitions
    assert view.initial_state is not None and view.initial_state.id == "draft"
    assert spanning(current, []) is current


def test_the_analysis_keeps_a_retired_states_stage_and_counts_proposals_on_every_version(
        db_target: str, folder: Path) -> None:
    clock = FixedClock(datetime(2024, 3, 1, 9, tzinfo=UTC))
    panel = Actor("kari", "panel")
    with FlowEngine.open(db_target, workflow_dirs=[folder], clock=clock) as flow:
        old = flow.new_proposal("minimal", title="Old", actor=panel).proposal.id
        clock.set(days=1)
        flow.advance(old, "send_to_council", actor=panel)
        edit(folder, MINIMAL_V2)
        clock.set(days=2)
        new = flow.new_proposal("minimal", title="New", actor=panel).proposal.id
        clock.set(days=3)
        flow.advance(new, "ask_council", actor=panel)
        (analysis,) = flow.analyse(["minimal"], as_of=clock.set(days=10))
        declared_now = flow.declared_workflow("minimal", spanning=False)
    assert "council_review" not in declared_now.states
    assert analysis.proposals == 2
    by_state = {s.state: s for s in analysis.states}
    retired = by_state["council_review"]
    assert (retired.stage, retired.owner, retired.declared, retired.now) == ("council", "council", True, 1)
    assert retired.deadline_days == 56
    assert (by_state["council_hearing"].stage, by_state["council_hearing"].now) == ("council", 1)
    council = next(stage for stage in analysis.stages if stage.stage == "council")
    assert council.now == 2
    assert [s.proposal for s in analysis.stalls] == []
