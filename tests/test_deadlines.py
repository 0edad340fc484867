"""Implementation progress, reminders and escalations through the Python API: progress is an
event that restarts an implementation's deadline clock, and ``tick`` applies what the stored
history makes due, once, whoever runs it and however often.

Every clock is fixed and every step is dated, so nothing depends on when the tests run.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from flowengine.definition.loader import load_workflow
from flowengine.definition.model import workflow_to_dict
from flowengine.errors import ConflictError, InvalidInput, NotFound, Refused
from flowengine.history.records import ADVANCED, PROGRESS, REMINDED, SYSTEM_ACTOR, Actor
from flowengine.service.deadlines import MAX_STEPS, TickReport, parse_percent
from flowengine.service.facade import FlowEngine

from .conftest import FixedClock
from .databases import stored_bytes, tampering

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)

PANEL = Actor("kari", "panel")
COUNCIL = Actor("ola", "council")
ADMINISTRATION = Actor("eva", "administration")
SERVICE = Actor("sam", "service")

# Every state has a different clock rule: council_review only reminds; administration_review
# reminds and escalates to political_review, which escalates straight back (a chain, and a
# loop); implementation reminds and escalates on a clock that progress restarts.
TIMELY = """\
id: timely
version: 1
prefix: TML
roles:
  panel: {}
  council: {}
  administration: {}
  politician: {}
  service: {}
fields:
  reference: {type: text}
states:
  draft: {initial: true, stage: panel, owner: panel, deadline: 30d}
  council_review: {stage: council, owner: council, deadline: 6w, reminder: 4w}
  administration_review:
    stage: administration
    owner: administration
    deadline: 60d
    reminder: 45d
    escalate: {after: 90d, trigger: escalate}
  political_review:
    stage: political
    owner: politician
    deadline: 30d
    escalate: {after: 30d, trigger: return_to_administration}
  implementation:
    stage: implementation
    owner: service
    deadline: 10w
    reminder: 8w
    escalate: {after: 20w, trigger: report_stall}
  stall_review: {stage: administration, owner: administration, deadline: 4w}
  done: {final: true, outcome: implemented}
  rejected: {final: true, outcome: rejected}
transitions:
  - {trigger: send_to_council, from: draft, to: council_review, roles: [panel]}
  - {trigger: recommend, from: council_review, to: administration_review, roles: [council]}
  - {trigger: escalate, from: administration_review, to: political_review, roles: [administration]}
  - {trigger: return_to_administration, from: political_review, to: administration_review, requires_comment: true}
  - {trigger: decide, from: [administration_review, political_review], to: implementation, roles: [administration],
     requires_comment: true, answers_panel: true}
  - {trigger: report_stall, from: implementation, to: stall_review, requires_comment: true}
  - {trigger: resume, from: stall_review, to: implementation, roles: [administration]}
  - {trigger: finish, from: implementation, to: done, roles: [service], requires_comment: true, answers_panel: true}
  - {trigger: reject, from: [council_review, administration_review, political_review, stall_review], to: rejected,
     requires_comment: true, answers_panel: true}
"""

# Two states that hand a proposal to each other after an hour each: a loop tick must bound.
RESTLESS = """\
id: restless
version: 1
prefix: RST
roles:
  panel: {}
  council: {}
states:
  here: {initial: true, stage: panel, owner: panel, deadline: 1h, escalate: {after: 1h, trigger: over}}
  there: {stage: council, owner: council, deadline: 1h, escalate: {after: 1h, trigger: back}}
  ended: {final: true, outcome: withdrawn}
transitions:
  - {trigger: over, from: here, to: there}
  - {trigger: back, from: there, to: here}
  - {trigger: withdraw, from: "*", to: ended, roles: [panel]}
