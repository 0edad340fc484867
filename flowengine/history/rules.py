"""``audit verify``'s second question: does every step keep the rules of the definition it ran
under? A chain whose seals all hold proves that no row was edited after it was written; it
cannot prove that the step was allowed when it was written (a planted build of a definition, a
bulk write from another tool). So each event is held to the definition its proposal was pinned
to at that moment (the creation's, then each migration's), as built from the stored text:

- a creation enters the initial state, by a declared role;
- a step is a transition of that definition from the state the proposal was in, to its target,
  fired by a role the transition allows (the engine's own escalation: the state's escalation
  trigger), with every field it requires filled and the comment it requires;
- any other event leaves the state as it was; a migration lands on a state of its new definition.

Pure: the caller reads the definitions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flowengine.definition.model import Workflow
from flowengine.history.chain import ChainBreak, apply_changes
from flowengine.history.records import ADVANCED, CREATED, MIGRATED, SYSTEM, Event, Proposal
from flowengine.i18n import t

Definitions = Callable[[str], Workflow | None]  # a definition's hash → the Workflow built from its stored text


class Unchecked(Exception):
    """Raised by a :data:`Definitions` for a definition whose text was altered: that is reported on
    its own, and the rules of an altered text prove nothing either way."""


def first_rule_break(proposal: Proposal, events: Sequence[Event], definition: Definitions) -> ChainBreak | None:
    """The first event of a (sealed, unbroken) chain that its pinned definition does not allow."""
    if not events:
        return None
    pinned = str(events[0].details.get("definition") or "")
    fields: dict[str, Any] = {}
    for event in events:
        if event.kind == MIGRATED:
            pinned = str(event.details.get("to_definition") or "")
        try:
            workflow = definition(pinned)
        except Unchecked:
            return None
        if workflow is None:
            return ChainBreak(proposal.id, event.seq, t(
                "runs under definition {definition}, which is not in the database (or does not build), so its "
                "steps cannot be checked", definition=pinned[:12]))
        after = apply_changes(fields, event.changes)
        problem = _problem(event, workflow, after)
        if problem is not None:
            return ChainBreak(proposal.id, event.seq, t("{problem} under definition {definition} ({workflow} "
                                                        "version {version})", problem=problem,
                                                        definition=pinned[:12], workflow=workflow.id,
                                                        version=workflow.version))
        fields = after
    return None


def _problem(event: Event, workflow: Workflow, fields: Mapping[str, Any]) -> str | None:
    if event.to_state not in workflow.states:
        return t("enters '{state}', which is not a state", state=event.to_state)
    if event.kind == CREATED:
        initial = workflow.initial_state
        if initial is not None and event.to_state != initial.id:
            return t("creates the proposal in '{state}', not in the initial state '{initial}'",
                     state=event.to_state, initial=initial.id)
        return _role_problem(event, workflow)
    if event.kind == ADVANCED:
        return _step_problem(event, workflow, fields)
    if event.kind != MIGRATED and event.from_state != event.to_state:
        return t("a '{kind}' event moves the proposal from '{source}' to '{state}'", kind=event.kind,
                 source=event.from_state, state=event.to_state)
    return None


def _role_problem(event: Event, workflow: Workflow) -> str | None:
    if workflow.roles and event.role not in workflow.roles and event.actor != SYSTEM:
        return t("is recorded in role '{role}', which the definition does not declare", role=event.role)
    return None


def _step_problem(event: Event, workflow: Workflow, fields: Mapping[str, Any]) -> str | None:
    source, trigger = event.from_state or "", event.trigger or ""
    transition = workflow.leaving(source, trigger)
    if transition is None:
        return t("'{trigger}' from '{source}' is not a transition", trigger=trigger, source=source)
    if transition.target != event.to_state:
        return t("'{trigger}' from '{source}' leads to '{target}', not to '{state}'", trigger=trigger, source=source,
                 target=transition.target, state=event.to_state)
    if event.actor == SYSTEM:  # the engine's own step: only an escalation, which no role limits
        escalation = workflow.states[source].escalation if source in workflow.states else None
        if escalation is None or escalation.trigger != trigger:
            return t("the engine escalated with '{trigger}', which is not the escalation of '{source}'",
                     trigger=trigger, source=source)
    elif transition.roles and event.role not in transition.roles:
        return t("role '{role}' may not {trigger} (roles that may: {roles})", role=event.role, trigger=trigger,
                 roles=", ".join(transition.roles))
    lacking = [name for name in transition.requires if fields.get(name) in (None, "")]
    if lacking:
        return t("'{trigger}' was fired without the required fields {fields}", trigger=trigger,
                 fields=", ".join(lacking))
    if transition.requires_comment and not event.comment.strip():
        return t("'{trigger}' was fired without the comment it requires", trigger=trigger)
    return None
