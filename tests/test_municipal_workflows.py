"""The five bundled municipal workflows: each keeps the feature that defines its municipality's chain.

The sources (the project's final report) tell each chain differently; these tests fail when an
edit to a YAML file loses what made it that municipality's chain, not merely when it stops
validating (tests/test_bundled.py checks validity, labels and diagrams for every bundled file).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache

import pytest

from flowengine.definition.loader import load_workflow
from flowengine.definition.model import Transition, Workflow
from flowengine.definition.registry import bundled_dir, discover

MUNICIPALITIES = {"ostersund": "OSD", "timra": "TIM", "trondheim": "TRD", "stjordal": "STJ", "melhus": "MEL"}
DECIDED = ("implemented", "partially_implemented", "transferred")  # outcomes where something goes on
VERDICTS = {"youth_panel_verdict", "staff_panel_verdict"}


@cache
def _workflow(workflow_id: str) -> Workflow:
    return load_workflow(bundled_dir() / "municipalities" / f"{workflow_id}.yaml", strict=True)


def _reachable(workflow: Workflow, *, without_states: Iterable[str] = (),
               without: Callable[[Transition], bool] = lambda t: False) -> set[str]:
    """States reachable from the initial state, never entering ``without_states`` and never
    firing a transition for which ``without`` is true."""
    initial = workflow.initial_state
    assert initial is not None
    blocked = set(without_states)
    seen = {initial.id}
    todo = [initial.id]
    while todo:
        for transition in workflow.outgoing(todo.pop()):
            if without(transition) or transition.target in blocked or transition.target in seen:
                continue
            seen.add(transition.target)
            todo.append(transition.target)
    return seen


def _states_owned_by_kind(workflow: Workflow, kind: str) -> set[str]:
    return {sid for sid, state in workflow.states.items()
            if state.owner is not None and workflow.roles[state.owner].kind == kind}


def _outcome_states(workflow: Workflow, outcomes: Iterable[str]) -> set[str]:
    wanted = set(outcomes)
    return {sid for sid, state in workflow.states.items() if state.final and state.outcome in wanted}


# --- all five ------------------------------------------------------------------------------

def test_the_five_municipal_workflows_are_bundled_under_their_own_ids_and_prefixes() -> None:
    bundled = {entry.id: entry.path for entry in discover([bundled_dir()])}
    for workflow_id, prefix in MUNICIPALITIES.items():
        assert bundled[workflow_id] == bundled_dir() / "municipalities" / f"{workflow_id}.yaml"
        assert _workflow(workflow_id).prefix == prefix


@pytest.mark.parametrize("workflow_id", sorted(MUNICIPALITIES))
def test_municipal_chain_passes_a_user_council_before_anything_is_decided(workflow_id: str) -> None:
    workflow = _workflow(workflow_id)
    councils = _states_owned_by_kind(workflow, "council")
    assert councils
    governed = _outcome_states(workflow, ("implemented", "partially_implemented", "rejected", "parked",
                                          "transferred", "merged"))
    assert not governed & _reachable(workflow, without_states=councils)


@pytest.mark.parametrize("workflow_id", sorted(MUNICIPALITIES))
def test_municipal_send_back_to_the_panel_keeps_the_proposal_open_and_explains_why(workflow_id: str) -> None:
    workflow = _workflow(workflow_id)
    panel_stage = {sid for sid, state in workflow.states.items() if state.stage == "panel"}
    backwards = [t for t in workflow.transitions
                 if t.target in panel_stage and any(src not in panel_stage for src in t.sources)]
    assert backwards, "no way back to the panel"
    for transition in backwards:
        assert transition.requires_comment, transition.trigger
        # Sending a proposal back is no answer to the panel, except where the decision makers
        # give the panel a task: Timrå's "uppdraget att arbeta vidare med förslaget".
        decision_makers = {"ordforande", "ledningsgrupp"}
        answered = workflow_id == "timra" and set(transition.roles) <= decision_makers
        assert transition.answers_panel == answered, transition.trigger


@pytest.mark.parametrize("workflow_id", sorted(MUNICIPALITIES))
def test_municipal_council_is_named_in_swedish_and_norwegian_not_mixed(workflow_id: str) -> None:
    """Swedish "brukar-", Norwegian "bruker-": the slip that mixes them is easy to make."""
    workflow = _workflow(workflow_id)
    [council] = [role for role in workflow.roles.values() if role.kind == "council"]
    assert council.labels.as_dict() == {"en": "User council", "nb": "Brukerråd", "sv": "Brukarråd"}
    for thing in (*workflow.roles.values(), *workflow.states.values(), *workflow.transitions):
        labels = thing.labels.as_dict()
        assert "brukar" not in labels["nb"].lower(), labels["nb"]
        assert "bruker" not in labels["sv"].lower(), labels["sv"]


# --- Östersund ------------------------------------------------------------------------------

def test_ostersund_reaches_implementation_only_through_the_ombudsman_service_and_the_leadership() -> None:
    workflow = _workflow("ostersund")
    ombudsman = {sid for sid, s in workflow.states.items() if s.owner == "personligt_ombud"}
    leadership = {sid for sid, s in workflow.states.items() if s.owner == "kommunledning"}
    assert ombudsman and leadership
    assert workflow.states["committee_review"].stage == "political"
    for bypassed in (ombudsman, leadership):
        reached = _reachable(workflow, without_states=bypassed)
        assert "implementation" not in reached
        assert not _outcome_states(workflow, ("implemented", "partially_implemented")) & reached


def test_ostersund_leadership_can_take_a_well_received_proposal_on_without_a_committee() -> None:
    """"Förslaget har mottagits väl och Östersunds Kommun planerar nu att starta upp en sådan
    verksamhet": the report names no committee decision."""
    workflow = _workflow("ostersund")
    [plan] = [t for t in workflow.outgoing("leadership_dialogue") if t.target == "implementation"]
    assert plan.roles == ("kommunledning",) and plan.answers_panel and plan.requires_comment
    assert "implementation" in _reachable(workflow, without_states={"committee_review"})