"""


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def workflow_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "timely.yaml").write_text(TIMELY, encoding="utf-8")
    (folder / "restless.yaml").write_text(RESTLESS, encoding="utf-8")
    return folder


@pytest.fixture
def flow(db_target: str, workflow_dir: Path, clock: FixedClock,
         monkeypatch: pytest.MonkeyPatch) -> Iterator[FlowEngine]:
    monkeypatch.delenv("FLOWENGINE_WORKFLOWS", raising=False)
    with FlowEngine.open(db_target, workflow_dirs=[workflow_dir], clock=clock) as engine:
        yield engine


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def new(flow: FlowEngine, title: str = "Meeting place") -> str:
    return flow.new_proposal("timely", title=title, actor=PANEL, at=T0).proposal.id


def to_administration(flow: FlowEngine, pid: str, day: float = 0) -> None:
    """Into administration_review on ``day`` (its clock starts then)."""
    flow.advance(pid, "send_to_council", actor=PANEL, at=at(day))
    flow.advance(pid, "recommend", actor=COUNCIL, at=at(day))


def to_implementation(flow: FlowEngine, pid: str, day: float = 0) -> None:
    to_administration(flow, pid, day)
    flow.advance(pid, "decide", actor=ADMINISTRATION, comment="Within the mandate", at=at(day))


def everything(flow: FlowEngine) -> list[list[dict[str, Any]]]:
    """Every event of every proposal, as stored: what a tick may or may not have changed."""
    return [[event.as_dict() for event in flow.history(s.proposal.id)[1]] for s in flow.proposals()]


def tick(flow: FlowEngine, clock: FixedClock, day: float, **options: Any) -> TickReport:
    clock.set(days=day)
    return flow.tick(**options)


# --- the language -------------------------------------------------------------------------------------


def test_a_state_carries_its_reminder_and_escalation_as_written(workflow_dir: Path) -> None:
    workflow = load_workflow(workflow_dir / "timely.yaml")
    state = workflow.states["administration_review"]
    assert (state.reminder_text, state.reminder and state.reminder.delta) == ("45d", timedelta(days=45))
    assert state.escalation is not None
    assert (state.escalation.after_text, state.escalation.trigger) == ("90d", "escalate")
    assert state.escalation.location.line == 20
    shown = {s["id"]: s for s in workflow_to_dict(workflow)["states"]}
    assert shown["administration_review"]["escalate"] == {"after": "90d", "trigger": "escalate"}
    assert (shown["council_review"]["reminder"], shown["council_review"]["escalate"]) == ("4w", None)


# --- progress ------------------------------------------------------------------------------------------


def test_progress_outside_an_implementation_stage_is_refused_naming_the_state_and_writes_nothing(
        flow: FlowEngine) -> None:
    pid = new(flow)
    to_administration(flow, pid)
    before = flow.history(pid)[1]
    with pytest.raises(Refused) as refused:
        flow.record_progress(pid, 40, actor=ADMINISTRATION)
    assert str(refused.value) == (
        f"cannot record progress of {pid}: it is in administration_review (stage administration); progress is "
        f"recorded only in a state of stage implementation; nothing was written — record it once {pid} is in "
        "implementation")
    assert flow.history(pid)[1] == before


def test_progress_in_a_final_state_is_refused(flow: FlowEngine) -> None:
    pid = new(flow)
    to_implementation(flow, pid)
    flow.advance(pid, "finish", actor=SERVICE, comment="Open since May", at=at(1))
    with pytest.raises(Refused, match=r"it is in done \(stage closed\)"):
        flow.record_progress(pid, 100, actor=SERVICE)


def test_progress_is_one_event_that_keeps_the_state_and_the_time_in_it(flow: FlowEngine, clock: FixedClock) -> None:
    pid = new(flow)
    to_implementation(flow, pid, day=1)
    result = flow.record_progress(pid, "40%", actor=SERVICE, note="Premises found", milestone="Lease signed",
                                  milestone_date="2024-03-20", at=at(30))
    event = result.event
    assert event is not None
    assert (event.kind, event.trigger, event.from_state, event.to_state) == (
        PROGRESS, None, "implementation", "implementation")
    assert (event.actor, event.role, event.at, event.entered_at) == ("sam", "service", at(30), at(1))
    assert event.details == {"percent": 40, "note": "Premises found", "milestone": "Lease signed",
                             "milestone_date": "2024-03-20"}
    assert (event.changes, event.comment) == ({}, "")
    proposal = result.proposal
    assert (proposal.state, proposal.state_entered_at, proposal.version) == ("implementation", at(1), event.seq)
    clock.set(days=31)
    standing = flow.standing(pid)
    assert standing.waiting_days == pytest.approx(30)  # time in the state still counts from entering it
    assert standing.progress is not None
    assert (standing.progress.percent, standing.progress.note, standing.progress.milestone,
            standing.progress.milestone_date, standing.progress.at) == (
        40, "Premises found", "Lease signed", "2024-03-20", at(30))
    assert standing.as_dict()["progress"]["percent"] == 40


def test_progress_restarts_the_deadline_so_an_overdue_implementation_is_on_time_again(
        flow: FlowEngine, clock: FixedClock) -> None:
    pid = new(flow)
    to_implementation(flow, pid)  # deadline 10w
    clock.set(weeks=11)
    before = flow.standing(pid)
    assert before.overdue and before.due_at == at(70)
    assert [s.proposal.id for s in flow.proposals(overdue=True)] == [pid]
    flow.record_progress(pid, 30, actor=SERVICE, note="Back on track")
    after = flow.standing(pid)
    assert not after.overdue
    assert after.due_at == at(77 + 70)
    assert after.clock_started_at == at(77)
    assert flow.proposals(overdue=True) == []


def test_the_list_counts_the_deadline_from_progress_even_after_a_later_correction(
        flow: FlowEngine, clock: FixedClock) -> None:
    pid = new(flow)
    to_implementation(flow, pid)
    flow.record_progress(pid, 30, actor=SERVICE, at=at(50))
    flow.set_fields(pid, {"reference": "2024/7"}, actor=SERVICE, at=at(60))  # newest event: not the progress
    clock.set(days=100)
    (listed,) = flow.proposals()
    assert listed.due_at == at(120) and not listed.overdue
    assert listed.progress is not None and listed.progress.percent == 30


def test_progress_of_an_earlier_stay_does_not_count_after_coming_back(flow: FlowEngine, clock: FixedClock) -> None:
    pid = new(flow)
    to_implementation(flow, pid)
    flow.record_progress(pid, 60, actor=SERVICE, at=at(10))
    flow.advance(pid, "report_stall", actor=ADMINISTRATION, comment="Funding stopped", at=at(20))
    flow.advance(pid, "resume", actor=ADMINISTRATION, at=at(30))
    clock.set(days=31)
    standing = flow.standing(pid)
    assert standing.progress is None
    assert standing.due_at == at(30 + 70)


def test_standing_as_of_a_past_day_shows_the_progress_of_that_day(flow: FlowEngine, clock: FixedClock) -> None:
    pid = new(flow)
    to_implementation(flow, pid)
    flow.record_progress(pid, 20, actor=SERVICE, at=at(10))
    flow.record_progress(pid, 50, actor=SERVICE, at=at(20))
    clock.set(days=30)
    past = flow.standing(pid, as_of=at(15))
    assert past.progress is not None and past.progress.percent == 20
    assert past.due_at == at(80)
    (listed,) = flow.proposals(as_of=at(15))
    assert listed.progress is not None and listed.progress.percent == 20


@pytest.mark.parametrize(("given", "wanted"), [(40, 40), ("40", 40), ("40%", 40), (" 7 % ", 7), ("0", 0),
                                               ("100%", 100)])
def test_progress_is_a_whole_percentage(given: int | str, wanted: int) -> None:
    assert parse_percent(given) == wanted


@pytest.mark.parametrize(("options", "message"), [
    ({"percent": 101}, "progress 101 is out of range; give a whole number from 0 to 100"),
    ({"percent": -1}, "progress -1 is out of range"),
    ({"percent": "40.5"}, "progress '40.5' is not a percentage"),
    ({"percent": "forty"}, "progress 'forty' is not a percentage"),
    ({"percent": True}, "progress 'True' is not a percentage"),
    ({"milestone": "Lease", "milestone_date": "2024-02-30"},
     "the milestone date takes a date written YYYY-MM-DD, e.g. 2024-05-01; got '2024-02-30'"),
    ({"milestone": "Lease", "milestone_date": "20.3.2024"}, "got '20.3.2024'"),
    ({"milestone_date": "2024-03-20"}, "a milestone date needs the milestone's name"),
    ({"milestone": "Lease\nsigned"}, "the milestone must be one line"),
    ({"note": "see \x1b[2J"}, "control character U+001B"),
])
def test_bad_progress_input_is_invalid_and_writes_nothing(flow: FlowEngine, options: dict[str, Any],
                                                          message: str) -> None:
    pid = new(flow)
    to_implementation(flow, pid)
    before = flow.history(pid)[1]
    arguments: dict[str, Any] = {"percent": 40, **options}
    with pytest.raises(InvalidInput) as invalid:
        flow.record_progress(pid, arguments.pop("percent"), actor=SERVICE, **arguments)
    assert message in str(invalid.value)
    assert flow.history(pid)[1] == before


def test_progress_by_a_role_the_workflow_does_not_know_is_not_found(flow: FlowEngine) -> None:
    pid = new(flow)
    to_implementation(flow, pid)
    with pytest.raises(NotFound, match="unknown role 'servic'; did you mean 'service'"):
        flow.record_progress(pid, 40, actor=Actor("sam", "servic"))


def test_progress_with_a_stale_version_is_a_conflict(flow: FlowEngine) -> None:
    pid = new(flow)
    to_implementation(flow, pid)
    with pytest.raises(ConflictError):
        flow.record_progress(pid, 40, actor=SERVICE, expected_version=2)


def test_progress_repeated_with_its_idempotency_key_is_recorded_once(flow: FlowEngine) -> None:
    pid = new(flow)
    to_implementation(flow, pid)
    first = flow.record_progress(pid, 40, actor=SERVICE, idempotency_key="p-1", at=at(5))
    again = flow.record_progress(pid, 40, actor=SERVICE, idempotency_key="p-1", at=at(6))
    assert again.repeated and again.event == first.event
    assert [e.kind for e in flow.history(pid)[1]].count(PROGRESS) == 1
    with pytest.raises(InvalidInput, match=f"'p-1' was already used to record progress of {pid}"):
        flow.set_fields(pid, {"reference": "x"}, actor=SERVICE, idempotency_key="p-1")


# --- tick: escalations ------------------------------------------------------------------------------------


def test_tick_applies_a_due_escalation_as_a_system_step_dated_when_it_fell_due(
        flow: FlowEngine, clock: FixedClock) -> None:
    pid = new(flow)
    to_administration(flow, pid, day=1)
    report = tick(flow, clock, 100)  # due on day 91; the reminder of day 46 is no use any more
    assert [(e.proposal, e.from_state, e.to_state, e.trigger, e.after, e.due, e.at) for e in report.escalations] == [
        (pid, "administration_review", "political_review", "escalate", "90d", at(91), at(91))]
    assert report.reminders == ()
    event = flow.history(pid)[1][-1]
    assert (event.kind, event.trigger, event.from_state, event.to_state) == (
        ADVANCED, "escalate", "administration_review", "political_review")
    assert (event.actor, event.role) == (SYSTEM_ACTOR.name, SYSTEM_ACTOR.role) == ("system", "system")
    assert (event.at, event.entered_at) == (at(91), at(1))
    assert event.comment == "Escalated automatically: 90 days in 'administration_review' without a decision"
    assert event.details == {"escalation": {"after": "90d", "due": "2024-05-31T09:00:00.000000Z",
                                            "applied_at": "2024-06-09T09:00:00.000000Z"}}
    assert event.idempotency_key == f"tick:escalate:{pid}:3"
    standing = flow.standing(pid)
    assert (standing.proposal.state, standing.proposal.state_entered_at) == ("political_review", at(91))


def test_an_escalation_does_not_check_the_roles_of_its_step(flow: FlowEngine, clock: FixedClock) -> None:
    """'escalate' is for the administration only, and the system is no role of the workflow."""
    pid = new(flow)
    to_administration(flow, pid)
    assert len(tick(flow, clock, 90).escalations) == 1
    with pytest.raises(NotFound, match="unknown role 'system'"):
        flow.advance(pid, "return_to_administration", actor=Actor("someone", "system"), comment="by hand")


def test_tick_twice_changes_nothing_the_second_time(flow: FlowEngine, clock: FixedClock) -> None:
    first, second = new(flow), new(flow, "Leaflet")
    to_administration(flow, first)
    flow.advance(second, "send_to_council", actor=PANEL, at=T0)
    done = tick(flow, clock, 95)
    assert done.changed and len(done.escalations) == 1 and len(done.reminders) == 1
    histories = everything(flow)
    again = tick(flow, clock, 95)
    assert not again.changed
    assert (again.escalations, again.reminders, again.blocked, again.unfinished) == ((), (), (), ())
    assert everything(flow) == histories


def test_a_dry_run_writes_nothing_and_reports_what_the_real_run_then_does(
        flow: FlowEngine, clock: FixedClock, db_target: str) -> None:
    pid = new(flow)
    to_administration(flow, pid)
    other = new(flow, "Leaflet")
    flow.advance(other, "send_to_council", actor=PANEL, at=T0)
    histories = everything(flow)
    stored = stored_bytes(db_target)
    dry = tick(flow, clock, 130, dry_run=True)
    assert dry.dry_run and dry.changed
    assert everything(flow) == histories
    assert stored_bytes(db_target) == stored
    real = tick(flow, clock, 130)
    assert not real.dry_run
    assert real.escalations == dry.escalations
    assert real.reminders == dry.reminders


def test_a_dry_run_may_look_ahead_but_a_real_tick_applies_nothing_still_to_come(
        flow: FlowEngine, clock: FixedClock) -> None:
    pid = new(flow)
    to_administration(flow, pid)
    clock.set(days=10)
    ahead = flow.tick(as_of=at(95), dry_run=True)
    assert [e.due for e in ahead.escalations] == [at(90)]
    real = flow.tick(as_of=at(95))
    assert real.as_of == at(10)
    assert not real.changed and len(flow.history(pid)[1]) == 3


def test_escalations_due_one_after_another_are_applied_in_one_tick_each_dated_when_due(
        flow: FlowEngine, clock: FixedClock) -> None:
    pid = new(flow)
    to_administration(flow, pid)
    report = tick(flow, clock, 130)  # 90 days → political (day 90), 30 days → back (day 120)
    assert [(e.from_state, e.to_state, e.at) for e in report.escalations] == [
        ("administration_review", "political_review", at(90)),
        ("political_review", "administration_review", at(120))]
    events = flow.history(pid)[1]
    assert [(e.trigger, e.at, e.entered_at) for e in events[-2:]] == [
        ("escalate", at(90), at(0)), ("return_to_administration", at(120), at(90))]
    assert flow.standing(pid).proposal.state == "administration_review"
    assert tick(flow, clock, 130).changed is False


def test_an_escalation_is_never_dated_before_the_step_before_it(flow: FlowEngine, clock: FixedClock) -> None:
    pid = new(flow)
    to_administration(flow, pid)
    flow.set_fields(pid, {"reference": "2024/9"}, actor=ADMINISTRATION, at=at(95))  # after it fell due
    (escalation,) = tick(flow, clock, 100).escalations
    assert (escalation.due, escalation.at) == (at(90), at(95))
    assert flow.history(pid)[1][-1].at == at(95)
    assert flow.verify().ok


def test_a_step_taken_in_time_leaves_nothing_due(flow: FlowEngine, clock: FixedClock) -> None:
    pid = new(flow)
    to_administration(flow, pid)
    flow.advance(pid, "decide", actor=ADMINISTRATION, comment="Yes", at=at(40))
    assert not tick(flow, clock, 95).changed  # escalation day 90 was for administration; reminder due day 96


def test_a_proposal_with_a_step_after_the_as_of_moment_is_left_alone(flow: FlowEngine, clock: FixedClock) -> None:
    pid = new(flow)
    to_administration(flow, pid)
    flow.set_fields(pid, {"reference": "2024/9"}, actor=ADMINISTRATION, at=at(100))
    histories = everything(flow)
    clock.set(days=101)
    report = flow.tick(as_of=at(95))
    assert report.left_alone == (pid,)
    assert not report.changed
    assert everything(flow) == histories


def test_tick_as_of_a_past_day_applies_only_what_was_due_by_then(flow: FlowEngine, clock: FixedClock) -> None:
    pid = new(flow)
    to_administration(flow, pid)
    clock.set(days=200)
    report = flow.tick(as_of=at(100))
    assert [(e.to_state, e.at) for e in report.escalations] == [("political_review", at(90))]
    assert flow.standing(pid).proposal.state == "political_review"


def test_tick_looks_only_at_the_workflow_asked_for(flow: FlowEngine, clock: FixedClock) -> None:
    pid = new(flow)
    to_administration(flow, pid)
    restless = flow.new_proposal("restless", title="Restless", actor=PANEL, at=T0).proposal.id
    report = tick(flow, clock, 100, workflow="restless")
    assert {e.proposal for e in report.escalations} == {restless}
    assert flow.standing(pid).proposal.state == "administration_review"
    with pytest.raises(NotFound, match="unknown workflow 'restles'; did you mean 'restless'"):
        tick(flow, clock, 100, workflow="restles")


def test_progress_postpones_the_escalation_of_an_implementation(flow: FlowEngine, clock: FixedClock) -> None:
    pid = new(flow)
    to_implementation(flow, pid)  # escalates after 20 weeks without progress
    flow.record_progress(pid, 50, actor=SERVICE, at=at(100))
    assert [e.to_state for e in tick(flow, clock, 150).escalations] == []
    (escalation,) = tick(flow, clock, 250).escalations
    assert (escalation.to_state, escalation.due) == ("stall_review", at(240))
    comment = flow.history(pid)[1][-1].comment
    assert comment == "Escalated automatically: 20 weeks in 'implementation' without recorded progress"


def test_a_conflict_while_ticking_is_looked_at_again_not_an_error(flow: FlowEngine, clock: FixedClock,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    pid = new(flow)
    to_administration(flow, pid)
    from flowengine.service import tick as tick_module

    commit = tick_module.commit_step
    lost = []

    def lose_the_first_race(*args: Any) -> Any:
        if not lost:
            lost.append(True)
            raise ConflictError(pid, "someone", "administration", "just now", "administration_review")
        return commit(*args)

    monkeypatch.setattr(tick_module, "commit_step", lose_the_first_race)
    report = tick(flow, clock, 100)
    assert lost and len(report.escalations) == 1
    assert [e.trigger for e in flow.history(pid)[1]].count("escalate") == 1


def test_a_loop_of_escalations_stops_after_a_bounded_number_and_goes_on_next_tick(
        flow: FlowEngine, clock: FixedClock) -> None:
    pid = flow.new_proposal("restless", title="Restless", actor=PANEL, at=T0).proposal.id
    first = tick(flow, clock, 10)  # 240 hours: far more hand-overs due than one tick applies
    assert len(first.escalations) == MAX_STEPS
    assert first.unfinished == (pid,)
    second = tick(flow, clock, 10)
    assert len(second.escalations) == MAX_STEPS and second.unfinished == (pid,)
    assert flow.history(pid)[1][-1].at == T0 + timedelta(hours=2 * MAX_STEPS)
    assert flow.verify().ok


# --- tick: reminders ----------------------------------------------------------------------------------------


def test_a_due_reminder_is_handed_out_once_and_recorded(flow: FlowEngine, clock: FixedClock) -> None:
    pid = new(flow, "Meeting place in the town centre")
    flow.advance(pid, "send_to_council", actor=PANEL, at=at(2))
    assert not tick(flow, clock, 29).changed  # due on day 30
    (reminder,) = tick(flow, clock, 33).reminders
    assert (reminder.proposal, reminder.title, reminder.state, reminder.owner, reminder.after) == (
        pid, "Meeting place in the town centre", "council_review", "council", "4w")
    assert (reminder.due, reminder.since, reminder.waiting_days) == (at(30), at(2), pytest.approx(31))
    event = flow.history(pid)[1][-1]
    assert (event.kind, event.from_state, event.to_state, event.actor, event.role) == (
        REMINDED, "council_review", "council_review", "system", "system")
    assert (event.at, event.entered_at) == (at(33), at(2))
    assert event.details == {"after": "4w", "due": "2024-03-31T09:00:00.000000Z"}
    assert event.idempotency_key == f"tick:remind:{pid}:2"
    assert not tick(flow, clock, 60).changed
    assert reminder.as_dict() == {
        "proposal": pid, "title": "Meeting place in the town centre", "workflow": "timely",
        "state": "council_review", "state_label": "council_review", "owner": "council", "after": "4w",
        "due": "2024-03-31T09:00:00.000000Z", "since": "2024-03-03T09:00:00.000000Z", "waiting_days": 31.0}


def test_a_reminder_comes_again_in_a_new_stay(flow: FlowEngine, clock: FixedClock) -> None:
    pid = new(flow)
    to_administration(flow, pid)
    assert len(tick(flow, clock, 50).reminders) == 1  # day 45
    assert len(tick(flow, clock, 130).escalations) == 2  # out and back in on day 120
    assert not tick(flow, clock, 160).changed
    (again,) = tick(flow, clock, 166).reminders  # day 120 + 45
    assert again.since == at(120)


def test_progress_starts_a_new_reminder_period_in_an_implementation(flow: FlowEngine, clock: FixedClock) -> None:
    pid = new(flow)
    to_implementation(flow, pid)  # reminder after 8 weeks without progress
    assert len(tick(flow, clock, 60).reminders) == 1
    flow.record_progress(pid, 20, actor=SERVICE, at=at(61))
    assert not tick(flow, clock, 100).changed
    (again,) = tick(flow, clock, 120).reminders
    assert (again.since, again.due) == (at(61), at(117))


def test_an_escalation_goes_before_a_reminder_of_the_state_it_leaves(flow: FlowEngine, clock: FixedClock) -> None:
    pid = new(flow)
    to_administration(flow, pid)
    report = tick(flow, clock, 95)  # the reminder (day 45) and the escalation (day 90) are both due
    assert [e.to_state for e in report.escalations] == ["political_review"]
    assert report.reminders == ()
    assert REMINDED not in [e.kind for e in flow.history(pid)[1]]


# --- racing ticks and the audit ------------------------------------------------------------------------------


def test_ticks_racing_in_several_processes_apply_each_escalation_once(db_target: str, workflow_dir: Path) -> None:
    from .tick_race import run_ticks

    with FlowEngine.open(db_target, workflow_dirs=[workflow_dir], clock=lambda: T0) as engine:
        ids = [new(engine, f"Proposal {n}") for n in range(3)]
        for pid in ids:
            to_administration(engine, pid)
    reports = run_ticks(db_target, workflow_dir, processes=3, now=at(130))
    escalations = [e for report in reports for e in report["escalations"]]
    assert sorted((e["proposal"], e["to"]) for e in escalations) == sorted(
        (pid, state) for pid in ids for state in ("political_review", "administration_review"))
    with FlowEngine.open(db_target, workflow_dirs=[workflow_dir], clock=lambda: at(130)) as engine:
        for pid in ids:
            triggers = [e.trigger for e in engine.history(pid)[1]]
            assert triggers.count("escalate") == 1 and triggers.count("return_to_administration") == 1
        report = engine.verify()
        assert report.ok, report.as_dict()
        assert not engine.tick().changed


def test_audit_holds_after_progress_escalations_and_reminders_and_finds_an_edited_progress(
        flow: FlowEngine, clock: FixedClock, db_target: str) -> None:
    pid = new(flow)
    to_implementation(flow, pid)
    flow.record_progress(pid, 40, actor=SERVICE, note="Premises found", at=at(10))
    tick(flow, clock, 70)  # a reminder (day 66)
    tick(flow, clock, 300)  # an escalation to stall_review
    kinds = [e.kind for e in flow.history(pid)[1]]
    assert {PROGRESS, REMINDED, ADVANCED} <= set(kinds)
    assert flow.verify().ok
    seq = kinds.index(PROGRESS) + 1
    with tampering(db_target) as conn:
        conn.execute(text("UPDATE events SET details = :details WHERE seq = :seq AND proposal_pk = "
                          "(SELECT pk FROM proposals WHERE id = :pid)"),
                     {"details": '{"percent": 90, "note": "Premises found", "milestone": null, "milestone_date": null}',
                      "seq": seq, "pid": pid})
    report = flow.verify()
    assert [(b.proposal, b.seq) for b in report.breaks] == [(pid, seq)]
    assert "does not match its hash" in report.breaks[0].problem


# --- the bundled workflows ----------------------------------------------------------------------------------


def test_timra_reminds_the_service_of_a_smaller_proposal_and_leaves_it_there(
        flow: FlowEngine, clock: FixedClock) -> None:
    leader = Actor("pia", "projektledare")
    pid = flow.new_proposal("timra", title="Clearer web information", actor=leader, at=T0, fields={
        "summary": "Say on the web site when the day centres are open",
        "expected_benefit": "Fewer wasted trips"}).proposal.id
    flow.advance(pid, "send_to_council", actor=leader, at=T0)
    flow.advance(pid, "send_to_service", actor=Actor("rut", "brukarrad"), at=T0)
    (reminder,) = tick(flow, clock, 43).reminders  # after six weeks, two before the deadline
    assert (reminder.state, reminder.owner, reminder.due) == ("service_review", "verksamheten", at(42))
    assert tick(flow, clock, 400).escalations == ()  # no automatic escalation: the service is left to answer


def test_the_innovation_chain_escalates_to_the_council_after_90_days_in_administration(
        flow: FlowEngine, clock: FixedClock) -> None:
    leader = Actor("ola", "project_leader")
    pid = flow.new_proposal("innovation-chain", title="Meeting place", actor=leader, at=T0, fields={
        "summary": "A meeting place in the town centre", "expected_benefit": "Somewhere to go"}).proposal.id
    flow.advance(pid, "send_to_council", actor=leader, at=T0)
    flow.advance(pid, "recommend", actor=Actor("rita", "council"), at=T0)
    assert tick(flow, clock, 89).escalations == ()
    (escalation,) = tick(flow, clock, 91).escalations
    assert (escalation.trigger, escalation.to_state, escalation.due) == ("escalate", "council_review", at(90))
    assert flow.standing(pid).proposal.state == "council_review"


# --- how a write names itself -------------------------------------------------------------------------------


def operations(flow: FlowEngine, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ``operation`` every write transaction is run under: what a write that gives up is called."""
    named: list[str] = []
    real = flow.database.run_write

    def run_write(work: Any, *, operation: str = "write", **options: Any) -> Any:
        named.append(operation)
        return real(work, operation=operation, **options)

    monkeypatch.setattr(flow.database, "run_write", run_write)
    return named


def test_every_write_runs_under_its_own_name(flow: FlowEngine, clock: FixedClock,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    named = operations(flow, monkeypatch)
    pid = new(flow)
    flow.set_fields(pid, {"reference": "2024/1"}, actor=PANEL, at=T0)
    to_implementation(flow, pid)
    flow.record_progress(pid, 10, actor=SERVICE, at=at(1))
    assert len(tick(flow, clock, 1 + 8 * 7).reminders) == 1
    assert named == ["new proposal", "change of fields", "advance", "advance", "advance", "progress record", "tick"]
