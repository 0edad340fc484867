"""`workflow migrate`: running proposals move to a new definition of their workflow, keeping
their stay, all in one transaction, recorded as a hash-chained `migrated` event.

Most tests use the Python API with a fixed clock; the last ones run the command line.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from flowengine.definition.model import content_hash
from flowengine.errors import (
    ConflictError,
    DefinitionError,
    InvalidInput,
    NotFound,
    Refused,
    Remedy,
    TransitionRefused,
)
from flowengine.history import chain
from flowengine.history.records import ADVANCED, EVENT_KINDS, MIGRATED, Actor
from flowengine.service.facade import FlowEngine
from flowengine.service.migration_plan import parse_map
from flowengine.store.schema import proposals

from .cli_support import as_json, local_time_zone, ok, one_error_line
from .conftest import MINIMAL_WORKFLOW, FixedClock
from .test_versions import in_folder

T0 = datetime(2024, 3, 1, 9, tzinfo=UTC)
PANEL = Actor("kari", "panel")
COUNCIL = Actor("ola", "council")

# Version 2: the council's review is a hearing now; accepting needs the decision's reference.
MINIMAL_V2 = (MINIMAL_WORKFLOW.replace("version: 1", "version: 2")
              .replace("council_review", "council_hearing")
              .replace("roles:\n  panel: {}", "fields:\n  decision_ref: {type: text}\nroles:\n  panel: {}")
              .replace("    to: accepted\n", "    to: accepted\n    requires: [decision_ref]\n"))

# An implementation whose state is renamed: the deadline clock counts from the last progress.
BUILD = """\
id: build
version: 1
fields:
  note: {type: text}
roles:
  panel: {}
  service: {}
states:
  draft: {initial: true, stage: panel, owner: panel, deadline: 30d}
  building: {stage: implementation, owner: service, deadline: 30d}
  done: {final: true, outcome: implemented}
transitions:
  - {trigger: start, from: draft, to: building, roles: [panel]}
  - {trigger: finish, from: building, to: done, roles: [service]}