def test_ostersund_panel_presents_its_own_proposals_to_the_leadership() -> None:
    """"Brukarpanelerna har haft möten med politiker och beslutsfattare för att presentera sina idéer"."""
    workflow = _workflow("ostersund")
    [present] = [t for t in workflow.transitions
                 if t.target == "leadership_dialogue" and t.trigger.startswith("present")]
    assert "brukarpanel" in present.roles


def test_ostersund_presents_proposals_to_the_leadership_before_the_committee() -> None:
    workflow = _workflow("ostersund")
    assert "committee_review" not in _reachable(workflow, without_states={"leadership_dialogue"})
    [to_committee] = [t for t in workflow.outgoing("leadership_dialogue") if t.target == "committee_review"]
    assert {"presented_at", "presented_on"} <= set(to_committee.requires)
    presented_at = workflow.fields["presented_at"]
    assert {"citizen dialogue", "dissemination conference"} <= set(presented_at.options)


def test_ostersund_ideas_can_become_new_projects_with_a_reasoned_answer() -> None:
    workflow = _workflow("ostersund")
    transfers = [t for t in workflow.transitions if workflow.states[t.target].outcome == "transferred"]
    assert "ombud_preparation" in {src for t in transfers for src in t.sources}
    for transfer in transfers:
        assert transfer.answers_panel and transfer.requires_comment
        assert "transferred_to" in transfer.requires


# --- Timrå ----------------------------------------------------------------------------------

def test_timra_chain_starts_with_the_panel_and_leaves_the_audit_to_its_own_workflow() -> None:
    """One user audit at the start, not one per proposal: proposals link to it (`--from BSB-…`)."""
    workflow = _workflow("timra")
    initial = workflow.initial_state
    assert initial is not None and initial.id == "panel_work" and initial.owner == "brukarpanel"
    assert not any("audit" in sid for sid in workflow.states)
    assert not any("audit" in fid for fid in workflow.fields)
    assert not any(role.kind == "panel" and rid != "brukarpanel" for rid, role in workflow.roles.items())


def test_timra_chair_and_management_group_can_send_a_proposal_back_to_the_panel() -> None:
    workflow = _workflow("timra")
    assert workflow.roles["ordforande"].kind == "politician"
    assert workflow.roles["ledningsgrupp"].kind == "administration"
    [back] = [t for t in workflow.outgoing("management_review") if t.target == "panel_work"]
    assert {"ordforande", "ledningsgrupp"} <= set(back.roles)
    assert back.requires_comment and back.answers_panel  # the task to develop it further is an answer
    # the panel's further work goes through the user council again
    assert "management_review" not in _reachable(workflow, without_states={"council_review"})


def test_timra_smaller_improvements_can_be_carried_out_by_the_existing_service() -> None:
    workflow = _workflow("timra")
    assert workflow.states["service_review"].owner == "verksamheten"
    [carry_out] = [t for t in workflow.outgoing("service_review") if t.target == "implementation"]
    assert carry_out.answers_panel and carry_out.requires_comment
    reached = _reachable(workflow, without_states={"management_review", "committee_review"})
    assert "implementation" in reached


def test_timra_panel_meets_four_times_a_year() -> None:
    deadline = _workflow("timra").states["panel_work"].deadline_text
    assert deadline == "P3M"


# --- Trondheim ------------------------------------------------------------------------------

