"""The Python API (``FlowEngine``) on a temporary SQLite file: ids, pinned definitions,
refusals, idempotency, optimistic locking, field corrections, past views and deadlines.

The bundled ``innovation-chain`` is used as shipped; small workflows written here cover what
it does not (a transition open to any role, a 30-day deadline, a workflow without prefix).
Every clock is fixed, so nothing depends on when or where the tests run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flowengine.errors import ConflictError, InvalidInput, NotFound, Refused, TransitionRefused
from flowengine.history.records import ADVANCED, CREATED, FIELDS_SET, Actor
from flowengine.service.facade import FlowEngine, Standing

from .conftest import MINIMAL_WORKFLOW, REPO_ROOT, FixedClock

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
INNOVATION_CHAIN = "innovation-chain"
INNOVATION_CHAIN_FILE = str(REPO_ROOT / "workflows" / "default" / "innovation-chain.yaml")

PANEL = Actor("kari", "panel")
COUNCIL = Actor("ola", "council")
ADMINISTRATION = Actor("eva", "administration")
POLITICIAN = Actor("per", "politician")

SMALL_WORKFLOW = """\
id: small
version: 1
prefix: SML
roles:
  panel: {}
  council: {}
fields:
  summary: {type: text, required: true}
  cost: {type: number}
  reference: {type: text}
states:
  draft: {initial: true, stage: panel, owner: panel, deadline: 30d}
  review: {stage: council, owner: council, deadline: 6w}
  done: {final: true, outcome: implemented}
  dropped: {final: true, outcome: withdrawn}
transitions:
  - {trigger: submit, from: draft, to: review, roles: [panel]}
  - {trigger: approve, from: review, to: done, roles: [council], requires: [reference], requires_comment: true}
  - {trigger: send_back, from: review, to: draft, requires_comment: true}
  - {trigger: withdraw, from: "*", to: dropped, roles: [panel]}