"""
BUILD_V2 = BUILD.replace("version: 1", "version: 2").replace("building", "implementing")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    (workflows / "minimal.yaml").write_text(MINIMAL_WORKFLOW, encoding="utf-8")
    (workflows / "build.yaml").write_text(BUILD, encoding="utf-8")
    return workflows


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def flow(db_target: str, folder: Path, clock: FixedClock) -> Iterator[FlowEngine]:
    with FlowEngine.open(db_target, workflow_dirs=[folder], clock=clock) as engine:
        yield engine


def edit(folder: Path, text: str, name: str = "minimal") -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def three_on_v1(flow: FlowEngine, clock: FixedClock) -> tuple[str, str, str]:
    """MINIMA-1 in draft, MINIMA-2 in council_review since day 1, MINIMA-3 accepted (ended)."""
    ids = tuple(flow.new_proposal("minimal", title=title, actor=PANEL).proposal.id
                for title in ("Stays in draft", "In review", "Accepted"))
    clock.set(days=1)
    flow.advance(ids[1], "send_to_council", actor=PANEL)
    flow.advance(ids[2], "send_to_council", actor=PANEL)
    flow.advance(ids[2], "accept", actor=COUNCIL)
    return ids  # type: ignore[return-value]


def stored(flow: FlowEngine) -> Any:
    """Everything a refusal must leave as it was: every row and event, and the chains holding."""
    report = flow.verify()
    assert report.ok, report.as_dict()
    return [(s.proposal, flow.history(s.proposal.id)[1]) for s in flow.proposals()]


# -- moving ----------------------------------------------------------------------------------------


def test_migrate_moves_running_proposals_by_state_name_and_by_map(flow: FlowEngine, folder: Path,
                                                                   clock: FixedClock) -> None:
    draft, review, accepted = three_on_v1(flow, clock)
    v2 = edit(folder, MINIMAL_V2)
    clock.set(days=3)
    done = flow.migrate("minimal", v2, actor=COUNCIL, mapping={"council_review": "council_hearing"})

    assert [(m.proposal.id, m.proposal.state, m.to_state) for m in done.plan.moves] == [
        (draft, "draft", "draft"), (review, "council_review", "council_hearing")]
    assert done.plan.final == (accepted,) and done.plan.already == ()
    assert len(done.events) == 2 and not done.dry_run
    new_hash = content_hash(MINIMAL_V2)
    for pid, state in ((draft, "draft"), (review, "council_hearing")):
        proposal = flow.standing(pid).proposal
        assert (proposal.state, proposal.definition_hash, proposal.workflow_version) == (state, new_hash, "2")
    assert flow.standing(accepted).proposal.definition_hash == content_hash(MINIMAL_WORKFLOW)

    # from now on it runs on the new definition: its trigger needs the new field
    with pytest.raises(TransitionRefused, match="decision_ref"):
        flow.advance(review, "accept", actor=COUNCIL)
    flow.advance(review, "accept", actor=COUNCIL, fields={"decision_ref": "2024/17"})
    assert flow.verify().ok


def test_a_migration_runs_under_its_name(flow: FlowEngine, folder: Path, clock: FixedClock,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from .test_deadlines import operations

    three_on_v1(flow, clock)
    named = operations(flow, monkeypatch)
    flow.migrate("minimal", edit(folder, MINIMAL_V2), actor=COUNCIL, mapping={"council_review": "council_hearing"})
    assert named == ["migration"]


def test_the_migrated_event_is_chained_and_records_both_definitions(flow: FlowEngine, folder: Path,
                                                                     clock: FixedClock) -> None:
    _, review, _ = three_on_v1(flow, clock)
    v2 = edit(folder, MINIMAL_V2)
    moment = clock.set(days=3)
    flow.migrate("minimal", v2, actor=COUNCIL, mapping={"council_review": "council_hearing"},
                 comment="The hearing replaces the review")
    _, events = flow.history(review)
    event = events[-1]
    assert (event.kind, event.seq, event.trigger, event.from_state, event.to_state) == (
        MIGRATED, 3, None, "council_review", "council_hearing")
    assert (event.actor, event.role, event.at, event.comment) == ("ola", "council", moment,
                                                                  "The hearing replaces the review")
    assert event.entered_at == events[-2].at  # the stay it renames began with the step to the council
    assert event.details == {
        "from_definition": content_hash(MINIMAL_WORKFLOW), "to_definition": content_hash(MINIMAL_V2),
        "from_version": "1", "to_version": "2", "map": {"council_review": "council_hearing"}}
    assert event.prev_hash == events[-2].hash and chain.recompute(event) == event.hash
    assert MIGRATED in EVENT_KINDS
    report = flow.verify()
    assert report.ok and report.events == 2 + 3 + 3  # the ended proposal was left alone


def test_audit_notices_a_row_moved_to_another_definition_without_its_event(
        flow: FlowEngine, folder: Path, clock: FixedClock) -> None:
    draft, _, _ = three_on_v1(flow, clock)
    v2 = edit(folder, MINIMAL_V2)
    flow.migrate("minimal", v2, actor=COUNCIL, mapping={"council_review": "council_hearing"})
    with flow.database.write() as conn:  # put the row back on the old definition, keeping its events
        conn.execute(update(proposals).where(proposals.c.id == draft)
                     .values(definition_hash=content_hash(MINIMAL_WORKFLOW)))
    (broken,) = flow.verify().breaks
    assert broken.proposal == draft
    assert "its newest migration records" in broken.problem


def test_a_migration_does_not_start_a_new_stay(flow: FlowEngine, folder: Path, clock: FixedClock) -> None:
    _, review, _ = three_on_v1(flow, clock)
    entered = flow.standing(review).proposal.state_entered_at
    v2 = edit(folder, MINIMAL_V2)
    clock.set(days=20)
    flow.migrate("minimal", v2, actor=COUNCIL, mapping={"council_review": "council_hearing"})
    standing = flow.standing(review)
    assert standing.proposal.state_entered_at == entered == T0 + timedelta(days=1)
    assert standing.due_at == entered + timedelta(weeks=8)
    assert round(standing.waiting_days) == 19
    assert chain.replay(flow.history(review)[1]).state_entered_at == entered


def test_replay_and_show_as_of_see_the_definition_of_their_moment(flow: FlowEngine, folder: Path,
                                                                   clock: FixedClock) -> None:
    _, review, _ = three_on_v1(flow, clock)
    v2 = edit(folder, MINIMAL_V2)
    clock.set(days=3)
    flow.migrate("minimal", v2, actor=COUNCIL, mapping={"council_review": "council_hearing"})
    clock.set(days=5)

    before = flow.standing(review, as_of=T0 + timedelta(days=2))
    assert (before.proposal.state, before.proposal.workflow_version) == ("council_review", "1")
    assert before.proposal.definition_hash == content_hash(MINIMAL_WORKFLOW)
    assert (before.stage, before.owner, before.state_label) == ("council", "council", "council_review")
    assert [s.trigger for s in before.next_steps] == ["accept", "reject"]

    after = flow.standing(review, as_of=T0 + timedelta(days=4))
    assert (after.proposal.state, after.proposal.workflow_version) == ("council_hearing", "2")
    assert after.stage == "council" and after.missing_fields == ("decision_ref",)

    past, events = flow.history(review, as_of=T0 + timedelta(days=2))
    assert (past.state, past.definition_hash, len(events)) == ("council_review", content_hash(MINIMAL_WORKFLOW), 2)
    replayed = chain.replay(flow.history(review)[1])
    assert (replayed.state, replayed.definition, replayed.workflow_version) == (
        "council_hearing", content_hash(MINIMAL_V2), "2")
    listed = {s.proposal.id: s.proposal.state for s in flow.proposals(as_of=T0 + timedelta(days=2))}
    assert listed[review] == "council_review"


# -- refusals --------------------------------------------------------------------------------------


def test_an_unmapped_state_refuses_the_whole_migration_naming_its_proposals_and_the_fix(
        flow: FlowEngine, folder: Path, clock: FixedClock) -> None:
    _, review, _ = three_on_v1(flow, clock)
    other = flow.new_proposal("minimal", title="Also in review", actor=PANEL).proposal.id
    flow.advance(other, "send_to_council", actor=PANEL)
    before = stored(flow)
    v2 = edit(folder, MINIMAL_V2)
    with pytest.raises(Refused) as refused:
        flow.migrate("minimal", v2, actor=COUNCIL)
    message = str(refused.value)
    assert message.startswith("cannot migrate minimal to 2 (")
    assert f"'council_review' is not a state of the new definition; it holds {review}, {other}" in message
    assert "nothing was written" in message
    assert Remedy("map", "council_review", "council_hearing") in refused.value.remedies
    assert stored(flow) == before
    with pytest.raises(Refused):  # a dry run says the same
        flow.migrate("minimal", v2, actor=None, dry_run=True)


@pytest.mark.parametrize(("mapping", "expected"), [
    ({"council_revew": "council_hearing"}, "unknown state 'council_revew'; did you mean 'council_review'?"),
    ({"council_review": "council_hearng"}, "unknown state 'council_hearng'; did you mean 'council_hearing'?"),
])
def test_a_map_naming_an_unknown_state_says_which_was_meant(flow: FlowEngine, folder: Path, clock: FixedClock,
                                                            mapping: dict[str, str], expected: str) -> None:
    three_on_v1(flow, clock)
    before = stored(flow)
    with pytest.raises(NotFound, match=expected):
        flow.migrate("minimal", edit(folder, MINIMAL_V2), actor=COUNCIL, mapping=mapping)
    assert stored(flow) == before


def test_a_migration_never_ends_a_proposal(flow: FlowEngine, folder: Path, clock: FixedClock) -> None:
    _, review, _ = three_on_v1(flow, clock)
    before = stored(flow)
    with pytest.raises(Refused, match="'accepted' is final; nothing was written — a migration never ends"):
        flow.migrate("minimal", edit(folder, MINIMAL_V2), actor=COUNCIL, mapping={"council_review": "accepted"})
    parked = MINIMAL_WORKFLOW.replace("version: 1", "version: 3").replace(
        "  council_review:\n    stage: council\n    owner: council\n    deadline: 8w",
        "  council_review:\n    final: true\n    outcome: parked").replace("from: council_review", "from: draft")
    with pytest.raises(Refused, match=f"'council_review' is final in the new definition; it holds {review}"):
        flow.migrate("minimal", edit(folder, parked), actor=COUNCIL)
    assert stored(flow) == before


def test_the_new_definition_is_checked_in_full_and_must_be_the_same_workflow(
        flow: FlowEngine, folder: Path, clock: FixedClock) -> None:
    three_on_v1(flow, clock)
    before = stored(flow)
    broken = edit(folder, MINIMAL_V2.replace("to: council_hearing", "to: council_hearin"), name="broken")
    with pytest.raises(DefinitionError, match="council_hearin"):
        flow.migrate("minimal", broken, actor=COUNCIL)
    other = edit(folder, MINIMAL_V2.replace("id: minimal", "id: another"), name="another")
    with pytest.raises(InvalidInput, match="declares workflow 'another', not 'minimal'"):
        flow.migrate("minimal", other, actor=COUNCIL)
    with pytest.raises(NotFound, match="unknown role 'mayor'"):
        flow.migrate("minimal", edit(folder, MINIMAL_V2), actor=Actor("x", "mayor"),
                     mapping={"council_review": "council_hearing"})
    with pytest.raises(InvalidInput, match="say who migrates"):
        flow.migrate("minimal", edit(folder, MINIMAL_V2), actor=None, mapping={"council_review": "council_hearing"})
    assert stored(flow) == before


def test_map_items_are_old_equals_new() -> None:
    assert parse_map(["a=b", " c = d "]) == {"a": "b", "c": "d"}
    with pytest.raises(InvalidInput, match="a state map is OLD=NEW"):
        parse_map(["council_review"])
    with pytest.raises(InvalidInput, match="two new states"):
        parse_map(["a=b", "a=c"])


# -- dry run and repeats ---------------------------------------------------------------------------


def test_a_dry_run_writes_nothing_and_lists_moves_and_warnings(flow: FlowEngine, folder: Path,
                                                               clock: FixedClock) -> None:
    draft, review, accepted = three_on_v1(flow, clock)
    before = stored(flow)
    done = flow.migrate("minimal", edit(folder, MINIMAL_V2), actor=None, dry_run=True,
                        mapping={"council_review": "council_hearing"})
    assert done.dry_run and done.events == ()
    assert [(m.proposal.id, m.to_state) for m in done.plan.moves] == [(draft, "draft"), (review, "council_hearing")]
    warned = {m.proposal.id: m.warnings for m in done.plan.moves}
    assert warned[review] == ("field 'decision_ref' is not set; accept will need it",)
    assert warned[draft] == ("field 'decision_ref' is not set; accept will need it",)
    assert done.plan.final == (accepted,)
    assert stored(flow) == before
    assert flow.workflow_versions("minimal")[0].version == "1"  # the new definition was not stored either


def test_migrating_again_moves_nothing(flow: FlowEngine, folder: Path, clock: FixedClock) -> None:
    draft, review, _ = three_on_v1(flow, clock)
    v2 = edit(folder, MINIMAL_V2)
    flow.migrate("minimal", v2, actor=COUNCIL, mapping={"council_review": "council_hearing"})
    after = stored(flow)
    again = flow.migrate("minimal", v2, actor=COUNCIL, mapping={"council_review": "council_hearing"})
    assert again.events == () and again.plan.moves == ()
    assert again.plan.already == (draft, review)
    assert stored(flow) == after
    versions = flow.workflow_versions("minimal")
    assert [(v.version, v.proposals, v.open) for v in versions] == [("2", 2, 2), ("1", 1, 0)]


# -- concurrent steps ------------------------------------------------------------------------------


def interfere(flow: FlowEngine, monkeypatch: pytest.MonkeyPatch, step: Any, times: int) -> list[int]:
    """Run ``step`` right after each of the first ``times`` plans: a colleague acting while the
    migration is between planning and writing."""
    from flowengine.service import migrating

    original = migrating._plan
    calls: list[int] = []

    def planned(*args: Any, **kwargs: Any) -> Any:
        plan = original(*args, **kwargs)
        calls.append(len(plan.moves))
        if len(calls) <= times:
            step(len(calls))
        return plan

    monkeypatch.setattr(migrating, "_plan", planned)
    return calls


def test_an_advance_between_planning_and_writing_makes_the_migration_plan_again(
        flow: FlowEngine, folder: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> None:
    draft, _, _ = three_on_v1(flow, clock)
    calls = interfere(flow, monkeypatch, lambda _: flow.advance(draft, "send_to_council", actor=PANEL), 1)
    done = flow.migrate("minimal", edit(folder, MINIMAL_V2), actor=COUNCIL,
                        mapping={"council_review": "council_hearing"})
    assert done.attempts == 2 and calls == [2, 2]
    assert flow.standing(draft).proposal.state == "council_hearing"  # moved from where the advance left it
    _, events = flow.history(draft)
    assert [e.kind for e in events] == ["created", ADVANCED, MIGRATED]
    assert flow.verify().ok


def test_a_proposal_moved_into_an_unmapped_state_meanwhile_refuses_the_migration(
        flow: FlowEngine, folder: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> None:
    draft, _, _ = three_on_v1(flow, clock)
    interfere(flow, monkeypatch, lambda _: flow.advance(draft, "send_to_council", actor=PANEL), 1)
    v2 = edit(folder, MINIMAL_V2)
    with pytest.raises(Refused, match="'council_review' is not a state of the new definition"):
        flow.migrate("minimal", v2, actor=COUNCIL, mapping={"draft": "draft"})
    assert {s.proposal.definition_hash for s in flow.proposals()} == {content_hash(MINIMAL_WORKFLOW)}


def test_a_proposal_that_keeps_moving_makes_the_migration_fail_cleanly(
        flow: FlowEngine, folder: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> None:
    pid = flow.new_proposal("build", title="Busy", actor=PANEL).proposal.id
    interfere(flow, monkeypatch, lambda n: flow.set_fields(pid, {"note": f"edit {n}"}, actor=PANEL), 99)
    with pytest.raises(ConflictError, match=f"{pid} was changed by kari \\(panel\\).*nothing was written"):
        flow.migrate("build", edit(folder, BUILD_V2, name="build"), actor=PANEL)
    proposal, events = flow.history(pid)
    assert proposal.definition_hash == content_hash(BUILD)
    assert [e.kind for e in events] == ["created", "fields_set", "fields_set", "fields_set"]
    assert [v.version for v in flow.workflow_versions("build")] == ["1"]


# -- deadlines and the analysis across versions ----------------------------------------------------


def test_a_renamed_implementation_keeps_its_clock_from_the_last_progress(flow: FlowEngine, folder: Path,
                                                                         clock: FixedClock) -> None:
    service = Actor("sam", "service")
    pid = flow.new_proposal("build", title="Bench", actor=PANEL).proposal.id
    flow.advance(pid, "start", actor=PANEL)
    progressed = clock.set(days=20)
    flow.record_progress(pid, 40, actor=service, note="Half way")
    clock.set(days=25)
    flow.migrate("build", edit(folder, BUILD_V2, name="build"), actor=service, mapping={"building": "implementing"})
    standing = flow.standing(pid)
    assert standing.proposal.state == "implementing"
    assert standing.clock_started_at == progressed
    assert standing.due_at == progressed + timedelta(days=30)
    assert standing.progress is not None and standing.progress.percent == 40
    report = flow.tick(as_of=T0 + timedelta(days=40), dry_run=True)
    assert report.as_dict()["reminders"] == [] and report.as_dict()["escalations"] == []


def test_the_analysis_counts_a_renamed_states_stays_once_under_its_new_name(
        flow: FlowEngine, folder: Path, clock: FixedClock) -> None:
    _, review, _ = three_on_v1(flow, clock)  # the second and third went to the council on day 1
    clock.set(days=3)
    flow.migrate("minimal", edit(folder, MINIMAL_V2), actor=COUNCIL, mapping={"council_review": "council_hearing"})
    clock.set(days=9)
    flow.advance(review, "accept", actor=COUNCIL, fields={"decision_ref": "2024/17"})
    (analysis,) = flow.analyse(["minimal"], as_of=T0 + timedelta(days=30))
    by_state = {s.state: s for s in analysis.states}

    hearing = by_state["council_hearing"]
    assert (hearing.passed.count, hearing.passed.median) == (1, 8.0)  # day 1 → day 9: one stay, not two
    assert hearing.entered_by_month == (("2024-03", 1),) and hearing.left_by_month == (("2024-03", 1),)
    retired = by_state["council_review"]  # the accepted one's stay ended under the old name
    assert (retired.stage, retired.declared, retired.passed.count, retired.now) == ("council", True, 1, 0)
    assert retired.entered_by_month == (("2024-03", 1),)
    assert by_state["draft"].passed.count == 2 and by_state["draft"].now == 1
    assert by_state["accepted"].now == 2
    assert {(t.source, t.trigger, t.target): t.taken for t in analysis.transitions if t.taken} == {
        ("draft", "send_to_council", "council_review"): 2, ("council_hearing", "accept", "accepted"): 1,
        ("council_review", "accept", "accepted"): 1}
    assert analysis.loops == ()


# -- the command line ------------------------------------------------------------------------------


@pytest.fixture
def utc() -> Iterator[None]:
    with local_time_zone("UTC0"):
        yield


def test_cli_dry_run_then_migrate_then_nothing_more(db_target: str, folder: Path, utc: None) -> None:
    run = in_folder(db_target, folder)
    for title in ("One", "Two"):
        ok(run("proposal", "new", "minimal", "--title", title, "--as", "kari", "--role", "panel"))
    ok(run("advance", "MINIMA-2", "send_to_council", "--as", "kari", "--role", "panel", now="2024-03-02T09:00:00Z"))
    v2 = str(edit(folder, MINIMAL_V2))
    verified = as_json(run("audit", "verify", "--json"))

    line = one_error_line(run("workflow", "migrate", "minimal", "--to", v2, "--dry-run"))
    assert "'council_review' is not a state of the new definition; it holds MINIMA-2" in line
    assert "--map council_review=council_hearing" in line

    dry = ok(run("workflow", "migrate", "minimal", "--to", v2, "--map", "council_review=council_hearing",
                 "--dry-run", now="2024-03-03T09:00:00Z"))
    old = content_hash(MINIMAL_WORKFLOW)[:7]
    assert dry.stdout.splitlines()[2:4] == [
        f"MINIMA-1  draft                             1 ({old})",
        f"MINIMA-2  council_review → council_hearing  1 ({old})"]
    assert "warning: MINIMA-2: field 'decision_ref' is not set; accept will need it" in dry.stdout
    assert dry.stdout.splitlines()[-1] == (f"2 proposals would move to minimal 2 ({content_hash(MINIMAL_V2)[:7]}); "
                                           "dry run: nothing was written")
    assert as_json(run("audit", "verify", "--json")) == verified

    assert one_error_line(run("workflow", "migrate", "minimal", "--to", v2, "--map", "council_review=council_hearing"),
                          code=2).startswith("Error: say who you are: --as NAME and --role ROLE")
    moved = as_json(run("workflow", "migrate", "minimal", "--to", v2, "--map", "council_review=council_hearing",
                        "--as", "ola", "--role", "council", "--json", now="2024-03-03T09:00:00Z"))
    assert (moved["moved"], moved["dry_run"], [e["kind"] for e in moved["events"]]) == (2, False, [MIGRATED] * 2)
    assert moved["events"][1]["details"]["map"] == {"council_review": "council_hearing"}

    again = ok(run("workflow", "migrate", "minimal", "--to", "minimal", "--map", "council_review=council_hearing",
                   "--as", "ola", "--role", "council"))
    assert again.stdout.strip().endswith("0 proposals moved to minimal 2 "
                                         f"({content_hash(MINIMAL_V2)[:7]}); 2 already on it")
    history = ok(run("history", "MINIMA-2")).stdout.splitlines()
    assert f"migrated 1 ({old}) → 2 ({content_hash(MINIMAL_V2)[:7]})" in history[-1]
    assert "council_review → council_hearing  ola (council)" in history[-1]
    shown = ok(run("proposal", "show", "MINIMA-2", "--as-of", "2024-03-02")).stdout
    assert f"workflow   minimal 1 (definition {content_hash(MINIMAL_WORKFLOW)[:12]})" in shown
    assert "state      council_review" in shown
    assert ok(run("audit", "verify")).stderr.endswith("every chain holds\n")
    versions = as_json(run("workflow", "versions", "minimal", "--json"))
    assert [(v["version"], v["proposals"], v["open"]) for v in versions] == [("2", 2, 2), ("1", 0, 0)]


def test_the_analysis_of_migrated_histories_equals_the_reference_walk(flow: FlowEngine, folder: Path,
                                                                     clock: FixedClock) -> None:
    """Whatever path ``FlowEngine.analyse`` takes, it matches :func:`flowengine.analysis.reference.analyse` on
    histories with renames, a move into another stage, a retired state and a second migration."""
    from flowengine.analysis.reference import analyse
    from flowengine.store import queries

    _, review, _ = three_on_v1(flow, clock)
    left_behind = flow.new_proposal("minimal", title="Left on version 1", actor=PANEL).proposal.id
    clock.set(days=2)
    flow.advance(left_behind, "send_to_council", actor=PANEL)
    flow.migrate("minimal", edit(folder, MINIMAL_V2), actor=COUNCIL,
                 mapping={"council_review": "council_hearing", "draft": "council_hearing"})
    clock.set(days=4)
    v3 = MINIMAL_V2.replace("version: 2", "version: 3").replace("council_hearing", "hearing")
    flow.migrate("minimal", edit(folder, v3), actor=COUNCIL, mapping={"council_hearing": "hearing"})
    clock.set(days=6)
    flow.advance(review, "reject", actor=COUNCIL, comment="Not now")

    moment = clock.set(days=40)  # an analysis never looks past now
    (fast,) = flow.analyse(["minimal"], as_of=moment)
    declared = flow.declared_workflow("minimal")
    with flow.database.read() as conn:
        reference = analyse(declared, queries.trails(conn, until=moment, workflow="minimal"), moment)
    assert fast.as_dict() == reference.as_dict()
    hearing = reference.state("hearing")
    assert hearing is not None and (hearing.now, hearing.passed.count, hearing.entered_by_month) == (
        2, 1, (("2024-03", 3),))
    assert [s.state for s in reference.states if s.passed.count or s.now] == [
        "draft", "hearing", "accepted", "rejected", "council_review"]  # the accepted one left council_review
    assert [(s.state, s.stage, s.declared) for s in reference.states[-2:]] == [
        ("council_hearing", "council", True), ("council_review", "council", True)]  # retired: newest first


def test_a_migration_keeps_its_name_and_comment_apart(flow: FlowEngine, folder: Path, clock: FixedClock) -> None:
    _, review, _ = three_on_v1(flow, clock)
    flow.migrate("minimal", edit(folder, MINIMAL_V2), actor=COUNCIL, mapping={"council_review": "council_hearing"},
                 comment="The hearing replaces the review")
    event = flow.history(review)[1][-1]
    assert event.format == 3 and sorted(event.personal or {}) == ["actor", "comment"]
    assert (event.actor, event.comment) == ("ola", "The hearing replaces the review")
    assert flow.verify().ok