def test_trondheim_passes_the_dialogue_meetings_and_the_management_before_implementation() -> None:
    """"en rekke møter med ledelse for å få gjennomslag for dette, som en oppfølging av det positive
    møtet med helse- og omsorgskomiteen"."""
    workflow = _workflow("trondheim")
    assert workflow.states["management_review"].owner == "ledelsen"
    assert workflow.roles["ledelsen"].kind == "administration"
    implementation_stage = {sid for sid, s in workflow.states.items() if s.stage == "implementation"}
    for bypassed in ("dialogue_meetings", "management_review"):
        reached = _reachable(workflow, without_states={bypassed})
        assert not implementation_stage & reached, bypassed
        assert not _outcome_states(workflow, ("implemented", "partially_implemented")) & reached, bypassed
    # the management decides within its mandate; the politicians are one route, not the only one
    assert implementation_stage & _reachable(workflow, without_states={"committee_review", "city_council_review"})
    # and the city council only sees what the committee recommends
    assert "city_council_review" not in _reachable(workflow, without_states={"committee_review"})


def test_trondheim_implementation_may_be_run_by_voluntary_or_non_profit_providers() -> None:
    workflow = _workflow("trondheim")
    provider = workflow.fields["provider"]
    assert provider.type == "choice"
    assert {"municipal service", "voluntary organisation", "non-profit organisation"} <= set(provider.options)
    into_implementation = [t for t in workflow.transitions if t.target == "implementation"
                           and "evaluation" not in t.sources]
    assert into_implementation
    for transition in into_implementation:
        assert "provider" in transition.requires


# --- Stjørdal -------------------------------------------------------------------------------

@pytest.mark.parametrize("workflow_id", ["ostersund", "timra", "trondheim", "melhus"])
def test_evaluation_lies_with_mittuniversitetet_and_kbt_with_no_split_by_country(workflow_id: str) -> None:
    """"Evalueringsansvaret har vært lagt til Mittuniversitet og KBT"."""
    workflow = _workflow(workflow_id)
    evaluators = [role for role in workflow.roles.values() if role.kind == "evaluator"]
    assert [role.labels.as_dict() for role in evaluators] == [
        {"en": "Mid Sweden University and KBT", "nb": "Mittuniversitetet og KBT", "sv": "Mittuniversitetet och KBT"}]


@pytest.mark.parametrize("workflow_id", sorted(MUNICIPALITIES))
def test_a_body_the_report_does_not_name_is_said_to_be_so_in_the_yaml(workflow_id: str) -> None:
    text = (bundled_dir() / "municipalities" / f"{workflow_id}.yaml").read_text(encoding="utf-8")
    assert "Not in the report" in text
    assert "names no brukerråd" in text or "names no brukarråd" in text
    if workflow_id == "trondheim":
        assert "rådmann" in text and "neither title is in the report" in text


def test_stjordal_is_evaluated_by_a_youth_panel_and_a_panel_of_staff_and_teachers() -> None:
    workflow = _workflow("stjordal")
    assert workflow.roles["ungdomspanel"].kind == "panel"
    assert workflow.roles["fagpanel"].kind == "panel"
    for verdict in VERDICTS:
        assert workflow.fields[verdict].type == "choice"
        assert not workflow.fields[verdict].required  # given during the evaluation, not at the start
    assert workflow.states["panel_evaluation"].stage == "evaluation"


def test_stjordal_cannot_take_the_service_into_use_or_hand_it_on_without_both_panels_verdicts() -> None:
    workflow = _workflow("stjordal")
    reached = _reachable(workflow, without=lambda t: set(t.requires) >= VERDICTS)
    assert not _outcome_states(workflow, DECIDED) & reached
    assert "outcome_decision" not in reached


def test_stjordal_every_decision_on_the_evaluated_service_requires_both_verdicts() -> None:
    workflow = _workflow("stjordal")
    into_decision = [t for t in workflow.transitions if t.target == "outcome_decision"]
    deciding = [t for t in workflow.outgoing("outcome_decision") if workflow.states[t.target].final
                and workflow.states[t.target].outcome != "withdrawn"]
    assert into_decision
    assert {workflow.states[t.target].outcome for t in deciding} >= {"implemented", "transferred", "rejected"}
    for transition in (*into_decision, *deciding):
        assert set(transition.requires) >= VERDICTS, transition.trigger


# --- Melhus ---------------------------------------------------------------------------------

def test_melhus_implementation_can_end_partially_implemented_with_reasons() -> None:
    workflow = _workflow("melhus")
    partial = _outcome_states(workflow, ("partially_implemented",))
    assert partial & _reachable(workflow)
    from_implementation = [t for t in workflow.outgoing("implementation") if t.target in partial]
    assert from_implementation, "a stalled implementation must be able to end partly implemented"
    for transition in from_implementation:
        assert transition.answers_panel and transition.requires_comment
        assert "implemented_part" in transition.requires


def test_melhus_proposals_go_from_the_panel_reports_to_the_municipal_management() -> None:
    workflow = _workflow("melhus")
    [to_council] = [t for t in workflow.outgoing("panel_work") if t.target == "council_review"]
    assert "panel_report" in to_council.requires
    assert workflow.states["management_review"].owner == "kommunaledelsen"
    assert "implementation" not in _reachable(workflow, without_states={"management_review"})
