"""Meaning and governance checks on a built workflow, as small independent functions.

Each ``_check_*`` yields :class:`Issue` s and knows nothing of the others, so a rule can be
read, tested and changed alone. Structural problems (types, unknown keys) are the schema's
job; a check here skips what the schema already reports.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from flowengine.definition.model import State, Transition, Workflow
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
        issues.append(warning("FE218", f"file name '{file_stem}' differs from workflow id '{workflow.id}'",
                              workflow.at.where("id"), f"rename the file to {workflow.id}.yaml"))
    if strict:
        issues = [error(i.code, i.message, i.location, i.hint) if i.severity is Severity.WARNING
                  and i.code.startswith("FE3") else i for i in issues]
    return issues


def _suggest(wanted: str, known: list[str], kind: str) -> str:
    known = [name for name in known if name]
    suggestion = did_you_mean(wanted, known)
    if suggestion:
        return f"did you mean '{suggestion}'?"
    return f"declare it under '{kind}:'" + (f" or use one of: {', '.join(known)}" if known else "")


def _check_initial(workflow: Workflow) -> Iterator[Issue]:
    if not workflow.states:
        return
    initials = [s for s in workflow.states.values() if s.initial]
    if not initials:
        first = next(iter(workflow.states.values()))
        yield error("FE200", "no initial state", first.location,
                    f"mark the state new proposals start in with 'initial: true', e.g. under '{first.id}'")
    for extra in initials[1:]:
        yield error("FE201", f"state '{extra.id}' is a second initial state (the first is '{initials[0].id}')",
                    extra.location, "keep 'initial: true' on exactly one state")
    for state in initials:
        if state.final:
            yield error("FE216", f"initial state '{state.id}' is also final", state.location,
                        "a proposal must be able to move: remove 'final: true' or 'initial: true'")


def _check_finals(workflow: Workflow) -> Iterator[Issue]:
    if workflow.states and not any(s.final for s in workflow.states.values()):
        yield error("FE202", "no final state", workflow.at.where("states"),
                    "add at least one state with 'final: true' and an outcome, e.g. implemented or rejected")
    for state in _readable(workflow):
        if state.final and state.outcome is None:
            yield error("FE213", f"final state '{state.id}' has no outcome", state.location,
                        "add e.g. 'outcome: implemented' (or rejected, withdrawn, merged, parked …)")
        if not state.final and state.outcome is not None:
            yield error("FE213", f"state '{state.id}' has an outcome but is not final", state.location,
                        "add 'final: true' or remove the outcome")
        if not state.final and state.stage is None:
            yield error("FE217", f"state '{state.id}' has no stage", state.location,
                        "add e.g. 'stage: council'; the stages are panel, council, administration, political, "
                        "implementation and evaluation")


def _readable(workflow: Workflow) -> list[State]:
    """States whose entry could be read; the schema check already reports the others."""
    return [state for state in workflow.states.values() if state.readable]


def _graph_ready(workflow: Workflow) -> bool:
    """Graph checks are judged only once every step is readable and names declared states;
    until then they would only echo that error as a screenful of "unreachable" ones."""
    return workflow.complete and all(
        t.target in workflow.states and (t.from_any or all(s in workflow.states for s in t.sources))
        for t in workflow.transitions
    )


def _check_transition_states(workflow: Workflow) -> Iterator[Issue]:
    if not workflow.states:
        return  # the structural check reports the empty or missing 'states'
    known = list(workflow.states)
    for t in workflow.transitions:
        if not t.from_any:
            for source in t.sources:
                if source not in workflow.states:
                    if source == "*":
                        hint = 'write from: "*" on its own, not inside a list'
                    elif "," in source:
                        hint = f"to name several states write a list: from: [{source}]"
                    else:
                        hint = _suggest(source, known, "states")
                    yield error("FE203", f"transition '{t.trigger}' comes from unknown state '{source}'",
                                t.at.where("from", source), hint)
        if t.target and t.target not in workflow.states:
            yield error("FE204", f"transition '{t.trigger}' goes to unknown state '{t.target}'",
                        t.at.where("to"), _suggest(t.target, known, "states"))


def _check_roles(workflow: Workflow) -> Iterator[Issue]:
    known = list(workflow.roles)
    for state in workflow.states.values():
        if state.owner is not None and state.owner not in workflow.roles:
            yield error("FE205", f"state '{state.id}' is owned by unknown role '{state.owner}'",
                        state.at.where("owner"), _suggest(state.owner, known, "roles"))
    for t in workflow.transitions:
        for role in t.roles:
            if role not in workflow.roles:
                yield error("FE205", f"transition '{t.trigger}' names unknown role '{role}'",
                            t.at.where("roles", role), _suggest(role, known, "roles"))


def _check_fields(workflow: Workflow) -> Iterator[Issue]:
    known = list(workflow.fields)
    for t in workflow.transitions:
        for name in t.requires:
            if name not in workflow.fields:
                yield error("FE206", f"transition '{t.trigger}' requires unknown field '{name}'",
                            t.at.where("requires", name), _suggest(name, known, "fields"))
    for f in workflow.fields.values():
        if f.type == "choice" and not f.options:
            yield error("FE214", f"choice field '{f.id}' has no options", f.at.where("options"),
                        "add e.g. 'options: [low, medium, high]'")
        if f.type != "choice" and f.options:
            yield error("FE214", f"field '{f.id}' has options but is of type {f.type}", f.at.where("options"),
                        "set 'type: choice' or remove the options")


def _check_reachability(workflow: Workflow) -> Iterator[Issue]:
    from flowengine.definition.graph import trap_states, unreachable_states

    if not _graph_ready(workflow):
        return
    for sid in unreachable_states(workflow):
        state = workflow.states[sid]
        yield error("FE207", f"state '{sid}' cannot be reached from the initial state", state.location,
                    f"add a transition with 'to: {sid}', or remove the state")
    for sid in trap_states(workflow):
        state = workflow.states[sid]
        yield error("FE208", f"no final state can be reached from state '{sid}'", state.location,
                    f"add a transition 'from: {sid}' towards a final state (e.g. rejected or parked)")


def _check_final_outgoing(workflow: Workflow) -> Iterator[Issue]:
    for t in workflow.transitions:
        if t.from_any:
            continue
        for source in t.sources:
            state = workflow.states.get(source)
            if state is not None and state.final:
                yield error("FE209", f"transition '{t.trigger}' leaves final state '{source}'",
                            t.at.where("from", source),
                            f"remove the transition, or make '{source}' an open state (no 'final: true')")


def _check_duplicate_triggers(workflow: Workflow) -> Iterator[Issue]:
    """A trigger declared twice from one state. A transition from any state is one entry per
    trigger (with the states it leaves), not one per state, so the check stays linear."""
    seen: dict[tuple[str, str], int] = {}
    anywhere: dict[str, tuple[int, frozenset[str]]] = {}  # trigger → first line "from: *" and its states
    explicit: dict[str, dict[str, int]] = {}  # trigger → {state: first line}
    expansions: dict[int, frozenset[str]] = {}  # every "from: *" shares one tuple of states
    for t in workflow.transitions:
        if not t.trigger:
            continue  # a missing trigger is the structural check's error
        line = t.at.where("trigger").line
        if t.from_any:
            sources = expansions.get(id(t.sources)) or expansions.setdefault(id(t.sources), frozenset(t.sources))
            earlier = anywhere.get(t.trigger)
            clash: tuple[str, int] | None = None
            if earlier is not None and sources & earlier[1]:
                clash = (min(sources & earlier[1], key=t.sources.index), earlier[0])
            else:
                clash = next(((state, first) for state, first in explicit.get(t.trigger, {}).items()
                              if state in sources), None)
            if earlier is None:
                anywhere[t.trigger] = (line, sources)
            if clash is not None:
                yield _duplicate(t, clash[0], clash[1])
            continue
        for source in t.sources:
            key = (source, t.trigger)
            first = seen.get(key)
            if first is None and t.trigger in anywhere and source in anywhere[t.trigger][1]:
                first = anywhere[t.trigger][0]
            if first is not None:
                yield _duplicate(t, source, first)
            else:
                seen[key] = line
                explicit.setdefault(t.trigger, {})[source] = line


def _duplicate(t: Transition, source: str, first: int) -> Issue:
    return error("FE210", f"trigger '{t.trigger}' is declared twice from state '{source}' (first at line {first})",
                 t.at.where("trigger"), "give one of the transitions another trigger name")


def _check_trigger_names(workflow: Workflow) -> Iterator[Issue]:
    for t in workflow.transitions:
        if t.trigger in _RESERVED_TRIGGERS or t.trigger.startswith(_RESERVED_TRIGGER_PREFIXES):
            yield error("FE215", f"trigger name '{t.trigger}' is reserved by the engine", t.at.where("trigger"),
                        "choose another name; triggers may not be 'trigger' or 'state' nor start with "
                        "is_, to_ or may_")


def _check_owner_and_deadline(workflow: Workflow) -> Iterator[Issue]:
    for state in _readable(workflow):
        if state.final:
            continue
        if state.owner is None:
            yield warning("FE300", f"open state '{state.id}' has no owner, so nobody is asked to act",
                          state.location, "add 'owner: <role>'")
        if state.deadline_text is None:
            yield warning("FE301", f"open state '{state.id}' has no deadline, so a stall here goes unseen",
                          state.location, "add e.g. 'deadline: 8w'")


def _check_personal_data(workflow: Workflow) -> Iterator[Issue]:
    """Free text is where personal data ends up (a name, a diagnosis); a workflow must say of
    each text field whether it may hold any, so that publication, pseudonymised exports and
    erasure requests know what to do with it."""
    for f in workflow.fields.values():
        if f.type == "text" and f.personal is None:
            yield warning("FE305", f"text field '{f.id}' does not say whether it holds personal data, so nobody "
                          "decided whether it may be published, exported or must be erasable", f.location,
                          "add 'personal: true' (names, health, circumstances) or 'personal: false'")
        if f.personal and f.public:
            yield warning("FE306", f"field '{f.id}' holds personal data and is marked public; a published report "
                          "never shows personal data", f.at.where("public"), "remove 'public: true'")


def _check_reminders_and_escalations(workflow: Workflow) -> Iterator[Issue]:
    for state in _readable(workflow):
        escalation = state.escalation
        if state.final:
            if state.reminder_text is not None:
                yield error("FE220", f"final state '{state.id}' has a reminder, but nobody has to act there",
                            state.at.where("reminder"), "remove 'reminder:' from the final state")
            if escalation is not None:
                yield error("FE220", f"final state '{state.id}' has an escalation, but nothing leaves a final state",
                            state.at.where("escalate"), "remove 'escalate:' from the final state")
            continue
        if escalation is not None:
            yield from _escalation_issues(workflow, state)
        after = escalation.after if escalation else None
        if state.reminder is not None and after is not None and state.reminder.approx_days >= after.approx_days:
            yield warning("FE222", f"the reminder after {state.reminder} in state '{state.id}' is never handed out: "
                          f"the escalation after {after} moves the proposal on first", state.at.where("reminder"),
                          f"remind earlier than {after}, or remove the reminder")
        if after is not None and state.deadline is not None and after.approx_days < state.deadline.approx_days:
            yield warning("FE223", f"the escalation after {after} in state '{state.id}' comes before its deadline "
                          f"{state.deadline}: the owner loses time the deadline gives them",
                          escalation.at.where("after") if escalation else state.location,
                          f"escalate at or after the deadline, e.g. after: {state.deadline}")


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
        here = [t.trigger for t in workflow.outgoing(state.id)]
        elsewhere = sorted({src for t in workflow.transitions if t.trigger == trigger for src in t.sources})
        if elsewhere:
            yield error("FE219", f"escalation trigger '{trigger}' does not lead out of state '{state.id}' "
                        f"(it leads out of {', '.join(elsewhere)})", where,
                        f"add a transition 'trigger: {trigger}' with 'from: {state.id}', or use one of: "
                        + ", ".join(dict.fromkeys(here)))
        else:
            suggestion = did_you_mean(trigger, here)
            yield error("FE219", f"escalation of state '{state.id}' names unknown trigger '{trigger}'", where,
                        f"did you mean '{suggestion}'?" if suggestion else
                        f"declare a transition 'trigger: {trigger}' with 'from: {state.id}'"
                        + (f", or use one of: {', '.join(dict.fromkeys(here))}" if here else ""))
        return
    if transition.requires:
        yield error("FE221", f"escalation '{trigger}' out of state '{state.id}' requires "
                    f"{', '.join(transition.requires)}, which nobody fills in when the engine takes the step",
                    where, f"escalate with a trigger that requires no fields, or drop 'requires' from '{trigger}'")
    target = workflow.states.get(transition.target)
    decides = transition.answers_panel or (target is not None and (target.final or target.answers_panel))
    if decides:
        yield warning("FE304", f"escalation '{trigger}' out of state '{state.id}' decides the proposal's fate by "
                      f"itself (to '{transition.target}'): running out of time is no reasoned answer for the panel",
                      where, "escalate to a state where someone must decide, e.g. the next body up")


def _path_text(path: list[str]) -> str:
    """A path for a message; long ones keep their ends, so a message stays one readable line."""
    if len(path) > 6:
        path = [*path[:3], f"… {len(path) - 5} more …", *path[-2:]]
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
        avoid_transition=lambda t: False,
        targets=_governed_targets(workflow),
    )
    for target, path in paths.items():
        reason = "" if council_roles else " (no role has 'kind: council')"
        yield warning("FE302", f"outcome '{target}' can be reached without the user council{reason}: "
                      + _path_text(path), workflow.states[target].location,
                      "route the chain through a state owned by the council role")


def _check_panel_answer(workflow: Workflow) -> Iterator[Issue]:
    from flowengine.definition.graph import bypass_paths

    if not _graph_ready(workflow):
        return
    targets = [sid for sid in _governed_targets(workflow) if not workflow.states[sid].answers_panel]
    paths = bypass_paths(
        workflow,
        avoid_state=lambda s: s.answers_panel,
        avoid_transition=lambda t: t.answers_panel,
        targets=targets,
    )
    for target, path in paths.items():
        yield warning("FE303", f"outcome '{target}' can be reached without the panel getting a reasoned "
                      "answer: " + _path_text(path), workflow.states[target].location,
                      "mark the step that answers the panel with 'answers_panel: true'")


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
