"""Meaning and governance checks on a built workflow, as small independent functions.

Each ``_check_*`` yields :class:`Issue` s and knows nothing of the others, so a rule can be
read, tested and changed alone. Structural problems (types, unknown keys) are the schema's
job; a check here skips what the schema already reports.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from flowengine.definition.model import State, Transition, Workflow
from flowengine.i18n import t
from flowengine.issues import Issue, Severity, error, warning
from flowengine.suggest import did_you_mean

_WORKFLOW_ID = re.compile(r"[a-z][a-z0-9_-]*")
_RESERVED_TRIGGERS = ("trigger", "state")
_RESERVED_TRIGGER_PREFIXES = ("is_", "to_", "may_")
_EXEMPT_OUTCOMES = ("withdrawn",)  # the panel withdrawing its own idea needs no council or answer

Check = Callable[[Workflow], Iterator[Issue]]


def check_workflow(workflow: Workflow, *, strict: bool = False, file_stem: str | None = None) -> list[Issue]:
    """Run every check; with ``strict`` governance warnings count as errors."""
    issues: list[Issue] = []
    for check in CHECKS:
        issues.extend(check(workflow))
    if file_stem is not None and _WORKFLOW_ID.fullmatch(workflow.id) and file_stem != workflow.id:
        issues.append(warning("FE218", t("file name '{file}' differs from workflow id '{workflow}'", file=file_stem,
                                         workflow=workflow.id),
                              workflow.at.where("id"), t("rename the file to {file}", file=f"{workflow.id}.yaml")))
    if strict:
        issues = [error(i.code, i.message, i.location, i.hint) if i.severity is Severity.WARNING
                  and i.code.startswith("FE3") else i for i in issues]
    return issues


def _suggest(wanted: str, known: list[str], kind: str) -> str:
    known = [name for name in known if name]
    suggestion = did_you_mean(wanted, known)
    if suggestion:
        return t("did you mean '{suggestion}'?", suggestion=suggestion)
    if known:
        return t("declare it under '{kind}:' or use one of: {known}", kind=kind, known=", ".join(known))
    return t("declare it under '{kind}:'", kind=kind)


def _check_initial(workflow: Workflow) -> Iterator[Issue]:
    if not workflow.states:
        return
    initials = [s for s in workflow.states.values() if s.initial]
    if not initials:
        first = next(iter(workflow.states.values()))
        yield error("FE200", t("no initial state"), first.location,
                    t("mark the state new proposals start in with 'initial: true', e.g. under '{state}'",
                      state=first.id))
    for extra in initials[1:]:
        yield error("FE201", t("state '{state}' is a second initial state (the first is '{first}')", state=extra.id,
                               first=initials[0].id),
                    extra.location, t("keep 'initial: true' on exactly one state"))
    for state in initials:
        if state.final:
            yield error("FE216", t("initial state '{state}' is also final", state=state.id), state.location,
                        t("a proposal must be able to move: remove 'final: true' or 'initial: true'"))


def _check_finals(workflow: Workflow) -> Iterator[Issue]:
    if workflow.states and not any(s.final for s in workflow.states.values()):
        yield error("FE202", t("no final state"), workflow.at.where("states"),
                    t("add at least one state with 'final: true' and an outcome, e.g. implemented or rejected"))
    for state in _readable(workflow):
        if state.final and state.outcome is None:
            yield error("FE213", t("final state '{state}' has no outcome", state=state.id), state.location,
                        t("add e.g. 'outcome: implemented' (or rejected, withdrawn, merged, parked …)"))
        if not state.final and state.outcome is not None:
            yield error("FE213", t("state '{state}' has an outcome but is not final", state=state.id), state.location,
                        t("add 'final: true' or remove the outcome"))
        if not state.final and state.stage is None:
            yield error("FE217", t("state '{state}' has no stage", state=state.id), state.location,
                        t("add e.g. 'stage: council'; the stages are panel, council, administration, political, "
                          "implementation and evaluation"))


def _readable(workflow: Workflow) -> list[State]:
    """States whose entry could be read; the schema check already reports the others."""
    return [state for state in workflow.states.values() if state.readable]


def _graph_ready(workflow: Workflow) -> bool:
    """Graph checks are judged only once every step is readable and names declared states;
    until then they would only echo that error as a screenful of "unreachable" ones."""
    return workflow.complete and all(
        step.target in workflow.states and (step.from_any or all(s in workflow.states for s in step.sources))
        for step in workflow.transitions
    )


def _check_transition_states(workflow: Workflow) -> Iterator[Issue]:
    if not workflow.states:
        return  # the structural check reports the empty or missing 'states'
    known = list(workflow.states)
    for step in workflow.transitions:
        if not step.from_any:
            for source in step.sources:
                if source not in workflow.states:
                    if source == "*":
                        hint = t('write from: "*" on its own, not inside a list')
                    elif "," in source:
                        hint = t("to name several states write a list: from: [{states}]", states=source)
                    else:
                        hint = _suggest(source, known, "states")
                    yield error("FE203", t("transition '{trigger}' comes from unknown state '{state}'",
                                           trigger=step.trigger, state=source),
                                step.at.where("from", source), hint)
        if step.target and step.target not in workflow.states:
            yield error("FE204", t("transition '{trigger}' goes to unknown state '{state}'", trigger=step.trigger,
                                   state=step.target),
                        step.at.where("to"), _suggest(step.target, known, "states"))


def _check_roles(workflow: Workflow) -> Iterator[Issue]:
    known = list(workflow.roles)
    for state in workflow.states.values():
        if state.owner is not None and state.owner not in workflow.roles:
            yield error("FE205", t("state '{state}' is owned by unknown role '{role}'", state=state.id,
                                   role=state.owner),
                        state.at.where("owner"), _suggest(state.owner, known, "roles"))
    for step in workflow.transitions:
        for role in step.roles:
            if role not in workflow.roles:
                yield error("FE205", t("transition '{trigger}' names unknown role '{role}'", trigger=step.trigger,
                                       role=role),
                            step.at.where("roles", role), _suggest(role, known, "roles"))


def _check_fields(workflow: Workflow) -> Iterator[Issue]:
    known = list(workflow.fields)
    for step in workflow.transitions:
        for name in step.requires:
            if name not in workflow.fields:
                yield error("FE206", t("transition '{trigger}' requires unknown field '{field}'",
                                       trigger=step.trigger, field=name),
                            step.at.where("requires", name), _suggest(name, known, "fields"))
    for f in workflow.fields.values():
        if f.type == "choice" and not f.options:
            yield error("FE214", t("choice field '{field}' has no options", field=f.id), f.at.where("options"),
                        t("add e.g. 'options: [low, medium, high]'"))
        if f.type != "choice" and f.options:
            yield error("FE214", t("field '{field}' has options but is of type {type}", field=f.id, type=f.type),
                        f.at.where("options"), t("set 'type: choice' or remove the options"))


def _check_reachability(workflow: Workflow) -> Iterator[Issue]:
    from flowengine.definition.graph import trap_states, unreachable_states

    if not _graph_ready(workflow):
        return
    for sid in unreachable_states(workflow):
        state = workflow.states[sid]
        yield error("FE207", t("state '{state}' cannot be reached from the initial state", state=sid), state.location,
                    t("add a transition with 'to: {state}', or remove the state", state=sid))
    for sid in trap_states(workflow):
        state = workflow.states[sid]
        yield error("FE208", t("no final state can be reached from state '{state}'", state=sid), state.location,
                    t("add a transition 'from: {state}' towards a final state (e.g. rejected or parked)", state=sid))


def _check_final_outgoing(workflow: Workflow) -> Iterator[Issue]:
    for step in workflow.transitions:
        if step.from_any:
            continue
        for source in step.sources:
            state = workflow.states.get(source)
            if state is not None and state.final:
                yield error("FE209", t("transition '{trigger}' leaves final state '{state}'", trigger=step.trigger,
                                       state=source),
                            step.at.where("from", source),
                            t("remove the transition, or make '{state}' an open state (no 'final: true')",
                              state=source))


def _check_duplicate_triggers(workflow: Workflow) -> Iterator[Issue]:
    """A trigger declared twice from one state. A transition from any state is one entry per
    trigger (with the states it leaves), not one per state, so the check stays linear."""
    seen: dict[tuple[str, str], int] = {}
    anywhere: dict[str, tuple[int, frozenset[str]]] = {}  # trigger → first line "from: *" and its states
    explicit: dict[str, dict[str, int]] = {}  # trigger → {state: first line}
    expansions: dict[int, frozenset[str]] = {}  # every "from: *" shares one tuple of states
    for step in workflow.transitions:
        if not step.trigger:
            continue  # a missing trigger is the structural check's error
        line = step.at.where("trigger").line
        if step.from_any:
            sources = expansions.get(id(step.sources)) or expansions.setdefault(id(step.sources),
                                                                                 frozenset(step.sources))
            earlier = anywhere.get(step.trigger)
            clash: tuple[str, int] | None = None
            if earlier is not None and sources & earlier[1]:
                clash = (min(sources & earlier[1], key=step.sources.index), earlier[0])
            else:
                clash = next(((state, first) for state, first in explicit.get(step.trigger, {}).items()
                              if state in sources), None)
            if earlier is None:
                anywhere[step.trigger] = (line, sources)
            if clash is not None:
                yield _duplicate(step, clash[0], clash[1])
            continue
        for source in step.sources:
            key = (source, step.trigger)
            first = seen.get(key)
            if first is None and step.trigger in anywhere and source in anywhere[step.trigger][1]:
                first = anywhere[step.trigger][0]
            if first is not None:
                yield _duplicate(step, source, first)
            else:
                seen[key] = line
                explicit.setdefault(step.trigger, {})[source] = line


def _duplicate(step: Transition, source: str, first: int) -> Issue:
    return error("FE210", t("trigger '{trigger}' is declared twice from state '{state}' (first at line {line})",
                           trigger=step.trigger, state=source, line=first),
                 step.at.where("trigger"), t("give one of the transitions another trigger name"))


def _check_trigger_names(workflow: Workflow) -> Iterator[Issue]:
    for step in workflow.transitions:
        if step.trigger in _RESERVED_TRIGGERS or step.trigger.startswith(_RESERVED_TRIGGER_PREFIXES):
            yield error("FE215", t("trigger name '{trigger}' is reserved by the engine", trigger=step.trigger),
                        step.at.where("trigger"),
                        t("choose another name; triggers may not be 'trigger' or 'state' nor start with "
                          "is_, to_ or may_"))


def _check_owner_and_deadline(workflow: Workflow) -> Iterator[Issue]:
    for state in _readable(workflow):
        if state.final:
            continue
        if state.owner is None:
            yield warning("FE300", t("open state '{state}' has no owner, so nobody is asked to act", state=state.id),
                          state.location, t("add 'owner: <role>'"))
        if state.deadline_text is None:
            yield warning("FE301", t("open state '{state}' has no deadline, so a stall here goes unseen",
                                     state=state.id),
                          state.location, t("add e.g. 'deadline: 8w'"))


def _check_personal_data(workflow: Workflow) -> Iterator[Issue]:
    """Free text is where personal data ends up (a name, a diagnosis); a workflow must say of
    each text field whether it may hold any, so that publication, pseudonymised exports and
    erasure requests know what to do with it."""
    for f in workflow.fields.values():
        if f.type == "text" and f.personal is None:
            yield warning("FE305", t("text field '{field}' does not say whether it holds personal data, so nobody "
                                     "decided whether it may be published, exported or must be erasable", field=f.id),
                          f.location, t("add 'personal: true' (names, health, circumstances) or 'personal: false'"))
        if f.personal and f.public:
            yield warning("FE306", t("field '{field}' holds personal data and is marked public; a published report "
                                     "never shows personal data", field=f.id), f.at.where("public"),
                          t("remove 'public: true'"))


def _check_reminders_and_escalations(workflow: Workflow) -> Iterator[Issue]:
    for state in _readable(workflow):
        escalation = state.escalation
        if state.final:
            if state.reminder_text is not None:
                yield error("FE220", t("final state '{state}' has a reminder, but nobody has to act there",
                                       state=state.id),
                            state.at.where("reminder"), t("remove 'reminder:' from the final state"))
            if escalation is not None:
                yield error("FE220", t("final state '{state}' has an escalation, but nothing leaves a final state",
                                       state=state.id),
                            state.at.where("escalate"), t("remove 'escalate:' from the final state"))
            continue
        if escalation is not None:
            yield from _escalation_issues(workflow, state)
        after = escalation.after if escalation else None
        if state.reminder is not None and after is not None and state.reminder.approx_days >= after.approx_days:
            yield warning("FE222", t("the reminder after {reminder} in state '{state}' is never handed out: the "
                                     "escalation after {after} moves the proposal on first", reminder=state.reminder,
                                     state=state.id, after=after), state.at.where("reminder"),
                          t("remind earlier than {after}, or remove the reminder", after=after))
        if after is not None and state.deadline is not None and after.approx_days < state.deadline.approx_days:
            yield warning("FE223", t("the escalation after {after} in state '{state}' comes before its deadline "
                                     "{deadline}: the owner loses time the deadline gives them", after=after,
                                     state=state.id, deadline=state.deadline),
                          escalation.at.where("after") if escalation else state.location,
                          t("escalate at or after the deadline, e.g. after: {deadline}", deadline=state.deadline))


def _escalation_issues(workflow: Workflow, state: State) -> Iterator[Issue]:
    escalation = state.escalation
    if escalation is None or not escalation.trigger:
        return  # a missing trigger is the structural check's error
    trigger = escalation.trigger
    where = escalation.at.where("trigger")
    transition = workflow.leaving(state.id, trigger)
    if transition is None:
        if not workflow.complete:
            return  # the trigger may be in a transition that could not be read
        here = [step.trigger for step in workflow.outgoing(state.id)]
        elsewhere = sorted({src for step in workflow.transitions if step.trigger == trigger for src in step.sources})
        if elsewhere:
            yield error("FE219", t("escalation trigger '{trigger}' does not lead out of state '{state}' (it leads "
                                   "out of {states})", trigger=trigger, state=state.id, states=", ".join(elsewhere)),
                        where, t("add a transition 'trigger: {trigger}' with 'from: {state}', or use one of: "
                                 "{triggers}", trigger=trigger, state=state.id,
                                 triggers=", ".join(dict.fromkeys(here))))
        else:
            suggestion = did_you_mean(trigger, here)
            if suggestion:
                hint = t("did you mean '{suggestion}'?", suggestion=suggestion)
            elif here:
                hint = t("declare a transition 'trigger: {trigger}' with 'from: {state}', or use one of: {triggers}",
                         trigger=trigger, state=state.id, triggers=", ".join(dict.fromkeys(here)))
            else:
                hint = t("declare a transition 'trigger: {trigger}' with 'from: {state}'", trigger=trigger,
                         state=state.id)
            yield error("FE219", t("escalation of state '{state}' names unknown trigger '{trigger}'", state=state.id,
                                   trigger=trigger), where, hint)
        return
    if transition.requires:
        yield error("FE221", t("escalation '{trigger}' out of state '{state}' requires {fields}, which nobody fills "
                               "in when the engine takes the step", trigger=trigger, state=state.id,
                               fields=", ".join(transition.requires)),
                    where, t("escalate with a trigger that requires no fields, or drop 'requires' from '{trigger}'",
                             trigger=trigger))
    target = workflow.states.get(transition.target)
    decides = transition.answers_panel or (target is not None and (target.final or target.answers_panel))
    if decides:
        yield warning("FE304", t("escalation '{trigger}' out of state '{state}' decides the proposal's fate by "
                                 "itself (to '{target}'): running out of time is no reasoned answer for the panel",
                                 trigger=trigger, state=state.id, target=transition.target),
                      where, t("escalate to a state where someone must decide, e.g. the next body up"))


def _path_text(path: list[str]) -> str:
    """A path for a message; long ones keep their ends, so a message stays one readable line."""
    if len(path) > 6:
        path = [*path[:3], t("… {n} more …", n=len(path) - 5), *path[-2:]]
    return " → ".join(path)


def _governed_targets(workflow: Workflow) -> list[str]:
    return [sid for sid, s in workflow.states.items() if s.final and s.outcome not in _EXEMPT_OUTCOMES]


def _check_council_passage(workflow: Workflow) -> Iterator[Issue]:
    from flowengine.definition.graph import bypass_paths

    if not _graph_ready(workflow):
        return
    council_roles = {rid for rid, role in workflow.roles.items() if role.kind == "council"}
    paths = bypass_paths(
        workflow,
        # an owner that is not a declared role is already an error; give it the benefit of the doubt
        avoid_state=lambda s: s.owner in council_roles or (s.owner is not None and s.owner not in workflow.roles),
        avoid_transition=lambda step: False,
        targets=_governed_targets(workflow),
    )
    for target, path in paths.items():
        message = (t("outcome '{outcome}' can be reached without the user council: {path}") if council_roles
                   else t("outcome '{outcome}' can be reached without the user council (no role has 'kind: "
                          "council'): {path}"))
        yield warning("FE302", message.format(outcome=target, path=_path_text(path)),
                      workflow.states[target].location,
                      t("route the chain through a state owned by the council role"))


def _check_panel_answer(workflow: Workflow) -> Iterator[Issue]:
    from flowengine.definition.graph import bypass_paths

    if not _graph_ready(workflow):
        return
    targets = [sid for sid in _governed_targets(workflow) if not workflow.states[sid].answers_panel]
    paths = bypass_paths(
        workflow,
        avoid_state=lambda s: s.answers_panel,
        avoid_transition=lambda step: step.answers_panel,
        targets=targets,
    )
    for target, path in paths.items():
        yield warning("FE303", t("outcome '{outcome}' can be reached without the panel getting a reasoned answer: "
                                 "{path}", outcome=target, path=_path_text(path)), workflow.states[target].location,
                      t("mark the step that answers the panel with 'answers_panel: true'"))


CHECKS: tuple[Check, ...] = (
    _check_initial,
    _check_finals,
    _check_transition_states,
    _check_roles,
    _check_fields,
    _check_reachability,
    _check_final_outgoing,
    _check_duplicate_triggers,
    _check_trigger_names,
    _check_owner_and_deadline,
    _check_personal_data,
    _check_reminders_and_escalations,
    _check_council_passage,
    _check_panel_answer,
)