"""


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def workflow_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "small.yaml").write_text(SMALL_WORKFLOW, encoding="utf-8")
    (folder / "minimal.yaml").write_text(MINIMAL_WORKFLOW, encoding="utf-8")
    return folder


@pytest.fixture
def flow(db_target: str, workflow_dir: Path, clock: FixedClock,
         monkeypatch: pytest.MonkeyPatch) -> Iterator[FlowEngine]:
    monkeypatch.delenv("FLOWENGINE_WORKFLOWS", raising=False)
    with FlowEngine.open(db_target, workflow_dirs=[workflow_dir], clock=clock) as engine:
        yield engine


def new_inn(flow: FlowEngine, title: str = "Meeting place in the town centre", **fields: object) -> str:
    fields = {"summary": "A place to meet", **fields}
    return flow.new_proposal(INNOVATION_CHAIN_FILE, title=title, actor=PANEL, fields=fields).proposal.id


def new_small(flow: FlowEngine, **fields: object) -> str:
    return flow.new_proposal("small", title="Small idea", actor=PANEL,
                             fields={"summary": "Something small", **fields}).proposal.id


def to_administration(flow: FlowEngine, pid: str) -> None:
    flow.advance(pid, "send_to_council", actor=PANEL, fields={"expected_benefit": "Less loneliness"})
    flow.advance(pid, "recommend", actor=COUNCIL)


def written(flow: FlowEngine) -> tuple[int, int]:
    """(proposals, events) in the whole store: a refusal must leave both as they were."""
    report = flow.verify()
    assert report.ok, report.as_dict()
    return report.proposals, report.events


# --- ids ----------------------------------------------------------------------------------------


def test_proposal_ids_are_the_workflow_prefix_and_a_number_counting_up(flow: FlowEngine) -> None:
    first = flow.new_proposal(INNOVATION_CHAIN, title="One", actor=PANEL, fields={"summary": "x"})
    assert first.proposal.id == "INN-1"
    assert first.proposal.workflow == INNOVATION_CHAIN
    assert first.proposal.state == "panel_work"
    assert first.event is not None and (first.event.seq, first.event.kind) == (1, CREATED)
    assert new_inn(flow) == "INN-2"
    assert new_small(flow) == "SML-1"  # each prefix counts on its own
    assert new_inn(flow) == "INN-3"


def test_a_workflow_without_a_prefix_numbers_under_the_first_six_letters_of_its_id(flow: FlowEngine) -> None:
    created = flow.new_proposal("minimal", title="No prefix", actor=PANEL)
    assert created.proposal.id == "MINIMA-1"


def test_proposals_are_listed_by_number_not_as_text(flow: FlowEngine) -> None:
    ids = [new_small(flow) for _ in range(11)]
    assert ids[-1] == "SML-11"
    assert [s.proposal.id for s in flow.proposals()] == [f"SML-{n}" for n in range(1, 12)]


def test_a_proposal_id_is_found_whatever_its_case(flow: FlowEngine) -> None:
    pid = new_inn(flow)
    assert flow.standing(pid.lower()).proposal.id == pid
    assert flow.advance(f" {pid.lower()} ", "send_to_council", actor=PANEL,
                        fields={"expected_benefit": "x"}).proposal.state == "council_review"


# --- pinned definitions -------------------------------------------------------------------------


def test_a_running_proposal_keeps_the_definition_it_was_created_under(flow: FlowEngine, workflow_dir: Path) -> None:
    old = new_small(flow)
    edited = (SMALL_WORKFLOW.replace("trigger: submit", "trigger: propose")
              .replace("  done: {final: true", "  pilot: {stage: implementation, owner: council}\n"
                                                "  done: {final: true")
              .replace("  - {trigger: approve, from: review, to: done",
                       "  - {trigger: try_out, from: review, to: pilot, roles: [council]}\n"
                       "  - {trigger: conclude, from: pilot, to: done, roles: [council]}\n"
                       "  - {trigger: approve, from: review, to: done"))
    (workflow_dir / "small.yaml").write_text(edited, encoding="utf-8")
    new = new_small(flow)

    old_proposal, new_proposal = flow.standing(old).proposal, flow.standing(new).proposal
    assert old_proposal.definition_hash != new_proposal.definition_hash
    assert "pilot" not in flow.workflow_of(old_proposal).workflow.states
    assert "pilot" in flow.workflow_of(new_proposal).workflow.states

    with pytest.raises(TransitionRefused, match="no trigger 'propose'"):
        flow.advance(old, "propose", actor=PANEL)
    assert flow.advance(old, "submit", actor=PANEL).proposal.state == "review"
    with pytest.raises(TransitionRefused, match="no trigger 'try_out'"):
        flow.advance(old, "try_out", actor=COUNCIL)

    with pytest.raises(TransitionRefused, match="no trigger 'submit'"):
        flow.advance(new, "submit", actor=PANEL)
    flow.advance(new, "propose", actor=PANEL)
    assert flow.advance(new, "try_out", actor=COUNCIL).proposal.state == "pilot"
    assert written(flow) == (2, 5)


def test_a_changed_file_does_not_change_what_a_proposal_shows(flow: FlowEngine, workflow_dir: Path) -> None:
    pid = new_small(flow)
    (workflow_dir / "small.yaml").write_text(SMALL_WORKFLOW.replace("deadline: 30d", "deadline: 60d"),
                                             encoding="utf-8")
    assert flow.standing(pid).deadline == "30d"
    assert new_small(flow) != pid and flow.standing("SML-2").deadline == "60d"


# --- refusals -------------------------------------------------------------------------------------


def test_a_refusal_names_every_reason_at_once_and_the_steps_allowed_now(flow: FlowEngine) -> None:
    pid = new_inn(flow)
    to_administration(flow, pid)
    before = written(flow)

    with pytest.raises(TransitionRefused) as refused:
        flow.advance(pid, "decide", actor=PANEL)  # wrong role, no decision_reference, no comment

    error = refused.value
    assert len(error.reasons) == 3
    role, fields, comment = error.reasons
    assert "role 'panel' may not decide (roles that may: administration)" in role
    assert "decision_reference" in fields
    assert "comment" in comment
    message = str(error)
    assert all(reason in message for reason in error.reasons)
    assert "nothing was written" in message
    assert "last changed by ola (council)" in message  # who put it there, since it was someone else
    assert "allowed now in administration_review: " in message
    for listed in ("send_to_politicians (administration)", "decide (administration)", "transfer (administration)",
                   "withdraw (panel, project_leader)"):
        assert listed in message
    assert ("decide", ("administration",)) in error.allowed
    assert error.proposal_id == pid and error.state == "administration_review" and error.trigger == "decide"
    assert written(flow) == before
    assert flow.standing(pid).proposal.version == 3


def test_a_refusal_lists_a_step_open_to_every_role_as_any_role(flow: FlowEngine) -> None:
    pid = new_small(flow)
    flow.advance(pid, "submit", actor=PANEL)
    with pytest.raises(TransitionRefused, match=r"send_back \(any role\)"):
        flow.advance(pid, "approve", actor=PANEL, comment="fine")


def test_a_step_open_to_every_role_still_needs_its_comment(flow: FlowEngine) -> None:
    pid = new_small(flow)
    flow.advance(pid, "submit", actor=PANEL)
    with pytest.raises(TransitionRefused) as refused:
        flow.advance(pid, "send_back", actor=PANEL, comment="   ")
    assert len(refused.value.reasons) == 1
    assert flow.advance(pid, "send_back", actor=PANEL, comment="More detail").proposal.state == "draft"


def test_fields_given_with_a_step_count_towards_what_it_requires(flow: FlowEngine) -> None:
    pid = new_small(flow)
    flow.advance(pid, "submit", actor=PANEL)
    done = flow.advance(pid, "approve", actor=COUNCIL, comment="Good", fields={"reference": "2024/17"})
    assert done.proposal.state == "done"
    assert done.proposal.fields == {"summary": "Something small", "reference": "2024/17"}
    assert done.event is not None and done.event.changes == {"reference": "2024/17"}


def test_a_refused_step_keeps_the_fields_given_with_it_unwritten(flow: FlowEngine) -> None:
    pid = new_small(flow)
    flow.advance(pid, "submit", actor=PANEL)
    with pytest.raises(TransitionRefused):
        flow.advance(pid, "approve", actor=COUNCIL, fields={"reference": "2024/17", "cost": "100"})
    assert flow.standing(pid).proposal.fields == {"summary": "Something small"}


def test_a_trigger_of_another_state_says_which_states_it_leads_out_of(flow: FlowEngine) -> None:
    pid = new_inn(flow)
    with pytest.raises(TransitionRefused, match=r"'recommend' does not lead out of panel_work "
                                                r"\(it leads out of council_review\)"):
        flow.advance(pid, "recommend", actor=COUNCIL)


def test_an_unknown_trigger_is_refused_with_a_did_you_mean(flow: FlowEngine) -> None:
    pid = new_inn(flow)
    with pytest.raises(TransitionRefused, match="no trigger 'send_to_counsil' \\(did you mean 'send_to_council'\\?\\)"):
        flow.advance(pid, "send_to_counsil", actor=PANEL)


def test_a_proposal_in_a_final_state_refuses_every_trigger(flow: FlowEngine) -> None:
    pid = new_small(flow)
    flow.advance(pid, "withdraw", actor=PANEL)
    with pytest.raises(TransitionRefused, match="dropped is final: nothing more can be done") as refused:
        flow.advance(pid, "submit", actor=PANEL)
    assert refused.value.allowed == ()


def test_an_unknown_proposal_id_is_not_found_with_a_did_you_mean(flow: FlowEngine) -> None:
    pid = new_inn(flow)
    with pytest.raises(NotFound, match="unknown proposal 'INN-11'; did you mean 'INN-1'\\?") as missing:
        flow.advance("INN-11", "send_to_council", actor=PANEL)
    assert missing.value.kind == "proposal" and missing.value.known == (pid,)
    for call in (lambda: flow.standing("INN-11"), lambda: flow.history("INN-11"),
                 lambda: flow.set_fields("INN-11", {"cost_estimate": 1}, actor=PANEL)):
        with pytest.raises(NotFound, match="did you mean 'INN-1'"):
            call()


def test_an_undeclared_role_is_not_found_with_a_did_you_mean(flow: FlowEngine) -> None:
    pid = new_inn(flow)
    before = written(flow)
    typo = Actor("kari", "pannel")
    for call in (lambda: flow.new_proposal(INNOVATION_CHAIN, title="x", actor=typo, fields={"summary": "x"}),
                 lambda: flow.advance(pid, "send_to_council", actor=typo, fields={"expected_benefit": "x"}),
                 lambda: flow.set_fields(pid, {"cost_estimate": 1}, actor=typo)):
        with pytest.raises(NotFound, match="unknown role 'pannel'; did you mean 'panel'\\?") as missing:
            call()
        assert missing.value.kind == "role"
    assert written(flow) == before


def test_an_actor_without_a_usable_name_or_role_is_invalid() -> None:
    for name, role in (("", "panel"), ("kari", " "), ("a\nb", "panel"), ("x" * 65, "panel")):
        with pytest.raises(InvalidInput):
            Actor(name, role)


def test_creating_without_a_required_field_is_refused_naming_it(flow: FlowEngine) -> None:
    with pytest.raises(Refused, match="required field 'summary' is missing") as refused:
        flow.new_proposal(INNOVATION_CHAIN, title="x", actor=PANEL, fields={"summary": "  "})
    assert not isinstance(refused.value, TransitionRefused)
    assert written(flow) == (0, 0)


@pytest.mark.parametrize("title", ["", "   ", "two\nlines", "x" * 201])
def test_a_title_must_be_one_line_of_text(flow: FlowEngine, title: str) -> None:
    with pytest.raises(InvalidInput):
        flow.new_proposal(INNOVATION_CHAIN_FILE, title=title, actor=PANEL, fields={"summary": "x"})


def test_an_unknown_workflow_is_not_found(flow: FlowEngine) -> None:
    with pytest.raises(NotFound, match="did you mean 'innovation-chain'"):
        flow.new_proposal("innovation-chian", title="x", actor=PANEL, fields={"summary": "x"})


# --- idempotency and optimistic locking --------------------------------------------------------------


def test_the_same_step_twice_with_one_idempotency_key_writes_one_event(flow: FlowEngine) -> None:
    pid = new_inn(flow)
    first = flow.advance(pid, "send_to_council", actor=PANEL, fields={"expected_benefit": "x"},
                         idempotency_key="req-1")
    again = flow.advance(pid, "send_to_council", actor=PANEL, fields={"expected_benefit": "x"},
                         idempotency_key="req-1")
    assert not first.repeated and again.repeated
    assert again.event == first.event
    assert again.proposal.version == first.proposal.version == 2
    assert len(flow.history(pid)[1]) == 2


def test_the_same_registration_twice_with_one_idempotency_key_makes_one_proposal(flow: FlowEngine) -> None:
    first = flow.new_proposal(INNOVATION_CHAIN, title="One", actor=PANEL, fields={"summary": "x"},
                              idempotency_key="form-7")
    again = flow.new_proposal(INNOVATION_CHAIN, title="One", actor=PANEL, fields={"summary": "x"},
                              idempotency_key="form-7")
    assert again.repeated and again.proposal.id == first.proposal.id == "INN-1"
    assert written(flow) == (1, 1)


def test_the_same_correction_twice_with_one_idempotency_key_writes_one_event(flow: FlowEngine) -> None:
    pid = new_inn(flow)
    first = flow.set_fields(pid, {"cost_estimate": "100"}, actor=PANEL, idempotency_key="fix-1")
    again = flow.set_fields(pid, {"cost_estimate": "100"}, actor=PANEL, idempotency_key="fix-1")
    assert again.repeated and again.event == first.event
    assert written(flow) == (1, 2)


def test_an_idempotency_key_used_for_another_request_is_invalid(flow: FlowEngine) -> None:
    one, other = new_inn(flow), new_inn(flow)
    flow.advance(one, "send_to_council", actor=PANEL, fields={"expected_benefit": "x"}, idempotency_key="req-1")
    before = written(flow)
    attempts = [
        lambda: flow.advance(other, "send_to_council", actor=PANEL, fields={"expected_benefit": "x"},
                             idempotency_key="req-1"),
        lambda: flow.advance(one, "recommend", actor=COUNCIL, idempotency_key="req-1"),
        lambda: flow.set_fields(one, {"cost_estimate": 5}, actor=PANEL, idempotency_key="req-1"),
        lambda: flow.new_proposal(INNOVATION_CHAIN, title="x", actor=PANEL, fields={"summary": "x"},
                                  idempotency_key="req-1"),
    ]
    for attempt in attempts:
        with pytest.raises(InvalidInput, match="idempotency key 'req-1' was already used"):
            attempt()
    assert written(flow) == before


def test_a_registration_key_used_again_for_another_title_is_invalid(flow: FlowEngine) -> None:
    flow.new_proposal(INNOVATION_CHAIN, title="One", actor=PANEL, fields={"summary": "x"}, idempotency_key="k")
    with pytest.raises(InvalidInput, match="already used"):
        flow.new_proposal(INNOVATION_CHAIN, title="Another", actor=PANEL, fields={"summary": "x"},
                          idempotency_key="k")
    assert written(flow) == (1, 1)


@pytest.mark.parametrize("key", ["", "   ", "a\tb", "k" * 201])
def test_an_unusable_idempotency_key_is_invalid(flow: FlowEngine, key: str) -> None:
    pid = new_inn(flow)
    with pytest.raises(InvalidInput, match="idempotency key"):
        flow.set_fields(pid, {"cost_estimate": 5}, actor=PANEL, idempotency_key=key)


def test_a_stale_expected_version_is_a_conflict_and_writes_nothing(flow: FlowEngine) -> None:
    pid = new_inn(flow)
    seen = flow.standing(pid).proposal.version
    flow.advance(pid, "send_to_council", actor=Actor("ola", "project_leader"), fields={"expected_benefit": "x"})
    before = written(flow)

    with pytest.raises(ConflictError) as conflict:
        flow.advance(pid, "withdraw", actor=PANEL, comment="changed our minds", expected_version=seen)
    assert (conflict.value.actor, conflict.value.role, conflict.value.state) == (
        "ola", "project_leader", "council_review")
    assert "nothing was written" in str(conflict.value)
    with pytest.raises(ConflictError):
        flow.set_fields(pid, {"cost_estimate": 5}, actor=PANEL, expected_version=seen)
    assert written(flow) == before

    current = flow.standing(pid).proposal.version
    done = flow.advance(pid, "recommend", actor=COUNCIL, expected_version=current)
    assert done.proposal.version == current + 1


# --- setting fields -----------------------------------------------------------------------------------


def test_setting_fields_to_the_values_they_have_writes_nothing(flow: FlowEngine) -> None:
    pid = new_inn(flow, cost_estimate="12.5")
    before = written(flow)
    result = flow.set_fields(pid, {"summary": "  A place to meet ", "cost_estimate": "12,5"}, actor=PANEL)
    assert result.event is None and not result.repeated
    assert result.proposal.version == 1
    assert written(flow) == before


def test_setting_fields_is_an_event_that_does_not_restart_the_time_in_state(flow: FlowEngine,
                                                                            clock: FixedClock) -> None:
    pid = new_inn(flow)
    clock.set(days=3)
    result = flow.set_fields(pid, {"cost_estimate": "25000", "category": "meeting place"}, actor=PANEL,
                             comment="From the panel report")
    assert result.event is not None
    assert (result.event.kind, result.event.seq, result.event.trigger) == (FIELDS_SET, 2, None)
    assert result.event.from_state == result.event.to_state == "panel_work"
    assert result.event.changes == {"cost_estimate": 25000, "category": "meeting place"}
    assert result.proposal.state_entered_at == T0
    assert result.proposal.updated_at == T0 + timedelta(days=3)
    assert flow.standing(pid).waiting_days == pytest.approx(3)


def test_an_empty_value_clears_an_optional_field(flow: FlowEngine) -> None:
    pid = new_inn(flow, cost_estimate=100)
    result = flow.set_fields(pid, {"cost_estimate": ""}, actor=PANEL)
    assert result.event is not None and result.event.changes == {"cost_estimate": None}
    assert "cost_estimate" not in result.proposal.fields


def test_clearing_a_required_field_is_refused_whether_corrected_or_given_with_a_step(flow: FlowEngine) -> None:
    pid = new_inn(flow)
    before = written(flow)
    with pytest.raises(Refused, match="'summary' is a required field"):
        flow.set_fields(pid, {"summary": ""}, actor=PANEL)
    with pytest.raises(Refused, match="'summary' is a required field"):
        flow.advance(pid, "send_to_council", actor=PANEL, fields={"summary": "", "expected_benefit": "x"})
    assert written(flow) == before
    assert flow.standing(pid).proposal.fields == {"summary": "A place to meet"}


def test_setting_no_fields_at_all_is_invalid(flow: FlowEngine) -> None:
    pid = new_inn(flow)
    with pytest.raises(InvalidInput, match="at least one field"):
        flow.set_fields(pid, {}, actor=PANEL)


def test_field_values_are_checked_against_their_type_through_the_api(flow: FlowEngine) -> None:
    pid = new_inn(flow)
    result = flow.set_fields(pid, {"cost_estimate": "12,5", "implemented_on": "2024-05-01",
                                   "link": "https://example.org/report"}, actor=PANEL)
    assert result.proposal.fields["cost_estimate"] == 12.5
    with pytest.raises(InvalidInput, match="ambiguous"):
        flow.set_fields(pid, {"cost_estimate": "1,500"}, actor=PANEL)
    with pytest.raises(InvalidInput, match="did you mean 'meeting place'"):
        flow.set_fields(pid, {"category": "meeting-place"}, actor=PANEL)
    with pytest.raises(NotFound, match="unknown field 'costestimate'; did you mean 'cost_estimate'"):
        flow.set_fields(pid, {"costestimate": 5}, actor=PANEL)
    assert flow.standing(pid).proposal.version == 2


# --- the past ------------------------------------------------------------------------------------------


@pytest.fixture
def timeline(flow: FlowEngine, clock: FixedClock) -> tuple[str, str]:
    """INN-1 created on day 0, sent to the council on day 5; INN-2 created on day 10."""
    first = new_inn(flow)
    clock.set(days=5)
    flow.advance(first, "send_to_council", actor=PANEL, fields={"expected_benefit": "x"})
    clock.set(days=10)
    second = new_inn(flow, title="Second")
    clock.set(days=20)
    return first, second


def test_standing_as_of_a_past_day_shows_the_state_of_that_day(flow: FlowEngine, timeline: tuple[str, str]) -> None:
    first, _ = timeline
    then = flow.standing(first, as_of=T0 + timedelta(days=2))
    assert then.proposal.state == "panel_work"
    assert then.proposal.fields == {"summary": "A place to meet"}
    assert then.proposal.version == 1
    assert then.moment == T0 + timedelta(days=2)
    assert then.waiting_days == pytest.approx(2)
    assert then.last_event.seq == 1
    now = flow.standing(first)
    assert now.proposal.state == "council_review" and now.waiting_days == pytest.approx(15)


def test_a_past_moment_without_a_time_zone_is_read_as_utc(flow: FlowEngine, timeline: tuple[str, str]) -> None:
    first, _ = timeline
    naive = (T0 + timedelta(days=2)).replace(tzinfo=None)
    assert flow.standing(first, as_of=naive).proposal.state == "panel_work"
    assert [s.proposal.state for s in flow.proposals(as_of=naive)] == ["panel_work"]
    assert len(flow.history(first, as_of=naive)[1]) == 1


def test_a_moment_after_now_shows_the_proposal_as_it_is_now(flow: FlowEngine, timeline: tuple[str, str]) -> None:
    first, _ = timeline
    later = flow.standing(first, as_of=T0 + timedelta(days=365))
    assert later.moment == T0 + timedelta(days=20)
    assert later.proposal.state == "council_review"


def test_a_standing_reads_as_json(flow: FlowEngine, timeline: tuple[str, str]) -> None:
    first, _ = timeline
    shown = json.loads(json.dumps(flow.standing(first).as_dict()))
    assert shown["id"] == first and shown["state"] == "council_review" and shown["stage"] == "council"
    assert shown["waiting_days"] == 15 and shown["overdue"] is False
    assert shown["last_event"]["seq"] == 2
    assert {step["trigger"] for step in shown["next_steps"]} >= {"recommend", "send_back", "withdraw"}


def test_a_proposal_that_did_not_exist_yet_has_no_standing(flow: FlowEngine, timeline: tuple[str, str]) -> None:
    _, second = timeline
    with pytest.raises(InvalidInput, match="did not exist yet"):
        flow.standing(second, as_of=T0 + timedelta(days=2))


def test_proposals_as_of_a_past_day_show_past_states_and_leave_out_later_ones(
        flow: FlowEngine, timeline: tuple[str, str]) -> None:
    first, second = timeline
    day2 = flow.proposals(as_of=T0 + timedelta(days=2))
    assert [(s.proposal.id, s.proposal.state) for s in day2] == [(first, "panel_work")]
    assert flow.proposals(as_of=T0 + timedelta(days=2), state="council_review") == []
    day12 = flow.proposals(as_of=T0 + timedelta(days=12), state="council_review")
    assert [s.proposal.id for s in day12] == [first]
    assert [s.proposal.id for s in flow.proposals(as_of=T0 + timedelta(days=12))] == [first, second]


def test_history_as_of_a_past_day_ends_on_that_day(flow: FlowEngine, timeline: tuple[str, str]) -> None:
    first, second = timeline
    _, events = flow.history(first, as_of=T0 + timedelta(days=2))
    assert [e.kind for e in events] == [CREATED]
    _, events = flow.history(first)
    assert [e.kind for e in events] == [CREATED, ADVANCED]
    with pytest.raises(InvalidInput, match="did not exist yet"):
        flow.history(second, as_of=T0 + timedelta(days=2))


def test_a_step_dated_before_the_last_step_is_refused(flow: FlowEngine, clock: FixedClock) -> None:
    pid = new_inn(flow)
    clock.set(days=4)
    flow.set_fields(pid, {"cost_estimate": 1}, actor=PANEL)
    before = written(flow)
    with pytest.raises(InvalidInput, match="before the last step"):
        flow.advance(pid, "send_to_council", actor=PANEL, fields={"expected_benefit": "x"},
                     at=T0 + timedelta(days=1))
    with pytest.raises(InvalidInput, match="before the last step"):
        flow.set_fields(pid, {"cost_estimate": 2}, actor=PANEL, at=T0)
    assert written(flow) == before
    later = T0 + timedelta(days=4, hours=1)
    done = flow.advance(pid, "send_to_council", actor=PANEL, fields={"expected_benefit": "x"},
                        at=later.replace(tzinfo=None))  # a naive moment is UTC
    assert done.event is not None and done.event.at == later
    assert done.proposal.state_entered_at == later


def test_a_clock_behind_the_last_step_still_keeps_the_history_in_order(flow: FlowEngine, clock: FixedClock) -> None:
    pid = new_inn(flow)
    clock.set(days=5)
    flow.set_fields(pid, {"cost_estimate": 1}, actor=PANEL)
    clock.set(days=1)  # another machine's clock, running late
    done = flow.set_fields(pid, {"cost_estimate": 2}, actor=PANEL)
    assert done.event is not None and done.event.at == T0 + timedelta(days=5)
    assert flow.verify().ok


# --- deadlines and waiting -------------------------------------------------------------------------------


def test_time_in_state_due_date_and_overdue_follow_the_deadline_of_the_state(flow: FlowEngine,
                                                                            clock: FixedClock) -> None:
    pid = new_small(flow)  # draft: 30d
    clock.set(days=10)
    standing = flow.standing(pid)
    assert standing.waiting_days == pytest.approx(10)
    assert standing.deadline == "30d"
    assert standing.due_at == T0 + timedelta(days=30)
    assert not standing.overdue
    clock.set(days=30)
    assert not flow.standing(pid).overdue  # due at that moment, not past it
    clock.set(days=31)
    assert flow.standing(pid).overdue
    submitted = flow.advance(pid, "submit", actor=PANEL)  # review: 6w, counted from now
    standing = flow.standing(pid)
    assert standing.waiting_days == 0 and not standing.overdue
    assert standing.due_at == submitted.proposal.state_entered_at + timedelta(weeks=6)


def test_a_deadline_in_months_follows_the_calendar(flow: FlowEngine, clock: FixedClock) -> None:
    clock.now = datetime(2024, 11, 30, 12, 0, tzinfo=UTC)  # panel_work: P3M
    pid = new_inn(flow)
    assert flow.standing(pid).due_at == datetime(2025, 2, 28, 12, 0, tzinfo=UTC)


def test_a_proposal_in_a_final_state_is_never_overdue(flow: FlowEngine, clock: FixedClock) -> None:
    pid = new_small(flow)
    flow.advance(pid, "withdraw", actor=PANEL)
    clock.set(days=400)
    standing = flow.standing(pid)
    assert standing.final and standing.outcome == "withdrawn"
    assert standing.due_at is None and not standing.overdue
    assert standing.next_steps == ()


def test_standing_names_the_next_steps_and_the_fields_they_still_need(flow: FlowEngine) -> None:
    pid = new_inn(flow)
    to_administration(flow, pid)
    standing = flow.standing(pid)
    assert (standing.stage, standing.owner) == ("administration", "administration")
    steps = {step.trigger: step for step in standing.next_steps}
    assert steps["decide"].missing_fields == ("decision_reference",)
    assert steps["decide"].needs_comment
    assert steps["transfer"].missing_fields == ()
    assert standing.missing_fields == ("decision_reference",)


# --- listing ---------------------------------------------------------------------------------------------


@pytest.fixture
def varied(flow: FlowEngine, clock: FixedClock) -> dict[str, str]:
    """Proposals in different places, entered at different times; "now" is day 40."""
    names: dict[str, str] = {}
    names["waiting_long"] = new_small(flow)                          # SML-1: draft since day 0 (overdue)
    clock.set(days=15)
    names["submitted"] = new_small(flow)                             # SML-2: review since day 20
    clock.set(days=20)
    flow.advance(names["submitted"], "submit", actor=PANEL)
    clock.set(days=25)
    names["withdrawn"] = new_small(flow)                             # SML-3: dropped on day 26
    clock.set(days=26)
    flow.advance(names["withdrawn"], "withdraw", actor=PANEL)
    clock.set(days=30)
    names["inn"] = new_inn(flow)                                     # INN-1: panel_work since day 30
    clock.set(days=40)
    return names


def ids(standings: list[Standing]) -> list[str]:
    return [s.proposal.id for s in standings]


def test_proposals_filter_by_workflow_state_stage_owner_and_overdue(flow: FlowEngine, varied: dict[str, str]) -> None:
    assert ids(flow.proposals()) == ["INN-1", "SML-1", "SML-2", "SML-3"]
    assert ids(flow.proposals(workflow="small")) == ["SML-1", "SML-2", "SML-3"]
    assert ids(flow.proposals(workflow=INNOVATION_CHAIN)) == ["INN-1"]
    assert ids(flow.proposals(state="review")) == ["SML-2"]
    assert ids(flow.proposals(stage="panel")) == ["INN-1", "SML-1"]
    assert ids(flow.proposals(stage="council")) == ["SML-2"]
    assert ids(flow.proposals(owner="council")) == ["SML-2"]
    assert ids(flow.proposals(overdue=True)) == ["SML-1"]
    assert ids(flow.proposals(workflow="small", stage="panel", owner="panel", overdue=True)) == ["SML-1"]
    assert flow.proposals(workflow="no-such-workflow") == []


def test_proposals_sorted_by_waiting_put_the_longest_wait_first_and_final_ones_last(
        flow: FlowEngine, varied: dict[str, str]) -> None:
    assert ids(flow.proposals(sort="waiting")) == ["SML-1", "SML-2", "INN-1", "SML-3"]


def test_proposals_sorted_by_update_put_the_latest_change_first(flow: FlowEngine, varied: dict[str, str]) -> None:
    assert ids(flow.proposals(sort="updated")) == ["INN-1", "SML-3", "SML-2", "SML-1"]


def test_proposals_sorted_by_state_group_each_workflow_and_state(flow: FlowEngine, varied: dict[str, str]) -> None:
    assert ids(flow.proposals(sort="state")) == ["INN-1", "SML-1", "SML-3", "SML-2"]  # draft, dropped, review


def test_proposals_cannot_be_sorted_by_an_unknown_key(flow: FlowEngine) -> None:
    with pytest.raises(InvalidInput, match="choose one of: id, waiting, updated, state"):
        flow.proposals(sort="age")


def test_overdue_as_of_a_past_day_is_judged_on_that_day(flow: FlowEngine, varied: dict[str, str]) -> None:
    assert ids(flow.proposals(overdue=True, as_of=T0 + timedelta(days=29))) == []
    assert ids(flow.proposals(overdue=True, as_of=T0 + timedelta(days=31))) == ["SML-1"]


# --- the audit --------------------------------------------------------------------------------------------


def test_verify_passes_over_a_mixed_history(flow: FlowEngine, varied: dict[str, str]) -> None:
    report = flow.verify()
    assert report.ok and report.breaks == () and report.altered_definitions == ()
    assert (report.proposals, report.events) == (4, 6)
    assert report.as_dict()["ok"] is True


@pytest.mark.parametrize("what", ["title", "comment"])
def test_terminal_escapes_in_titles_and_comments_are_refused_and_nothing_is_written(
        flow: FlowEngine, what: str) -> None:
    pid = new_inn(flow)
    before = flow.history(pid)[1]
    with pytest.raises(InvalidInput, match="control character U\\+001B"):
        if what == "title":
            new_inn(flow, title="Nice\x1b]0;pwned\x07")
        else:
            flow.set_fields(pid, {"summary": "other"}, actor=PANEL, comment="see \x1b[2J")
    assert flow.history(pid)[1] == before
    assert [s.proposal.id for s in flow.proposals()] == [pid]
